"""The package as a user installs it: the wheel holds every data file of the source tree (spec packs wherever
they sit, profiles, communes, features, the harness's examples), and `opsim up` starts from it alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.helpers import READY_WITHIN

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulator", "conformance", "features")
SKIPPED = {"__pycache__"}


def _source_data_files() -> set[str]:
    """Every file of the packages that is not Python source: what the wheel must carry as package data."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and path.suffix not in {".py", ".pyc"} and not SKIPPED & set(path.parts):
                found.add(path.relative_to(ROOT).as_posix())
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the tree (the build writes build/ and egg-info where it runs)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", ".opsim", ".pytest_cache", ".ruff_cache", ".mypy_cache", "__pycache__", "build",
        "*.egg-info", "reports", "opsim-report", ".hypothesis"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(work / "dist"), str(source)], check=True, timeout=300)
    [built] = (work / "dist").glob("opsim-*.whl")
    return built


def test_the_wheel_carries_every_data_file_of_the_source_tree(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    missing = sorted(_source_data_files() - shipped)
    assert not missing, f"not in the wheel (add their pattern to [tool.setuptools.package-data]): {missing}"
    assert "simulator/specs/acces-1.2/flows.yaml" in shipped and "simulator/operators/covage/profile.toml" in shipped


def test_opsim_up_starts_from_the_wheel_alone(wheel: Path, tmp_path: Path) -> None:
    """Installed into a folder of its own and run from elsewhere, with the source tree out of reach: every
    operator's profile and spec packs load from the package."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, timeout=300)
    # PYTHONPATH comes before the checkout's editable finder: `simulator` is the wheel's.
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONSAFEPATH": "1"}
    where = subprocess.run([sys.executable, "-c", "import simulator; print(simulator.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(target), where
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "up", "--data-dir", str(tmp_path / "data"),
                             "--ftp-port", "0", "--http-port", "0"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        seen = ""
        while "http://" not in seen:
            line = proc.stdout.readline()
            assert line, f"opsim up from the wheel ended before it was ready: {seen}"
            seen += line
        api = seen.split("http://", 1)[1].split()[0]
        with urllib.request.urlopen(f"http://{api}/operators", timeout=READY_WITHIN) as answer:
            operators = json.load(answer)
        for operator in operators:
            assert operator["capabilities"], operator
        assert any(c["name"] == "access" for o in operators for c in o["capabilities"])
    finally:
        proc.terminate()
        proc.wait(timeout=60)
