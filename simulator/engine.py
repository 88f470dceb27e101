"""The engine: the one thread that changes the operators' state.

Transports submit inbound documents; the admin API submits calls and operator actions; the clock's
due events fire here. Each is routed to the capability that declared it (`capability.Operators`) and
its effects are applied in one SQLite transaction together with the answer files they produce (the
outbox); then the files are handed to the delivery port, which the file transports implement. Because
delivery checks the outbox, a kill at any point emits every answer exactly once after a restart.
"""

from __future__ import annotations

import collections
import gc
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .capability import Capability, Operators, SliceProgress, qualified_kind
from .clock import VirtualClock, from_timestamp, to_timestamp
from .documents import Effects, Finding, InboundDocument, OutboundDocument
from .store import Event, Outbound, Store


class Delivery(Protocol):
    """The port through which answer files leave: a transport writes them where the OC picks them up.
    It must be idempotent: after a crash the same file may be handed over again."""

    def deliver(self, out: Outbound) -> None: ...

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class _Inbound:
    doc: InboundDocument
    path: Path | None
    done: Callable[[], None] | None = None  # told once the engine is through with it (see Engine.submit)


@dataclass(frozen=True)
class _Call:
    fn: Callable[[], Any]
    future: Future


@dataclass
class _Receipt:
    """An inbound file being answered slice by slice: its remaining slices and where it stands."""

    doc: InboundDocument
    path: Path | None  # the file in IN, removed once its answer is delivered
    receiver: Capability
    now: datetime  # the virtual time it came at: every slice answers at that time
    progress: SliceProgress
    slices: Iterator[Effects]
    sha: str
    inbound_id: int = 0  # its inbox row, written with its first slice
    done: list[Callable[[], None]] = field(default_factory=list)  # told when it is answered (Engine.submit)


@dataclass
class _Together:
    """What answering the inbound files of a run in one transaction came to (Engine._answer_together)."""

    started: list[_Receipt] = field(default_factory=list)  # files answered (their first slice)
    unserved: list[tuple[_Inbound, int]] = field(default_factory=list)  # no capability takes them; their inbox rows
    failed: list[tuple[_Receipt, Exception]] = field(default_factory=list)  # rolled back: kept in quarantine
    deferred: list[_Inbound] = field(default_factory=list)  # behind a file of their tenant in slices
    sliced: set[tuple[str, str]] = field(default_factory=set)  # tenants whose file goes on in slices
    replays: list[_Inbound] = field(default_factory=list)  # answered before a stop: the usual path, after the run


_STOP = object()
_NEXT_SLICE = object()

#: Due events fired in one transaction (their answers merged per tenant and flow). Each batch commits with
#: its answer files before the next starts, so a kill loses none of them and repeats none.
DUE_BATCH = 2000
#: Inbound files waiting together in the queue are answered in one transaction (group commit: one commit and one
#: delivery round for all, not two commits each), at most this many, each under this size: a larger one is
#: answered alone, so a small file never waits behind more than one slice of a large one.
FILE_BATCH = 32
FILE_BATCH_BYTES = 64 * 1024
#: A transport's journal note (a file downloaded, deleted) that comes alone waits this long for company (more notes,
#: the OC's next file) before it is committed: an OC's poller sends two notes and a file within a few milliseconds,
#: which then cost one commit instead of three. A barrier (Engine.call, idle) commits what waits before it.
NOTE_LINGER = 0.005
PROGRESS_EVERY = 2.0  # seconds between two progress lines of a recovery


