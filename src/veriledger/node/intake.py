"""The intake queue: what a node has acknowledged but not yet committed, on disk.

A 202 "pending" answer is a promise that the transaction will be ordered. The ordering
engine holds transactions in memory, so without this queue a crash after the answer
would break the promise silently. The node appends every accepted transaction here
and syncs the file before it answers; at start it orders again whatever the queue
holds that the ledger does not (tessera's habit: sequence durably, then integrate).

The queue is a directory of segments, ``<n:012d>.log``, each a run of records::

    length (4 bytes, big-endian) | CRC-32 of the entry (4 bytes) | entry (length bytes)

A crash can tear the last record of the active segment; reading stops at the first
record that is short or fails its CRC. A segment is deleted once every transaction in
it has committed and a newer segment takes appends, so the queue's size follows what
is pending, not what the node has ever taken in.

Concurrent appends share fsyncs (group commit): each writer appends under a short
lock, then waits for a sync that covers its bytes, which another writer's fsync may
already have done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from veriledger.core.errors import StorageError
from veriledger.node.datadir import sync_directory

SEGMENT_BYTES = 32 * 1024 * 1024
"""Appends go to a new segment once the active one is this large."""
_HEAD = struct.Struct(">II")
_log = logging.getLogger(__name__)


class _Segment:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.written = os.fstat(self.fd).st_size
        self.synced = self.written
        self.outstanding = 0

    def close(self) -> None:
        os.close(self.fd)


class IntakeQueue:
    """Durable intake for one node's data directory (``<data-dir>/pending``)."""

    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(mode=0o700, exist_ok=True)
        self._earlier = sorted(directory.glob("*.log"))
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._where: dict[str, _Segment] = {}
        number = int(self._earlier[-1].stem) + 1 if self._earlier else 1
        self._active = self._open(number)

    def _open(self, number: int) -> _Segment:
        segment = _Segment(self.directory / f"{number:012d}.log")
        sync_directory(self.directory)
        return segment

    def recovered(self) -> list[bytes]:
        """The entries of the segments left by earlier runs, oldest first (torn tails cut)."""
        out: list[bytes] = []
        for path in self._earlier:
            out.extend(read_segment(path))
        return out

    def forget_recovered(self) -> None:
        """Delete the earlier runs' segments, once what they held is queued again."""
        for path in self._earlier:
            path.unlink(missing_ok=True)
        self._earlier = []
        sync_directory(self.directory)

    def append(self, ids: Sequence[str], entries: Sequence[bytes]) -> None:
        """Append the transactions and return once they are on disk.

        Raises:
            StorageError: the queue could not be written or synced (nothing was
                acknowledged; the caller must refuse the submission).
        """
        data = b"".join(_HEAD.pack(len(e), zlib.crc32(e)) + e for e in entries)
        try:
            with self._lock:
                segment = self._active
                view = memoryview(data)
                try:
                    while view:  # a short write (a full disk) must not tear a record
                        view = view[os.write(segment.fd, view) :]
                except OSError:
                    with contextlib.suppress(OSError):  # cut the torn record back off
                        os.ftruncate(segment.fd, segment.written)
                    raise
                segment.written += len(data)
                target = segment.written
                segment.outstanding += len(ids)
                where = self._where
                for tx_id in ids:
                    where[tx_id] = segment
                if segment.written >= self.segment_bytes:
                    self._active = self._open(int(segment.path.stem) + 1)
            with self._sync_lock:
                if segment.synced < target:
                    upto = segment.written
                    os.fdatasync(segment.fd)
                    segment.synced = upto
        except OSError as exc:
            self.settled(ids)
            raise StorageError(f"cannot write the intake queue {self.directory}: {exc}") from None

    def settled(self, ids: Iterable[str]) -> None:
        """These transactions are in the ledger now (or were never acknowledged)."""
        emptied: list[_Segment] = []
        with self._lock:
            for tx_id in ids:
                segment = self._where.pop(tx_id, None)
                if segment is None:
                    continue
                segment.outstanding -= 1
                if segment.outstanding == 0 and segment is not self._active:
                    emptied.append(segment)
        for segment in emptied:
            segment.close()
            segment.path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            segments = {id(s): s for s in [self._active, *self._where.values()]}
            for segment in segments.values():
                segment.close()
            if self._active.outstanding == 0:  # everything in it committed
                self._active.path.unlink(missing_ok=True)


def read_segment(path: Path) -> list[bytes]:
    """A segment's entries, stopping at a torn or corrupt record (a crash mid-append)."""
    data = path.read_bytes()
    out: list[bytes] = []
    at = 0
    while at + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, at)
        entry = data[at + _HEAD.size : at + _HEAD.size + length]
        if len(entry) != length or zlib.crc32(entry) != crc:
            break
        out.append(entry)
        at += _HEAD.size + length
    if at != len(data):
        _log.warning("%s: ignoring %d torn bytes at its end", path, len(data) - at)
    return out
