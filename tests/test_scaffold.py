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


#: What a copy of a checkout that is not a git repository (a copy itself) leaves out.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                                    ".opsim", "*.egg-info", "opsim-report", "reports", "dist", "build")


def copy_of_the_project(into: Path) -> Path:
    """The project's files as git knows them (tracked, and new ones not ignored), without .venv or data; a
    checkout that is no git repository is copied whole, but for its caches."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True)
    if listed.returncode != 0:
        return Path(shutil.copytree(ROOT, into, ignore=NOT_COPIED))
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def fresh(name: str, taken: Path) -> str:
    """`name`, or `name2`, `name3`... if the project has one already (the suite run after `opsim new`)."""
    candidates = [name, *(f"{name}{n}" for n in range(2, 100))]
    return next(c for c in candidates if not (taken / c).exists() and not (taken / f"{c}.py").exists())


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
    name = fresh("ping", ROOT / "simulator/operators/covage")  # ping, unless the project has one already
    Name, CODE = name.capitalize(), name.upper()  # noqa: N806 (the flows' spelling)

    made = opsim(copy, "new", "capability", "covage", name)

    assert made.returncode == 0, made.stderr
    for path in (f"simulator/operators/covage/{name}.py", f"simulator/operators/covage/{name}-1.0/flows.yaml",
                 f"features/{name}/{name}.feature", f"features/{name}/test_{name}.py",
                 f"simulator/operators/covage/harness/steps/{name}.py",
                 f"simulator/operators/covage/harness/{name}_reference.py"):
        assert f"write {path}" in made.stdout and (copy / path).is_file(), path
    profile = (copy / "simulator/operators/covage/profile.toml").read_text(encoding="utf-8")
    assert f'    "simulator.operators.covage.{name}:{Name}Desk",\n]' in profile
    assert f'{name} = {{ in = "IN/{{interop}}/{{arcep}}/{CODE}", out = "OUT/{{interop}}/{{arcep}}/{CODE}" }}' in profile
    original = (ROOT / "simulator/operators/covage/profile.toml").read_text(encoding="utf-8")
    assert [line for line in original.splitlines() if line not in profile.splitlines()] == []  # only lines added
    assert f"## The verbs of {Name} (Covage)" in (copy / "docs/adapters.md").read_text(encoding="utf-8")
    assert f"| `{CODE}-READ` |" in (copy / "docs/checks.md").read_text(encoding="utf-8")
    checks_pass(copy)

    results = played(copy, "--only", name)

    [scenario] = results["scenarios"]
    assert scenario["outcome"] == "passed" and scenario["feature"].startswith(Name), scenario
    assert scenario["flows"] == [Name, f"AR_{Name}", f"CR_{Name}", f"Notif_{Name}"] and scenario["findings"] == []
    clause = subprocess.run([sys.executable, "-c", "from simulator.operators.covage.harness import "
                             f"pytest_conformance_clause as c; print(c('{CODE}-READ'), c('ACCES-STATE'))"],
                            cwd=copy, env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True, text=True)
    assert clause.stdout.startswith(f"{Name} 1.0 (scaffolded)") and "Accès 1.2" in clause.stdout, clause.stderr
    again = opsim(copy, "new", "capability", "covage", name)
    assert again.returncode == 2 and "exists already" in again.stderr


@pytest.mark.slow
def test_a_new_operator_is_played_by_its_own_harness(tmp_path: Path) -> None:
    copy = copy_of_the_project(tmp_path / "opsim")
    operator = fresh("origyne", ROOT / "simulator/operators")
    second = fresh("bonus", ROOT / "simulator/operators" / operator)

    made = opsim(copy, "new", "operator", operator)

    assert made.returncode == 0, made.stderr
    assert f"write simulator/operators/{operator}/profile.toml" in made.stdout
    assert f"write features/{operator}/conftest.py" in made.stdout
    assert opsim(copy, "new", "capability", operator, second).returncode == 0  # a second capability beside it
    checks_pass(copy)
    # The shipped run (features/) leaves the operator's folder to its own harness.
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "features"], cwd=copy,
                               env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True, text=True,
                               timeout=120)
    assert collected.returncode == 0 and operator not in collected.stdout, collected.stdout[-2000:]

    results = played(copy, "--features", str(copy / "features" / operator))

    assert sorted((s["outcome"], s["feature"].split(",")[0]) for s in results["scenarios"]) == sorted([
        ("passed", second.capitalize()), ("passed", operator.capitalize())])


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
