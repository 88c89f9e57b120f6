"""Signature checks on the worker: raw or base64 items, small batches here, large ones there."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

import nacl.signing
import pytest

from veriledger.node.signatures import PARALLEL_THRESHOLD, Item, SignatureChecker

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _items(count: int) -> list[Item]:
    key = nacl.signing.SigningKey(hashlib.sha256(b"signatures").digest())
    public = bytes(key.verify_key)
    out: list[Item] = []
    for i in range(count):
        message = b"m%d" % i
        sig = key.sign(message).signature
        if i % 2:
            out.append((base64.b64encode(public).decode(), message, base64.b64encode(sig).decode()))
        else:
            out.append((public, message, sig))
    return out


@pytest.fixture(scope="module")
def checker() -> SignatureChecker:
    checker = SignatureChecker(workers=1)
    yield checker  # type: ignore[misc]
    checker.close()


@pytest.mark.parametrize("count", [3, PARALLEL_THRESHOLD * 2 + 1])
def test_good_signatures_verify_in_order(checker: SignatureChecker, count: int) -> None:
    assert checker.check(_items(count)) == [True] * count


@pytest.mark.parametrize("count", [3, PARALLEL_THRESHOLD * 2 + 1])
def test_each_bad_item_is_named_by_its_position(checker: SignatureChecker, count: int) -> None:
    items = _items(count)
    key, message, sig = items[1]
    assert isinstance(sig, str)
    items[1] = (key, message + b"!", sig)  # signed bytes changed
    items[2] = (items[2][0], items[2][1], b"\0" * 64)  # a signature of zeros
    text = base64.b64encode(base64.b64decode(sig)).decode()
    items[-2] = (items[-2][0], items[-2][1], text.rstrip("=") + "==="[:0])  # no padding
    results = checker.check(items)
    assert [i for i, ok in enumerate(results) if not ok] == sorted({1, 2, count - 2})


def test_base64_that_is_not_canonical_never_verifies(checker: SignatureChecker) -> None:
    key, message, sig = _items(2)[1]
    assert isinstance(sig, str) and sig.endswith("==")
    # Stray bits in the last character decode to the same bytes but another spelling.
    last = ALPHABET.index(sig[-3])
    stray = sig[:-3] + ALPHABET[last ^ 1] + "=="
    assert stray != sig and base64.b64decode(stray) == base64.b64decode(sig)
    assert checker.check([(key, message, sig), (key, message, stray), (key, message, "%%")]) == [
        True,
        False,
        False,
    ]


def test_started_workers_are_running_before_any_batch() -> None:
    checker = SignatureChecker(workers=1)
    try:
        assert checker.worker_pids() == []  # spawned on demand...
        checker.start()  # ...or now, as a serving node does
        assert len(checker.worker_pids()) == 1
        assert checker.check(_items(PARALLEL_THRESHOLD + 1)) == [True] * (PARALLEL_THRESHOLD + 1)
    finally:
        checker.close()


def _lengths(items: Sequence[bytes]) -> list[int]:
    if b"boom" in items:
        raise ValueError("boom")
    return [len(x) for x in items]


def test_many_chunks_join_in_order_and_a_failure_fails_the_whole(checker: SignatureChecker) -> None:
    items = [b"x" * (i % 7) for i in range(1_001)]  # eleven chunks
    assert checker.map_chunks(_lengths, items).result(timeout=30) == [len(x) for x in items]
    items[500] = b"boom"
    with pytest.raises(ValueError, match="boom"):
        checker.map_chunks(_lengths, items).result(timeout=30)
