"""Module state as JSON values under string keys, and the running state root.

Rules read state through a :class:`StateView` and never write it: they return their
writes, and the driver applies them to a per-block overlay (:class:`BlockState`) so
a rejected transaction leaves no trace and a block commits all at once.

The state root is a running commitment, not a Merkle map: ``root(h) =
SHA-256("veriledger/state/v1" || root(h-1) || height || canonical JSON of the
block's sorted writes)``. It costs O(writes) per block and any two nodes that
executed differently disagree on it from that block on, which is what a node
checks before it cosigns. Proving a single key's value is not its job (see
docs/adr/0003-state-root-as-write-log-commitment.md).
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from veriledger.core.canonical_json import canonical_json

STATE_DOMAIN = b"veriledger/state/v1\n"
_ABSENT = object()
EMPTY_STATE_ROOT = hashlib.sha256(STATE_DOMAIN).digest()


class StateView(Protocol):
    """Read access to module state."""

    def get(self, key: str) -> Any | None:
        """The value stored at ``key``, or None."""
        ...

    def scan(self, prefix: str) -> Iterator[tuple[str, Any]]:
        """Every ``(key, value)`` whose key starts with ``prefix``, in key order."""
        ...


@runtime_checkable
class BulkScan(Protocol):
    """A view that can scan many prefixes at once (SQLite does, in one query)."""

    def scan_many(self, prefixes: Sequence[str]) -> dict[str, list[tuple[str, Any]]]:
        """``{prefix: [(key, value), ...] in key order}`` for every prefix."""
        ...


class MemoryState:
    """A :class:`StateView` over a dict, for tests and replays."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self._sorted: list[str] | None = None
        """The keys in order, kept until a key is added or removed: a replay scans
        prefixes often (expiring replay memory, trace queries) between blocks."""

    def get(self, key: str) -> Any | None:
        return self.values.get(key)

    def scan(self, prefix: str) -> Iterator[tuple[str, Any]]:
        keys = self._sorted
        if keys is None:
            keys = self._sorted = sorted(self.values)
        values = self.values
        for i in range(bisect.bisect_left(keys, prefix), len(keys)):
            key = keys[i]
            if not key.startswith(prefix):
                return
            yield key, values[key]

    def apply(self, writes: Mapping[str, Any | None]) -> None:
        values = self.values
        for key, value in writes.items():
            if value is None:
                if values.pop(key, _ABSENT) is not _ABSENT:
                    self._sorted = None
            else:
                if key not in values:
                    self._sorted = None
                values[key] = value


class BlockState:
    """The pending writes of a block over a base view; reads see the writes."""

    def __init__(self, base: StateView) -> None:
        self.base = base
        self.writes: dict[str, Any | None] = {}

    def get(self, key: str) -> Any | None:
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)

    def scan(self, prefix: str) -> Iterator[tuple[str, Any]]:
        merged = dict(self.base.scan(prefix))
        for key, value in self.writes.items():
            if key.startswith(prefix):
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
        for key in sorted(merged):
            yield key, merged[key]

    def apply(self, writes: Mapping[str, Any | None]) -> None:
        self.writes.update(writes)


def encode_writes(writes: Mapping[str, Any | None]) -> dict[str, bytes | None]:
    """Each written value's canonical JSON (None for a delete), computed once per block."""
    return {k: None if v is None else canonical_json(v) for k, v in writes.items()}


def next_state_root(previous: bytes, height: int, writes: Mapping[str, Any | None]) -> bytes:
    """Fold one block's writes into the running state root."""
    return next_state_root_encoded(previous, height, encode_writes(writes))


def next_state_root_encoded(
    previous: bytes, height: int, encoded: Mapping[str, bytes | None]
) -> bytes:
    """:func:`next_state_root` from already-encoded writes.

    The hashed bytes are the canonical JSON of ``[[key, value], ...]`` sorted by key,
    assembled from the per-value encodings (JSON strings and arrays have one canonical
    form each, so assembling equals encoding the whole list; a test holds them equal).
    """
    items = b",".join(
        b"[" + canonical_json(key) + b"," + (b"null" if value is None else value) + b"]"
        for key, value in sorted(encoded.items())
    )
    return hashlib.sha256(
        STATE_DOMAIN + previous + height.to_bytes(8, "big") + b"[" + items + b"]"
    ).digest()


