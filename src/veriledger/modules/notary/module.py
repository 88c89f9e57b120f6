"""The notary module: signed attestations of documents by their SHA-256 digest.

A certificate of origin, a lab report, an invoice, a customs declaration: the
document stays with its owner and only its digest goes on the ledger, so anyone
later shown the document can check who attested it and when. It is also the
lightest message on the chain, which makes it the ingest benchmark's workload.

State::

    notary/attestation/<digest>/<member>   {"kind", "ref", "height", "time"}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from veriledger.chain.module import Context, Message, Module, Outcome, Rejection
from veriledger.chain.state import StateView

NAME = "notary"
BAD_DIGEST = 1
ALREADY_ATTESTED = 2
ERRORS = {
    BAD_DIGEST: "digest must be 64 lowercase hex characters (SHA-256)",
    ALREADY_ATTESTED: "this member has already attested this digest",
}
DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Attest:
    digest: str
    """Hex SHA-256 of the document."""
    kind: str
    """What the document is, e.g. ``certificate-of-origin``, ``lab-report``."""
    ref: str = ""
    """The owner's reference for the document (not the document)."""


def attestation_key(digest: str, member: str) -> str:
    return f"notary/attestation/{digest}/{member}"


def attest(state: StateView, msg: Attest, ctx: Context) -> Outcome:
    """Record that the signer attests ``digest``.

    Raises:
        Rejection: ``notary/1`` the digest is not SHA-256 hex; ``notary/2`` the signer
            has attested it already.
    """
    if not DIGEST.fullmatch(msg.digest):
        raise Rejection(NAME, BAD_DIGEST, ERRORS[BAD_DIGEST])
    key = attestation_key(msg.digest, ctx.member)
    if state.get(key) is not None:
        raise Rejection(NAME, ALREADY_ATTESTED, ERRORS[ALREADY_ATTESTED])
    record = {"kind": msg.kind, "ref": msg.ref, "height": ctx.block_height, "time": ctx.block_time}
    return Outcome({key: record}, ({"type": "notary.attested", "digest": msg.digest},))


def attestations(state: StateView, params: Mapping[str, str]) -> list[Any]:
    digest = params.get("digest", "")
    prefix = f"notary/attestation/{digest}/"
    return [{"member": k[len(prefix) :], **v} for k, v in state.scan(prefix)]


MODULE = Module(
    name=NAME,
    messages=(Message("notary.attest", Attest, attest, doc="Attest a document by its digest."),),
    queries={"attestations": attestations},
    errors=ERRORS,
)
