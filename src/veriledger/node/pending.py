"""What a submitter holds until its transactions commit: one handle per transaction.

A ``concurrent.futures.Future`` per transaction cost about a tenth of the node's
time at full ingest (each builds a ``threading.Condition``, and each ``set_result``
takes its own lock and notifies). So a :class:`Submission` keeps the outcomes of all
its transactions in one list under one condition, a commit settles a submission's
share of a block under one lock with one notify, and the per-transaction
:class:`Pending` handles are views made only when a caller asks for them.

A :class:`Pending` answers ``done``, ``result(timeout)`` and ``add_done_callback``
like a future; :meth:`Submission.when_all_done` waits for the whole batch (the HTTP
layer bridges that to asyncio with one callback, not one per transaction).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Generic, TypeVar, overload

T = TypeVar("T")
_UNSET = object()


class Submission(Sequence["Pending[T]"]):
    """The outcomes of one submission, in order, under one condition."""

    def __init__(self, tx_ids: Sequence[str]) -> None:
        self.ids = tx_ids
        self._cond = threading.Condition(threading.Lock())
        self._outcomes: list[object] = [_UNSET] * len(tx_ids)
        self._left = len(tx_ids)
        self._callbacks: dict[int, list[Callable[[Pending[T]], None]]] = {}
        self._on_all: list[Callable[[], None]] = []

    @overload
    def __getitem__(self, index: int) -> Pending[T]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Pending[T]]: ...
    def __getitem__(self, index: int | slice) -> Pending[T] | Sequence[Pending[T]]:
        if isinstance(index, slice):
            return [Pending(self, i) for i in range(len(self))[index]]
        return Pending(self, range(len(self))[index])

    def __len__(self) -> int:
        return len(self._outcomes)

    def __iter__(self) -> Iterator[Pending[T]]:
        return (Pending(self, i) for i in range(len(self)))

    def outcomes(self) -> list[T | BaseException]:
        """Every outcome, in order: a value, or the exception that failed it.

        Raises:
            RuntimeError: some are still pending (ask from :meth:`when_all_done`).
        """
        with self._cond:
            if self._left:
                raise RuntimeError(f"{self._left} transactions are still pending")
            return list(self._outcomes)  # type: ignore[arg-type]

    def when_all_done(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` once every transaction is settled (now, if they already are)."""
        with self._cond:
            if self._left:
                self._on_all.append(fn)
                return
        fn()


class Pending(Generic[T]):
    """The outcome of one submitted transaction, set once, when its block commits."""

    __slots__ = ("_index", "_submission")

    def __init__(self, submission: Submission[T], index: int) -> None:
        self._submission = submission
        self._index = index

    @property
    def id(self) -> str:
        return self._submission.ids[self._index]

    def done(self) -> bool:
        return self._submission._outcomes[self._index] is not _UNSET

    def result(self, timeout: float | None = None) -> T:
        """The outcome, waiting up to ``timeout`` seconds for it.

        Raises:
            TimeoutError: not settled in time.
            BaseException: the failure the node settled it with (a failed commit).
        """
        outcome = self._submission._outcomes[self._index]
        if outcome is _UNSET:
            cond = self._submission._cond
            with cond:
                if not cond.wait_for(self.done, timeout):
                    raise TimeoutError(f"transaction {self.id} is still pending")
            outcome = self._submission._outcomes[self._index]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[return-value]

    def add_done_callback(self, fn: Callable[[Pending[T]], None]) -> None:
        """Call ``fn(self)`` once settled: now if it already is, else on the commit's thread."""
        submission = self._submission
        with submission._cond:
            if not self.done():
                submission._callbacks.setdefault(self._index, []).append(fn)
                return
        fn(self)


def settle(outcomes: Iterable[tuple[tuple[Submission[T], int], T | BaseException]]) -> None:
    """Set each ``((submission, index), outcome)``: a value, or the exception that failed it.

    Transactions already settled are left alone. Each submission is locked and notified
    once; callbacks run after its lock is released, so they may read the outcomes.
    """
    groups: dict[int, tuple[Submission[T], list[tuple[int, T | BaseException]]]] = {}
    for (submission, index), outcome in outcomes:
        group = groups.get(id(submission))
        if group is None:
            groups[id(submission)] = (submission, [(index, outcome)])
        else:
            group[1].append((index, outcome))
    for submission, items in groups.values():
        callbacks: list[tuple[Callable[[Pending[T]], None], int]] = []
        with submission._cond:
            slots = submission._outcomes
            for index, outcome in items:
                if slots[index] is not _UNSET:
                    continue
                slots[index] = outcome
                submission._left -= 1
                if submission._callbacks:
                    callbacks += [(fn, index) for fn in submission._callbacks.pop(index, ())]
            on_all = submission._on_all if submission._left == 0 else []
            if on_all:
                submission._on_all = []
            submission._cond.notify_all()
        for fn, index in callbacks:
            _call(fn, Pending(submission, index))
        for done in on_all:
            _call(done)


def _call(fn: Callable[..., None], *args: object) -> None:
    """A failing callback is logged, as a future's is: it must not stop the commit thread."""
    try:
        fn(*args)
    except Exception:
        logging.getLogger(__name__).exception("callback of a pending transaction failed")
