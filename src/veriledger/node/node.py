"""The node: submission, ordering, block execution, commit, checkpoints and receipts.

One fact, end to end:

1. a signed envelope arrives (or a member's token and an unsigned body, which the
   node signs with that member's key from its keystore);
2. stateless checks (form, chain, size, signature; signatures of large batches on a
   second core) and dedup; then the authorisation checks against committed state,
   so a bad transaction is refused before anything is stored;
3. the engine orders it; the block cutter delivers a batch;
4. the driver executes the block deterministically;
5. one SQL transaction stores the entries, tiles, state, rows and the checkpoint,
   signed by the log key and cosigned by the organisations whose keys this node
   holds, each cosigner first checking consistency with what it signed before;
6. the checkpoint is final when the cosignatures meet the policy's quorum;
7. the receipt is a tlog-proof to the newest final checkpoint.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import orjson

from veriledger.chain.blocks import BlockHeader
from veriledger.chain.driver import admit_transaction, execute_block
from veriledger.chain.genesis import Genesis
from veriledger.chain.module import Module, Registry, Rejection
from veriledger.chain.state import (
    EMPTY_STATE_ROOT,
    BlockState,
    CachedState,
    encode_writes,
    next_state_root_encoded,
)
from veriledger.chain.storage import SqliteState, SqliteTileStore, Storage, TxRow
from veriledger.chain.transactions import (
    InvalidTransactionSignatureError,
    Transaction,
    new_nonces,
    sign_envelope,
    sign_envelopes,
    signed_transaction,
    unsigned_envelope,
)
from veriledger.core.errors import (
    BadInputError,
    KeyNotFoundError,
    StorageError,
    VeriledgerError,
)
from veriledger.core.keystore import Keystore
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.cosignature import CosignatureSigner
from veriledger.log.hashing import EMPTY_ROOT as EMPTY_TREE_ROOT
from veriledger.log.note import Ed25519NoteSigner, Note, NoteSigner, parse_note, sign_note
from veriledger.log.tile_reader import TileReader
from veriledger.log.tiled_log import TiledLog
from veriledger.log.tlog_proof import TlogProof
from veriledger.modules import authenticity, catalog, identity, notary
from veriledger.modules.trace import module as trace_module
from veriledger.node import datadir
from veriledger.node.cosigning import Alarm, Cosigner, NodeHaltedError, SigningMemory
from veriledger.node.engine import LocalEngine, OrderingEngine
from veriledger.node.intake import IntakeQueue
from veriledger.node.pending import Pending, Submission, settle
from veriledger.node.signatures import SignatureChecker
from veriledger.node.startup_check import VERIFIED, check_ledger

DEFAULT_MODULES: tuple[Module, ...] = (
    identity.MODULE,
    notary.MODULE,
    catalog.MODULE,
    trace_module.MODULE,
    authenticity.MODULE,
)


class DuplicateTransactionError(BadInputError):
    """The transaction was submitted before (HTTP 409)."""

    def __init__(self, tx_id: str) -> None:
        super().__init__(f"transaction {tx_id} was already submitted")
        self.tx_id = tx_id


class WrongChainError(BadInputError):
    def __init__(self, got: str, want: str) -> None:
        super().__init__(f"chain: transaction is for {got!r}, this ledger is {want!r}")
        self.field = "chain"


class NotCommittedError(BadInputError):
    """No receipt yet: the transaction is unknown, pending, or not under a final checkpoint."""


T = TypeVar("T")
R = TypeVar("R")


class Submitted(NamedTuple):
    """What a submitter learns of one transaction (a tuple: one per transaction)."""

    id: str
    status: str
    """``pending``, ``committed`` or ``rejected``."""
    height: int | None = None
    index: int | None = None  # type: ignore[assignment]  # the API's name; shadows tuple.index
    code: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self._asdict().items() if v is not None}


VERIFIED_EVERY = 256
"""Blocks between advances of ``meta.verified`` while the node runs."""

YOUNG_COLLECTION_THRESHOLD = 50_000
"""Allocations between young-generation collections (CPython's default is 700)."""


def tune_collector() -> None:
    """Collect cyclic garbage far less often than CPython's defaults would.

    A node holds hundreds of thousands of acyclic objects (cached state, pending
    transactions, their bodies), and with the default thresholds the full
    collections that walk all of them took about a quarter of the node's time at
    100,000 transactions (measured: 88 us of work per transaction, 60 us with these
    thresholds). What the node allocates per transaction is acyclic and freed by
    reference counting; the collector is only for the rare cycle, so it can wait.
    Objects alive at start (modules, genesis, keys) are frozen out of it.
    """
    if gc.get_threshold()[0] < YOUNG_COLLECTION_THRESHOLD:
        gc.freeze()
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, 20, 20)


