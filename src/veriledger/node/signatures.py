"""Signature checks on the other core: worker processes verify large batches.

Ed25519 verification is the floor under the cost of a transaction, and threads do
not speed it up here (measured: two threads verify no faster than one). So batches
go to worker processes while this process parses, executes and commits blocks:
signatures on one core, everything else on the other.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from veriledger.core.keys import ed25519_verify

Item = tuple[bytes, bytes, bytes]
"""``(public key, message, signature)``."""

PARALLEL_THRESHOLD = 64


def _exit_with_parent(parent: int) -> None:
    """Worker start-up: exit when the node dies, even by SIGKILL (no orphans left)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _check(items: Sequence[Item]) -> list[bool]:
    return [ed25519_verify(key, message, sig) for key, message, sig in items]


class SignatureChecker:
    def __init__(self, workers: int | None = None) -> None:
        count = (os.cpu_count() or 1) - 1 if workers is None else workers
        # "spawn", not fork: the node has threads and open databases by now.
        context = multiprocessing.get_context("spawn")
        self._pool = (
            ProcessPoolExecutor(
                count, mp_context=context, initializer=_exit_with_parent, initargs=(os.getpid(),)
            )
            if count > 0
            else None
        )
        self._workers = count

    def check(self, items: Sequence[Item]) -> list[bool]:
        """Whether each signature verifies, in order.

        Large batches go wholly to the worker processes, so this process stays free
        to execute and commit the previous block meanwhile (it only waits here).
        """
        if self._pool is None or len(items) < PARALLEL_THRESHOLD:
            return _check(items)
        chunk = -(-len(items) // self._workers)
        futures = [
            self._pool.submit(_check, items[i : i + chunk]) for i in range(0, len(items), chunk)
        ]
        out: list[bool] = []
        for future in futures:
            out.extend(future.result())
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