class Engine:
    def __init__(self, store: Store, clock: VirtualClock, operators: Operators, delivery: Delivery,
                 quarantine: Path):
        self.store = store
        self.quarantine = quarantine  # where a file that broke the engine is kept, never lost
        self.clock = clock
        self.operators = operators
        self.delivery = delivery
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._progress: Callable[[str], None] | None = None  # told how many due events are left (recovery)
        self._receipts: collections.deque[_Receipt] = collections.deque()  # files in slices, taking turns
        #: (operator, tenant) of each file being answered in slices -> that tenant's files arrived meanwhile
        self._waiting: dict[tuple[str, str], collections.deque[_Inbound]] = {}

    # ------------------------------------------------------------------ public, any thread
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="opsim-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread:
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
            self._thread = None

    def submit(self, doc: InboundDocument, path: Path | None = None, done: Callable[[], None] | None = None) -> None:
        """Hand over a complete inbound document; `path` is removed from IN once it is committed. `done` is called
        once, on the engine thread, when the engine is through with the document (its answers delivered, or it
        was recognised as already answered, or kept aside): a transport holds its tenant's listings of OUT
        until then (transports/ftp.py)."""
        self._queue.put(_Inbound(doc, path, _once(done) if done is not None else None))

    def call(self, fn: Callable[[], Any], timeout: float | None = 60) -> Any:
        """Run fn on the engine thread, then due events, and return fn's result (`timeout` None: however
        long that takes)."""
        if threading.current_thread() is self._thread:
            result = fn()
            self._run_due_events()
            return result
        return self.begin(fn).result(timeout=timeout)

    def begin(self, fn: Callable[[], Any]) -> Future:
        """Queue fn for the engine thread (then the events it makes due); the future gets its result. For
        work whose caller cannot wait for it (a long clock advance answers with a handle to poll)."""
        future: Future = Future()
        self._queue.put(_Call(fn, future))
        return future

    def perform(self, operator: str, capability: str, action: str, tenant: str,
                args: dict[str, Any]) -> dict[str, Any]:
        """Run an operator action offered by a capability (engine thread, inside `call`): its effects
        commit and deliver as a document's would. An exception (ActionRefused: the action cannot be done
        now; CapabilityError: no such action) rolls everything back and reaches the caller."""
        source = self.operators.action(operator, capability, action)
        now = self.clock.now()
        with self.store.transaction():
            effects = source.act(action, tenant, args, now)
            self._apply(effects, now, source)
        self._deliver()
        return effects.reply  # what the action answers its caller (empty for most)

    def transact(self, source: Capability, fn: Callable[[datetime], tuple[T, Effects]]) -> T:
        """A web service operation that changes state (a ticket opened): on the engine thread, in one
        transaction with the effects it produced (events, journal lines); its result goes back to the
        caller. An exception rolls everything back and reaches the caller."""
        def run() -> T:
            now = self.clock.now()
            with self.store.transaction():
                result, effects = fn(now)
                self._apply(effects, now, source)
            self._deliver()
            return result
        return self.call(run)

    def note(self, finding: Finding) -> None:
        """Journal something seen by a transport (login refused, upload aborted, file fetched)."""
        self._queue.put(finding)

    def idle(self, timeout: float = 10) -> None:
        """Wait until everything submitted so far has been processed, files in slices included (tests and
        benchmarks)."""
        deadline = time.monotonic() + timeout
        while self.call(lambda: bool(self._receipts), timeout=max(0.1, deadline - time.monotonic())):
            if time.monotonic() > deadline:
                raise TimeoutError(f"files still being answered after {timeout} s")
            time.sleep(0.01)

    # ------------------------------------------------------------------ start-up recovery
    def recover(self, progress: Callable[[str], None] | None = None) -> None:
        """Deliver what was committed but not delivered before a stop (the transports resubmit what
        waits in their inboxes), run the events that fell due (a stop during an advance leaves the clock
        past thousands of them), then let each capability set up its standing work (Capability.on_start).
        It takes as long as that work does, with no time limit: `progress` is told what is left every few
        seconds."""
        undelivered = self.store.undelivered_count()
        due = self.store.due_count(self.clock.timestamp(), reader=True)
        cut = int(self.store.query("SELECT count(*) FROM inbox_progress", reader=True)[0][0])
        if progress is not None and (undelivered or due or cut):
            files = f"{cut} inbound files to finish, " if cut else ""
            progress(f"recovering: {files}{undelivered} answer files to deliver, {due} due events to run")
        self._progress = progress
        try:
            self.call(self._deliver, timeout=None)
            self.call(self._finish_cut_files, timeout=None)
            self.call(self._start_capabilities, timeout=None)
        finally:
            self._progress = None
        if progress is not None and (undelivered or due or cut):
            progress("recovered")

    def _finish_cut_files(self) -> None:
        """Files a stop cut between two slices are answered from their last committed slice, before anything
        else of their tenants (the transports resubmit IN afterwards: those files are then known and removed)."""
        for row in self.store.unfinished_inbound():
            self._resume(row["id"], None)
        while self._receipts:
            self._next_slice()

    def _start_capabilities(self) -> None:
        now = self.clock.now()
        for operator in self.operators.values():
            for capability in operator.capabilities.values():
                with self.store.transaction():
                    self._apply(capability.on_start(now), now, capability)
        self._deliver()

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        while True:
            if self._receipts:  # files in slices: what waits now is taken first, then one slice
                items: list[Any] = []
                for _ in range(self._queue.qsize()):
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
            else:
                try:
                    items = [self._queue.get(timeout=self._wait_time())]
                except queue.Empty:
                    items = []
                # What else waits now is taken too: inbound files and transport notes side by side are answered
                # in one transaction (see _step_files); notes alone wait a little for more (NOTE_LINGER).
                linger = time.monotonic() + NOTE_LINGER
                while items and len(items) < FILE_BATCH and _batchable(items[-1]):
                    wait = linger - time.monotonic() if all(isinstance(i, Finding) for i in items) else 0
                    try:
                        items.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
                    except queue.Empty:
                        break
            run: list[Any] = []  # consecutive inbound files and notes, answered together
            for item in items or [None]:
                if item is _STOP:  # a file in slices goes on from its last committed slice at the next start
                    self._step_files(run)
                    return
                if _batchable(item):
                    run.append(item)
                    continue
                self._step_files(run)
                run = []
                self._step(item)
            self._step_files(run)
            if self._receipts:
                self._step(_NEXT_SLICE)

    def _step(self, item: Any) -> None:
        try:
            if item is _NEXT_SLICE:
                self._next_slice()
            else:
                self._handle(item)
        except Exception:  # never let one bad document or event stop the operator
            log.exception("engine: failed on %r", item)
            if isinstance(item, _Inbound) and item.done is not None:
                item.done()
        try:
            self._run_due_events()
        except Exception:
            log.exception("engine: failed running due events")

    def _step_files(self, run: list[Any]) -> None:
        """Inbound files and transport notes that waited together: one at a time when alone, else each file's
        first slice in one transaction, then one delivery round (see _answer_together)."""
        if not run:
            return
        if len(run) == 1:
            self._step(run[0])
            return
        try:
            self._answer_together(run)
        except Exception:
            log.exception("engine: failed on %d inbound files", len(run))
        try:
            self._run_due_events()
        except Exception:
            log.exception("engine: failed running due events")

    def _wait_time(self) -> float:
        if self.clock.frozen:
            return 1.0
        due = self.store.next_due()
        if due is None:
            return 1.0
        return min(1.0, max(0.005, (due - self.clock.timestamp()) / self.clock.speed))

    def _handle(self, item: Any) -> None:
        if item is None:
            return
        if isinstance(item, _Inbound):
            self._process(item)
        elif isinstance(item, _Call):
            if item.future.set_running_or_notify_cancel():
                try:
                    result = item.fn()
                    self._run_due_events()
                    item.future.set_result(result)
                except BaseException as e:  # the caller gets the error, the engine goes on
                    item.future.set_exception(e)
        elif isinstance(item, Finding):
            self._journal(item, self.clock.now())

    def _process(self, item: _Inbound) -> None:
        key = (item.doc.operator, item.doc.tenant)
        if key in self._waiting:  # a file of this tenant is being answered: its files are answered in order
            self._waiting[key].append(item)
            return
        self._start(item)

    def _receiver(self, doc: InboundDocument) -> Capability | None:
        receiver = self.operators[doc.operator].receiver(doc.area, doc.channel) if doc.operator in self.operators \
            else None
        if receiver is None and doc.operator in self.operators:  # a folder no capability takes: refused
            receiver = self.operators[doc.operator].owner_of(doc.filename, doc.channel)
        elif receiver is not None and receiver.pack is not None and receiver.pack.parse_filename(doc.filename) is None:
            # A flow of another capability in this folder (a protocol's file in another's folder): it refuses it
            # in its own answer flow, as its own protocol says.
            receiver = self.operators[doc.operator].owner_of(doc.filename, doc.channel) or receiver
        return receiver

    def _start(self, item: _Inbound) -> None:
        doc, path = item.doc, item.path
        sha = hashlib.sha256(doc.content).hexdigest()
        if path is not None:
            replayed = self.store.unremoved_inbound(doc.tenant, doc.location, doc.filename, sha, doc.operator)
            if replayed is not None:  # committed before a stop, not yet removed: never answer twice
                if self.store.in_progress(replayed) is not None:  # ... but cut between two slices: go on
                    self._resume(replayed, path, item.done)
                    return
                self._deliver(path, replayed)
                if item.done is not None:
                    item.done()
                return
        now = self.clock.now()
        receiver = self._receiver(doc)
        if receiver is None:  # a folder of the layout that no capability of this operator serves yet
            with self.store.transaction():
                inbound_id = self._refuse_unserved(doc, sha, now)
            self._deliver(path, inbound_id)
            if item.done is not None:
                item.done()
            return
        progress = SliceProgress()
        self._slice(_Receipt(doc, path, receiver, now, progress, receiver.receive_slices(doc, now, progress), sha,
                             done=[item.done] if item.done is not None else []))

    def _refuse_unserved(self, doc: InboundDocument, sha: str, now: datetime) -> int:
        """A file in a folder of the layout that no capability of its operator serves yet: recorded, journaled;
        its inbox row."""
        inbound_id = self._record(doc, sha, now)
        self._journal(Finding(doc.tenant, doc.channel, "in", "", doc.filename, "not processed",
                              f"{doc.operator} has no capability taking {doc.area} files by {doc.channel}"), now)
        return inbound_id

    def _answer_together(self, run: list[Any]) -> None:
        """Files (and notes) that waited together, answered in one transaction: each file's first slice under a
        savepoint of its own (a file that fails is rolled back alone and kept aside, as when answered alone),
        one commit, then one delivery round: their IN files removed, their answers delivered and both marked in
        one more commit. Per file that is two commits shared by the run instead of two each, and the guarantees
        are those of one file: nothing is delivered before the commit that holds it. A file of a tenant whose
        earlier file is being answered in slices (or becomes so in this run) waits behind it, in order."""
        now = self.clock.now()
        together = _Together()
        try:
            with _collector_paused(), self.store.transaction():
                self._answer_run(run, now, together)
        except Exception:  # the transaction itself failed (nothing of the run is committed): one at a time
            log.exception("engine: %d inbound files answered together failed, answered one at a time", len(run))
            for item in run:
                self._step(item)
            return
        started = together.started
        self._deliver_all([(r.path, r.inbound_id) for r in started if r.progress.finished]
                          + [(item.path, inbound_id) for item, inbound_id in together.unserved])
        for item, _ in together.unserved:
            if item.done is not None:
                item.done()
        for receipt in started:
            if receipt.progress.finished:
                self._done(receipt)
            else:
                self._receipts.append(receipt)
                self._waiting.setdefault((receipt.doc.operator, receipt.doc.tenant), collections.deque())
        for receipt, error in together.failed:  # nothing of it was committed: kept aside whole
            self._quarantine(receipt.doc, receipt.path, error, now)
            receipt.inbound_id = -1
            self._done(receipt)
        for item in together.replays + together.deferred:  # in order, behind what their tenants wait for
            self._process(item)

    def _answer_run(self, run: list[Any], now: datetime, together: _Together) -> None:
        """The transaction of `_answer_together`: each note journaled, each file's first slice under a savepoint."""
        started, failed, deferred, sliced = together.started, together.failed, together.deferred, together.sliced
        for item in run:
            if isinstance(item, Finding):
                self._journal(item, now)
                continue
            doc = item.doc
            key = (doc.operator, doc.tenant)
            if key in self._waiting or key in sliced:
                deferred.append(item)
                continue
            sha = hashlib.sha256(doc.content).hexdigest()
            if item.path is not None and self.store.unremoved_inbound(doc.tenant, doc.location, doc.filename, sha,
                                                                      doc.operator) is not None:
                together.replays.append(item)  # may go on in slices: its tenant's next files wait behind it
                sliced.add(key)
                continue
            receiver = self._receiver(doc)
            if receiver is None:
                together.unserved.append((item, self._refuse_unserved(doc, sha, now)))
                continue
            progress = SliceProgress()
            receipt = _Receipt(doc, item.path, receiver, now, progress,
                               receiver.receive_slices(doc, now, progress), sha,
                               done=[item.done] if item.done is not None else [])
            try:
                with self.store.savepoint():
                    self._slice_work(receipt)
            except Exception as e:
                log.exception("engine: cannot process %s from %s", doc.filename, doc.tenant)
                failed.append((receipt, e))
                continue
            if not progress.finished:
                sliced.add(key)
            started.append(receipt)

    def _record(self, doc: InboundDocument, sha: str, now: datetime) -> int:
        # The bytes are kept with the virtual time: the conformance checks read what the OC sent.
        return self.store.record_inbound(doc.tenant, doc.location, doc.filename, sha, doc.operator, doc.content,
                                         now.isoformat(timespec="seconds"), doc.channel)

    def _resume(self, inbound_id: int, path: Path | None, done: Callable[[], None] | None = None) -> None:
        """Go on with a file a stop cut between two slices, from the store: its bytes, time and progress."""
        row = self.store.in_progress(inbound_id)
        if row is None:
            return
        doc = InboundDocument(row["tenant"], row["channel"], row["network"], row["area"], row["filename"],
                              self.store.inbound_bytes(inbound_id), row["location"], row["operator"])
        key = (doc.operator, doc.tenant)
        for receipt in self._receipts:
            if receipt.inbound_id == inbound_id:  # already going on: the IN file is removed when it is done
                receipt.path = receipt.path or path
                if done is not None:
                    receipt.done.append(done)
                return
        receiver = self._receiver(doc)
        if receiver is None:
            log.error("engine: no capability takes %s any more, left unfinished", doc.filename)
            if done is not None:
                done()
            return
        now = datetime.fromisoformat(row["at_virtual"])  # the file's answers keep the time it came at
        progress = SliceProgress(row["lines"], row["carry"])
        receipt = _Receipt(doc, path, receiver, now, progress, receiver.receive_slices(doc, now, progress),
                           "", inbound_id, done=[done] if done is not None else [])
        self._waiting.setdefault(key, collections.deque())
        self._slice(receipt)

    def _slice(self, receipt: _Receipt) -> None:
        """Answer the next slice of a file in one transaction; the file's last slice also emits its answer."""
        doc, now = receipt.doc, receipt.now
        first = receipt.inbound_id == 0
        try:
            with self.store.transaction():
                self._slice_work(receipt)
        except Exception as e:
            log.exception("engine: cannot process %s from %s", doc.filename, doc.tenant)
            if first:  # nothing of it was committed: kept aside whole
                self._quarantine(doc, receipt.path, e, now)
                receipt.inbound_id = -1
            else:
                self._abandon(receipt, e)
            self._done(receipt)
            return
        if not receipt.progress.finished:
            self._receipts.append(receipt)
            self._waiting.setdefault((doc.operator, doc.tenant), collections.deque())
            return
        self._deliver(receipt.path, receipt.inbound_id)
        self._done(receipt)

    def _slice_work(self, receipt: _Receipt) -> None:
        """The next slice of a file, inside the caller's transaction: its first records the file."""
        doc, receiver, now = receipt.doc, receipt.receiver, receipt.now
        first = receipt.inbound_id == 0
        if first:
            receipt.inbound_id = self._record(doc, receipt.sha, now)
        with receiver.batch():
            effects = next(receipt.slices)
        progress = receipt.progress
        if first and progress.finished:  # the whole file in one slice: as any other effects
            self._apply(effects, now, receiver)
        else:
            self._hold(receipt.inbound_id, effects, now, receiver)
            if progress.finished:
                self._emit_held(receipt.inbound_id, now, receiver)
            else:
                self.store.save_progress(receipt.inbound_id, doc.network, doc.area, progress.lines, progress.carry)

    def _done(self, receipt: _Receipt) -> None:
        """A tenant's file is answered: whoever waits for it is told, and its next files, held meanwhile, go on
        in order."""
        for done in receipt.done:
            done()
        receipt.done.clear()
        waiting = self._waiting.pop((receipt.doc.operator, receipt.doc.tenant), None)
        while waiting:
            item = waiting.popleft()
            key = (item.doc.operator, item.doc.tenant)
            if key in self._waiting:  # the previous one is answered in slices: the rest waits behind it
                self._waiting[key].append(item)
                self._waiting[key].extend(waiting)
                return
            self._start(item)

    def _next_slice(self) -> None:
        """The next slice of the file whose turn it is (files in slices take turns)."""
        self._slice(self._receipts.popleft())

    def _hold(self, inbound_id: int, effects: Effects, now: datetime, source: Capability) -> None:
        """A slice's effects: journal lines now; its answer lines and events kept with the file until its last
        slice (one answer file per destination and flow, and no event of an order before its answer)."""
        operator = self.operators[source.context.operator]
        for finding in effects.findings:
            self._journal(finding, now)
        for out in merge(effects.outbound):
            if out.content is not None:  # a file the capability wrote whole: emitted as it is
                self._apply(Effects(outbound=[out]), now, source)
                continue
            ok, ko = _counts(out.records)
            self.store.add_part(inbound_id, out.tenant, out.network, out.flow, out.area, out.channel, out.pm,
                                operator.render_lines(source, out, self.store.answer_style(out.tenant)),
                                len(out.records), ok, ko)
        self.store.hold_events(inbound_id, _scheduled(effects, source))

    def _emit_held(self, inbound_id: int, now: datetime, source: Capability) -> None:
        """The answer files of a file answered in slices, each written once from its parts; then its events."""
        operator = self.operators[source.context.operator]
        for part in self.store.parts(inbound_id):
            out = OutboundDocument(part["tenant"], part["network"], part["flow"], [], part["area"], part["channel"],
                                   pm=part["pm"])
            location, filename = operator.name_file(source, out, now, self.store.next_sequence)
            header = operator.render_lines(source, out, header=True)

            def pieces(part: Any = part, header: bytes = header) -> Iterator[bytes]:
                yield header
                yield from self.store.part_bodies(inbound_id, part)
            self.store.add_outbound_pieces(out.tenant, out.channel, location, filename, out.flow, pieces,
                                           len(header) + part["size"], part["lines"],
                                           now.isoformat(timespec="seconds"), operator.key)
            summary = f"{part['lines']} lines: {part['ok']} OK, {part['ko']} KO" if part["ok"] + part["ko"] \
                else f"{part['lines']} lines"
            self._journal(Finding(out.tenant, out.channel, "out", out.flow, filename, summary, location), now)
        self.store.close_inbound(inbound_id)

    def _abandon(self, receipt: _Receipt, error: Exception) -> None:
        """A slice failed after others were committed: what was answered is emitted, the rest is not; the file is
        kept aside and the journal says where it stopped."""
        doc, now = receipt.doc, receipt.now
        keep = self.quarantine / doc.tenant
        keep.mkdir(parents=True, exist_ok=True)
        (keep / doc.filename).write_bytes(doc.content)
        with self.store.transaction():
            self._emit_held(receipt.inbound_id, now, receipt.receiver)
            self._journal(Finding(doc.tenant, doc.channel, "in", "", doc.filename, "internal error",
                                  f"{type(error).__name__}: {error}; lines after the first "
                                  f"{receipt.progress.lines} not answered; file kept in quarantine/"), now)
        self._deliver(receipt.path, receipt.inbound_id)

    def _quarantine(self, doc: InboundDocument, path: Path | None, error: Exception, now: datetime) -> None:
        """An internal error must not lose the OC's file: keep it aside and say so in the journal."""
        keep = self.quarantine / doc.tenant
        keep.mkdir(parents=True, exist_ok=True)
        (keep / doc.filename).write_bytes(doc.content)
        if path is not None:
            path.unlink(missing_ok=True)
        # The processing rolled back with its inbox row: record the file again, as removed, so its bytes
        # stay evidence (GET /api/inbound) like any other inbound file's.
        with self.store.transaction():
            inbound_id = self._record(doc, hashlib.sha256(doc.content).hexdigest(), now)
            self.store.mark_inbound_removed([inbound_id])
            self._journal(Finding(doc.tenant, doc.channel, "in", "", doc.filename, "internal error",
                                  f"{type(error).__name__}: {error}; file kept in quarantine/"), now)

    def _run_due_events(self) -> None:
        # The batches of one run (an advance: each order's CR, then its Cmd_STOC a few batches later) keep the
        # orders they wrote decoded for the next ones (Store.keeping_orders): nothing else runs between them. The
        # cyclic GC waits for the run's end: those orders outlive their batch, and each collection between two
        # batches walked them all (as much time as keeping them saved).
        with _collector_paused(), self.store.keeping_orders():  # the kept orders go before collection resumes
            self._run_due_batches()

    def _run_due_batches(self) -> None:
        told = time.monotonic()
        while True:
            now = self.clock.timestamp()
            events = self.store.due_events(now, limit=DUE_BATCH)
            if not events:
                return
            if self._progress is not None and time.monotonic() - told > PROGRESS_EVERY:
                told = time.monotonic()
                self._progress(f"recovering: {self.store.due_count(now)} due events left")
            try:
                with self.store.transaction():
                    self._fire(events)
            except Exception:
                log.exception("engine: a batch of %d events failed, retrying one by one", len(events))
                for event in events:
                    self._fire_alone(event)
            self._deliver()

    def _fire(self, events: list[Event]) -> None:
        """Due events fire together: the answers of one moment share a file per tenant and flow, as an
        OI's batch run would emit them. The orders they read are read together and written together (the
        store's unit of work), before the transaction commits."""
        with self.store.unit_of_work(prefetch=[(e.tenant, e.ref) for e in events]):
            for due, group in groupby(events, key=lambda e: e.due):
                # An event happens at its due time: dates in the answer are the contract's, not the moment
                # a frozen clock was advanced past them.
                at = from_timestamp(due)
                by_source: dict[int, tuple[Capability, Effects]] = {}
                handlers: dict[str, tuple[Capability, str, Effects]] = {}  # stored kind -> who handles it
                done: list[int] = []
                with ExitStack() as scopes:  # each capability's batch scope, opened when it first handles one
                    for event in group:
                        handler = handlers.get(event.kind)
                        if handler is None:
                            capability, kind = self.operators.event_handler(event.kind)
                            if id(capability) not in by_source:
                                scopes.enter_context(capability.batch())
                                by_source[id(capability)] = (capability, Effects())
                            handler = handlers[event.kind] = (capability, kind, by_source[id(capability)][1])
                        capability, kind, effects = handler
                        effects.extend(capability.on_event(kind, event.tenant, event.ref, event.payload, at))
                        done.append(event.id)
                self.store.mark_events_done(done)
                for capability, effects in by_source.values():
                    effects.outbound = merge(effects.outbound)
                    self._apply(effects, at, capability)

    def _fire_alone(self, event: Event) -> None:
        try:
            with self.store.transaction():
                self._fire([event])
        except Exception as e:
            log.exception("engine: event %s failed", event)
            with self.store.transaction():
                self.store.mark_event_done(event.id)
                self._journal(Finding(event.tenant, "clock", "out", event.kind, "", "internal error",
                                      f"{type(e).__name__}: {e}"), from_timestamp(event.due))

    # ------------------------------------------------------------------ effects
    def _apply(self, effects: Effects, now: datetime, source: Capability) -> None:
        """Commit what a capability produced: journal lines, its answer files (named and written with its
        operator's layout and its spec pack), and its events, stored under its own name."""
        operator = self.operators[source.context.operator]
        for finding in effects.findings:
            self._journal(finding, now)
        shared: dict[int, str] = {}  # id of content written once for many tenants -> its sha256
        for out in effects.outbound:
            file = operator.render(source, out, now, self.store.next_sequence, self.store.answer_style(out.tenant))
            key = ""
            if out.content is not None and file.content is out.content:  # a broadcast: stored and written once
                key = shared.setdefault(id(out.content), hashlib.sha256(out.content).hexdigest())
            self.store.add_outbound(out.tenant, out.channel, file.location, file.filename, out.flow, file.content,
                                    out.line_count, now.isoformat(timespec="seconds"), operator.key, shared=key)
            self._journal(Finding(out.tenant, out.channel, "out", out.flow, file.filename,
                                  _summary(out.records) if out.content is None else f"{out.lines} lines",
                                  file.location), now)
        self.store.schedule(_scheduled(effects, source))

    def _journal(self, finding: Finding, now: datetime) -> None:
        self.store.add_journal(now.isoformat(timespec="seconds"), finding.tenant, finding.channel,
                               finding.direction, finding.flow, finding.filename, finding.outcome,
                               finding.detail)

    def _deliver(self, read: Path | None = None, inbound_id: int = 0) -> None:
        """Hand the committed answer files to the delivery port; `read`, the inbound file they answer, leaves IN
        first (the reader of a folder deletes what it has read). Marking both is one commit: until it is made,
        a restart recognises the file by its inbox row and delivers again what is not yet in OUT."""
        self._deliver_all([(read, inbound_id)])

    def _deliver_all(self, reads: list[tuple[Path | None, int]]) -> None:
        """`_deliver` for the inbound files of a run answered together (path in IN, inbox row): one commit."""
        removed = [(path, inbound_id) for path, inbound_id in reads if path is not None]
        delivered: list[int] = []
        try:
            for path, _ in removed:
                path.unlink(missing_ok=True)
            for out in self.store.undelivered():
                self.delivery.deliver(out)
                delivered.append(out.id)
        finally:
            if delivered or removed:
                with self.store.transaction():
                    self.store.mark_delivered(delivered)
                    self.store.mark_inbound_removed([inbound_id for _, inbound_id in removed])


