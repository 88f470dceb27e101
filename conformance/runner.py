"""`opsim conformance run`: play the scenarios against the user's OC and write the reports.

It runs pytest in a child process on the features folder with the harness's plugin (`-p conformance.plugin`:
`--adapter`, `--target`, `--report-dir`, `--seed`; the plugin starts its own sandbox on free ports when no
target is given and writes `<report-dir>/results.json`), prints one progress line per scenario as it ends,
then renders `junit.xml` and `report.html` from `results.json` (conformance/report.py) and prints a summary.

pytest's own output goes to `<report-dir>/pytest.log`. This module is also loaded in the child
(`-p conformance.runner`): its hooks send the progress to the parent over a pipe (`OPSIM_PROGRESS_FD`).

The harness talks to the sandbox only through its network interfaces: nothing here imports `simulator`.

Exit status: 0 every scenario that ran passed (scenarios not run are allowed), 1 a scenario failed or the run
broke, 2 bad usage (an adapter that cannot be loaded, a missing features folder, `--only` matching nothing).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pytest

from .report import write_reports
from .results import FAILED, NOT_RUN, PASSED, RunResult, ScenarioResult

#: The pytest plugin of the harness; a test may name a stand-in with this variable.
PLUGIN_ENV = "OPSIM_CONFORMANCE_PLUGIN"
PLUGIN = "conformance.plugin"
#: The file descriptor (in the pytest child) on which the progress hooks below write JSON lines.
PROGRESS_FD_ENV = "OPSIM_PROGRESS_FD"
#: Real seconds one scenario may take before pytest-timeout stops it.
SCENARIO_TIMEOUT = 120


class UsageError(Exception):
    """Bad usage: one line for the user, exit status 2."""


def default_features() -> Path:
    """The scenarios shipped with this copy of the harness: `conformance/features/`, else the `features/` folder
    beside the `conformance` package (a checkout, or the top-level `features` package of a wheel install in the
    same site-packages). Never a `features` folder found elsewhere on sys.path: it could be the user's own."""
    package = Path(__file__).resolve().parent
    for folder in (package / "features", package.parent / "features"):
        if (folder / "conftest.py").is_file() and any(folder.rglob("*.feature")):
            return folder
    return package.parent / "features"


def check_adapter(spec: str) -> None:
    """Load the adapter as the plugin will (from the current folder too), to fail early in one line."""
    from .adapters import AdapterSpecError, adapter_factory

    if spec == "reference":  # the operator's harness names it: known once the scenarios load
        return
    sys.path.insert(0, os.getcwd())
    try:
        adapter_factory(spec)
    except AdapterSpecError as e:
        raise UsageError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - the user's module failed to import: say so in one line
        raise UsageError(f"--adapter {spec}: cannot load it: {type(e).__name__}: {e}") from None
    finally:
        sys.path.remove(os.getcwd())


#: The most operator variations one run plays (each is a whole order life: seconds each).
MAX_FUZZ = 1000
#: The most scenarios played at a time (--jobs): each job runs its own sandbox.
MAX_JOBS = 32


_HARNESS = re.compile(r"simulator\.operators\.(\w+)\.harness")


def operators_with_scenarios(features: Path) -> dict[str, Path]:
    """Each operator whose scenarios are in `features`, and their folder: the one the features' conftest names the
    harness of, and each subfolder with a conftest of its own (`opsim new operator` writes features/<operator>/)."""
    found: dict[str, Path] = {}
    for conftest in [features / "conftest.py", *sorted(features.glob("*/conftest.py"))]:
        if conftest.is_file() and (m := _HARNESS.search(conftest.read_text(encoding="utf-8"))):
            found.setdefault(m[1], conftest.parent)
    return found


def operator_features(features: Path, operator: str) -> Path:
    """The folder of one operator's scenarios (`--operator`)."""
    known = operators_with_scenarios(features)
    if operator not in known:
        raise UsageError(f"--operator {operator}: no scenarios of it under {features} (operators with scenarios: "
                         f"{', '.join(known) or 'none'})")
    return known[operator]


