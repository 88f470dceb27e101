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

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from .results import FAILED, NOT_RUN, PASSED, Evidence, RunResult, ScenarioResult

#: The matrix rows, in the order of an order's life (Protocole Accès 1.2); flows the results name that are
#: not here are added after them, in the order they first appear.
FLOWS = ("Cmd_Acces", "AR_Cmd_Acces", "CR_Cmd_Acces", "Cmd_STOC", "CR_STOC", "CR_MAD_Ligne", "CR_MES_Ligne",
         "Annul_Acces", "CR_Annulation_Acces", "Notif_Reprov", "Notif_Racc_Ko")

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
def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def anchor(check: str) -> str:
    """The fragment of a check id's heading in docs/checks.md, as GitHub makes it: lower case, punctuation
    but `-` and `_` dropped, spaces as `-` (`### ACCES-NAME-DATE` is `#acces-name-date`)."""
    return re.sub(r"[^\w\- ]", "", check.strip().lower()).replace(" ", "-")


def flows_of(result: RunResult) -> list[str]:
    named = [f for s in result.scenarios for f in _rows(s.flows, result)]
    return [*FLOWS, *dict.fromkeys(f for f in named if f not in FLOWS)]


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

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232a; margin: 0;
       background: #f6f7f9; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin-top: 36px; border-bottom: 2px solid #d8dde3;
     padding-bottom: 4px; } h3 { font-size: 16px; margin-bottom: 6px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; font-family: ui-monospace, Menlo, Consolas, monospace; }
