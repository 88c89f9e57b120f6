"""C2SP tlog-policy: which logs and witnesses to trust, and what quorum makes a checkpoint.

A Veriledger consortium writes its trust down as one of these files: the log key,
each organisation as a witness with its cosigning key, and a group threshold
("k of n organisations") as the quorum. Anyone holding the file can decide, offline,
whether a checkpoint is final.

The file is line based: ``log <vkey> [<url>]``, ``witness <name> <vkey> [<url>]``,
``group <name> all|any|<k> <member>...`` and exactly one ``quorum <name>|none``;
blank lines and ``#`` comments are ignored. Names are opaque octet strings (kept
here as text decoded with ``surrogateescape``), a group may only name what was
defined above it, and no member appears twice in a group.

Deciding is split as python-tuf splits thresholds: :meth:`Policy.check` returns a
:class:`PolicyResult` saying who signed and whether the quorum is met, and
:meth:`Policy.verify_checkpoint` raises when it is not.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from veriledger.core.encoding import parse_decimal
from veriledger.core.errors import (
    BadInputError,
    MalformedPolicyError,
    PolicyNotSatisfiedError,
)
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, VerifierKey
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.cosignature import Cosignature, CosignatureVerifier
from veriledger.log.note import Ed25519NoteVerifier, Note, VerifierSet, open_note, parse_note

NONE = "none"
MAX_ENTRIES = 1024
"""Logs, witnesses or groups per policy; the spec asks for at least 32 of each."""

_WHITESPACE = re.compile(r"[ \t]+")
_ALLOWED = frozenset({0x09, 0x0A, *range(0x20, 0x7F), *range(0x80, 0x100)})


@dataclass(frozen=True)
class PolicyLog:
    key: VerifierKey
    url: str | None = None


@dataclass(frozen=True)
class Witness:
    name: str
    key: VerifierKey
    url: str | None = None


@dataclass(frozen=True)
class Group:
    """Met when at least ``threshold`` of ``members`` (witnesses or groups) are met."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class PolicyResult:
    """What a checkpoint's signatures amount to under a policy."""

    checkpoint: Checkpoint
    log: str
    """Name of the log key that signed the checkpoint."""
    cosignatures: tuple[Cosignature, ...]
    """Verified cosignatures by the policy's witnesses, in note order."""
    cosigners: tuple[str, ...]
    """Policy names of the witnesses whose cosignatures verified."""
    satisfied: bool


@dataclass(frozen=True)
class Policy:
    logs: tuple[PolicyLog, ...]
    witnesses: tuple[Witness, ...]
    groups: tuple[Group, ...]
    quorum: str

    # --- reading and writing ------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes) -> Policy:
        """Parse a policy file.

        Raises:
            MalformedPolicyError: a forbidden octet, an unknown keyword, a bad vkey or
                one of the wrong type, a duplicate key or name, a group naming
                something undefined or twice, a threshold outside 1..n, or not
                exactly one quorum line. The message names the line.
        """
        for offset, octet in enumerate(data):
            if octet not in _ALLOWED:
                line = data.count(b"\n", 0, offset) + 1
                raise MalformedPolicyError(f"forbidden octet 0x{octet:02x}", line)
        builder = _Builder()
        text = data.decode("utf-8", "surrogateescape")
        for number, raw in enumerate(text.split("\n"), start=1):
            fields = [f for f in _WHITESPACE.split(raw) if f]  # spaces and tabs only
            if not fields or fields[0].startswith("#"):
                continue
            try:
                builder.add(fields)
            except MalformedPolicyError as exc:
                raise MalformedPolicyError(str(exc), number) from None
            except BadInputError as exc:
                raise MalformedPolicyError(exc.diagnostics(), number) from None
        return builder.build()

    def to_text(self) -> bytes:
        lines = [
            f"log {log.key.to_vkey()}" + (f" {log.url}" if log.url else "") for log in self.logs
        ]
        lines += [
            f"witness {w.name} {w.key.to_vkey()}" + (f" {w.url}" if w.url else "")
            for w in self.witnesses
        ]
        for group in self.groups:
            n = len(group.members)
            k = "all" if group.threshold == n and n > 1 else str(group.threshold)
            lines.append(f"group {group.name} {k} {' '.join(group.members)}")
        lines.append(f"quorum {self.quorum}")
        return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")

    # --- deciding -----------------------------------------------------------------------

    def quorum_met(self, cosigners: Iterable[str]) -> bool:
        """Whether witnesses named ``cosigners`` meet the quorum."""
        have = set(cosigners)
        groups = {g.name: g for g in self.groups}

        @functools.cache  # a group named by many others is evaluated once
        def met(name: str) -> bool:
            if name == NONE:
                return True
            group = groups.get(name)
            if group is None:
                return name in have
            return sum(met(m) for m in group.members) >= group.threshold

        return met(self.quorum)

    def describe_quorum(self) -> str:
        """E.g. ``consortium (3 of 4: org-a, org-b, org-c, org-d)``."""
        if self.quorum == NONE:
            return "none"
        for group in self.groups:
            if group.name == self.quorum:
                members = ", ".join(group.members)
                return f"{group.name} ({group.threshold} of {len(group.members)}: {members})"
        return self.quorum

    def verifiers(self) -> VerifierSet:
        known = VerifierSet(Ed25519NoteVerifier(log.key) for log in self.logs)
        for witness in self.witnesses:
            known.add(CosignatureVerifier(witness.key))
        return known

    def check(self, note: bytes | Note) -> PolicyResult:
        """Verify every known signature on a checkpoint note and evaluate the quorum.

        Raises:
            MalformedNoteError, MalformedCheckpointError: the note is malformed.
            SignatureError: a signature by a known log or witness key fails.
            UnverifiedNoteError: no signature by any key in the policy.
            PolicyNotSatisfiedError: no log in the policy signed for the origin.
        """
        parsed = note if isinstance(note, Note) else parse_note(note)
        opened = open_note(parsed, self.verifiers())
        checkpoint = Checkpoint.parse(opened.text)
        log_name = next(
            (
                log.key.name
                for log in self.logs
                if log.key.name == checkpoint.origin
                and opened.verified_by(log.key.name, log.key.key_id)
            ),
            None,
        )
        if log_name is None:
            known = ", ".join(log.key.name for log in self.logs) or "none"
            raise PolicyNotSatisfiedError(
                f"checkpoint for origin {checkpoint.origin!r} is not signed by a log "
                f"of the policy (policy logs: {known})"
            )
        cosignatures: list[Cosignature] = []
        cosigners: list[str] = []
        for witness in self.witnesses:
            sig = opened.verified_by(witness.key.name, witness.key.key_id)
            if sig is not None:
                cosignatures.append(Cosignature.from_signature(sig))
                cosigners.append(witness.name)
        return PolicyResult(
            checkpoint,
            log_name,
            tuple(cosignatures),
            tuple(cosigners),
            self.quorum_met(cosigners),
        )

    def verify_checkpoint(self, note: bytes | Note) -> PolicyResult:
        """Like :meth:`check`, but raise unless the quorum is met.

        Raises:
            PolicyNotSatisfiedError: too few witnesses cosigned; the message names
                who did and what the quorum asks.
        """
        result = self.check(note)
        if not result.satisfied:
            got = ", ".join(result.cosigners) or "no witness"
            raise PolicyNotSatisfiedError(
                f"quorum {self.describe_quorum()} not met: cosigned by {got}"
            )
        return result


