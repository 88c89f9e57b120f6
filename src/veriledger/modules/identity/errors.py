"""Rejection codes of the identity module. Stable forever: never renumber, never reuse."""

from __future__ import annotations

MODULE = "identity"

UNKNOWN_SIGNER = 1
REVOKED_SIGNER = 2
MEMBER_EXISTS = 3
NOT_YOUR_ORGANISATION = 4
KEY_IN_USE = 5
UNKNOWN_MEMBER = 6
NOT_ALLOWED = 7
UNKNOWN_KEY = 8
LAST_KEY = 9
BAD_ROLE = 10
BAD_KEY = 11

ERRORS = {
    UNKNOWN_SIGNER: "the signer's key is not registered to any member",
    REVOKED_SIGNER: "the signer's key has been revoked, or its member removed",
    MEMBER_EXISTS: "a member with that id already exists",
    NOT_YOUR_ORGANISATION: "members can only be managed within the signer's own organisation",
    KEY_IN_USE: "that key is already registered",
    UNKNOWN_MEMBER: "no such member",
    NOT_ALLOWED: "only the member itself or an admin of its organisation may do this",
    UNKNOWN_KEY: "the key is not an active key of that member",
    LAST_KEY: "a member's last active key cannot be revoked; rotate it instead",
    BAD_ROLE: "roles are lowercase words (a-z, 0-9, '-', '_')",
    BAD_KEY: "keys are base64 32-byte Ed25519 public keys",
}
