"""Signature checks on both cores: a worker process verifies half of each large batch.

Ed25519 verification is the floor under the cost of a transaction and PyNaCl holds
the GIL while it verifies, so threads do not help. A batch is split: one worker
process checks the first part while this process checks the rest, then the
results are joined in order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from veriledger.core.keys import ed25519_verify

Item = tuple[bytes, bytes, bytes]
"""``(public key, message, signature)``."""

PARALLEL_THRESHOLD = 64


def _check(items: Sequence[Item]) -> list[bool]:
    return [ed25519_verify(key, message, sig) for key, message, sig in items]


class SignatureChecker:
    def __init__(self, workers: int | None = None) -> None:
        count = (os.cpu_count() or 1) - 1 if workers is None else workers
        self._pool = ProcessPoolExecutor(count) if count > 0 else None
        self._workers = count

    def check(self, items: Sequence[Item]) -> list[bool]:
        if self._pool is None or len(items) < PARALLEL_THRESHOLD:
            return _check(items)
        share = len(items) * self._workers // (self._workers + 1)
        chunk = -(-share // self._workers)
        futures = [
            self._pool.submit(_check, items[i : min(i + chunk, share)])
            for i in range(0, share, chunk)
        ]
        local = _check(items[share:])
        out: list[bool] = []
        for future in futures:
            out.extend(future.result())
        return out + local

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
