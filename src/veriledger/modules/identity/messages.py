"""Message bodies of the identity module."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AddMember:
    """An admin adds a member to their own organisation."""

    id: str
    """``<organisation>/<name>``."""
    name: str
    roles: list[str]
    key: str
    """Base64 Ed25519 public key of the new member."""


@dataclass(frozen=True)
class RotateKey:
    """A member replaces the key it signs this message with by ``new_key``."""

    new_key: str


@dataclass(frozen=True)
class RevokeKey:
    """The member itself or an admin of its organisation revokes one of its keys."""

    member: str
    key: str
    reason: str = ""


@dataclass(frozen=True)
class SetRoles:
    """An admin sets the roles of a member of their organisation."""

    member: str
    roles: list[str]


@dataclass(frozen=True)
class RemoveMember:
    """An admin removes a member; all its keys stop signing."""

    member: str
    reason: str = ""
