"""Checks on how the OC uses the web services (order help WS 3.0, SAV WS 2.1), read from the sandbox's
journal: every SOAP request is a line (channel `soap`, flow `<service>:<operation>`, its outcome, and
`identifiantRequete=...` in the detail when the request carried one). docs/checks.md describes each id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from conformance.results import Evidence, Finding

CLAUSE = "Web services (seed 002)"

#: id -> (clause, title)
WS_CHECKS: dict[str, tuple[str, str]] = {
    "WS-RATE": (f"{CLAUSE}: at most 2 requests per second per OC", "never above the flow control"),
    "WS-BACKOFF": (f"{CLAUSE}: flow control", "backs off for a second after a flow-control fault"),
    "WS-REQUEST-ID": (f"{CLAUSE}: request header", "a fresh identifiantRequete in every request"),
    "WS-HEADER": (f"{CLAUSE}: request header and envelope", "a well-formed envelope, SOAPAction and header"),
    "WS-TICKET-LINE": ("SAV WS 2.1 (seed 002): tickets only on lines with a CR MES",
                       "opens tickets only on its lines in service"),
}
#: Outcomes the guard journals for a request refused before the service (transports/soap.py).
MALFORMED = ("fault malformed", "fault unknown_oc")


def finding(check: str, message: str, lines: list[Mapping[str, Any]]) -> Finding:
    return Finding(check, WS_CHECKS[check][0], message,
                   [Evidence("journal", f"{j['at_virtual']} {j['flow']}", f"{j['outcome']}: {j['detail']}")
                    for j in lines[:5]])


def check_ws(journal: list[Mapping[str, Any]]) -> list[Finding]:
    """Every web-service check on the journal lines of one OC (oldest first)."""
    lines = [j for j in journal if j.get("channel") == "soap" and j.get("direction") == "in"]
    findings: list[Finding] = []
    excess = [j for j in lines if j["outcome"] == "flow control"]
    if excess:
        findings.append(finding("WS-RATE", f"{len(excess)} requests above the flow control", excess))
    by_service: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for j in lines:
        if j["outcome"] != "flow control":  # the guard's own note; the request is the "fault ..." line
            by_service[j["flow"].split(":", 1)[0]].append(j)
    hasty = []
    for service_lines in by_service.values():
        ordered = sorted(service_lines, key=lambda j: j["at_real"])
        hasty += [after for before, after in zip(ordered, ordered[1:], strict=False)
                  if before["outcome"] == "fault flow_control" and after["at_real"] - before["at_real"] < 1.0]
    if hasty:
        findings.append(finding("WS-BACKOFF", f"{len(hasty)} requests less than a second after a "
                                              "flow-control fault", hasty))
    ids: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for j in lines:
        detail = str(j.get("detail", ""))
        if detail.startswith("identifiantRequete=") and j["outcome"] in ("answered", "fault"):
            ids[detail.split("=", 1)[1]].append(j)
    reused = [js for request_id, js in ids.items() if len(js) > 1 or not request_id]
    if reused:
        findings.append(finding("WS-REQUEST-ID", f"{len(reused)} identifiantRequete used more than once (or empty)",
                                [j for js in reused for j in js]))
    malformed = [j for j in lines if j["outcome"] in MALFORMED]
    if malformed:
        findings.append(finding("WS-HEADER", f"{len(malformed)} requests refused before the service: "
                                             f"{malformed[0]['detail'][:200]}", malformed))
    refused = [j for j in lines if j["flow"].endswith(":createTroubleTicketByValue") and j["outcome"] == "fault"]
    if refused:
        findings.append(finding("WS-TICKET-LINE", f"{len(refused)} tickets refused by the operator (a line not "
                                                  "in service, or a wrong value)", refused))
    return findings


def ws_checks_hook(record: Any) -> list[Finding]:
    """End-of-scenario hook of the conformance plugin: the web-service checks on the scenario's tenant."""
    if record.admin is None:
        return []
    return check_ws(record.admin.get_all("/journal", tenant=record.tenant, settled="true"))
