"""`opsim conformance run --fuzz N`: operator variations drawn by Hypothesis (features/fuzz/). The reference OC
takes them all; OCs with a realistic weakness are failed, each shrunk to the minimal variation that shows it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from simulator.operators.covage.harness.client import ReceivedFile
from simulator.operators.covage.harness.fuzz import next_public_holiday
from simulator.operators.covage.harness.reference import ReferenceOc

from .defective_ocs import IgnoresNotifReprov

ROOT = Path(__file__).resolve().parent.parent
#: A fuzz run plays up to 25 variations and shrinks the failure: longer than the suite's 120 s per test.
FUZZ_TIMEOUT = pytest.mark.timeout(900)


class StoresCommentsIn255Chars(ReferenceOc):
    """Keeps the operator's comments in a VARCHAR(255): a longer one makes its poller fail."""

    def _handle(self, file: ReceivedFile, line: dict[str, str]) -> None:
        if len(line.get("Commentaire", "")) > 255:
            raise ValueError(f"value too long for type character varying(255): {file.name}")
        super()._handle(file, line)


class NeedsLocalisationPm(ReferenceOc):
    """Takes the CR's LocalisationPm for granted (it files the order under it)."""

    def _handle(self, file: ReceivedFile, line: dict[str, str]) -> None:
        if file.flow_name == "CR_Cmd_Acces" and not line.get("LocalisationPm"):
            raise KeyError(f"LocalisationPm missing in {file.name}")
        super()._handle(file, line)


def fuzz_run(tmp_path: Path, adapter: str, examples: int) -> tuple[int, dict[str, Any], str]:
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "conformance", "run", "--adapter", adapter,
                           "--only", "fuzz", "--fuzz", str(examples), "--seed", "3", "--report-dir", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert (report / "results.json").is_file(), done.stdout[-3000:] + done.stderr[-2000:]
    return done.returncode, json.loads((report / "results.json").read_text(encoding="utf-8")), done.stdout


@FUZZ_TIMEOUT
def test_the_reference_oc_takes_every_variation(tmp_path: Path):
    status, results, output = fuzz_run(tmp_path, "reference", 6)
    assert status == 0, output[-3000:]
    [scenario] = results["scenarios"]
    assert results["fuzz"] == 6 and scenario["outcome"] == "passed" and scenario["findings"] == []
    assert "--fuzz 6" in output  # the replay line


def minimal_variation(adapter: type, tmp_path: Path) -> dict[str, str]:
    status, results, output = fuzz_run(tmp_path, f"python:{adapter.__module__}:{adapter.__name__}", 25)
    assert status == 1, output[-3000:]
    [scenario] = results["scenarios"]
    assert scenario["outcome"] == "failed" and scenario["step"].startswith("minimal failing variation: "), scenario
    assert "--seed 3 --fuzz 25" in scenario["error"]
    return dict(pair.split("=") for pair in scenario["step"].removeprefix("minimal failing variation: ").split(", "))


@FUZZ_TIMEOUT
def test_a_long_comment_is_shrunk_to_free_text_at_its_maximum(tmp_path: Path):
    plan = minimal_variation(StoresCommentsIn255Chars, tmp_path)
    # Shrunk: only what shows the weakness is left away from its simplest value.
    assert plan == {"mode": "STOC", "orders": "1", "on_holiday": "False", "free_text": "max",
                    "informational": "as_is", "reprov_after_cr": "False"}


@FUZZ_TIMEOUT
def test_an_empty_localisation_is_shrunk_to_informational_columns_empty(tmp_path: Path):
    plan = minimal_variation(NeedsLocalisationPm, tmp_path)
    assert plan["informational"] == "empty" and plan["free_text"] == "as_is" and plan["orders"] == "1"


@FUZZ_TIMEOUT
def test_an_ignored_notif_reprov_is_shrunk_to_a_reprovisioning_after_the_cr(tmp_path: Path):
    plan = minimal_variation(IgnoresNotifReprov, tmp_path)
    assert plan["reprov_after_cr"] == "True" and plan["orders"] == "1" and plan["free_text"] == "as_is"


def test_next_public_holiday():
    assert next_public_holiday(date(2026, 12, 24)) == date(2026, 12, 25)
    assert next_public_holiday(date(2026, 12, 31)) == date(2027, 1, 1)
    assert next_public_holiday(date(2026, 11, 24)) - date(2026, 11, 24) == timedelta(days=31)
