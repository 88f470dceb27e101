"""The reports of a conformance run, rendered from its `RunResult` (`results.json`).

`junit.xml`: for CI. One <testsuite> per feature, one <testcase> per scenario; a failure carries the check
ids, their clauses and messages, the first failing step, the error and the evidence (the files exchanged,
with their content); a scenario that did not run is <skipped message="why">. The adapter, the target and
the seed are <properties> of every suite.

`report.html`: for a certification manager. One self-contained page (inline CSS, no script, no external
asset): the header (adapter, target, seed, date, counts), the matrix of protocol flows x scenarios, each
failure in detail with its evidence, and the scenarios that did not run with why. Everything that comes
from the results (file contents come from the OC under test) is escaped: hostile text stays text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import jinja2

from .results import FAILED, NOT_RUN, PASSED, RunResult, ScenarioResult

#: Where the check ids are documented; a finding links to `<CHECKS_DOC>#<check id in lower case>`.
CHECKS_DOC = "docs/checks.md"

# Characters XML 1.0 cannot hold at all (even escaped): C0 controls but tab, CR, LF; U+FFFE/U+FFFF; surrogates.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def write_reports(result: RunResult, report_dir: Path, checks_doc: str = CHECKS_DOC) -> tuple[Path, Path]:
    """Write `junit.xml` and `report.html` into `report_dir`; return their paths."""
    report_dir.mkdir(parents=True, exist_ok=True)
    junit, page = report_dir / "junit.xml", report_dir / "report.html"
    junit.write_bytes(render_junit(result))
    page.write_text(render_html(result, checks_doc), encoding="utf-8", errors="replace")
    return junit, page


# ---------------------------------------------------------------------------------------------- junit.xml
def _x(text: object) -> str:
    """Text ElementTree can write and any XML parser can read back: what XML cannot hold becomes \\xNN."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m[0]):02x}", str(text))


def _features(result: RunResult) -> dict[str, list[ScenarioResult]]:
    features: dict[str, list[ScenarioResult]] = {}
    for s in result.scenarios:
        features.setdefault(s.feature, []).append(s)
    return features


def failure_text(s: ScenarioResult) -> str:
    """The whole story of a failed scenario, as plain text (the body of its junit <failure>)."""
    lines = [f"Scenario: {s.scenario}", f"First failing step: {s.step or '(none recorded)'}"]
    if s.error:
        lines.append(f"Error: {s.error}")
    for f in s.findings:
        lines += ["", f"[{f.check}] {f.message}", f"  clause: {f.clause}"]
        for e in f.evidence:
            lines += [f"  --- {e.kind}: {e.name}", *("    " + line for line in e.content.splitlines()),
                      "  --- end of " + e.name]
    if s.exchanges:
        lines += ["", "What the harness asked the OC:", *(f"  {e.name} {e.content}" for e in s.exchanges)]
    return "\n".join(lines) + "\n"


def failure_message(s: ScenarioResult) -> str:
    if s.findings:
        first = s.findings[0]
        more = f" (+{len(s.findings) - 1} more)" if len(s.findings) > 1 else ""
        return f"{first.check}: {first.message}{more}"
    return f"{s.step}: {s.error}" if s.error else s.step or "failed"


def render_junit(result: RunResult) -> bytes:
    counts = result.counts()
    root = ET.Element("testsuites", name="opsim conformance", tests=str(len(result.scenarios)),
                      failures=str(counts[FAILED]), errors="0", skipped=str(counts[NOT_RUN]),
                      time=f"{sum(s.duration for s in result.scenarios):.3f}")
    for feature, scenarios in _features(result).items():
        suite = ET.SubElement(root, "testsuite", name=_x(feature), tests=str(len(scenarios)),
                              failures=str(sum(s.outcome == FAILED for s in scenarios)), errors="0",
                              skipped=str(sum(s.outcome == NOT_RUN for s in scenarios)),
                              time=f"{sum(s.duration for s in scenarios):.3f}", timestamp=_x(result.started))
        props = ET.SubElement(suite, "properties")
        for name, value in (("adapter", result.adapter), ("target", result.target), ("seed", result.seed)):
            ET.SubElement(props, "property", name=name, value=_x(value))
        for s in scenarios:
            case = ET.SubElement(suite, "testcase", classname=_x(feature), name=_x(s.scenario),
                                 time=f"{s.duration:.3f}")
            if s.outcome == FAILED:
                failure = ET.SubElement(case, "failure", message=_x(failure_message(s)),
                                        type=_x(" ".join(f.check for f in s.findings) or "error"))
                failure.text = _x(failure_text(s))
            elif s.outcome == NOT_RUN:
                ET.SubElement(case, "skipped", message=_x(" ".join(filter(None, (s.step, s.error))) or "not run"))
            elif s.outcome != PASSED:
                ET.SubElement(case, "error", message=_x(f"unknown outcome {s.outcome!r}"))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# ---------------------------------------------------------------------------------------------- report.html