class KeyFilter:
    """A Bloom filter of the state keys that exist: "no" is certain, "yes" is probable.

    Most rules look up keys that do not exist yet (a new attestation, a coupon not yet
    redeemed); the filter answers those without a database query. About 10 bits per
    key and 5 probes give roughly a 1% false-positive rate; the filter doubles its
    size when it fills, rebuilding from the keys it is given.
    """

    PROBES = 5

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._rebuild(list(keys))

    def _rebuild(self, keys: list[str]) -> None:
        bits = 1 << max(20, (len(keys) * 20).bit_length())
        self._mask = bits - 1
        self._bits = bytearray(bits // 8)
        self._count = 0
        self._keys_hint = len(keys)
        self.add_all(keys)

    def add_all(self, keys: Iterable[str]) -> None:
        """Add each key; one call per block, with :func:`_probe` inlined (a block of
        captures adds several thousand keys, and the calls were most of the cost)."""
        bits, mask, probes = self._bits, self._mask, self.PROBES
        count = 0
        for key in keys:
            h = hash(key)
            position, step = h & 0xFFFFFFFF, ((h >> 32) & 0xFFFFFFFF) | 1
            for _ in range(probes):
                bit = position & mask
                bits[bit >> 3] |= 1 << (bit & 7)
                position += step
            count += 1
        self._count += count

    def might_contain(self, key: str) -> bool:
        """Stops at the first clear bit: an absent key, the common case, costs one or two."""
        bits, mask = self._bits, self._mask
        position, step = _probe(key)
        for _ in range(self.PROBES):
            bit = position & mask
            if not bits[bit >> 3] & (1 << (bit & 7)):
                return False
            position += step
        return True

    @property
    def full(self) -> bool:
        return self._count * 10 > self._mask


def _probe(key: str) -> tuple[int, int]:
    """First position and step of a key's probes, by double hashing Python's own hash.

    The filter lives in one process and is rebuilt at start, so a hash that is salted
    per process (``PYTHONHASHSEED``) serves, and Python caches it on the string: this
    costs a fraction of a cryptographic hash per probe. Keys chosen to collide can
    only raise the false-positive rate, which costs a query.
    """
    h = hash(key)
    return h & 0xFFFFFFFF, ((h >> 32) & 0xFFFFFFFF) | 1


class CachedState:
    """Committed state with a read-through cache that commits keep exact.

    Every write goes through a block commit, which hands its writes to
    :meth:`committed`, so cached values (absences included) are never stale. Reads of
    hot keys (signer keys, members, organisations) then cost a dict lookup instead of
    a SQLite query, for the submission checks and for block execution alike.

    Several threads may read. A miss fetched from the base while a commit lands is
    not cached (the commit counter moved), so an old value can never shadow a new one.
    """

    def __init__(
        self,
        base: StateView,
        limit: int = 200_000,
        existing: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        """``existing`` lists every stored key; when given, absent keys skip the base."""
        self.base = base
        self.limit = limit
        self._values: dict[str, Any] = {}
        self._commits = 0
        self._lock = threading.Lock()
        self._existing = existing
        self._filter = KeyFilter(existing()) if existing is not None else None

    def get(self, key: str) -> Any | None:
        try:
            return self._values[key]
        except KeyError:
            pass
        if self._filter is not None and not self._filter.might_contain(key):
            return None
        seen = self._commits
        value = self.base.get(key)
        with self._lock:
            if seen == self._commits:
                if len(self._values) >= self.limit:
                    self._values.clear()
                self._values[key] = value
        return value

    def scan(self, prefix: str) -> Iterator[tuple[str, Any]]:
        return self.base.scan(prefix)

    def committed(self, writes: Mapping[str, Any | None]) -> None:
        """Apply a committed block's writes to the cache.

        Cached keys take their new values; keys not cached stay uncached (a block of
        captures writes thousands of records that are seldom read back at once, and
        the first read caches them). New keys go into the filter.
        """
        with self._lock:
            self._commits += 1
            values = self._values
            for key, value in writes.items():
                if key in values:
                    values[key] = value
            if self._filter is not None:
                self._filter.add_all(key for key, value in writes.items() if value is not None)
                if self._filter.full and self._existing is not None:
                    self._filter = KeyFilter(self._existing())

    def clear(self) -> None:
        """Forget everything (after a failed commit): the filter is rebuilt from storage."""
        with self._lock:
            self._commits += 1
            self._values.clear()
            if self._existing is not None:
                self._filter = KeyFilter(self._existing())
