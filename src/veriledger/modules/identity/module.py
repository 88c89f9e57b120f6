"""Rules, queries and the signer authorizer of the identity module.

State::

    identity/org/<org>               {"id", "name", "kind", "cosigner", "country"}
    identity/member/<member>         {"id", "org", "name", "roles", "status", "since"}
    identity/key/<base64 key>        {"member", "status", "added", "revoked", "reason"}
    identity/member-key/<member>/<base64 key>   1  (an index: a member's keys)

Keys are never deleted, only revoked, so every signature in the log can still be
attributed to the member who made it when the ledger is replayed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from veriledger.chain.genesis import Genesis
from veriledger.chain.module import Context, Message, Module, Outcome, Rejection
from veriledger.chain.state import StateView
from veriledger.core.encoding import b64decode_strict
from veriledger.core.errors import BadInputError
from veriledger.modules.identity import errors as e
from veriledger.modules.identity.messages import (
    AddMember,
    RemoveMember,
    RevokeKey,
    RotateKey,
    SetRoles,
)

ADMIN = "admin"
ROLE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def org_key(org: str) -> str:
    return f"identity/org/{org}"


def member_key(member: str) -> str:
    return f"identity/member/{member}"


def key_key(key: str) -> str:
    return f"identity/key/{key}"


def member_key_index(member: str, key: str) -> str:
    return f"identity/member-key/{member}/{key}"


def _reject(code: int, detail: str = "") -> Rejection:
    return Rejection(e.MODULE, code, detail or e.ERRORS[code])


def _check_roles(roles: list[str]) -> list[str]:
    for role in roles:
        if not ROLE.fullmatch(role):
            raise _reject(e.BAD_ROLE, f"role {role!r}: {e.ERRORS[e.BAD_ROLE]}")
    return sorted(set(roles))


def _check_key(key: str) -> None:
    try:
        if len(b64decode_strict(key, "key")) == 32:
            return
    except BadInputError:
        pass
    raise _reject(e.BAD_KEY)


def authorize(state: StateView, signer: str) -> tuple[str, str, str, frozenset[str]]:
    """Who signed: ``(member, organisation, organisation kind, roles)``.

    Raises:
        Rejection: ``identity/1`` the key is unknown; ``identity/2`` it is revoked or
            its member removed.
    """
    record = state.get(key_key(signer))
    if record is None:
        raise _reject(e.UNKNOWN_SIGNER)
    if record["status"] != "active":
        raise _reject(
            e.REVOKED_SIGNER, f"the signer's key was revoked at block {record['revoked']}"
        )
    member = state.get(member_key(record["member"]))
    if member is None or member["status"] != "active":
        raise _reject(e.REVOKED_SIGNER, f"member {record['member']} has been removed")
    org = state.get(org_key(member["org"])) or {}
    return member["id"], member["org"], org.get("kind", "other"), frozenset(member["roles"])


def _new_key_writes(member: str, key: str, height: int) -> dict[str, Any]:
    return {
        key_key(key): {
            "member": member,
            "status": "active",
            "added": height,
            "revoked": None,
            "reason": "",
        },
        member_key_index(member, key): 1,
    }


def _active_keys(state: StateView, member: str) -> list[str]:
    prefix = f"identity/member-key/{member}/"
    keys = [k[len(prefix) :] for k, _ in state.scan(prefix)]
    return [k for k in keys if (state.get(key_key(k)) or {}).get("status") == "active"]


def _member_for_admin(state: StateView, member: str, ctx: Context) -> dict[str, Any]:
    """The member record, provided the signer is it or an admin of its organisation."""
    record = state.get(member_key(member))
    if record is None or record["status"] != "active":
        raise _reject(e.UNKNOWN_MEMBER, f"no active member {member!r}")
    if record["id"] != ctx.member and not (record["org"] == ctx.org and ADMIN in ctx.roles):
        raise _reject(e.NOT_ALLOWED)
    return dict(record)


def add_member(state: StateView, msg: AddMember, ctx: Context) -> Outcome:
    """Add a member to the signer's organisation.

    Raises:
        Rejection: ``identity/4`` the id is not in the signer's organisation;
            ``identity/3`` the member exists; ``identity/11`` bad key;
            ``identity/5`` the key is registered already; ``identity/10`` bad role.
    """
    if not msg.id.startswith(ctx.org + "/") or len(msg.id) <= len(ctx.org) + 1:
        raise _reject(e.NOT_YOUR_ORGANISATION, f"member id must start with '{ctx.org}/'")
    if state.get(member_key(msg.id)) is not None:
        raise _reject(e.MEMBER_EXISTS, f"member {msg.id} already exists")
    _check_key(msg.key)
    if state.get(key_key(msg.key)) is not None:
        raise _reject(e.KEY_IN_USE)
    roles = _check_roles(msg.roles)
    writes: dict[str, Any] = {
        member_key(msg.id): {
            "id": msg.id,
            "org": ctx.org,
            "name": msg.name,
            "roles": roles,
            "status": "active",
            "since": ctx.block_height,
        },
        **_new_key_writes(msg.id, msg.key, ctx.block_height),
    }
    return Outcome(writes, ({"type": "identity.member_added", "member": msg.id, "by": ctx.member},))


def rotate_key(state: StateView, msg: RotateKey, ctx: Context) -> Outcome:
    """Replace the signing key with ``new_key``: the new key is added, the old revoked.

    Raises:
        Rejection: ``identity/11`` bad key; ``identity/5`` the key is registered already.
    """
    _check_key(msg.new_key)
    if state.get(key_key(msg.new_key)) is not None:
        raise _reject(e.KEY_IN_USE)
    old = dict(state.get(key_key(ctx.signer)) or {})
    old.update(status="revoked", revoked=ctx.block_height, reason="rotated")
    writes = {
        key_key(ctx.signer): old,
        **_new_key_writes(ctx.member, msg.new_key, ctx.block_height),
    }
    return Outcome(writes, ({"type": "identity.key_rotated", "member": ctx.member},))


def revoke_key(state: StateView, msg: RevokeKey, ctx: Context) -> Outcome:
    """Revoke one active key of a member.

    Raises:
        Rejection: ``identity/6`` unknown member; ``identity/7`` not the member or an
            admin of its organisation; ``identity/8`` not an active key of the member;
            ``identity/9`` the member's last active key.
    """
    _member_for_admin(state, msg.member, ctx)
    record = state.get(key_key(msg.key))
    if record is None or record["member"] != msg.member or record["status"] != "active":
        raise _reject(e.UNKNOWN_KEY)
    if _active_keys(state, msg.member) == [msg.key]:
        raise _reject(e.LAST_KEY)
    revoked = {**record, "status": "revoked", "revoked": ctx.block_height, "reason": msg.reason}
    return Outcome(
        {key_key(msg.key): revoked},
        ({"type": "identity.key_revoked", "member": msg.member, "by": ctx.member},),
    )


def set_roles(state: StateView, msg: SetRoles, ctx: Context) -> Outcome:
    """Set a member's roles (admins of its organisation only).

    Raises:
        Rejection: ``identity/6`` unknown member; ``identity/7`` not an admin of the
            member's organisation; ``identity/10`` bad role.
    """
    record = _member_for_admin(state, msg.member, ctx)
    if record["org"] != ctx.org or ADMIN not in ctx.roles:
        raise _reject(e.NOT_ALLOWED)
    record["roles"] = _check_roles(msg.roles)
    return Outcome(
        {member_key(msg.member): record}, ({"type": "identity.roles_set", "member": msg.member},)
    )


def remove_member(state: StateView, msg: RemoveMember, ctx: Context) -> Outcome:
    """Remove a member (admins of its organisation only); its keys stop signing.

    Raises:
        Rejection: ``identity/6`` unknown member; ``identity/7`` not an admin.
    """
    record = _member_for_admin(state, msg.member, ctx)
    if record["org"] != ctx.org or ADMIN not in ctx.roles:
        raise _reject(e.NOT_ALLOWED)
    record.update(status="removed", removed=ctx.block_height, reason=msg.reason)
    writes: dict[str, Any] = {member_key(msg.member): record}
    for key in _active_keys(state, msg.member):
        writes[key_key(key)] = {
            **(state.get(key_key(key)) or {}),
            "status": "revoked",
            "revoked": ctx.block_height,
            "reason": "member removed",
        }
    return Outcome(writes, ({"type": "identity.member_removed", "member": msg.member},))


def genesis_writes(genesis: Genesis) -> dict[str, Any]:
    """The identity state the genesis file establishes."""
    writes: dict[str, Any] = {}
    for org in genesis.organisations:
        writes[org_key(org.id)] = {
            "id": org.id,
            "name": org.name,
            "kind": org.kind,
            "cosigner": org.cosigner,
            "country": org.country,
        }
        for m in org.members:
            writes[member_key(m.id)] = {
                "id": m.id,
                "org": org.id,
                "name": m.name,
                "roles": sorted(set(m.roles)),
                "status": "active",
                "since": 0,
            }
            writes.update(_new_key_writes(m.id, m.key, 0))
    return writes


# --- queries -------------------------------------------------------------------------------


def list_organisations(state: StateView, params: Mapping[str, str]) -> list[Any]:
    return [value for _, value in state.scan("identity/org/")]


def list_members(state: StateView, params: Mapping[str, str]) -> list[Any]:
    org = params.get("org")
    members = [value for _, value in state.scan("identity/member/")]
    out = []
    for member in members:
        if org and member["org"] != org:
            continue
        keys = [k for k, _ in state.scan(f"identity/member-key/{member['id']}/")]
        key_ids = [k.rsplit("/", 1)[1] for k in keys]
        out.append(
            {**member, "keys": [{"key": k, **(state.get(key_key(k)) or {})} for k in key_ids]}
        )
    return out


def _message(name: str, body: type, rule: Any, doc: str, admin_only: bool) -> Message:
    # Every identity message decides who may sign what follows it.
    roles = frozenset({ADMIN}) if admin_only else None
    return Message(name, body, rule, roles=roles, doc=doc, checked_at_submission=True)


MODULE = Module(
    name="identity",
    messages=(
        _message(
            "identity.add_member",
            AddMember,
            add_member,
            "An admin adds a member to their organisation.",
            admin_only=True,
        ),
        _message(
            "identity.rotate_key",
            RotateKey,
            rotate_key,
            "A member replaces its signing key.",
            admin_only=False,
        ),
        _message(
            "identity.revoke_key",
            RevokeKey,
            revoke_key,
            "A member or its admin revokes one of its keys.",
            admin_only=False,
        ),
        _message(
            "identity.set_roles",
            SetRoles,
            set_roles,
            "An admin sets a member's roles.",
            admin_only=True,
        ),
        _message(
            "identity.remove_member",
            RemoveMember,
            remove_member,
            "An admin removes a member of their organisation.",
            admin_only=True,
        ),
    ),
    queries={"organisations": list_organisations, "members": list_members},
    errors=e.ERRORS,
)
