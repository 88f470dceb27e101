"""The examiner examined: the harness fails each deliberately defective OC (tests/defective_ocs.py) with the
check id of its defect, and passes the reference OC with no finding at all.

Each case is a real `opsim conformance run` (its own sandbox, real FTP and HTTP) in a subprocess, on the
scenarios that bring its defect out (`--only`); xdist spreads the cases over the workers.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from .defective_ocs import DEFECTS, JUNIT_DEFECTS, Defect
from .helpers import scenario_count

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ROOT / "features"


def conformance_run(tmp_path: Path, adapter: str, only: str | None = None) -> tuple[int, dict[str, Any], str]:
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "conformance", "run", "--adapter", adapter,
                           "--report-dir", str(report), "--seed", "11", *(["--only", only] if only else [])],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert (report / "results.json").is_file(), done.stdout[-3000:] + done.stderr[-2000:]
    return done.returncode, json.loads((report / "results.json").read_text(encoding="utf-8")), done.stdout


def ids_of(scenario: dict[str, Any]) -> set[str]:
    """The check ids a scenario was failed with: its findings', and the [ID] of its failing step's error."""
    return {f["check"] for f in scenario["findings"]} | set(
        re.findall(r"\[((?:ACCES|WS|PM|CONTRACT)-[A-Z-]+)\]", scenario["error"]))


def unrecorded_ids(scenario: dict[str, Any]) -> set[str]:
    """The check ids its error names that no finding carries: they would print as `[no check id]` and make a
    junit <failure type="error">."""
    named = set(re.findall(r"\[((?:ACCES|WS|PM|CONTRACT)-[A-Z0-9-]+)\]", scenario["error"]))
    return named - {f["check"] for f in scenario["findings"]}


def junit_failure_types(report: Path) -> list[str]:
    return [f.get("type", "") for f in ET.parse(report / "junit.xml").getroot().iter("failure")]


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.oc.__name__ for d in DEFECTS])
def test_a_defective_oc_fails_with_the_check_id_of_its_defect(tmp_path: Path, defect: Defect):
    status, results, output = conformance_run(tmp_path, f"python:tests.defective_ocs:{defect.oc.__name__}",
                                              defect.scenarios)
    scenarios = results["scenarios"]
    assert scenarios, output[-3000:]
    failed = {s["scenario"]: ids_of(s) for s in scenarios if s["outcome"] == "failed"}
    assert any(defect.check in ids for ids in failed.values()), (
        f"{defect.oc.__name__} should fail with {defect.check}; the run: "
        + json.dumps([{k: s[k] for k in ("scenario", "outcome", "step", "error")}
                      | {"findings": [f["check"] for f in s["findings"]]} for s in scenarios], indent=1))
    spurious = {name: ids - {defect.check, *defect.also} for name, ids in failed.items()}
    assert not any(spurious.values()), f"{defect.oc.__name__}: findings its defect does not explain: {spurious}"
    # Wherever the check was judged (a step or the scenario's end), its id is a finding, never `[no check id]`.
    assert {s["scenario"]: unrecorded_ids(s) for s in scenarios if unrecorded_ids(s)} == {}
    assert "no check id" not in output, output[-3000:]
    if defect.oc.__name__ in JUNIT_DEFECTS:  # junit.xml: a <failure> (not an error) whose type names the id
        types = junit_failure_types(tmp_path / "report")
        assert any(defect.check in t.split() for t in types), types
    assert status == 1, output[-3000:]


@pytest.mark.timeout(600)  # every Accès scenario in one run: more than the suite's 120 s on a loaded machine
def test_the_reference_oc_passes_every_scenario_with_no_finding(tmp_path: Path):
    status, results, output = conformance_run(tmp_path, "reference", "access")
    scenarios = results["scenarios"]
    expected = scenario_count(FEATURES / "access")  # every Accès scenario, each driving the OC
    assert expected >= 29 and len(scenarios) == expected, [s["scenario"] for s in scenarios]
    totals = set(re.findall(r"^\[\s*\d+/(\d+)\]", output, flags=re.M))
    assert totals == {str(expected)}, output[-2000:]
    assert any(s["feature"].startswith("A refused order") for s in scenarios)
    assert [(s["scenario"], s["outcome"], s["error"], s["findings"]) for s in scenarios
            if s["outcome"] != "passed" or s["findings"]] == []
    assert status == 0, output[-3000:]


@pytest.mark.timeout(600)
def test_the_reference_oc_passes_every_pm_scenario_with_no_finding(tmp_path: Path):
    status, results, output = conformance_run(tmp_path, "reference", "pm")
    scenarios = results["scenarios"]
    expected = scenario_count(FEATURES / "pm")  # every PM scenario, over FTP and over mail
    assert expected >= 17 and len(scenarios) == expected, [s["scenario"] for s in scenarios]
    assert {"ftp", "mail"} <= {word for s in scenarios for word in s["scenario"].split()}
    assert [(s["scenario"], s["outcome"], s["error"], s["findings"]) for s in scenarios
            if s["outcome"] != "passed" or s["findings"]] == []
    assert status == 0, output[-3000:]


def test_the_shell_oc_passes_the_refused_order_with_no_finding(tmp_path: Path):
    """The reject scenario asks nothing a correct OC in another language lacks (conformance/examples/shell_oc.sh)."""
    shell = ROOT / "conformance" / "examples" / "shell_oc.sh"
    status, results, output = conformance_run(tmp_path, f"command:{shell}", "address_the_operator_does_not_know")
    assert [(s["scenario"], s["outcome"], s["findings"]) for s in results["scenarios"]] == [
        ("an order at an address the operator does not know is rejected FADR01, then ordered again under a new "
         "reference", "passed", [])], output[-3000:]
    assert status == 0, output[-3000:]
