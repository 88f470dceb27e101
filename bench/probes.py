"""Timestamps taken inside a running sandbox, without changing the simulator's code.

The probe wraps a few methods of one Engine instance, of its desk and of its spec pack's flows
(instance attributes shadow the class's methods): when an inbound document was submitted by the
FTP thread, when the engine thread started and finished it, and how long parsing, the desk, the
effects and the delivery took. All times are `time.perf_counter()` values, comparable with the
client's since everything runs in one process.
"""

from __future__ import annotations

import cProfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.engine import Engine


@dataclass
class FileTiming:
    """What happened to one inbound file inside the sandbox (perf_counter seconds, durations in s)."""

    filename: str
    submitted: float = 0.0  # FTP thread: upload complete, moved to IN, handed to the engine
    started: float = 0.0  # engine thread: _process begins
    finished: float = 0.0  # engine thread: _process returns (the answer is in OUT)
    receive: float = 0.0  # the desk's slices (receive_slices): reading the records, per-line checks, order rows
    apply: float = 0.0  # engine._apply: journal, answer CSV into the outbox, scheduled events
    write: float = 0.0  # FlowSpec.write inside apply: the answer CSV (a sliced file's AR is written by its slices)
    deliver: float = 0.0  # engine._deliver: answer written to OUT (fsync + rename)

    @property
    def engine(self) -> float:
        """Time the engine thread spent on the file."""
        return self.finished - self.started

    @property
    def other(self) -> float:
        """Engine time outside the three measured parts: hashing, SQLite commit, inbox bookkeeping."""
        return self.engine - self.receive - self.apply - self.deliver


class EngineProbe:
    """Records a FileTiming per inbound file name; optionally profiles the engine thread's work."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.files: dict[str, FileTiming] = {}
        self.profiler: cProfile.Profile | None = None
        self._current: FileTiming | None = None
        self._applying = False
        self._lock = threading.Lock()
        self._install()

    def _install(self) -> None:
        """The engine answers a file in slices (`_slice`, one transaction each, other work between two): a file
        starts with its first slice and finishes when its answer is delivered and it leaves IN."""
        engine = self.engine
        submit, one_slice, apply, deliver = engine.submit, engine._slice, engine._apply, engine._deliver_all
        together = engine._answer_together
        desk = engine.operators.capability("covage", "access")
        receive_slices = desk.receive_slices

        def timed_submit(doc: Any, path: Any = None, done: Any = None) -> None:
            self._timing(doc.filename).submitted = time.perf_counter()
            submit(doc, path, done)

        def timed_together(run: list[Any]) -> None:
            """Small files that waited together start in one transaction (Engine._answer_together)."""
            now = time.perf_counter()
            for item in run:
                if getattr(item, "doc", None) is not None:
                    timing = self._timing(item.doc.filename)
                    timing.started = timing.started or now
            together(run)

        def timed_slice(receipt: Any) -> None:
            timing = self._timing(receipt.doc.filename)
            self._current = timing
            timing.started = timing.started or time.perf_counter()
            profiler = self.profiler
            try:
                if profiler is not None:
                    profiler.enable()
                try:
                    one_slice(receipt)
                finally:
                    if profiler is not None:
                        profiler.disable()
            finally:
                self._current = None

        def timed_deliver(reads: list[tuple[Any, int]]) -> None:
            """Every delivery round (Engine._deliver_all): the files whose answers it delivers are finished."""
            timed = self._part("deliver", deliver)
            timed(reads)
            for read, _ in reads:
                if read is not None:
                    self._timing(read.name).finished = time.perf_counter()

        def timed_slices(doc: Any, now: Any, progress: Any) -> Any:
            timing, slices = self._timing(doc.filename), receive_slices(doc, now, progress)
            while True:
                start = time.perf_counter()
                try:
                    effects = next(slices)
                except StopIteration:
                    return
                finally:
                    timing.receive += time.perf_counter() - start
                yield effects

        engine.submit = timed_submit  # type: ignore[method-assign]
        engine._slice = timed_slice  # type: ignore[method-assign]
        timed_apply = self._part("apply", apply)

        def applying(*args: Any, **kwargs: Any) -> Any:
            self._applying = True
            try:
                return timed_apply(*args, **kwargs)
            finally:
                self._applying = False

        engine._apply = applying  # type: ignore[method-assign]
        engine._deliver_all = timed_deliver  # type: ignore[method-assign]
        engine._answer_together = timed_together  # type: ignore[method-assign]
        desk.receive_slices = timed_slices  # type: ignore[method-assign]
        assert desk.pack is not None
        for flow in desk.pack.flows.values():  # frozen dataclasses: set the shadowing attribute directly
            object.__setattr__(flow, "write", self._part("write", flow.write, within_apply=True))

    def _part(self, name: str, fn: Callable[..., Any], within_apply: bool = False) -> Callable[..., Any]:
        """fn, adding its duration to the current file's `name` field when called inside one of its slices (and
        inside `_apply`, with `within_apply`)."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            timing = self._current
            if timing is None or threading.current_thread().name != "opsim-engine" or \
                    (within_apply and not self._applying):  # e.g. the client's own parse
                return fn(*args, **kwargs)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                setattr(timing, name, getattr(timing, name) + time.perf_counter() - start)

        return timed

    def _timing(self, filename: str) -> FileTiming:
        with self._lock:
            timing = self.files.get(filename)
            if timing is None:
                timing = self.files[filename] = FileTiming(filename)
            return timing

    def wait_finished(self, filename: str, timeout: float = 60.0) -> FileTiming:
        """The file's timing once the engine finished it (the client may see the answer a bit earlier)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            timing = self.files.get(filename)
            if timing is not None and timing.finished:
                return timing
            time.sleep(0.001)
        raise TimeoutError(f"the engine did not finish {filename} within {timeout:.0f} s")
