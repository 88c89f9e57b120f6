"""``veriledger bench log``: the verifiable log against the physical limits of this machine.

Machines here are shared and differ up to 2x, so every figure is paired with a
baseline measured in the same run and reported as a ratio to it:

- appends into the tiled tree against raw SHA-256 doing the two hashes an append
  needs at least (the leaf hash and, amortised, one node hash);
- note signing and verification against raw PyNaCl Ed25519 signing and verification.

Proof timings at 1M entries are absolute (the target is "under 1 ms"), taken on a
tree opened afresh so every tile is read from the store; warm timings reuse the
full-tile cache.
"""

from __future__ import annotations

import functools
import hashlib
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import nacl.bindings
import nacl.signing
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.cosignature import CosignatureSigner, CosignatureVerifier
from veriledger.log.hashing import leaf_hash
from veriledger.log.note import (
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    NoteSigner,
    NoteVerifier,
    VerifierSet,
    open_note,
    sign_note,
)
from veriledger.log.tiled_log import TiledLog
from veriledger.log.tiles import MemoryTileStore
from veriledger.log.verify import verify_inclusion

ENTRY = b'{"type":"trace.event","body":{"epc":"urn:epc:id:sgtin:0614141.107346.2017"}}' * 2


@dataclass
class Row:
    what: str
    value: str
    ratio: str = ""


def _rate(fn: Callable[[], object], seconds: float, batch: int = 200) -> float:
    """Calls per second of ``fn``, over about ``seconds``."""
    done = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or done == 0:
        for _ in range(batch):
            fn()
        done += batch
    return done / elapsed


def _timings(fn: Callable[[int], object], samples: list[int]) -> list[float]:
    out = []
    for sample in samples:
        start = time.perf_counter()
        fn(sample)
        out.append(time.perf_counter() - start)
    return out


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(values) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms"


@dataclass
class Baselines:
    sha_two_hashes: float
    ed25519_sign: float
    ed25519_verify: float


def _baselines(seconds: float, seed: bytes) -> Baselines:
    left = hashlib.sha256(b"left").digest()

    def two_hashes() -> None:
        node = hashlib.sha256(b"\x00" + ENTRY).digest()
        hashlib.sha256(b"\x01" + left + node).digest()

    signer = nacl.signing.SigningKey(seed)
    public = bytes(signer.verify_key)
    message = b"x" * 120
    signature = signer.sign(message).signature
    return Baselines(
        _rate(two_hashes, seconds),
        _rate(lambda: signer.sign(message), seconds),
        _rate(lambda: nacl.bindings.crypto_sign_open(signature + message, public), seconds),
    )


def _tree(size: int, base: Baselines) -> tuple[list[Row], bytes]:
    """Append ``size`` entries, then time proofs cold (no cache) and warm."""
    store = MemoryTileStore()
    log = TiledLog(store)
    step = 1000
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"appending {size:,} entries", total=size)
        start = time.perf_counter()
        for first in range(0, size, step):
            for _ in range(min(step, size - first)):
                log.append(ENTRY)
            log.flush()
            progress.update(task, completed=first + step)
        append_rate = size / (time.perf_counter() - start)
    rows = [
        Row(
            "tiled tree appends (flush every 1,000)",
            f"{append_rate:,.0f}/s",
            f"{append_rate / base.sha_two_hashes:.2f} of 2-hash SHA-256",
        )
    ]
    rng = random.Random(1)
    samples = [rng.randrange(size) for _ in range(2000)]
    cold = TiledLog(store, size, cache_tiles=0)
    gen_cold = _timings(lambda i: cold.inclusion_proof(i, size), samples)
    warm = TiledLog(store, size)
    proofs = {i: warm.inclusion_proof(i, size) for i in samples}
    gen_warm = _timings(lambda i: warm.inclusion_proof(i, size), samples)
    root = warm.root_at(size)
    leaf = leaf_hash(ENTRY)
    verify_times = _timings(lambda i: verify_inclusion(i, size, leaf, proofs[i], root), samples)
    consistency = _timings(lambda i: cold.consistency_proof(max(i, 1), size), samples[:500])
    rows += [
        Row(f"inclusion proof from tiles at {size:,}, no cache", _ms(gen_cold)),
        Row(f"inclusion proof from tiles at {size:,}, tile cache", _ms(gen_warm)),
        Row(f"inclusion proof verification at {size:,}", _ms(verify_times)),
        Row(f"consistency proof from tiles to {size:,}, no cache", _ms(consistency)),
    ]
    return rows, root


def _notes(size: int, root: bytes, seed: bytes, seconds: float, base: Baselines) -> list[Row]:
    text = Checkpoint("bench.example/log", size, root).to_text()
    log_key = SignerKey("bench.example/log", 0x01, seed)
    cosigner = SignerKey("bench.example/w", SIG_TYPE_COSIGNATURE_V1, seed)
    cases: list[tuple[str, NoteSigner, NoteVerifier]] = [
        ("checkpoint note", Ed25519NoteSigner(log_key), Ed25519NoteVerifier(log_key.verifier())),
        (
            "cosignature/v1",
            CosignatureSigner(cosigner, clock=lambda: 1_790_000_000),
            CosignatureVerifier(cosigner.verifier()),
        ),
    ]
    rows = []
    for name, signer, verifier in cases:
        sign_rate = _rate(functools.partial(sign_note, text, [signer]), seconds)
        note = sign_note(text, [signer])
        known = VerifierSet([verifier])
        open_rate = _rate(functools.partial(open_note, note, known), seconds)
        rows.append(
            Row(
                f"{name} signing",
                f"{sign_rate:,.0f}/s",
                f"{sign_rate / base.ed25519_sign:.2f} of raw sign",
            )
        )
        rows.append(
            Row(
                f"{name} open + verify",
                f"{open_rate:,.0f}/s",
                f"{open_rate / base.ed25519_verify:.2f} of raw verify",
            )
        )
    return rows


def run(size: int = 1_000_000, seconds: float = 2.0) -> list[Row]:
    seed = hashlib.sha256(b"bench").digest()
    base = _baselines(seconds, seed)
    rows = [
        Row("baseline: raw SHA-256, 2 hashes per append", f"{base.sha_two_hashes:,.0f}/s", "1.00"),
        Row("baseline: raw Ed25519 sign (PyNaCl)", f"{base.ed25519_sign:,.0f}/s", "1.00"),
        Row("baseline: raw Ed25519 verify (PyNaCl)", f"{base.ed25519_verify:,.0f}/s", "1.00"),
    ]
    tree_rows, root = _tree(size, base)
    return rows + tree_rows + _notes(size, root, seed, seconds, base)


def print_report(rows: list[Row], markdown: bool = False, title: str = "log") -> None:
    if markdown:
        print("| what | figure | ratio to baseline |")
        print("| --- | --- | --- |")
        for row in rows:
            print(f"| {row.what} | {row.value} | {row.ratio} |")
        return
    table = Table("what", "figure", "ratio to baseline", title=f"veriledger bench {title}")
    for row in rows:
        table.add_row(row.what, row.value, row.ratio)
    Console().print(table)
