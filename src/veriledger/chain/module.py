"""The module interface: typed messages, pure rules, roles and queries.

A module (``identity``, ``trace``, ``coupons``...) is a name, its messages and its
queries. Each message has a body dataclass, the member roles and organisation kinds
allowed to send it, and a rule::

    rule(state: StateView, body: Body, ctx: Context) -> Outcome

A rule reads state, never writes it, and never reads the clock, randomness, the
network or the environment: time is ``ctx.block_time`` and randomness, where a
module needs it, comes from block hashes in ``ctx``. It returns the writes and
events of an accepted message, or raises :class:`Rejection` with a stable
``(module, code)`` and a reason a person can read. Codes are never reused.

The chain layer knows nothing of organisations: who a signer is comes from an
:class:`Authorizer` that a module above (``identity``) supplies to the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from veriledger.chain.state import StateView
from veriledger.core.errors import RejectedError

Rejection = RejectedError
"""Raised by a rule to refuse a message: ``Rejection(module, code, reason)``."""


class Context(NamedTuple):
    """What a rule may know about the transaction beyond its body.

    A named tuple, not a frozen dataclass: it is built for every transaction twice
    (admission and block), and a tuple is immutable at a third of the cost.
    """

    chain: str
    tx_id: str
    signer: str
    """The signer's base64 public key."""
    member: str
    org: str
    org_kind: str
    roles: frozenset[str]
    block_height: int
    block_time: int
    """Block time in milliseconds: the only clock a rule may read."""
    block_seed: str = ""
    """Hex SHA-256 of the previous block header: the only randomness a rule may use."""


@dataclass(frozen=True)
class Outcome:
    """An accepted message: the state writes (None deletes) and the events it emits."""

    writes: Mapping[str, Any | None] = field(default_factory=dict)
    events: tuple[dict[str, Any], ...] = ()


Rule = Callable[[StateView, Any, Context], Outcome]


@dataclass(frozen=True)
class Message:
    """One message type of a module."""

    name: str
    """Full type, ``<module>.<message>``."""
    body: type
    rule: Rule
    roles: frozenset[str] | None = None
    """Member roles allowed to send it (any one suffices); None means any member."""
    org_kinds: frozenset[str] | None = None
    """Organisation kinds allowed to send it; None means any organisation."""
    doc: str = ""
    checked_at_submission: bool = False
    """Run its rule in the submission checks too, and refuse the batch if it rejects.

    For messages whose outcome the submitter must know at once: identity messages
    decide who may sign the rest of a batch, and an EPCIS document is captured whole
    or not at all. Other rules decide in the block, in order."""
    admission: Rule | None = None
    """A cheaper form of ``rule`` for the submission checks: the same refusals, and only
    the writes a later transaction of the batch must see. None runs ``rule`` itself."""


Query = Callable[[StateView, Mapping[str, str]], Any]


@dataclass(frozen=True)
class Module:
    name: str
    messages: tuple[Message, ...]
    queries: Mapping[str, Query] = field(default_factory=dict)
    errors: Mapping[int, str] = field(default_factory=dict)
    """Every rejection code of the module and what it means; documented and stable."""


class Authorizer(Protocol):
    """Maps a transaction's signer to a member, or raises :class:`Rejection`."""

    def __call__(self, state: StateView, signer: str) -> tuple[str, str, str, frozenset[str]]:
        """``(member id, organisation id, organisation kind, member roles)``."""
        ...


class Registry:
    """Every message type of the modules a chain runs."""

    def __init__(self, modules: Iterable[Module]) -> None:
        self.modules = {m.name: m for m in modules}
        self.messages: dict[str, Message] = {}
        for module in self.modules.values():
            for message in module.messages:
                if not message.name.startswith(module.name + "."):
                    raise ValueError(f"{message.name} is not in module {module.name}")
                self.messages[message.name] = message

    def message(self, type_name: str) -> Message | None:
        return self.messages.get(type_name)