def selection(features: Path, only: str | None) -> tuple[Path, list[str]]:
    """What `--only` selects: a folder of the features (`access`), a tag (`@smoke`), else a `-k` expression."""
    if not only:
        return features, []
    folder = features / only
    if only.strip() and folder.is_dir() and folder.resolve().is_relative_to(features.resolve()):
        return folder, []
    if only.startswith("@"):
        return features, ["-m", only[1:]]
    return features, ["-k", only]


def child_command(features: Path, path: Path, select: list[str], adapter: str, target: str | None,
                   report_dir: Path, seed: int, plugin: str, fuzz: int = 0, jobs: int = 1) -> list[str]:
    """The child's command line. `-c devnull`: the user's own pytest configuration (in the folder where they
    run opsim, or above a virtualenv holding the features) has no say in how the scenarios run."""
    return [sys.executable, "-m", "pytest", "-p", plugin, "-p", "conformance.runner", str(path),
            "--adapter", adapter, *(["--target", target] if target else []), "--report-dir", str(report_dir),
            "--seed", str(seed), *(["--fuzz", str(fuzz)] if fuzz else []), *select,
            "-c", os.devnull, "--rootdir", str(features), "--confcutdir", str(features),
            "-o", f"bdd_features_base_dir={features}", "-o", f"timeout={SCENARIO_TIMEOUT}",
            "-o", "filterwarnings=ignore:The (asyncore|asynchat) module is deprecated:DeprecationWarning",
            "-p", "no:cacheprovider", "-q", "-rfEs", *(["-n", str(jobs)] if jobs > 1 else [])]


