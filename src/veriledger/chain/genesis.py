"""The genesis file: the consortium a chain starts with, and its cosigning quorum.

Genesis names the log (its origin and log key), the organisations with their
cosigning keys and first members, the quorum, and the block limits. It is the first
entry of the log, so every checkpoint commits to it, and the consortium's
tlog-policy (:meth:`Genesis.policy`) is derived from it: the log key, one witness per
organisation, and a group threshold as the quorum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from veriledger.chain.body import body_to_json, parse_body
from veriledger.chain.driver import BlockContext
from veriledger.core.canonical_json import canonical_json
from veriledger.core.errors import BadInputError
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, VerifierKey
from veriledger.log.policy import Group, Policy, PolicyLog, Witness

ORG_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
MEMBER_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}/[a-z0-9][a-z0-9._-]{0,62}")
ORG_KINDS = frozenset(
    {
        "brand",
        "manufacturer",
        "logistics",
        "customs",
        "port",
        "retailer",
        "payment",
        "platform",
        "regulator",
        "lab",
        "other",
    }
)


class GenesisError(BadInputError):
    """The genesis file is malformed or inconsistent."""


@dataclass(frozen=True)
class GenesisMember:
    id: str
    """``<organisation>/<name>``, unique on the chain."""
    name: str
    roles: list[str]
    key: str
    """Base64 Ed25519 public key the member signs with."""


@dataclass(frozen=True)
class GenesisOrganisation:
    id: str
    name: str
    kind: str
    cosigner: str
    """vkey of the organisation's cosigning key (type 0x04)."""
    members: list[GenesisMember]
    country: str = ""


@dataclass(frozen=True)
class Genesis:
    chain: str
    """The log origin, e.g. ``ledger.example/demo``."""
    time: int
    """Genesis time in milliseconds; block times never go below it."""
    log_key: str
    """vkey of the log's checkpoint-signing key (type 0x01); its name is the origin."""
    organisations: list[GenesisOrganisation]
    quorum: int = 0
    """Cosigning organisations needed for a final checkpoint; 0 means the BFT default."""
    block_max_txs: int = 1000
    block_max_ms: int = 200
    replay_window_ms: int = 86_400_000
    """How far an envelope's client time may be from its block's time (default 24 h).

    Outside it the rules refuse the envelope, so the rules' memory of ordered
    envelopes (``chain/seen/...``) need only reach back this far."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Module parameters, by module name."""

    def __post_init__(self) -> None:
        log = VerifierKey.parse(self.log_key)
        if log.sig_type != SIG_TYPE_ED25519 or log.name != self.chain:
            raise GenesisError("log_key must be an Ed25519 vkey named after the chain origin")
        seen_orgs: set[str] = set()
        seen_members: set[str] = set()
        seen_keys: set[str] = set()
        for org in self.organisations:
            if not ORG_ID.fullmatch(org.id) or org.id in seen_orgs:
                raise GenesisError(f"organisation id {org.id!r} is invalid or repeated")
            if org.kind not in ORG_KINDS:
                raise GenesisError(f"organisation {org.id} has unknown kind {org.kind!r}")
            if VerifierKey.parse(org.cosigner).sig_type != SIG_TYPE_COSIGNATURE_V1:
                raise GenesisError(f"organisation {org.id} cosigner must be a type 0x04 vkey")
            seen_orgs.add(org.id)
            for member in org.members:
                if not MEMBER_ID.fullmatch(member.id) or not member.id.startswith(org.id + "/"):
                    raise GenesisError(f"member id {member.id!r} must be '{org.id}/<name>'")
                if member.id in seen_members or member.key in seen_keys:
                    raise GenesisError(f"member {member.id} or its key is repeated")
                seen_members.add(member.id)
                seen_keys.add(member.key)
        n = len(self.organisations)
        if n == 0:
            raise GenesisError("a consortium needs at least one organisation")
        if not 0 <= self.quorum <= n:
            raise GenesisError(f"quorum {self.quorum} is outside 0..{n}")
        if self.block_max_txs < 1 or self.block_max_ms < 1:
            raise GenesisError("block limits must be positive")
        if not 60_000 <= self.replay_window_ms <= 30 * 86_400_000:
            raise GenesisError("replay_window_ms must be between one minute and 30 days")

    @property
    def cosigning_quorum(self) -> int:
        """The quorum, defaulting to the smallest k whose quorums must share f+1 honest orgs.

        With n organisations of which f = floor((n-1)/3) may be faulty, two quorums of
        k overlap in 2k - n organisations; k = ceil((n + f + 1) / 2) makes that
        overlap at least f + 1, so two conflicting checkpoints cannot both be final
        unless more than f organisations lie (2f+1 of 3f+1 when n = 3f+1).
        """
        if self.quorum:
            return self.quorum
        n = len(self.organisations)
        f = (n - 1) // 3
        return -(-(n + f + 1) // 2)

    def block_context(self, height: int, time: int, seed: str) -> BlockContext:
        """The context a block of this chain executes in, with the genesis replay window:
        the one constructor nodes and ``verify-ledger`` share, so they cannot differ."""
        return BlockContext(self.chain, height, time, seed, self.replay_window_ms)

    def policy(self) -> Policy:
        return Policy(
            (PolicyLog(VerifierKey.parse(self.log_key)),),
            tuple(Witness(org.id, VerifierKey.parse(org.cosigner)) for org in self.organisations),
            (Group("consortium", self.cosigning_quorum, tuple(o.id for o in self.organisations)),),
            "consortium",
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = body_to_json(self)
        return out

    def entry(self) -> bytes:
        """Log entry 0: the canonical JSON of ``{"genesis": ...}``."""
        return canonical_json({"genesis": self.to_json()})

    @classmethod
    def parse(cls, data: bytes | dict[str, Any]) -> Genesis:
        """Parse a genesis file (JSON bytes) or its decoded object.

        Raises:
            GenesisError, BadInputError: malformed or inconsistent.
        """
        try:
            obj = orjson.loads(data) if isinstance(data, bytes | bytearray) else data
        except orjson.JSONDecodeError as exc:
            raise GenesisError(f"genesis is not JSON: {exc}") from None
        if isinstance(obj, dict) and set(obj) == {"genesis"}:
            obj = obj["genesis"]
        return parse_body(cls, obj)
