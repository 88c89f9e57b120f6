"""A node's data directory: genesis, database, keystore and API credentials.

::

    <data-dir>/genesis.json        the consortium (public)
    <data-dir>/ledger.sqlite       blocks, tiles, state (WAL)
    <data-dir>/keys/               keystore: log key, cosigner keys, member keys (0700)
    <data-dir>/api-tokens.json     SHA-256 of each API token -> member id (0600)
    <data-dir>/credentials.json    organisation -> member -> token, for people (0600)
    <data-dir>/node.lock           held (flock) by the one process serving the directory
    <data-dir>/cosigned.json       what this node's signers last signed (anti-rollback memory)
    <data-dir>/pending/            transactions acknowledged but not yet committed

The directory is 0700 and its files 0600 whatever the umask: it holds private keys,
and what a cosigner remembers having signed must not be editable by others.

API tokens are random 256-bit strings; the node keeps only their hashes, so a copy
of ``api-tokens.json`` does not let anyone submit.
"""

from __future__ import annotations

import contextlib
import fcntl
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
LOCK = "node.lock"
PENDING = "pending"
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
    """Replace ``path`` atomically with a 0600 file, synced to disk (secrets, tokens).

    The rename is synced too (the directory), so after a crash the file holds either
    the old bytes or the new ones, and once this returns, the new ones.
    """
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    sync_directory(path.parent)


def sync_directory(path: Path) -> None:
    """fsync a directory, so the names created or renamed in it survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private(path: Path) -> None:
    """Make the data directory 0700 and everything in it 0600 (directories 0700).

    Run at every start, so files an older version or an operator's umask left
    readable are closed too. Symbolic links are left alone (chmod would follow them).
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            child = Path(root) / name
            if not child.is_symlink():
                os.chmod(child, 0o700)
        for name in files:
            child = Path(root) / name
            if not child.is_symlink():
                os.chmod(child, 0o600)


class DataDirInUseError(StorageError):
    """Another process is serving this data directory."""


class DataDirLock:
    """An exclusive lock on a data directory for a process's life (``flock``).

    Two nodes over one directory would each sign blocks and checkpoints of their own
    from the same keys: a split view made by one organisation. The kernel releases
    the lock when the process ends, however it ends, so a crash never leaves it stale.
    """

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise DataDirInUseError(
                f"{data_dir} is already served by process {holder}; one data directory "
                "serves one node (stop that process, or use another --data-dir)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


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
    if (path / GENESIS).exists():
        raise StorageError(f"{path} already holds a ledger ({GENESIS} exists)")
    make_private(path)
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
    write_private(path / GENESIS, orjson.dumps(genesis.to_json(), option=orjson.OPT_INDENT_2))
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
