"""Generating verification codes and salts: for tools, never for rules.

Rules are pure and may not use randomness, so the brand's printing tool (or its
platform member) draws the secret codes and salts here, keeps the codes for the
printer, and sends only the salts and salted hashes in ``authenticity.register_codes``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from veriledger.core.encoding import b64encode
from veriledger.modules.authenticity.module import SALT_LENGTH, code_hash

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""No 0/O, 1/I/L: a person types the code from under the scratch-off layer."""
CODE_LENGTH = 12
"""31^12, about 2^59: guessing one item's code is out of reach at any scan rate."""


def new_code(length: int = CODE_LENGTH) -> str:
    """A fresh secret verification code."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_LENGTH)


def make_items(gtin14: str, serials: Iterable[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """``(items for register_codes, {serial: secret code})`` for a print run."""
    items: list[dict[str, Any]] = []
    secret: dict[str, str] = {}
    for serial in serials:
        code, salt = new_code(), new_salt()
        secret[serial] = code
        items.append(
            {
                "serial": serial,
                "salt": b64encode(salt),
                "code_hash": code_hash(salt, gtin14, serial, code),
            }
        )
    return items, secret