.verdict { font-size: 18px; font-weight: 700; padding: 10px 14px; border-radius: 6px; margin: 12px 0; }
.verdict.ok { background: #d9f2df; color: #0b4f1e; } .verdict.ko { background: #fbdcdc; color: #7a0f0f; }
.verdict.warn { background: #fdf0cf; color: #6b4a00; }
.counts span { display: inline-block; margin-right: 12px; padding: 3px 10px; border-radius: 12px; font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #c9d0d8; padding: 4px 8px; text-align: left; vertical-align: top; }
table.matrix td { text-align: center; min-width: 56px; white-space: nowrap; font-weight: 600; }
table.matrix th[scope=col] { text-align: center; }
.scroll { overflow-x: auto; max-width: 100%; }
table.matrix th[scope=row] { position: sticky; left: 0; z-index: 1; background: #fff; white-space: nowrap;
                             box-shadow: 2px 0 0 #c9d0d8; }
table.matrix thead th:first-child { position: sticky; left: 0; z-index: 2; background: #fff; }
.summary ul { margin: 4px 0 8px; }
.pass { background: #1e7b34; color: #fff; } .fail { background: #b3261e; color: #fff; }
.notrun { background: #e3e6ea; color: #3b434c; } .none { background: #fff; color: #9aa3ad; font-weight: 400; }
.legend span { display: inline-block; padding: 2px 10px; margin-right: 8px; border-radius: 4px; }
.finding { border-left: 4px solid #b3261e; padding: 4px 12px; margin: 10px 0; background: #fdf4f4; }
.check { font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 700; }
pre { background: #f1f3f5; border: 1px solid #d8dde3; padding: 8px; overflow: auto; max-height: 420px;
      white-space: pre-wrap; word-break: break-all; font-size: 13px; }
figure { margin: 8px 0; } figcaption { font-size: 13px; color: #47515c; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; }
"""


def render_html(result: RunResult, checks_doc: str = CHECKS_DOC) -> str:
    counts = result.counts()
    scenarios = sorted(result.scenarios, key=lambda s: s.number) if all(s.number for s in result.scenarios) \
        else result.scenarios
    number = numbers(result)
    rows = {id(s): set(_rows(s.flows, result)) for s in scenarios}
    out: list[str] = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>OC conformance report: {_h(result.adapter)}</title>", f"<style>{_CSS}</style>", "</head>",
        "<body><main>", "<h1>OC conformance report</h1>",
        '<dl class="meta">',
        f"<dt>Adapter</dt><dd>{_h(result.adapter)}</dd>",
        f"<dt>Target</dt><dd>{_h(result.target)}</dd>",
        f"<dt>Seed</dt><dd>{_h(result.seed)}</dd>",
        f"<dt>Date</dt><dd>{_h(result.started)}</dd>",
        f"<dt>Scenarios</dt><dd>{len(scenarios)}</dd>", "</dl>"]
    if not scenarios:
        out.append('<p class="verdict ko">No scenario ran.</p>')
    elif counts[FAILED]:
        out.append(f'<p class="verdict ko">Not conformant: {counts[FAILED]} scenario(s) failed.</p>')
    else:
        extra = f" ({counts[NOT_RUN]} not run)" if counts[NOT_RUN] else ""
        out.append(f'<p class="verdict ok">Every scenario that ran passed{extra}.</p>')
    if result.interrupted:
        unreached = max(0, result.total - len(scenarios))
        out.append('<p class="verdict warn">The run was interrupted: this report holds the scenarios that ran'
                   + (f"; {unreached} more were selected and not reached" if unreached else "") + ".</p>")
    out.append('<p class="counts">' + "".join(
        f'<span class="{_MARK[o][0]}">{_h(o)}: {counts[o]}</span>' for o in (PASSED, FAILED, NOT_RUN)) + "</p>")
    out += _summary_html(scenarios, number, checks_doc)

    # The matrix: one row per flow, one column per scenario.
    out += ["<h2>Flows × scenarios</h2>",
            '<p class="legend" id="legend">Legend: '
            '<span class="pass">✓ pass</span><span class="fail">✗ FAIL</span>'
            '<span class="notrun">– not run</span><span class="none">· not exercised</span> '
            "A cell is the outcome of the scenario (column) that exercises the flow (row); "
            "the scenarios are listed under the table.</p>",
            '<div class="scroll"><table class="matrix" aria-describedby="legend">',
            "<caption>Outcome of each scenario, per protocol flow it exercises</caption>",
            '<thead><tr><th scope="col">Flow</th>']
    for s in scenarios:
        out.append(f'<th scope="col"><a href="#s{number[id(s)]}" title="{_h(s.feature)}: {_h(s.scenario)}">'
                   f"{number[id(s)]}</a></th>")
    out.append("</tr></thead><tbody>")
    for flow in flows_of(result):
        out.append(f'<tr><th scope="row"><code>{_h(flow)}</code></th>')
        for s in scenarios:
            if flow in rows[id(s)]:
                css, text = _MARK.get(s.outcome, ("notrun", s.outcome))
                out.append(f'<td class="{css}">{_h(text)}</td>')
            else:
                out.append('<td class="none" title="not exercised">·</td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")

    out += ["<h2>Scenarios</h2>", "<table><thead><tr>"
            '<th scope="col">#</th><th scope="col">Feature</th><th scope="col">Scenario</th>'
            '<th scope="col">Outcome</th><th scope="col">Checks failed</th></tr></thead><tbody>']
    for s in scenarios:
        css, text = _MARK.get(s.outcome, ("notrun", s.outcome))
        checks = ", ".join(_check_link(f.check, checks_doc) for f in s.findings)
        out.append(f'<tr id="s{number[id(s)]}"><td>{number[id(s)]}</td><td>{_h(s.feature)}</td>'
                   f'<td>{_h(s.scenario)}</td><td class="{css}">{_h(text)}</td><td>{checks}</td></tr>')
    out.append("</tbody></table>")

    failed = [s for s in scenarios if s.outcome == FAILED]
    if failed:
        out.append("<h2>Failures</h2>")
        for s in failed:
            out.append(_failure_html(s, number[id(s)], checks_doc))
    not_run = [s for s in scenarios if s.outcome == NOT_RUN]
    if not_run:
        out += ["<h2>Not run</h2>", "<ul>"]
        for s in not_run:
            why = " ".join(filter(None, (s.step, s.error))) or "no reason given"
            out.append(f"<li><a href=\"#s{number[id(s)]}\">{number[id(s)]}</a> {_h(s.feature)}: "
                       f"<strong>{_h(s.scenario)}</strong>: {_h(why)}</li>")
        out.append("</ul>")
    out += [f"<p><small>Check ids are documented in <code>{_h(checks_doc)}</code>. "
            "Rendered by opsim from results.json.</small></p>", "</main></body></html>", ""]
    return "\n".join(out)


def _summary_html(scenarios: list[ScenarioResult], number: dict[int, int], checks_doc: str) -> list[str]:
    """What a certification manager reads first: failures by check id, and what did not run by its reason (the
    verb the adapter lacks), each with the scenarios' numbers."""
    failing: dict[str, list[int]] = {}
    for s in scenarios:
        if s.outcome == FAILED:
            for check in dict.fromkeys(f.check for f in s.findings) or ("(no check id: an error)",):
                failing.setdefault(check, []).append(number[id(s)])
    missing: dict[str, list[int]] = {}
    for s in scenarios:
        if s.outcome == NOT_RUN:
            missing.setdefault(s.error or s.step or "no reason given", []).append(number[id(s)])
    if not failing and not missing:
        return []
    out = ['<section class="summary"><h2>Summary</h2>']
    if failing:
        out += ["<h3>Failed, by check</h3>", "<ul>"]
        for check, which in sorted(failing.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            label = _check_link(check, checks_doc) if not check.startswith("(") else _h(check)
            out.append(f"<li>{label}: {len(which)} scenario(s): {_scenario_links(which)}</li>")
        out.append("</ul>")
    if missing:
        out += ["<h3>Not run, by reason</h3>", "<ul>"]
        for why, which in sorted(missing.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            out.append(f"<li>{_h(why)}: {len(which)} scenario(s): {_scenario_links(which)}</li>")
        out.append("</ul>")
    out.append("</section>")
    return out


def _scenario_links(which: list[int]) -> str:
    return ", ".join(f'<a href="#s{n}">{n}</a>' for n in sorted(which))


def _check_link(check: str, checks_doc: str) -> str:
    return f'<a class="check" href="{_h(checks_doc)}#{_h(anchor(check))}">{_h(check)}</a>'


def _failure_html(s: ScenarioResult, n: int, checks_doc: str) -> str:
    out = [f'<section id="f{n}">', f'<h3><a href="#s{n}">{n}</a>. {_h(s.feature)}: {_h(s.scenario)}</h3>',
           f"<p><strong>First failing step:</strong> {_h(s.step or '(none recorded)')}</p>"]
    if s.error:
        out.append(f"<p><strong>Error:</strong></p><pre>{_h(s.error)}</pre>")
    for f in s.findings:
        out += ['<div class="finding">',
                f"<p>{_check_link(f.check, checks_doc)}: {_h(f.message)}</p>",
                f"<p><strong>Clause:</strong> {_h(f.clause)}</p>", *_evidence_html(f.evidence), "</div>"]
    if s.exchanges:
        out += [f"<details><summary>What the harness asked the OC ({len(s.exchanges)} calls)</summary><ol>",
                *(f"<li><code>{_h(e.name)}</code> {_h(e.content)}</li>" for e in s.exchanges), "</ol></details>"]
    out.append("</section>")
    return "\n".join(out)


def _evidence_html(evidence: Iterable[Evidence]) -> list[str]:
    return [f"<figure><figcaption>{_h(e.kind)}: <code>{_h(e.name)}</code></figcaption>"
            f"<pre>{_h(e.content) if e.content else '(empty)'}</pre></figure>" for e in evidence]
