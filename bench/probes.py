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
    receive: float = 0.0  # desk.receive: parse, per-line checks, order inserts
    parse: float = 0.0  # FlowSpec.parse, inside receive: decode, csv, per-field checks
    apply: float = 0.0  # engine._apply: journal, answer CSV into the outbox, scheduled events
    write: float = 0.0  # FlowSpec.write, inside apply: the answer CSV
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
        self._lock = threading.Lock()
        self._install()

    def _install(self) -> None:
        engine = self.engine
        submit, process, apply, deliver = engine.submit, engine._process, engine._apply, engine._deliver
        desk = engine.operators.capability("covage", "access")
        receive = desk.receive

        def timed_submit(doc: Any, path: Any = None) -> None:
            self._timing(doc.filename).submitted = time.perf_counter()
            submit(doc, path)

        def timed_process(item: Any) -> None:
            timing = self._timing(item.doc.filename)
            self._current = timing
            profiler = self.profiler
            timing.started = time.perf_counter()
            try:
                if profiler is not None:
                    profiler.enable()
                try:
                    process(item)
                finally:
                    if profiler is not None:
                        profiler.disable()
            finally:
                timing.finished = time.perf_counter()
                self._current = None

        engine.submit = timed_submit  # type: ignore[method-assign]
        engine._process = timed_process  # type: ignore[method-assign]
        engine._apply = self._part("apply", apply)  # type: ignore[method-assign]
        engine._deliver = self._part("deliver", deliver)  # type: ignore[method-assign]
        desk.receive = self._part("receive", receive)  # type: ignore[method-assign]
        assert desk.pack is not None
        for flow in desk.pack.flows.values():  # frozen dataclasses: set the shadowing attribute directly
            object.__setattr__(flow, "parse", self._part("parse", flow.parse))
            object.__setattr__(flow, "write", self._part("write", flow.write))

    def _part(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """fn, adding its duration to the current file's `name` field when called inside _process."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            timing = self._current
            if timing is None or threading.current_thread().name != "opsim-engine":  # e.g. the client's own parse
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