def run(adapter: str = "reference", target: str | None = None, report_dir: Path = Path("opsim-report"),
        only: str | None = None, seed: int | None = None, features: Path | None = None,
        out: IO[str] = sys.stdout, err: IO[str] = sys.stderr, fuzz: int = 0, jobs: int = 1,
        sandbox_dir: Path | None = None, sandbox_config: Path | None = None, operator: str | None = None) -> int:
    """Run the scenarios, print progress and a summary, write the reports; the exit status."""
    try:
        features = (features or default_features()).resolve()
        if not features.is_dir():
            raise UsageError(f"--features {features}: no such folder")
        if operator is not None:
            features = operator_features(features, operator)
        if target is not None and not target.startswith(("http://", "https://")):
            raise UsageError(f"--target {target}: expected the sandbox's admin API address, http://HOST:PORT")
        check_adapter(adapter)
        if not 0 <= fuzz <= MAX_FUZZ:
            raise UsageError(f"--fuzz {fuzz}: give a number of variations from 0 to {MAX_FUZZ}")
        if not 1 <= jobs <= MAX_JOBS:
            raise UsageError(f"--jobs {jobs}: give a number of scenarios at a time from 1 to {MAX_JOBS}")
        if sandbox_dir is not None and target is not None:
            raise UsageError("--sandbox-dir keeps the harness's own sandbox: give it without --target")
        if sandbox_config is not None and target is not None:
            raise UsageError("--sandbox-config configures the harness's own sandbox: give it without --target")
        if sandbox_config is not None and not sandbox_config.is_file():
            raise UsageError(f"--sandbox-config {sandbox_config}: no such file")
        if jobs > 1 and target is not None:
            # Scenarios move the sandbox's one virtual clock: two at a time on one sandbox would move it under
            # each other's feet. Each job gets a sandbox of its own instead, which a --target cannot give.
            raise UsageError("--jobs needs a sandbox per job: give it without --target")
        path, select = selection(features, only)
        report_dir = report_dir.resolve()
        try:
            report_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"--report-dir {report_dir}: {e.strerror or e}") from None
    except UsageError as e:
        print(f"opsim: {e}", file=err, flush=True)
        return 2
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    results, log = report_dir / "results.json", report_dir / "pytest.log"
    for stale in (results, report_dir / "junit.xml", report_dir / "report.html"):
        stale.unlink(missing_ok=True)  # never leave an earlier run's results beside this one's
    plugin = os.environ.get(PLUGIN_ENV) or PLUGIN
    argv = child_command(features, path, select, adapter, target, report_dir, seed, plugin, fuzz, jobs)
    if sandbox_dir is not None:
        argv += ["--sandbox-dir", str(sandbox_dir.resolve())]
    if sandbox_config is not None:
        argv += ["--sandbox-config", str(sandbox_config.resolve())]
    print(f"opsim conformance: adapter {adapter}, target {target or 'a sandbox of its own'}, seed {seed}, "
          f"features {path}" + (f" ({' '.join(select)})" if select else ""), file=out, flush=True)

    status, events, interrupted = _play(argv, log, out, jobs)
    if status in (4, 5) and not interrupted:  # pytest: usage error, or nothing collected
        why = "no scenario matches --only " + shlex.quote(only) if status == 5 and only else _tail(log, 1)
        print(f"opsim: {why or 'pytest refused the run'} (see {log})", file=err, flush=True)
        return 2
    if results.is_file():
        result = RunResult.load(results)
    elif interrupted:  # stopped before the child wrote its results: the progress lines are what ran
        result = RunResult(adapter, target or "opsim up (started by the harness)", seed,
                           datetime.now().isoformat(timespec="seconds"),
                           [ScenarioResult(*_titles_of(e), flows=[], outcome=e.get("outcome", NOT_RUN),
                                           error=e.get("why", ""), duration=float(e.get("duration", 0)),
                                           number=int(e.get("number") or 0)) for e in events], fuzz)
        result.save(results)
    else:
        print(f"opsim: the run ended (pytest exit status {status}) without results.json; the end of {log}:",
              file=err, flush=True)
        print(_tail(log, 15), file=err, flush=True)
        return 1
    if interrupted and not result.interrupted:
        result.interrupted = True
        result.save(results)
    junit, page = write_reports(result, report_dir, checks_doc=_checks_doc())
    _summary(result, out, adapter, only)
    print(f"reports: {page}\n         {junit}\n         {results}\n         {log} (pytest's output)", file=out,
          flush=True)
    if interrupted:
        print(f"opsim: the run was stopped by {interrupted}: the reports hold the {len(result.scenarios)} "
              "scenario(s) that ran", file=err, flush=True)
        return 128 + int(getattr(signal, interrupted))
    if result.failed:
        return 1
    if status != 0:
        print(f"opsim: pytest ended with exit status {status} though no scenario failed; the end of {log}:",
              file=err, flush=True)
        print(_tail(log, 5), file=err, flush=True)
        return 1
    return 0


def _titles_of(event: dict[str, Any]) -> tuple[str, str]:
    """(feature, scenario) of a progress event's `Feature: scenario` name."""
    feature, _, scenario = str(event.get("name", "?")).partition(": ")
    return (feature, scenario) if scenario else ("", feature)