def anchor(check: str) -> str:
    """The fragment of a check id's heading in docs/checks.md, as GitHub makes it: lower case, punctuation
    but `-` and `_` dropped, spaces as `-` (`### XY-NAME-DATE` is `#xy-name-date`)."""
    return re.sub(r"[^\w\- ]", "", check.strip().lower()).replace(" ", "-")


def flows_of(result: RunResult) -> list[str]:
    """The matrix's rows: the protocol's flows in the order the operator's harness gives (`flow_order`), then the
    others the results name, in the order they first appear."""
    named = [f for s in result.scenarios for f in _rows(s.flows, result)]
    return [*result.flow_order, *dict.fromkeys(f for f in named if f not in result.flow_order)]


def _operations(result: RunResult) -> dict[str, str]:
    """A web service operation journaled both bare (`createTroubleTicketByValue`, by the capability) and
    qualified (`sav-2.1:createTroubleTicketByValue`, by the SOAP guard) is one row, the qualified one; an
    operation two services share (order help 3.0 and 2.0) stays qualified per service."""
    qualified: dict[str, set[str]] = {}
    for s in result.scenarios:
        for flow in s.flows:
            service, sep, operation = flow.rpartition(":")
            if sep and service:
                qualified.setdefault(operation, set()).add(flow)
    return {operation: next(iter(flows)) for operation, flows in qualified.items() if len(flows) == 1}


def _rows(flows: Iterable[str], result: RunResult) -> list[str]:
    operations = _operations(result)
    return list(dict.fromkeys(operations.get(f, f) for f in flows))


def numbers(result: RunResult) -> dict[int, int]:
    """Each scenario's number: the one the console printed (its place in the run), else its place here."""
    taken = [s.number for s in result.scenarios]
    if all(taken) and len(set(taken)) == len(taken):
        return {id(s): s.number for s in result.scenarios}
    return {id(s): i for i, s in enumerate(result.scenarios, 1)}


_MARK = {PASSED: ("pass", "✓ pass"), FAILED: ("fail", "✗ FAIL"), NOT_RUN: ("notrun", "– not run")}

#: The page's markup is a Jinja2 template (conformance/templates/report.html), autoescaped: text from the results
#: (file contents come from the OC under test) is always escaped; this module prepares what it shows.
_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("conformance", "templates"), autoescape=True,
                                trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def render_html(result: RunResult, checks_doc: str = CHECKS_DOC) -> str:
    scenarios = sorted(result.scenarios, key=lambda s: s.number) if all(s.number for s in result.scenarios) \
        else result.scenarios
    number = numbers(result)
    rows = {id(s): set(_rows(s.flows, result)) for s in scenarios}

    def mark(s: ScenarioResult) -> tuple[str, str]:
        return _MARK.get(s.outcome, ("notrun", s.outcome))

    matrix = [(flow, [mark(s) if flow in rows[id(s)] else None for s in scenarios]) for flow in flows_of(result)]
    failing, missing = _summary(scenarios, number)
    return _TEMPLATES.get_template("report.html").render(
        result=result, scenarios=scenarios, counts=result.counts(), mark=_MARK, outcome_mark=mark,
        number=lambda s: number[id(s)], matrix=matrix, failing=failing, missing=missing,
        unreached=max(0, result.total - len(scenarios)), checks_doc=checks_doc, anchor=anchor,
        PASSED=PASSED, FAILED=FAILED, NOT_RUN=NOT_RUN) + "\n"


def _summary(scenarios: list[ScenarioResult], number: dict[int, int]) -> tuple[list[tuple[str, list[int]]],
                                                                              list[tuple[str, list[int]]]]:
    """What a certification manager reads first: failures by check id, and what did not run by its reason (the
    verb the adapter lacks), each with the scenarios' numbers, the most frequent first."""
    failing: dict[str, list[int]] = {}
    for s in scenarios:
        if s.outcome == FAILED:
            for check in dict.fromkeys(f.check for f in s.findings) or ("(no check id: an error)",):
                failing.setdefault(check, []).append(number[id(s)])
    missing: dict[str, list[int]] = {}
    for s in scenarios:
        if s.outcome == NOT_RUN:
            missing.setdefault(s.error or s.step or "no reason given", []).append(number[id(s)])

    def by_count(found: dict[str, list[int]]) -> list[tuple[str, list[int]]]:
        return sorted(found.items(), key=lambda kv: (-len(kv[1]), kv[0]))

    return by_count(failing), by_count(missing)
