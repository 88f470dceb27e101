"""`opsim conformance run` as a CI job runs it: a real runner, a real pytest child, real `opsim up` sandboxes.

A cancelled job (SIGTERM) leaves no sandbox behind and still gets the report of what ran; `--jobs` plays
scenarios two at a time, each job on a sandbox of its own, numbered as the report numbers them; what the run
leaves in the sandbox's data dir grows with the scenarios, not with their square (the Monday IPE is one file
for every tenant).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.waiting import poll_until

ROOT = Path(__file__).resolve().parent.parent
RUN = [sys.executable, "-m", "simulator.cli", "conformance", "run", "--seed", "3"]
PROGRESS = re.compile(r"^\[\s*(\d+)/(\d+)\] #(\d+)\s+(pass|FAIL|not run)\s+(.*) \(", re.M)


def descendants(pid: int) -> dict[int, str]:
    """The processes under `pid` (by /proc's parent links), with their command lines."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that no longer reaps it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def data_size(folder: Path) -> int:
    """Bytes on disk under `folder`, a file with several hard links counted once (as du counts)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in folder.rglob("*"):
        try:
            stat = path.lstat()
        except OSError:
            continue  # removed while we walked: the sandbox is running
        if (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_blocks * 512
    return total


@pytest.mark.timeout(300)
def test_sigterm_stops_the_sandbox_and_still_writes_the_report_of_what_ran(tmp_path: Path):
    report = tmp_path / "report"
    runner = subprocess.Popen([*RUN, "--only", "access", "--report-dir", str(report)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert runner.stdout is not None
    lines: list[str] = []
    sandboxes: dict[int, str] = {}
    for line in runner.stdout:
        lines.append(line)
        if len(PROGRESS.findall("".join(lines))) >= 2:
            sandboxes = {pid: cmd for pid, cmd in descendants(runner.pid).items() if "simulator.cli up" in cmd}
            break
    assert sandboxes, "".join(lines)  # the run's own opsim up, found while it runs
    runner.send_signal(signal.SIGTERM)
    rest, _ = runner.communicate(timeout=120)
    output = "".join(lines) + rest
    assert runner.returncode == 128 + signal.SIGTERM, output[-3000:]
    poll_until(lambda: not any(alive(pid) for pid in sandboxes), 10, every=0.1)
    assert not [cmd for pid, cmd in sandboxes.items() if alive(pid)], "an opsim up was left running"
    assert not [cmd for cmd in descendants(os.getpid()).values() if "simulator.cli up" in cmd and str(report) in cmd]
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    ran = len(results["scenarios"])
    assert results["interrupted"] is True and 2 <= ran < results["total"], (ran, results["total"])
    assert "SIGTERM: stopping the run" in output and f"{results['total'] - ran} not reached" in output
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "The run was interrupted" in page
    assert (report / "junit.xml").is_file()


@pytest.mark.timeout(300)
def test_jobs_play_two_scenarios_at_a_time_numbered_as_the_report_numbers_them(tmp_path: Path):
    report = tmp_path / "report"
    done = subprocess.run([*RUN, "--only", "cancel or route", "--jobs", "2", "--report-dir", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert ", 2 at a time" in done.stdout
    printed = {int(number): name for _, _, number, _, name in PROGRESS.findall(done.stdout)}
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    numbered = {s["number"]: f"{s['feature']}: {s['scenario']}" for s in results["scenarios"]}
    assert len(numbered) >= 5 and printed == numbered
    assert [s["number"] for s in results["scenarios"]] == sorted(numbered)  # the report's order
    assert "slowest:" in done.stdout and re.search(r"about \d+ s left", done.stdout)


@pytest.mark.timeout(600)
def test_the_sandbox_data_dir_grows_linearly_with_the_scenarios(tmp_path: Path):
    """Each scenario is a tenant and moves the clock a day or more, over Mondays: the run's 40 scenarios leave
    less than twice what its first 20 left (the IPE is shared, not copied per tenant)."""
    sandbox, report = tmp_path / "sandbox", tmp_path / "report"
    runner = subprocess.Popen([*RUN, "--only", "rejects", "--report-dir", str(report), "--sandbox-dir",
                               str(sandbox)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert runner.stdout is not None
    sizes: dict[int, int] = {}
    output: list[str] = []
    for line in runner.stdout:
        output.append(line)
        progress = PROGRESS.match(line)
        if progress and int(progress[1]) in (20, 40):
            sizes[int(progress[1])] = data_size(sandbox / "data")
        if len(sizes) == 2:
            runner.send_signal(signal.SIGTERM)  # enough: the other scenarios would only take time
    runner.wait(timeout=120)
    assert sizes.keys() == {20, 40}, "".join(output)[-3000:]
    with sqlite3.connect(sandbox / "data" / "opsim.sqlite3") as db:
        ipes = db.execute("SELECT count(*) FROM outbox WHERE flow = 'IPE'").fetchone()[0]
    assert ipes >= 4, "the run should have crossed Mondays (an IPE per network each)"  # else it proves nothing
    assert sizes[40] < 2 * sizes[20], sizes