def _play(argv: list[str], log: Path, out: IO[str], jobs: int = 1) -> tuple[int, list[dict[str, Any]], str]:
    """Run the child, printing a line per scenario it reports on the progress pipe: (its exit status, the
    scenarios' progress events, the signal that interrupted the run or '').

    The child runs in a process group of its own, with the sandbox(es) it starts and its xdist workers: a
    SIGINT or SIGTERM to the runner is passed on to that whole group as SIGTERM (the harness's plugin turns it
    into pytest's interruption: the sandboxes stop and the results of what ran are written; not SIGINT, which
    a shell ignores in the background jobs it starts), and whatever is left of the group once the child has
    ended is killed, so a cancelled CI job never leaves an `opsim up` behind."""
    read_fd, write_fd = os.pipe()
    # The child imports this very copy of the harness (a checkout that is not installed too).
    here = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, PROGRESS_FD_ENV: str(write_fd),
           "PYTHONPATH": os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])])}
    interrupted = ""
    events: list[dict[str, Any]] = []
    with log.open("w", encoding="utf-8") as log_file:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                    env=env, pass_fds=(write_fd,), start_new_session=True)
        finally:
            os.close(write_fd)  # the child holds the only writer: EOF when it ends

        def stop(signum: int, frame: Any) -> None:
            nonlocal interrupted
            if not interrupted:
                interrupted = signal.Signals(signum).name
                print(f"\n{interrupted}: stopping the run (its sandbox and adapter), then writing the report "
                      "of what ran", file=out, flush=True)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)} \
            if threading.current_thread() is threading.main_thread() else {}
        try:
            with os.fdopen(read_fd, encoding="utf-8", errors="replace") as progress:
                watch = Progress(out, jobs)
                for event in _events(progress):
                    if event.get("event") == "collected":
                        watch.collected(int(event.get("count", 0)))
                    elif event.get("event") == "scenario":
                        events.append(event)
                        watch.done(event)
            try:
                status = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                status = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything the child left running in its group
    return status, events, interrupted


class Progress:
    """The console's line per scenario: its number (the report's), outcome, title, time, and the time left."""

    def __init__(self, out: IO[str], jobs: int = 1):
        self.out, self.jobs = out, max(1, jobs)
        self.total = self.finished = 0
        self.started = time.monotonic()

    def collected(self, total: int) -> None:
        self.total, self.started = total, time.monotonic()
        print(f"{total} scenario(s)" + (f", {self.jobs} at a time" if self.jobs > 1 else ""), file=self.out,
              flush=True)

    def done(self, event: dict[str, Any]) -> None:
        self.finished += 1
        print(_progress_line(event, self.finished, self.total, self.time_left()), file=self.out, flush=True)

    def time_left(self) -> float | None:
        """From the pace so far (wall time per scenario done, all jobs together)."""
        if not self.finished or self.finished >= self.total:
            return None
        return (time.monotonic() - self.started) / self.finished * (self.total - self.finished)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _events(stream: IO[str]) -> Iterator[dict[str, Any]]:
    for line in stream:
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict):
                yield event


_WORD = {PASSED: "pass", FAILED: "FAIL", NOT_RUN: "not run"}


def _progress_line(event: dict[str, Any], finished: int, total: int, left: float | None = None) -> str:
    """`[finished/total] #number outcome title (time, time left)`: #number is the scenario's in the report."""
    width = len(str(total or ""))
    word = _WORD.get(event.get("outcome", ""), str(event.get("outcome")))
    number = int(event.get("number") or 0)
    timing = f"{float(event.get('duration', 0)):.1f} s"
    if left and left >= 1:
        timing += f", about {_duration(left)} left"
    line = (f"[{finished:>{width}}/{total}] " + (f"#{number:<{width}} " if number else "")
            + f"{word:<7} {event.get('name', '?')} ({timing})")
    if event.get("why"):
        line += f": {event['why']}"
    return line


#: How many of the slowest scenarios the summary names.
SLOWEST = 5


def _summary(result: RunResult, out: IO[str], adapter: str, only: str | None) -> None:
    counts = result.counts()
    unreached = max(0, result.total - len(result.scenarios)) if result.interrupted else 0
    print(f"\n{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[NOT_RUN]} not run"
          + (f", {unreached} not reached (interrupted)" if unreached else " (interrupted)" if result.interrupted
             else "")
          + f" (adapter {result.adapter}, target {result.target}, seed {result.seed})", file=out)
    for s in result.scenarios:
        if s.outcome == FAILED:
            checks = ", ".join(f.check for f in s.findings) or "no check id"
            print(f"  FAILED  {_numbered(s)}{s.feature}: {s.scenario}\n          [{checks}] at step: {s.step or '?'}"
                  + (f"\n          {_one_line(s.error)}" if s.error else ""), file=out)
    for s in result.scenarios:
        if s.outcome == NOT_RUN:
            why = " ".join(filter(None, (s.step, s.error))) or "no reason given"
            print(f"  not run {_numbered(s)}{s.feature}: {s.scenario}: {_one_line(why)}", file=out)
    slowest = sorted(result.scenarios, key=lambda s: -s.duration)[:SLOWEST]
    if len(result.scenarios) > SLOWEST:
        print("slowest:", file=out)
        for s in slowest:
            print(f"  {s.duration:6.1f} s  {_numbered(s)}{s.feature}: {s.scenario}", file=out)
    replay = ["opsim", "conformance", "run", "--adapter", adapter, "--seed", str(result.seed)]
    if result.fuzz:
        replay += ["--fuzz", str(result.fuzz)]
    if only:
        replay += ["--only", only]
    print(f"replay: {shlex.join(replay)}", file=out, flush=True)