def _batchable(item: Any) -> bool:
    """Queued work answered with the inbound files around it (Engine._answer_together): small inbound files and
    the transports' journal notes."""
    return isinstance(item, Finding) or (isinstance(item, _Inbound) and len(item.doc.content) <= FILE_BATCH_BYTES)


def _once(fn: Callable[[], None]) -> Callable[[], None]:
    """`fn`, called at most once whatever the paths that reach it (a callback that errs is logged, not raised)."""
    called = False

    def call() -> None:
        nonlocal called
        if not called:
            called = True
            try:
                fn()
            except Exception:
                log.exception("engine: a transport's callback failed")
    return call


def _scheduled(effects: Effects, source: Capability) -> list[tuple[float, str, str, str, dict[str, Any]]]:
    """The events of `effects` as stored: (due timestamp, kind qualified by their capability, tenant, ref, payload)."""
    timestamps: dict[datetime, float] = {}  # the events of a batch or a slice share a few due times
    kinds: dict[str, str] = {}
    scheduled = []
    for e in effects.events:
        due = timestamps.get(e.due)
        if due is None:
            due = timestamps[e.due] = to_timestamp(e.due)
        kind = kinds.get(e.kind)
        if kind is None:
            kind = kinds[e.kind] = qualified_kind(source, e.kind)
        scheduled.append((due, kind, e.tenant, e.ref, e.payload))
    return scheduled


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during a run of due events: its thousands of short-lived objects (orders,
    answer lines) would start several collections that walk the whole heap (a tenth of an advance's time), and
    a batch makes next to no reference cycles. Collection resumes when the run ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def merge(documents: list[OutboundDocument]) -> list[OutboundDocument]:
    """One document per destination and flow, lines in the order they were produced."""
    merged: dict[tuple, OutboundDocument] = {}
    written: list[OutboundDocument] = []  # files a capability wrote itself are never merged
    for doc in documents:
        if doc.content is not None:
            written.append(doc)
            continue
        key = (doc.tenant, doc.network, doc.flow, doc.area, doc.channel, doc.pm)
        if key in merged:
            merged[key].records.extend(doc.records)
        else:
            merged[key] = OutboundDocument(doc.tenant, doc.network, doc.flow, list(doc.records), doc.area, doc.channel,
                                           pm=doc.pm)
    return list(merged.values()) + written


def _summary(records: list[dict[str, str]]) -> str:
    ok, ko = _counts(records)
    if not ok + ko:
        return f"{len(records)} lines"
    return f"{len(records)} lines: {ok} OK, {ko} KO"


def _counts(records: list[dict[str, str]]) -> tuple[int, int]:
    """OK and KO values of the Etat* columns of answer lines."""
    ok = ko = 0
    keys: dict[frozenset, tuple[str, ...]] = {}  # the Etat* columns of each shape of record, found once
    for r in records:
        shape = frozenset(r) if len(keys) < 50 else None
        states = keys.get(shape) if shape is not None else None
        if states is None:
            states = tuple(k for k in r if k.startswith("Etat"))
            if shape is not None:
                keys[shape] = states
        for k in states:
            v = r[k]
            ok += v == "OK"
            ko += v == "KO"
    return ok, ko
