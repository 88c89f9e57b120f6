"""A node's data directory: genesis, database, keystore and API credentials.

::

    <data-dir>/genesis.json        the consortium (public)
    <data-dir>/ledger.sqlite       blocks, tiles, state (WAL)
    <data-dir>/keys/               keystore: log key, cosigner keys, member keys (0700)
    <data-dir>/api-tokens.json     SHA-256 of each API token -> member id (0600)
    <data-dir>/credentials.json    organisation -> member -> token, for people (0600)

API tokens are random 256-bit strings; the node keeps only their hashes, so a copy
of ``api-tokens.json`` does not let anyone submit.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from veriledger.chain.genesis import Genesis, GenesisMember, GenesisOrganisation
from veriledger.core.encoding import b64encode
from veriledger.core.errors import BadInputError, StorageError
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey
from veriledger.core.keystore import Keystore

GENESIS = "genesis.json"
DATABASE = "ledger.sqlite"
KEYS = "keys"
TOKENS = "api-tokens.json"
CREDENTIALS = "credentials.json"
GATEWAY = "gateway.json"
"""``{"member": "<org>/<name>"}``: the member consumer scans are relayed as."""
NFC_KEYS = "nfc-keys.json"
"""Product lines' NTAG 424 DNA keys, secret (see :func:`save_nfc_keys`)."""


def cosigner_name(chain: str, org: str) -> str:
    """The key name an organisation cosigns this chain's checkpoints under."""
    return f"{chain}/cosigner/{org}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UnknownTokenError(BadInputError):
    """The API token is missing or not known to this node (HTTP 401)."""

    field = "Authorization"
    """The request header that carries the token."""


@dataclass
class TokenStore:
    """API token hashes by member; constant-time lookups."""

    path: Path
    tokens: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> TokenStore:
        try:
            data = orjson.loads(path.read_bytes()) if path.exists() else {}
        except (OSError, orjson.JSONDecodeError) as exc:
            raise StorageError(f"cannot read {path}: {exc}") from None
        return cls(path, dict(data))

    def member(self, token: str | None) -> str:
        """The member a token authenticates.

        Raises:
            UnknownTokenError: no token, or not one of ours.
        """
        if not token:
            raise UnknownTokenError("an API token is required (Authorization: Bearer <token>)")
        digest = token_hash(token)
        for known, member in self.tokens.items():
            if hmac.compare_digest(known, digest):
                return member
        raise UnknownTokenError("unknown API token")

    def issue(self, member: str) -> str:
        token = "vl_" + secrets.token_urlsafe(32)
        self.tokens[token_hash(token)] = member
        write_private(self.path, orjson.dumps(self.tokens, option=orjson.OPT_INDENT_2))
        return token


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a 0600 file, synced to disk (secrets, tokens)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class OrgSpec:
    """What ``init`` needs to create an organisation with members and keys."""

    id: str
    name: str
    kind: str
    members: list[tuple[str, str, list[str]]]
    """``(member id suffix, display name, roles)``."""
    country: str = ""


def init_data_dir(
    path: Path,
    chain: str,
    orgs: list[OrgSpec],
    genesis_time: int,
    quorum: int = 0,
    block_max_txs: int = 1000,
    block_max_ms: int = 200,
) -> Genesis:
    """Create a new single-node consortium: keys for the log, every organisation's
    cosigner and every member, a genesis file, and one API token per member.

    Raises:
        StorageError: the directory already holds a ledger.
    """
    path.mkdir(parents=True, exist_ok=True)
    if (path / GENESIS).exists():
        raise StorageError(f"{path} already holds a ledger ({GENESIS} exists)")
    keystore = Keystore(path / KEYS)
    log_key = SignerKey.generate(chain)
    keystore.save(log_key)
    organisations = []
    member_ids: list[tuple[str, str]] = []
    for org in orgs:
        cosigner = SignerKey.generate(cosigner_name(chain, org.id), SIG_TYPE_COSIGNATURE_V1)
        keystore.save(cosigner)
        members = []
        for suffix, name, roles in org.members:
            member_id = f"{org.id}/{suffix}"
            key = SignerKey.generate(member_id)
            keystore.save(key)
            members.append(GenesisMember(member_id, name, roles, b64encode(key.public_key)))
            member_ids.append((org.id, member_id))
        organisations.append(
            GenesisOrganisation(
                org.id, org.name, org.kind, cosigner.verifier().to_vkey(), members, org.country
            )
        )
    genesis = Genesis(
        chain=chain,
        time=genesis_time,
        log_key=log_key.verifier().to_vkey(),
        organisations=organisations,
        quorum=quorum,
        block_max_txs=block_max_txs,
        block_max_ms=block_max_ms,
    )
    (path / GENESIS).write_bytes(orjson.dumps(genesis.to_json(), option=orjson.OPT_INDENT_2))
    tokens = TokenStore(path / TOKENS, {})
    credentials: dict[str, dict[str, Any]] = {}
    for org_id, member_id in member_ids:
        credentials.setdefault(org_id, {})[member_id] = tokens.issue(member_id)
    write_private(path / CREDENTIALS, orjson.dumps(credentials, option=orjson.OPT_INDENT_2))
    return genesis


@dataclass(frozen=True)
class NfcTagKeys:
    """A product line's NTAG 424 DNA SDM keys, and the UID each item's tag must have."""

    file_read_key: bytes
    meta_read_key: bytes
    uids: dict[str, bytes]
    """serial -> tag UID; a serial absent here accepts any tag holding these keys."""


def save_nfc_keys(path: Path, gtin: str, keys: NfcTagKeys) -> None:
    """Add a GTIN's tag keys to the data directory's secret ``nfc-keys.json`` (0600).

    The keys never go on the ledger: whoever holds them can forge taps.
    """
    file = path / NFC_KEYS
    data = orjson.loads(file.read_bytes()) if file.exists() else {}
    data[gtin] = {
        "file_read_key": keys.file_read_key.hex(),
        "meta_read_key": keys.meta_read_key.hex(),
        "uids": {serial: uid.hex() for serial, uid in keys.uids.items()},
    }
    write_private(file, orjson.dumps(data, option=orjson.OPT_INDENT_2))


def load_nfc_keys(path: Path, gtin: str) -> NfcTagKeys | None:
    """A GTIN's tag keys, or None when this node verifies no tags of it.

    Raises:
        StorageError: the file is not the JSON that :func:`save_nfc_keys` writes.
    """
    file = path / NFC_KEYS
    if not file.exists():
        return None
    try:
        entry = orjson.loads(file.read_bytes()).get(gtin)
        if entry is None:
            return None
        return NfcTagKeys(
            bytes.fromhex(entry["file_read_key"]),
            bytes.fromhex(entry["meta_read_key"]),
            {serial: bytes.fromhex(uid) for serial, uid in entry.get("uids", {}).items()},
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StorageError(f"{file}: unreadable NFC keys ({exc})") from None