def _numbered(s: ScenarioResult) -> str:
    return f"#{s.number} " if s.number else ""


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _tail(log: Path, lines: int) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _checks_doc() -> str:
    """Where the report links check ids: this checkout's docs/checks.md when there is one."""
    doc = Path(__file__).resolve().parent.parent / "docs" / "checks.md"
    return doc.as_uri() if doc.is_file() else "docs/checks.md"


# ---------------------------------------------------------------------------------------------- in the child
# pytest hooks, active only in the child `run` starts (`-p conformance.runner` and OPSIM_PROGRESS_FD set), in its
# main process: with --jobs the xdist workers' reports reach it, and a worker never holds the pipe.
_state: dict[str, dict[str, Any]] = {}
_names: dict[str, str] = {}  # node id -> title, for a plugin that puts no number on its reports
_announced = False


def _emit(event: dict[str, Any]) -> None:
    fd = os.environ.get(PROGRESS_FD_ENV)
    if fd:
        with contextlib.suppress(OSError, ValueError):
            os.write(int(fd), (json.dumps(event, ensure_ascii=False) + "\n").encode())


def scenario_of(item: Any) -> tuple[str, str] | None:
    """(feature title, scenario title with its example's values) of a pytest-bdd test item, else None."""
    try:
        from pytest_bdd.scenario import scenario_wrapper_template_registry as templates
    except ImportError:
        return None
    function = getattr(item, "obj", None)
    template = templates.get(function) if function is not None else None
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example") if callspec is not None else None
    scenario = template.render(example) if example else template
    return template.feature.name or template.feature.rel_filename, scenario.name


def pytest_configure(config: Any) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the pipe's number means nothing here
        os.environ.pop(PROGRESS_FD_ENV, None)


def _collected(count: int) -> None:
    global _announced
    if not _announced:
        _announced = True
        _emit({"event": "collected", "count": count})


def pytest_collection_finish(session: Any) -> None:
    for item in session.items:
        titles = scenario_of(item)
        _names[item.nodeid] = ": ".join(titles) if titles else item.nodeid
    if not getattr(session.config.option, "numprocesses", None):  # with --jobs, the workers collect
        _collected(len(session.items))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    _collected(len(ids))


def _titles(report: Any) -> dict[str, Any]:
    """The scenario's number and title, as conformance.plugin put them on its reports (else its node id)."""
    for key, value in getattr(report, "user_properties", ()):
        if key == "opsim_scenario" and isinstance(value, dict):
            return {"number": int(value.get("number", 0)), "name": str(value.get("name", report.nodeid))}
    return {"number": 0, "name": _names.get(report.nodeid, report.nodeid)}


def pytest_runtest_logreport(report: Any) -> None:
    state = _state.setdefault(report.nodeid, {"outcome": PASSED, "duration": 0.0, "why": ""})
    state["duration"] += report.duration
    if report.failed:
        state["outcome"] = FAILED
    elif report.skipped and state["outcome"] == PASSED:
        state["outcome"] = NOT_RUN
        longrepr = report.longrepr
        state["why"] = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr).removeprefix("Skipped: ")
    if report.when == "teardown":
        _state.pop(report.nodeid)
        _emit({"event": "scenario", **_titles(report), **state})