class _Builder:
    """Accumulates policy lines, enforcing the ordering and uniqueness rules."""

    def __init__(self) -> None:
        self.logs: list[PolicyLog] = []
        self.witnesses: list[Witness] = []
        self.groups: list[Group] = []
        self.names: set[str] = set()
        self.quorum: str | None = None

    def _key(self, vkey: str, sig_type: int, role: str) -> VerifierKey:
        key = VerifierKey.parse(vkey)
        if key.sig_type != sig_type:
            raise MalformedPolicyError(
                f"{role} key {key.name} has type 0x{key.sig_type:02x}, want 0x{sig_type:02x}"
            )
        return key

    def _new_name(self, name: str) -> None:
        if name == NONE:
            raise MalformedPolicyError("'none' is reserved and cannot be defined")
        if name in self.names:
            raise MalformedPolicyError(f"name {name!r} is defined twice")
        self.names.add(name)

    def add(self, fields: list[str]) -> None:
        keyword, args = fields[0], fields[1:]
        if self.quorum is not None and keyword == "quorum":
            raise MalformedPolicyError("a policy has exactly one quorum line")
        if keyword == "log":
            if len(args) not in (1, 2):
                raise MalformedPolicyError("want 'log <vkey> [<url>]'")
            key = self._key(args[0], SIG_TYPE_ED25519, "log")
            if any(log.key.public_key == key.public_key for log in self.logs):
                raise MalformedPolicyError(f"duplicate log key {key.name}")
            self.logs.append(PolicyLog(key, args[1] if len(args) == 2 else None))
        elif keyword == "witness":
            if len(args) not in (2, 3):
                raise MalformedPolicyError("want 'witness <name> <vkey> [<url>]'")
            key = self._key(args[1], SIG_TYPE_COSIGNATURE_V1, "witness")
            if any(w.key.public_key == key.public_key for w in self.witnesses):
                raise MalformedPolicyError(f"duplicate witness key for {args[0]!r}")
            self._new_name(args[0])
            self.witnesses.append(Witness(args[0], key, args[2] if len(args) == 3 else None))
        elif keyword == "group":
            self._add_group(args)
        elif keyword == "quorum":
            if len(args) != 1:
                raise MalformedPolicyError("want 'quorum <name>'")
            if args[0] != NONE and args[0] not in self.names:
                raise MalformedPolicyError(f"quorum names {args[0]!r}, which is not defined above")
            self.quorum = args[0]
        else:
            raise MalformedPolicyError(f"unknown keyword {keyword!r}")
        if max(len(self.logs), len(self.witnesses), len(self.groups)) > MAX_ENTRIES:
            raise MalformedPolicyError(f"more than {MAX_ENTRIES} logs, witnesses or groups")

    def _add_group(self, args: list[str]) -> None:
        if len(args) < 3:
            raise MalformedPolicyError("want 'group <name> all|any|<k> <member>...'")
        name, threshold_text, members = args[0], args[1], args[2:]
        for member in members:
            if member == NONE:
                raise MalformedPolicyError("'none' cannot be a group member")
            if member not in self.names:
                raise MalformedPolicyError(f"group member {member!r} is not defined above")
        if len(set(members)) != len(members):
            raise MalformedPolicyError(f"group {name!r} lists a member twice")
        if threshold_text == "all":
            threshold = len(members)
        elif threshold_text == "any":
            threshold = 1
        else:
            threshold = parse_decimal(threshold_text, "group threshold", MalformedPolicyError)
            if not 1 <= threshold <= len(members):
                raise MalformedPolicyError(
                    f"group threshold {threshold} is outside 1..{len(members)}"
                )
        self._new_name(name)
        self.groups.append(Group(name, threshold, tuple(members)))

    def build(self) -> Policy:
        if self.quorum is None:
            raise MalformedPolicyError("policy has no quorum line")
        return Policy(tuple(self.logs), tuple(self.witnesses), tuple(self.groups), self.quorum)
