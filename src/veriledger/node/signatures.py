"""Signature checks on the other core: worker processes verify large batches.

Ed25519 verification is the floor under the cost of a transaction, and threads do
not speed it up here (measured: two threads verify no faster than one). So batches
go to worker processes while this process parses, executes and commits blocks:
signatures on one core, everything else on the other.
"""

from __future__ import annotations

import binascii
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from veriledger.core.keys import ed25519_verify

Item = tuple[bytes | str, bytes, bytes | str]
"""``(public key, message, signature)``; the key and signature raw, or in base64 as an
envelope carries them (already checked canonical when it was parsed), so the decoding
happens on the worker too."""

PARALLEL_THRESHOLD = 64
CHUNK = 100
"""Items per task for the workers: 100 signatures are about 6 ms of work against ~0.1 ms
of transfer."""
T = TypeVar("T")
R = TypeVar("R")


def _exit_with_parent(parent: int) -> None:
    """Worker start-up: exit when the node dies, even by SIGKILL (no orphans left)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _check(items: Sequence[Item]) -> list[bool]:
    out = []
    for key, message, sig in items:
        raw_key, raw_sig = _raw(key), _raw(sig)
        out.append(
            raw_key is not None
            and raw_sig is not None
            and ed25519_verify(raw_key, message, raw_sig)
        )
    return out


def _ready() -> bool:
    return True


def _raw(value: bytes | str) -> bytes | None:
    """The bytes of a canonical base64 text (None if it is not), or raw bytes as given."""
    if not isinstance(value, str):
        return value
    try:
        raw = binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return raw if binascii.b2a_base64(raw, newline=False) == value.encode() else None


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

    def start(self) -> None:
        """Start the workers now, not on the first large batch: a spawned worker takes a
        second or two to start, which a serving node's first capture would wait for."""
        if self._pool is not None:
            for _ in range(self._workers):
                self._pool.submit(_ready)

    def check(self, items: Sequence[Item]) -> list[bool]:
        """Whether each signature verifies, in order (see :meth:`map_chunks`)."""
        return self.map_chunks(_check, items, share=True).result()

    def map_chunks(
        self, fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], share: bool = False
    ) -> Future[list[R]]:
        """``fn`` over ``items`` on the worker processes, in chunks, as one future.

        For pure work that does not need this process: signature checks, a capture's
        event hashes and signatures. With no workers, or a small batch, all of it runs
        here.

        ``share``: the calling thread does the last chunk itself if no worker has
        started it, then goes on while the workers finish. Only for work that releases
        the GIL (PyNaCl's verification does), so the commit thread runs meanwhile:
        measured at full ingest, this process spends about 65 us on each transaction
        besides its signature and a worker about as much verifying one, and both cores
        are busiest when this process takes about a tenth of the signatures, one chunk
        of a full batch. Sharing Python work (event hashes) measured slower: it holds
        the GIL against the commit thread.
        """
        if self._pool is None or len(items) < PARALLEL_THRESHOLD:
            return _run_here(fn, items)
        chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
        parts = [self._pool.submit(fn, chunk) for chunk in chunks]
        if share and len(chunks) > 1 and parts[-1].cancel():
            parts[-1] = _run_here(fn, chunks[-1])
        joined: Future[list[R]] = Future()
        left = [len(parts)]
        lock = threading.Lock()

        def collect(_: Future[list[R]]) -> None:
            with lock:  # parts finish on different threads: the last one joins, once
                left[0] -= 1
                if left[0]:
                    return
            try:
                joined.set_result([x for part in parts for x in part.result()])
            except BaseException as exc:  # a worker died or fn raised
                joined.set_exception(exc)

        for part in parts:
            part.add_done_callback(collect)
        return joined

    def worker_pids(self) -> list[int]:
        """The worker processes started so far (for the benchmarks' CPU accounting)."""
        return [] if self._pool is None else list(self._pool._processes or {})

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _run_here(fn: Callable[[Sequence[T]], list[R]], items: Sequence[T]) -> Future[list[R]]:
    done: Future[list[R]] = Future()
    try:
        done.set_result(fn(items))
    except BaseException as exc:
        done.set_exception(exc)
    return done
