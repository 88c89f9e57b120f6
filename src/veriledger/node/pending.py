"""What a submitter holds until its transactions commit: one handle per transaction.

A ``concurrent.futures.Future`` per transaction cost about a tenth of the node's
time at full ingest (each builds a ``threading.Condition``, and each ``set_result``
takes its own lock and notifies). So the transactions of one submission share one
condition, and a commit settles every handle of a submission under one lock with
one notify: per transaction, only a few attribute writes are left.

A :class:`Pending` answers ``done``, ``result(timeout)`` and ``add_done_callback``
like a future; a :class:`Submission` is the sequence of them, with
:meth:`Submission.when_all_done` for waiting on the whole batch (the HTTP layer
bridges that to asyncio with one callback, not one per transaction).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Generic, TypeVar, overload

T = TypeVar("T")


class Pending(Generic[T]):
    """The outcome of one submitted transaction, set once, when its block commits."""

    __slots__ = ("_callbacks", "_done", "_error", "_submission", "_value", "id")

    def __init__(self, submission: Submission[T], tx_id: str) -> None:
        self.id = tx_id
        self._submission = submission
        self._done = False
        self._value: T | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Pending[T]], None]] | None = None

    def done(self) -> bool:
        return self._done

    def result(self, timeout: float | None = None) -> T:
        """The outcome, waiting up to ``timeout`` seconds for it.

        Raises:
            TimeoutError: not settled in time.
            BaseException: the failure the node settled it with (a failed commit).
        """
        if not self._done:
            cond = self._submission._cond
            with cond:
                if not cond.wait_for(self.done, timeout):
                    raise TimeoutError(f"transaction {self.id} is still pending")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def add_done_callback(self, fn: Callable[[Pending[T]], None]) -> None:
        """Call ``fn(self)`` once settled: now if it already is, else on the commit's thread."""
        with self._submission._cond:
            if not self._done:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(fn)
                return
        fn(self)


class Submission(Sequence[Pending[T]]):
    """The handles of one submission, in order, sharing one condition."""

    def __init__(self, tx_ids: Iterable[str]) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._items = [Pending(self, tx_id) for tx_id in tx_ids]
        self._left = len(self._items)
        self._on_all: list[Callable[[], None]] = []

    @overload
    def __getitem__(self, index: int) -> Pending[T]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Pending[T]]: ...
    def __getitem__(self, index: int | slice) -> Pending[T] | Sequence[Pending[T]]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Pending[T]]:
        return iter(self._items)

    def when_all_done(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` once every handle is settled (now, if they already are)."""
        with self._cond:
            if self._left:
                self._on_all.append(fn)
                return
        fn()


def settle(outcomes: Iterable[tuple[Pending[T], T | BaseException]]) -> None:
    """Set each handle's outcome (a value, or the exception that failed it).

    Handles already settled are left alone. Each submission is locked and notified
    once; callbacks run after its lock is released, so they may read the handles.
    """
    groups: dict[int, tuple[Submission[T], list[tuple[Pending[T], T | BaseException]]]] = {}
    for pending, outcome in outcomes:
        submission = pending._submission
        group = groups.get(id(submission))
        if group is None:
            groups[id(submission)] = (submission, [(pending, outcome)])
        else:
            group[1].append((pending, outcome))
    for submission, items in groups.values():
        callbacks: list[tuple[Callable[[Pending[T]], None], Pending[T]]] = []
        with submission._cond:
            for pending, outcome in items:
                if pending._done:
                    continue
                if isinstance(outcome, BaseException):
                    pending._error = outcome
                else:
                    pending._value = outcome
                pending._done = True
                submission._left -= 1
                if pending._callbacks:
                    callbacks += [(fn, pending) for fn in pending._callbacks]
                    pending._callbacks = None
            on_all = submission._on_all if submission._left == 0 else []
            if on_all:
                submission._on_all = []
            submission._cond.notify_all()
        for fn, pending in callbacks:
            _call(fn, pending)
        for done in on_all:
            _call(done)


def _call(fn: Callable[..., None], *args: object) -> None:
    """A failing callback is logged, as a future's is: it must not stop the commit thread."""
    try:
        fn(*args)
    except Exception:
        logging.getLogger(__name__).exception("callback of a pending transaction failed")
