"""`opsim new capability` and `opsim new operator` (simulator/scaffold/): run in a copy of the project, what they
write passes at once: the new scenario through the reference adapter, ruff and the layer check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: The layer check of docs/architecture.md ("Layers"), beside the project when it is there.
LAYERS = ROOT.parent / "shared" / "checks" / "layers.py"


def copy_of_the_project(into: Path) -> Path:
    """The project's files as git knows them (tracked, and new ones not ignored), without .venv or data."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def opsim(copy: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """`opsim ARGS` run from the copy, with the copy's code (not this checkout's)."""
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=timeout)


def checks_pass(copy: Path) -> None:
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=copy, capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    if LAYERS.is_file():
        layers = subprocess.run([sys.executable, str(LAYERS)], cwd=copy, capture_output=True, text=True)
        assert layers.returncode == 0, layers.stdout + layers.stderr


def played(copy: Path, *args: str) -> dict:
    report = copy / "report"
    run = opsim(copy, "conformance", "run", "--adapter", "reference", "--report-dir", str(report), *args)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return json.loads((report / "results.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_a_new_capability_of_covage_passes_at_once(tmp_path: Path) -> None:
    copy = copy_of_the_project(tmp_path / "opsim")

    made = opsim(copy, "new", "capability", "covage", "ping")

    assert made.returncode == 0, made.stderr
    for path in ("simulator/operators/covage/ping.py", "simulator/operators/covage/ping-1.0/flows.yaml",
                 "features/ping/ping.feature", "features/ping/test_ping.py",
                 "simulator/operators/covage/harness/steps/ping.py",
                 "simulator/operators/covage/harness/ping_reference.py"):
        assert f"write {path}" in made.stdout and (copy / path).is_file(), path
    profile = (copy / "simulator/operators/covage/profile.toml").read_text(encoding="utf-8")
    assert '    "simulator.operators.covage.ping:PingDesk",\n]' in profile
    assert 'ping = { in = "IN/{interop}/{arcep}/PING", out = "OUT/{interop}/{arcep}/PING" }' in profile
    original = (ROOT / "simulator/operators/covage/profile.toml").read_text(encoding="utf-8")
    assert [line for line in original.splitlines() if line not in profile.splitlines()] == []  # only lines added
    assert "## The verbs of Ping (Covage)" in (copy / "docs/adapters.md").read_text(encoding="utf-8")
    assert "| `PING-READ` |" in (copy / "docs/checks.md").read_text(encoding="utf-8")
    checks_pass(copy)

    results = played(copy, "--only", "ping")

    [scenario] = results["scenarios"]
    assert scenario["outcome"] == "passed" and scenario["feature"].startswith("Ping"), scenario
    assert scenario["flows"] == ["Ping", "AR_Ping", "CR_Ping", "Notif_Ping"] and scenario["findings"] == []
    clause = subprocess.run([sys.executable, "-c", "from simulator.operators.covage.harness import "
                             "pytest_conformance_clause as c; print(c('PING-READ'), c('ACCES-STATE'))"],
                            cwd=copy, env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True, text=True)
    assert clause.stdout.startswith("Ping 1.0 (scaffolded)") and "Accès 1.2" in clause.stdout, clause.stderr
    again = opsim(copy, "new", "capability", "covage", "ping")
    assert again.returncode == 2 and "exists already" in again.stderr


@pytest.mark.slow
def test_a_new_operator_is_played_by_its_own_harness(tmp_path: Path) -> None:
    copy = copy_of_the_project(tmp_path / "opsim")

    made = opsim(copy, "new", "operator", "origyne")

    assert made.returncode == 0, made.stderr
    assert "write simulator/operators/origyne/profile.toml" in made.stdout
    assert "write features/origyne/conftest.py" in made.stdout
    assert opsim(copy, "new", "capability", "origyne", "bonus").returncode == 0  # a second capability beside it
    checks_pass(copy)
    # The shipped run (features/) leaves the operator's folder to its own harness.
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "features"], cwd=copy,
                               env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True, text=True,
                               timeout=120)
    assert collected.returncode == 0 and "origyne" not in collected.stdout, collected.stdout[-2000:]

    results = played(copy, "--features", str(copy / "features" / "origyne"))

    assert sorted((s["outcome"], s["feature"].split(",")[0]) for s in results["scenarios"]) == [
        ("passed", "Bonus"), ("passed", "Origyne")]


@pytest.mark.parametrize(("args", "message"), [
    (["capability", "nowhere", "ping"], "no operator 'nowhere'"),
    (["capability", "covage", "access"], "capability access of covage exists already"),
    (["capability", "covage", "acces"], "area acces"),
    (["capability", "covage", "Ping"], "not a lower-case Python identifier"),
    (["capability", "covage", "2ping"], "not a lower-case Python identifier"),
    (["capability", "covage", "class"], "not a lower-case Python identifier"),
    (["operator", "covage"], "operator covage exists already"),
    (["operator", "my-op"], "not a lower-case Python identifier"),
])
def test_a_refused_name_writes_nothing(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("opsim: ") and message in err and err.count("\n") == 1, err


def test_a_dry_run_lists_the_files_and_writes_none(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "capability", "covage", "scaffold_dry_run", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "would write simulator/operators/covage/scaffold_dry_run.py" in out
    assert "would edit  simulator/operators/covage/profile.toml" in out
    assert "would write features/scaffold_dry_run/test_scaffold_dry_run.py" in out
    assert not (ROOT / "simulator/operators/covage/scaffold_dry_run.py").exists()
    assert not (ROOT / "features/scaffold_dry_run").exists()
