"""The conformance harness end to end: pytest runs features/ in a subprocess with conformance.plugin.

Real `opsim up` processes, real FTP and HTTP. The reference OC passes every Accès scenario, an OC lacking
a verb gets "not run" (never "failed"), a wrong OC fails with the check id, and `--target` gives the same
outcomes as the harness's own sandbox.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters import Context, VerbNotImplemented
from simulator.operators.covage.harness.reference import ReferenceOc

from .helpers import OpsimProcess, scenario_count

ROOT = Path(__file__).resolve().parent.parent
ACCESS = "features/access"
REFERENCE = "python:simulator.operators.covage.harness.reference:ReferenceOc"


class WithoutStoc:
    """An OC that has no subcontracted technicians: every verb of the reference OC but complete_stoc."""

    def __init__(self, context: Context):
        self.oc = ReferenceOc(context)

    @property
    def context(self) -> Context:
        return self.oc.context

    @context.setter
    def context(self, context: Context) -> None:  # the harness sets each call's context: pass it on
        self.oc.context = context

    def close(self) -> None:
        self.oc.close()

    def order_access(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.oc.order_access(args)

    def cancel_access(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.oc.cancel_access(args)

    def report_in_service(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.oc.report_in_service(args)

    def sync(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.oc.sync(args)

    def order_status(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.oc.order_status(args)


class WithoutCancel(ReferenceOc):
    def cancel_access(self, args: dict[str, Any]) -> dict[str, Any]:
        raise VerbNotImplemented("cancel_access")


class NeverReads(ReferenceOc):
    """A broken OC: its poller never runs, so it neither reads nor deletes what the OI sends."""

    def sync(self, args: dict[str, Any]) -> dict[str, Any]:
        return {}


def run_harness(tmp_path: Path, *options: str) -> dict[str, Any]:
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "conformance.plugin", "-p", "no:randomly",
                           "-q", ACCESS, "--report-dir", str(report), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert (report / "results.json").exists(), done.stdout[-3000:] + done.stderr[-2000:]
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    results["exit"], results["output"] = done.returncode, done.stdout
    return results


def outcomes(results: dict[str, Any]) -> dict[str, str]:
    return {s["scenario"]: s["outcome"] for s in results["scenarios"]}


@pytest.mark.timeout(330)  # a whole harness run over the Accès scenarios (its subprocess has 300 s)
def test_the_reference_oc_passes_every_access_scenario(tmp_path: Path):
    results = run_harness(tmp_path, "--adapter", REFERENCE, "--seed", "7")
    assert results["exit"] == 0, results["output"][-3000:]
    assert results["adapter"] == REFERENCE and results["seed"] == 7
    assert len(results["scenarios"]) == scenario_count(ROOT / ACCESS)
    assert set(outcomes(results).values()) == {"passed"}, outcomes(results)
    stoc = next(s for s in results["scenarios"] if s["scenario"].startswith("STOC mode"))
    # The flows come from the sandbox's journal: both directions, in the order they were exchanged.
    assert stoc["flows"] == ["Cmd_Acces", "AR_Cmd_Acces", "CR_Cmd_Acces", "Cmd_STOC", "CR_STOC", "CR_MAD_Ligne",
                             "CR_MES_Ligne"], stoc["flows"]
    assert stoc["feature"].startswith("Life of an access order") and stoc["findings"] == []


@pytest.mark.timeout(330)
def test_an_adapter_lacking_a_verb_makes_its_scenarios_not_run(tmp_path: Path):
    results = run_harness(tmp_path, "--adapter", "python:tests.test_reference_adapter:WithoutStoc")
    by_name = {s["scenario"]: s for s in results["scenarios"]}
    stoc = by_name["STOC mode: AR at once, CR after one working day, Cmd_STOC, CR_STOC, CR MAD, CR MES"]
    assert stoc["outcome"] == "not run", stoc
    assert stoc["step"] == "When its technician completes the connection"
    assert "complete_stoc" in stoc["error"]
    assert by_name["OI mode: no Cmd_STOC, the CR MAD comes 5 working days after the CR"]["outcome"] == "passed"
    assert "failed" not in outcomes(results).values(), outcomes(results)
    assert results["exit"] == 0, results["output"][-3000:]  # skipped is not a failure of the run


@pytest.mark.timeout(330)
def test_a_verb_raising_verb_not_implemented_is_not_run_too(tmp_path: Path):
    results = run_harness(tmp_path, "--adapter", "python:tests.test_reference_adapter:WithoutCancel")
    cancellation = [s for s in results["scenarios"] if s["feature"].startswith("Cancelling")]
    assert [s["outcome"] for s in cancellation] == ["not run"] * 3, cancellation
    assert all("cancel_access" in s["error"] for s in cancellation)


@pytest.mark.timeout(330)
def test_an_oc_that_leaves_out_unread_fails_with_the_check_id(tmp_path: Path):
    results = run_harness(tmp_path, "--adapter", "python:tests.test_reference_adapter:NeverReads",
                          "-k", "OI_mode_no_Cmd_STOC")
    [oi] = results["scenarios"]
    assert oi["outcome"] == "failed"
    assert oi["step"] == "And the OC synchronises"
    assert "[ACCES-OUT-CLEAN]" in oi["error"]
    assert results["exit"] == 1


@pytest.mark.timeout(600)  # two whole harness runs, one after the other: over the suite's 120 s under load
def test_target_gives_the_outcomes_of_the_harness_own_sandbox(tmp_path: Path):
    config = tmp_path / "opsim.toml"
    # A sandbox the user started, with its clock running: the harness freezes it and only moves it forward.
    config.write_text('[clock]\nstart = "2026-12-24T15:30:00"\n', encoding="utf-8")
    opsim = OpsimProcess(tmp_path / "data", config)
    opsim.start()
    try:
        on_target = run_harness(tmp_path / "target", "--target", opsim.api.root)
        clock = opsim.api.get("/clock")
    finally:
        opsim.stop()
    own = run_harness(tmp_path / "own")
    assert on_target["target"] == opsim.api.root
    assert outcomes(on_target) == outcomes(own)
    assert set(outcomes(own).values()) == {"passed"}
    assert clock["frozen"] and clock["now"] > "2027-01-"  # past the Christmas holidays, at a working day
