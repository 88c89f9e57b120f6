"""Ordering engines behind one interface.

An engine takes submitted transactions and hands them back, in one total order, as
batches to the block cutter. ``local`` does it in process: a queue and a cutter
thread that closes a batch when it reaches the block's size limit or has waited
the block's time limit. A ``jetstream`` engine (a NATS JetStream stream with three
replicas) implements the same protocol.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from veriledger.chain.transactions import Transaction

Deliver = Callable[[list[Transaction]], None]


class OrderingEngine(Protocol):
    def start(self, deliver: Deliver) -> None:
        """Begin delivering ordered batches to ``deliver`` (called from one thread)."""
        ...

    def submit(self, txs: Sequence[Transaction]) -> None:
        """Queue transactions for ordering, in the given order."""
        ...

    def pending(self) -> int:
        """Transactions submitted but not yet delivered."""
        ...

    def stop(self) -> None:
        """Deliver what is queued, then stop."""
        ...


class LocalEngine:
    """In-process ordering: arrival order, cut by size or time."""

    def __init__(self, max_txs: int, max_wait: float) -> None:
        self.max_txs = max_txs
        self.max_wait = max_wait
        self._queue: deque[Transaction] = deque()
        self._cond = threading.Condition()
        self._first_at = 0.0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._deliver: Deliver | None = None
        self._in_delivery = 0

    def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._thread = threading.Thread(target=self._run, name="block-cutter", daemon=True)
        self._thread.start()

    def submit(self, txs: Sequence[Transaction]) -> None:
        with self._cond:
            if not self._queue:
                self._first_at = time.monotonic()
            self._queue.extend(txs)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_delivery

    def _next_batch(self) -> list[Transaction] | None:
        with self._cond:
            while True:
                if self._queue:
                    waited = time.monotonic() - self._first_at
                    if (
                        len(self._queue) >= self.max_txs
                        or waited >= self.max_wait
                        or self._stopping
                    ):
                        count = min(self.max_txs, len(self._queue))
                        batch = [self._queue.popleft() for _ in range(count)]
                        self._first_at = time.monotonic()
                        self._in_delivery = len(batch)
                        return batch
                    self._cond.wait(self.max_wait - waited)
                elif self._stopping:
                    return None
                else:
                    self._cond.wait()

    def _run(self) -> None:
        assert self._deliver is not None
        while (batch := self._next_batch()) is not None:
            try:
                self._deliver(batch)
            finally:
                with self._cond:
                    self._in_delivery = 0

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
