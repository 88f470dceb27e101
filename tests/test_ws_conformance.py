"""The web-service scenarios of the examiner (features/eligibility, features/sav) pass our reference OC with no
finding, and the checks on the SOAP journal find what they must (simulator/operators/covage/harness/ws_checks.py)."""

from __future__ import annotations

from pathlib import Path

from simulator.operators.covage.harness.ws_checks import WS_CHECKS, check_ws
from tests.test_examiner_self_test import conformance_run


def line(flow: str, outcome: str, detail: str = "", at_real: float = 0.0) -> dict:
    return {"channel": "soap", "direction": "in", "flow": flow, "outcome": outcome, "detail": detail,
            "at_real": at_real, "at_virtual": "2026-11-24T10:00:00"}


def test_the_reference_oc_passes_the_web_service_scenarios_with_no_finding(tmp_path: Path):
    status, results, output = conformance_run(tmp_path, "reference", "eligibility or sav")
    scenarios = results["scenarios"]
    assert len(scenarios) == 6, [s["scenario"] for s in scenarios]
    assert [(s["scenario"], s["outcome"], s["findings"]) for s in scenarios if s["outcome"] != "passed"
            or s["findings"]] == []
    assert status == 0, output[-3000:]


def test_each_web_service_check_fires_on_its_evidence():
    service = "order-help-3.0:obtentionStructureAdresseOperation"
    assert check_ws([line(service, "answered", "identifiantRequete=a", 0.0),
                     line(service, "answered", "identifiantRequete=b", 0.6)]) == []
    burst = [line(service, "answered", "identifiantRequete=a", 0.0),
             line(service, "flow control", "more than 2 requests per second", 0.1),
             line(service, "fault flow_control", "more than 2", 0.1),
             line(service, "answered", "identifiantRequete=b", 0.3)]
    assert {f.check for f in check_ws(burst)} == {"WS-RATE", "WS-BACKOFF"}
    patient = [*burst[:3], line(service, "answered", "identifiantRequete=b", 1.2)]
    assert {f.check for f in check_ws(patient)} == {"WS-RATE"}
    assert {f.check for f in check_ws([line(service, "answered", "identifiantRequete=a", 0.0),
                                       line(service, "fault", "identifiantRequete=a", 1.0)])} == {"WS-REQUEST-ID"}
    assert {f.check for f in check_ws([line(service, "fault malformed", "SOAPAction ...")])} == {"WS-HEADER"}
    assert {f.check for f in check_ws([line("sav-2.1:createTroubleTicketByValue", "fault", "identifiantRequete=")
                                       ])} == {"WS-TICKET-LINE", "WS-REQUEST-ID"}
    assert all(clause and title for clause, title in WS_CHECKS.values())