class Node:
    """A single node over a data directory, with the ``local`` ordering engine."""

    def __init__(
        self,
        data_dir: Path | str,
        modules: Sequence[Module] = DEFAULT_MODULES,
        engine: OrderingEngine | None = None,
        clock: Callable[[], float] = time.time,
        signature_workers: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        genesis_path = self.data_dir / datadir.GENESIS
        if not genesis_path.exists():
            raise StorageError(f"{self.data_dir} holds no ledger; run `veriledger init` first")
        self._lock = datadir.DataDirLock(self.data_dir)
        try:
            self._open(modules, engine, clock, signature_workers)
        except BaseException:
            self._lock.release()
            raise

    def _open(
        self,
        modules: Sequence[Module],
        engine: OrderingEngine | None,
        clock: Callable[[], float],
        signature_workers: int | None,
    ) -> None:
        datadir.make_private(self.data_dir)
        self.genesis = Genesis.parse((self.data_dir / datadir.GENESIS).read_bytes())
        self.chain = self.genesis.chain
        self.policy = self.genesis.policy()
        self.registry = Registry(modules)
        self.clock = clock
        self.storage = Storage(self.data_dir / datadir.DATABASE)
        self.keystore = Keystore(self.data_dir / datadir.KEYS)
        self.tokens = datadir.TokenStore.load(self.data_dir / datadir.TOKENS)
        self._log_signer = Ed25519NoteSigner(self.keystore.load(self.chain))
        self._cosigners = self._load_cosigners()
        self._member_keys: dict[str, Any] = {}
        self.reader = TileReader(SqliteTileStore(self.storage.reader))
        try:
            size = check_ledger(self.storage, self.genesis, self.reader)
        except BaseException:
            self.storage.close()
            raise
        self.log = TiledLog(SqliteTileStore(self.storage.writer), size)
        self.memory = SigningMemory(self.data_dir)
        self.alarm: Alarm | None = None
        """Set when the node halts its write path; reads go on, marked not final."""
        final = self.storage.latest_checkpoint()
        self.final_size = final[0] if final else 0
        """Entries under the newest final checkpoint."""
        self._commit_lock = threading.Lock()  # one block at a time
        self._submit_lock = threading.Lock()  # dedup: a tx id is pending or committed, once
        self._pending: dict[str, tuple[Submission[Submitted], int]] = {}
        """Each pending transaction's submission and place in it."""
        self._listeners: list[Callable[[BlockHeader, list[TxRow]], None]] = []
        self._closers: list[Callable[[], None]] = []
        self.signatures = SignatureChecker(signature_workers)
        # Committed state, cached; commits keep the cache exact. Misses read through
        # each thread's own connection.
        self._state_cache = CachedState(
            _ThreadState(self.storage),
            existing=lambda: SqliteState(self.storage.reader()).keys(),
        )
        self.started_at = clock()
        self.metrics = {"blocks": 0, "committed": 0, "rejected": 0, "submitted": 0}
        if size == 0:
            self._commit_genesis()
        else:
            self._mark_verified()
            self._restore_cosigners()
        self.engine = engine or LocalEngine(
            self.genesis.block_max_txs, self.genesis.block_max_ms / 1000
        )
        self.intake = IntakeQueue(self.data_dir / datadir.PENDING)
        tune_collector()
        self.engine.start(self._deliver)
        if self.alarm is None:
            self._order_recovered()

    def _order_recovered(self) -> None:
        """Order again what an earlier run acknowledged but did not commit."""
        found: dict[str, Transaction] = {}
        for entry in self.intake.recovered():
            try:
                tx = Transaction.parse(entry)
            except BadInputError:
                logging.getLogger(__name__).warning("intake queue: skipping an unreadable entry")
                continue
            found.setdefault(tx.id, tx)
        if found:
            known = self.storage.known_tx_ids(list(found))
            txs = [tx for tx_id, tx in found.items() if tx_id not in known]
            good = self.signatures.check([(tx.signer, tx.signing_bytes, tx.sig) for tx in txs])
            txs = [tx for tx, ok in zip(txs, good, strict=True) if ok]
            if txs:  # the block's rules decide them; their outcome is then on the ledger
                self.submit(txs, admitted=True)
                logging.getLogger(__name__).info("ordering %d recovered transactions", len(txs))
        self.intake.forget_recovered()

    # --- keys ---------------------------------------------------------------------------

    def _load_cosigners(self) -> list[Cosigner]:
        out = []
        for org in self.genesis.organisations:
            try:
                key = self.keystore.load(datadir.cosigner_name(self.chain, org.id))
            except KeyNotFoundError:
                continue  # another organisation's node holds it
            out.append(Cosigner(org.id, CosignatureSigner(key, clock=self.clock)))
        return out

    def _restore_cosigners(self) -> None:
        """Take up the signing memory, halting if the log does not extend it, and
        finish the cosigning of the newest checkpoint if a crash interrupted it."""
        if self.memory.last is None:
            self._halt(
                Alarm(
                    f"{self.memory.path} is missing, so this node cannot know what it "
                    "signed before; it will not sign again without that memory",
                    {"log_size": self.log.size},
                )
            )
            return
        proof = functools.lru_cache(maxsize=4)(self.log.consistency_proof)
        alarm = self.memory.check(self.log.size, self.log.root(), proof)
        if alarm is not None:
            self._halt(alarm)
            return
        for cosigner in self._cosigners:
            cosigner.last = self.memory.last
        self._cosign_newest()

    def _halt(self, alarm: Alarm) -> None:
        self.alarm = alarm
        self.metrics["alarms"] = self.metrics.get("alarms", 0) + 1

    def _mark_verified(self) -> None:
        with self.storage.block_transaction() as db:
            self.storage.set_meta(db, VERIFIED, str(self.log.size).encode())

    # --- the state the HTTP layer and rules read ----------------------------------------

    def state(self) -> SqliteState:
        """Committed state, for this thread."""
        return SqliteState(self.storage.reader())

    @property
    def height(self) -> int:
        """Height of the last committed block."""
        height = self.storage.latest_height()
        return -1 if height is None else height

    def head(self) -> BlockHeader:
        """The header of the last committed block."""
        return BlockHeader.from_entry(self.storage.block_header(max(self.height, 0)) or b"")

    # --- genesis and blocks -------------------------------------------------------------

    def _commit_genesis(self) -> None:
        if self.memory.last is None:  # a crash before the first cosignature is no rollback
            self.memory.remember(Checkpoint(self.chain, 0, EMPTY_TREE_ROOT), b"")
        genesis_entry = self.genesis.entry()
        writes = identity.genesis_writes(self.genesis)
        encoded = encode_writes(writes)
        root = next_state_root_encoded(EMPTY_STATE_ROOT, 0, encoded)
        header = BlockHeader(
            chain=self.chain,
            height=0,
            prev=hashlib.sha256(genesis_entry).hexdigest(),
            time=self.genesis.time,
            first_index=1,
            tx_count=0,
            accepted=0,
            rejected=(),
            state_root=root.hex(),
        )
        with self.storage.block_transaction() as conn:
            self.log.append(genesis_entry)
            self._commit(conn, header, [], encoded)
        self._state_cache.committed(writes)
        self._cosign_newest()

    def _deliver(self, batch: list[Transaction]) -> None:
        """Called by the engine with the next ordered batch: execute and commit a block."""
        try:
            self.commit_block(batch)
        except Exception as exc:  # the node must not silently lose a batch
            with self._submit_lock:
                failed = [self._pending.pop(tx.id, None) for tx in batch]
            settle((p, exc) for p in failed if p is not None)
            raise

    def commit_block(self, txs: list[Transaction]) -> BlockHeader:
        """Execute ``txs`` as the next block and commit it with its checkpoint."""
        with self._commit_lock:
            if self.alarm is not None:
                raise NodeHaltedError(self.alarm)
            conn = self.storage.writer
            height = self.storage.latest_height(conn)
            previous = BlockHeader.from_entry(self.storage.block_header(height or 0, conn) or b"")
            # Strictly increasing, so a block's time names it among record times
            # (EPCIS subscriptions resume after the last record time they sent).
            block_time = max(int(self.clock() * 1000), previous.time + 1)
            context = self.genesis.block_context(previous.height + 1, block_time, previous.id)
            execution = execute_block(
                self._state_cache,
                txs,
                context,
                self.registry,
                identity.authorize,
                bytes.fromhex(previous.state_root),
            )
            first = self.log.size
            header = BlockHeader(
                chain=self.chain,
                height=context.height,
                prev=previous.id,
                time=block_time,
                first_index=first,
                tx_count=len(txs),
                accepted=execution.accepted,
                rejected=execution.rejected,
                state_root=execution.state_root.hex(),
            )
            rows = TxRow.of_block(txs, execution.results, first, context.height)
            try:
                with self.storage.block_transaction() as db:
                    for tx in txs:
                        self.log.append(tx.entry)
                    self._commit(db, header, rows, execution.encoded)
            except BaseException:
                # The database rolled back; rebuild the in-memory tree edge from it.
                self.log = TiledLog(SqliteTileStore(conn), first)
                self._state_cache.clear()
                raise
            self._state_cache.committed(execution.writes)
            try:
                self._cosign_newest()
            except NodeHaltedError:
                pass  # the block is durable; its submitters learn it is not final
            except Exception as exc:  # a full disk, say: never sign on without memory
                logging.getLogger(__name__).exception("cosigning failed")
                self._halt(
                    Alarm(
                        f"block {header.height} is committed but could not be cosigned "
                        f"({exc}); the node signs nothing more until an operator restarts it",
                        {"height": header.height, "log_size": self.log.size},
                    )
                )
        self._resolve(header, rows)
        return header

    def _commit(
        self,
        db: Any,
        header: BlockHeader,
        rows: list[TxRow],
        encoded: dict[str, bytes | None],
    ) -> None:
        self.log.append(header.entry())
        self.log.flush()
        self.storage.put_state(db, encoded)
        self.storage.put_txs(db, rows)
        self.storage.put_block(
            db,
            header.height,
            header.id,
            header.time,
            header.first_index,
            header.tx_count,
            header.accepted,
            header.entry(),
        )
        checkpoint = Checkpoint(self.chain, self.log.size, self.log.root())
        note = sign_note(checkpoint.to_text(), [self._log_signer])
        self.storage.put_checkpoint(db, self.log.size, header.height, note, final=False)
        self.storage.set_meta(db, "size", str(self.log.size).encode())
        if header.height % VERIFIED_EVERY == 0 and header.height:
            # This process wrote and checked what came before: a start after a crash
            # need not walk back further than this.
            self.storage.set_meta(db, VERIFIED, str(header.first_index).encode())

    def _cosign_newest(self) -> None:
        """Cosign the newest checkpoint and store it with its finality: the second step
        of a commit, after the block is durable.

        The block is committed first with a checkpoint signed by the log key only, so a
        crash between the steps leaves a block that is merely not final yet; this step
        runs again at start. The signing memory is synced before the cosigned note is
        stored, so no cosignature is ever visible that the memory does not cover.

        Raises:
            NodeHaltedError: the log does not extend what this node signed before.
        """
        latest = self.storage.latest_checkpoint(final_only=False)
        if latest is None:
            return
        size, height, stored = latest
        checkpoint = Checkpoint.parse(parse_note(stored).text)
        # Every signer last signed the same checkpoint, as a rule: one proof serves all.
        proof = functools.lru_cache(maxsize=4)(self.log.consistency_proof)
        alarm = self.memory.check(checkpoint.size, checkpoint.root_hash, proof)
        if alarm is not None:
            self._halt(alarm)
            raise NodeHaltedError(alarm)
        signers: list[NoteSigner] = [self._log_signer]
        signers += [c.signer for c in self._cosigners if c.cosign(checkpoint, proof)]
        note = sign_note(checkpoint.to_text(), signers)
        self.memory.remember(checkpoint, note)
        final = self.policy.check(note).satisfied
        with self.storage.block_transaction() as db:
            self.storage.put_checkpoint(db, size, height, note, final)
        if final:
            self.final_size = size

    def _resolve(self, header: BlockHeader, rows: list[TxRow]) -> None:
        self.metrics["blocks"] += 1
        pending = self._pending
        with self._submit_lock:
            waiting = [(pending.pop(row.id, None), row) for row in rows]
        self.intake.settled(row.id for row in rows)
        accepted = sum(row.accepted for row in rows)
        self.metrics["committed"] += accepted
        self.metrics["rejected"] += len(rows) - accepted
        final = self.final_size
        settle(
            (p, _submitted(row) if row.log_index < final else Submitted(row.id, "pending"))
            for p, row in waiting
            if p is not None
        )
        for listener in list(self._listeners):
            try:
                listener(header, rows)
            except Exception:
                logging.getLogger(__name__).exception("commit listener failed")

    def on_commit(self, listener: Callable[[BlockHeader, list[TxRow]], None]) -> None:
        """Call ``listener(header, rows)`` after each committed block (subscriptions)."""
        self._listeners.append(listener)

    # --- submission ---------------------------------------------------------------------

    def submit(
        self, txs: Sequence[Transaction], *, signed_here: bool = False, admitted: bool = False
    ) -> Submission[Submitted]:
        """Check and queue signed transactions; all are accepted or none is.

        Returns one handle per transaction, in order, settled when its block commits.

        ``signed_here``: this process just signed them (:meth:`sign_for`), so their
        signatures are not checked again. ``admitted``: the caller has just run
        :meth:`admission_errors` on them. Both only skip repeated work; the block
        still executes every rule.

        Raises:
            WrongChainError, SignatureError, DuplicateTransactionError, BadInputError,
            Rejection: the first transaction that fails, with its index in ``field``.
            NodeHaltedError: the node has halted its write path (see :attr:`alarm`).
        """
        if self.alarm is not None:
            raise NodeHaltedError(self.alarm)
        for i, tx in enumerate(txs):
            if tx.chain != self.chain:
                raise _at(WrongChainError(tx.chain, self.chain), i, len(txs))
        if not signed_here:
            results = self.signatures.check([(tx.signer, tx.signing_bytes, tx.sig) for tx in txs])
            for i, ok in enumerate(results):
                if not ok:
                    raise _at(InvalidTransactionSignatureError(txs[i].signer), i, len(txs))
        ids = [tx.id for tx in txs]
        if len(set(ids)) != len(ids):
            raise DuplicateTransactionError(next(i for i in ids if ids.count(i) > 1))
        submission: Submission[Submitted] = Submission(ids)
        with self._submit_lock:
            pending = self._pending
            committed = self.storage.known_tx_ids(ids)
            fresh = [
                i for i, tx_id in enumerate(ids) if tx_id not in committed and tx_id not in pending
            ]
            new = [txs[i] for i in fresh] if len(fresh) != len(txs) else list(txs)
            if not admitted:
                errors = self.admission_errors(new, first_only=True)
                if errors:
                    index, error = errors[0]
                    raise _at(error, fresh[index], len(txs))
            earlier = [(i, pending.get(tx_id)) for i, tx_id in enumerate(ids) if tx_id in pending]
            pending.update((ids[i], (submission, i)) for i in fresh)
        try:
            self.intake.append([tx.id for tx in new], [tx.entry for tx in new])
        except BaseException as exc:
            with self._submit_lock:
                for tx in new:
                    pending.pop(tx.id, None)
            settle(((submission, i), exc) for i in fresh)  # resubmitters waiting on these
            raise exc from None
        self.engine.submit(new)
        self.metrics["submitted"] += len(new)
        if committed:  # resubmitted: answer what became of them
            settle(
                ((submission, i), self.status(tx_id) or Submitted(tx_id, "pending"))
                for i, tx_id in enumerate(ids)
                if tx_id in committed
            )
        for i, place in earlier:  # resubmitted while pending: settle with the first
            if place is not None:
                place[0][place[1]].add_done_callback(
                    functools.partial(_settle_from, (submission, i))
                )
        return submission

    def _precheck(self, txs: Sequence[Transaction]) -> None:
        """Raise the first admission error of a batch (see :meth:`admission_errors`)."""
        errors = self.admission_errors(txs, first_only=True)
        if errors:
            index, error = errors[0]
            raise _at(error, index, len(txs))

    def admission_errors(
        self, txs: Sequence[Transaction], first_only: bool = False
    ) -> list[tuple[int, Rejection]]:
        """Admission against committed state plus the batch's own earlier writes.

        Every transaction must pass the chain, signer, role and body checks. Messages
        marked ``checked_at_submission`` also run their rule, and a rejection refuses
        the whole batch; other rules decide in the block, where order is known.
        Returns every ``(index, rejection)``, so a capture can list all its errors.
        """
        state = BlockState(self._precheck_view())
        context = self.genesis.block_context(self.height + 1, int(self.clock() * 1000), "")
        errors: list[tuple[int, Rejection]] = []
        for i, tx in enumerate(txs):
            try:
                message, body, ctx = admit_transaction(
                    state, tx, context, self.registry, identity.authorize
                )
                if message.checked_at_submission:
                    rule = message.admission or message.rule
                    state.apply(rule(state, body, ctx).writes)
            except Rejection as rejection:
                errors.append((i, rejection))
                if first_only:
                    break
        return errors

    def _precheck_view(self) -> CachedState:
        """Submission checks read the cache, never the writer's connection directly."""
        return self._state_cache

    def member_key(self, member: str) -> Any:
        key = self._member_keys.get(member)
        if key is None:
            try:
                key = self.keystore.load(member)
            except KeyNotFoundError:
                raise BadInputError(f"this node holds no key for member {member}") from None
            self._member_keys[member] = key
        return key

    def gateway_member(self) -> str:
        """The member this node relays consumer scans as (``gateway.json``).

        Raises:
            BadInputError: the node is not configured as a consumer gateway.
        """
        path = self.data_dir / datadir.GATEWAY
        if not path.exists():
            raise BadInputError("this node relays no consumer scans (no gateway.json)")
        member = orjson.loads(path.read_bytes()).get("member")
        if not isinstance(member, str):
            raise BadInputError("gateway.json names no member")
        return member

    def forget_member_key(self, member: str) -> None:
        """Drop a cached member key (after the keystore's copy was rotated)."""
        self._member_keys.pop(member, None)

    def sign_for(self, token: str | None, items: Sequence[dict[str, Any]]) -> list[Transaction]:
        """Sign unsigned ``{"type", "body"}`` items for the member ``token`` names.

        A large batch is canonicalised and signed on the worker processes (the
        member's key goes with it, to a process of this node), so that this one is
        free for blocks meanwhile.

        Raises:
            UnknownTokenError: the token is missing or unknown.
            BadInputError: an item is malformed (the error names the field).
        """
        member = self.tokens.member(token)
        key = self.member_key(member)
        unsigned = []
        nonces = new_nonces(len(items))
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise _at(BadInputError("transaction: must be a JSON object"), i, len(items))
            extra = sorted(set(item) - {"type", "body", "nonce"})
            if extra:
                raise _at(_field_error(extra[0], "unknown field"), i, len(items))
            for name in ("type", "body"):
                if name not in item:
                    raise _at(_field_error(name, "missing"), i, len(items))
            try:
                unsigned.append(
                    unsigned_envelope(
                        key, self.chain, item["type"], item["body"], item.get("nonce") or nonces[i]
                    )
                )
            except BadInputError as exc:
                raise _at(exc, i, len(items)) from None
        signed = self.signatures.map_chunks(functools.partial(sign_envelopes, key), unsigned)
        out = []
        for i, (envelope, parts) in enumerate(zip(unsigned, signed.result(), strict=True)):
            try:
                out.append(signed_transaction(envelope, parts or sign_envelope(key, envelope)))
            except BadInputError as exc:
                raise _at(exc, i, len(items)) from None
        return out

    # --- reading ------------------------------------------------------------------------

    def status(self, tx_id: str) -> Submitted | None:
        """What became of a transaction: ``pending`` until a final checkpoint covers it
        (then its receipt exists), ``committed`` or ``rejected`` after."""
        row = self.storage.tx(tx_id)
        if row is not None:
            if row.log_index >= self.final_size:
                return Submitted(tx_id, "pending")
            return _submitted(row)
        if tx_id in self._pending:
            return Submitted(tx_id, "pending")
        return None

    def latest_checkpoint(self) -> tuple[int, bytes]:
        latest = self.storage.latest_checkpoint()
        if latest is None:
            raise StorageError("the ledger has no final checkpoint yet")
        return latest[0], latest[2]

    def receipt(self, tx_id: str) -> TlogProof:
        """A tlog-proof of the transaction's entry to the newest final checkpoint.

        Raises:
            NotCommittedError: unknown or pending transaction.
        """
        row = self.storage.tx(tx_id)
        if row is None:
            state = "pending" if tx_id in self._pending else "unknown"
            raise NotCommittedError(f"transaction {tx_id} is {state}; no receipt yet")
        return self.receipt_for_index(row.log_index)

    def receipt_for_index(self, index: int) -> TlogProof:
        covering = self.storage.checkpoint_covering(index)
        if covering is None:
            raise NotCommittedError(f"entry {index} is not under a final checkpoint yet")
        size, _, note = covering
        entry = self.reader.entries(index, index + 1)[0]
        proof = self.reader.inclusion_proof(index, size)
        return TlogProof(index, tuple(proof), note, entry)

    def offload(self, fn: Callable[[Sequence[T]], list[R]], items: Sequence[T]) -> Future[list[R]]:
        """Run pure, picklable work on the worker processes (the other core) while the
        caller goes on; see :meth:`SignatureChecker.map_chunks`."""
        return self.signatures.map_chunks(fn, items)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Call ``closer()`` first when the node closes (stops subscription threads)."""
        self._closers.append(closer)

    def close(self) -> None:
        for closer in self._closers:
            closer()
        self.engine.stop()
        self.intake.close()
        self.signatures.close()
        with contextlib.suppress(VeriledgerError):  # a clean stop: the next start checks less
            if self.alarm is None:
                self._mark_verified()
        self.storage.close()
        self._lock.release()


class _ThreadState:
    """Committed state read through the calling thread's own connection."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def get(self, key: str) -> Any | None:
        return SqliteState(self.storage.reader()).get(key)

    def scan(self, prefix: str) -> Iterator[tuple[str, Any]]:
        return SqliteState(self.storage.reader()).scan(prefix)


def _settle_from(place: tuple[Submission[Submitted], int], first: Pending[Submitted]) -> None:
    try:
        outcome: Submitted | BaseException = first.result(0)
    except BaseException as exc:  # the first's failure is this one's too
        outcome = exc
    settle([(place, outcome)])


def _submitted(row: TxRow) -> Submitted:
    return Submitted(
        row.id,
        "committed" if row.accepted else "rejected",
        row.height,
        row.log_index,
        row.code,
        row.reason,
    )


def _field_error(name: str, reason: str) -> BadInputError:
    error = BadInputError(f"{name}: {reason}")
    error.field = name  # type: ignore[attr-defined]
    return error


def _at(error: VeriledgerError, index: int, count: int) -> VeriledgerError:
    """Prefix the field of an error in a batch with the transaction's position."""
    if count > 1:
        field = getattr(error, "field", None)
        error.field = f"[{index}]" + (f".{field}" if field else "")  # type: ignore[attr-defined]
        error.args = (f"transaction {index}: {error}",)
    return error


def entry_json(entry: bytes) -> Any:
    return orjson.loads(entry)


__all__ = ["Cosigner", "Node", "NodeHaltedError", "Note", "Submitted"]
