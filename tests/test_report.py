"""The reports of a conformance run: junit.xml read back with xml.etree, report.html escaped and rendered by a
real browser (Debian's headless Chromium), its screenshot decoded here and looked at."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from pathlib import Path

import markupsafe
import pytest

from conformance.report import anchor, render_html, render_junit, write_reports
from conformance.results import FAILED, NOT_RUN, PASSED, Evidence, Finding, RunResult, ScenarioResult
from simulator.operators.covage.harness import FLOW_ORDER as FLOWS

HOSTILE = ('<script>document.body.innerHTML="";document.title="pwned"</script>'
           '<img src=x onerror="document.body.style.display=\'none\'"> & "quotes" ]]> \x00\x1b[31m')
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASS_RGB, FAIL_RGB = (0x1E, 0x7B, 0x34), (0xB3, 0x26, 0x1E)  # the matrix cells' colours (report.py's CSS)


def a_run() -> RunResult:
    life = "Life of an access order"
    evidence = [
        Evidence("file in", "Cmd_Acces_DEMO_COVA_CV_20261124_1.csv", "ReferenceCommandePriseInterneOC;...\n"
                                                                       "CMD-0001;" + HOSTILE + "\n"),
        Evidence("file out", "AR_Cmd_Acces_COVA_CV_DEMO_20261124_1.csv", "EtatArCommandePrise\nKO\n"),
        Evidence("journal", "journal", ""),
    ]
    return RunResult(adapter="python:my_oc:Oc", target="http://127.0.0.1:8080", seed=4242, flow_order=list(FLOWS),
                     started="2026-11-25T15:00:00+00:00", scenarios=[
        ScenarioResult(life, "STOC mode: AR at once, CR after one working day",
                       ["Cmd_Acces", "AR_Cmd_Acces", "CR_Cmd_Acces", "Cmd_STOC", "CR_STOC"], PASSED,
                       duration=1.5),
        ScenarioResult(life, "OI mode: the CR MAD comes 5 working days after the CR <b>bold</b>",
                       ["Cmd_Acces", "AR_Cmd_Acces", "CR_MAD_Ligne"], FAILED,
                       step='Then an AR_Cmd_Acces file arrives for the order with',
                       error="AssertionError: no AR within 5 s", duration=5.25, findings=[
                           Finding("ACCES-NAME-DATE", "Accès 1.2 §file names (seed 002)",
                                   "the file name's date is not the virtual date", evidence),
                           Finding("ACCES-CSV-<X>", "Annexe 5f", "a second finding " + HOSTILE, []),
                       ]),
        ScenarioResult("Cancelling an access order (Annul_Acces)", "cancelling after the CR MAD is a RESIL",
                       ["Cmd_Acces", "Annul_Acces", "CR_Annulation_Acces", "Flow_Of_Tomorrow"], NOT_RUN,
                       step="the adapter has no cancel_access"),
    ])


# ---------------------------------------------------------------------------------------------- junit.xml
def test_junit_has_one_suite_per_feature_one_case_per_scenario():
    root = ET.fromstring(render_junit(a_run()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("3", "1", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["Life of an access order", "Cancelling an access order (Annul_Acces)"]
    assert [(s.get("tests"), s.get("failures"), s.get("skipped")) for s in suites] == [("2", "1", "0"),
                                                                                        ("1", "0", "1")]
    for suite in suites:
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props == {"adapter": "python:my_oc:Oc", "target": "http://127.0.0.1:8080", "seed": "4242"}
    passed, failed = suites[0].findall("testcase")
    assert passed.get("name").startswith("STOC mode") and list(passed) == []
    assert passed.get("time") == "1.500" and passed.get("classname") == "Life of an access order"
    assert failed.get("name").endswith("<b>bold</b>")  # text, read back as it was
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("type") == "ACCES-NAME-DATE ACCES-CSV-<X>"
    assert failure.get("message") == "ACCES-NAME-DATE: the file name's date is not the virtual date (+1 more)"
    body = failure.text or ""
    for expected in ("Then an AR_Cmd_Acces file arrives", "no AR within 5 s", "Accès 1.2 §file names (seed 002)",
                     "[ACCES-CSV-<X>] a second finding", "file in: Cmd_Acces_DEMO_COVA_CV_20261124_1.csv",
                     "file out: AR_Cmd_Acces_COVA_CV_DEMO_20261124_1.csv", "EtatArCommandePrise",
                     "<script>document.body", "]]>", "\\x00\\x1b[31m"):  # XML cannot hold NUL or ESC: \xNN
        assert expected in body, expected
    (skipped,) = suites[1].findall("testcase")
    assert skipped.find("skipped").get("message") == "the adapter has no cancel_access"
    assert skipped.find("failure") is None


def test_a_failure_without_a_finding_says_where_and_why():  # e.g. the OC's code crashed
    run = RunResult("command:./oc", "in-process", 1, "2026-11-25T00:00:00", [
        ScenarioResult("F", "S", ["Cmd_Acces"], FAILED, step="When the OC orders a new socket",
                       error="AdapterFailed: order_access: exit status 1")])
    failure = ET.fromstring(render_junit(run)).find("testsuite/testcase/failure")
    assert failure is not None and failure.get("type") == "error"
    assert failure.get("message") == "When the OC orders a new socket: AdapterFailed: order_access: exit status 1"
    page = render_html(run)
    assert "Not conformant: 1 scenario(s) failed." in page
    assert "When the OC orders a new socket" in page.split("<h2>Failures</h2>")[1]


def test_junit_of_an_empty_run_is_valid():
    root = ET.fromstring(render_junit(RunResult("reference", "in-process", 1, "2026-11-25T00:00:00")))
    assert root.get("tests") == "0" and root.findall("testsuite") == []


# ---------------------------------------------------------------------------------------------- report.html
def test_html_escapes_everything_from_the_results():
    page = render_html(a_run())
    assert "<script" not in page and "<img" not in page and "<b>bold" not in page
    assert str(markupsafe.escape(HOSTILE)) in page  # the OC's file content is shown, as text (Jinja2's escaping)
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert 'href="docs/checks.md#acces-name-date"' in page and ">ACCES-NAME-DATE</a>" in page
    assert 'href="docs/checks.md#acces-csv-x"' in page and ">ACCES-CSV-&lt;X&gt;</a>" in page
    assert "http://" not in page.replace("http://127.0.0.1:8080", "")  # self-contained: no external asset
    assert "src=" not in page.replace('src=x onerror', '') and "@import" not in page


def test_html_matrix_rows_are_the_flows_and_cells_the_outcomes():
    page = render_html(a_run())
    matrix = page.split('<table class="matrix"')[1].split("</table>")[0]
    rows = matrix.split("<tbody>")[1].split("</tr>")[:-1]
    names = [r.split("<code>")[1].split("</code>")[0] for r in rows]
    assert names == [*FLOWS, "Flow_Of_Tomorrow"]  # the harness's order first, then the others as met
    cells = {n: [c.split('"')[0] for c in r.split('<td class="')[1:]] for n, r in zip(names, rows, strict=True)}
    assert cells["Cmd_Acces"] == ["pass", "fail", "notrun"]
    assert cells["CR_MAD_Ligne"] == ["none", "fail", "none"]
    assert cells["Annul_Acces"] == ["none", "none", "notrun"]
    assert cells["Notif_Racc_Ko"] == ["none", "none", "none"]
    assert "Legend" in page and "not exercised" in page
    assert "the adapter has no cancel_access" in page.split("<h2>Not run</h2>")[1]
    for header in ("python:my_oc:Oc", "http://127.0.0.1:8080", "4242", "2026-11-25T15:00:00+00:00"):
        assert header in page.split("<h2>")[0]


def test_anchor_of_a_check_id():
    assert anchor("ACCES-NAME-DATE") == "acces-name-date"
    assert anchor("Acces.Csv <X>") == "accescsv-x"


# ---------------------------------------------------------------------------------------------- a real browser
def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert Path(CHROMIUM).exists(), "Debian's chromium package is needed: apt-get install chromium"
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,900", *args],
                          capture_output=True, text=True, timeout=90)


def read_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """(width, height, pixels as RGB tuples) of an 8-bit non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    pixels: list[tuple[int, ...]] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        pixels += [tuple(line[x:x + 3]) for x in range(0, stride, bpp)]
        previous = line
    return width, height, pixels


def test_report_renders_in_a_real_browser_and_the_oc_text_stays_text(tmp_path: Path):
    _, page = write_reports(a_run(), tmp_path / "report")
    shot = tmp_path / "report.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), done.stderr[-2000:]
    width, height, pixels = read_png(shot.read_bytes())
    assert (width, height) == (1280, 900)
    colours = Counter(pixels)
    assert len(colours) > 20, "a blank page"  # text is anti-aliased: many shades
    white = colours[(255, 255, 255)] / len(pixels)
    assert white < 0.95, f"{white:.0%} white"
    # The matrix cells are drawn: solid green (pass) and red (fail) areas, so the CSS applied and the hostile
    # text (which would empty or hide the body if it ran) did not.
    assert colours[PASS_RGB] > 500 and colours[FAIL_RGB] > 500, (colours[PASS_RGB], colours[FAIL_RGB])

    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<script" not in dom.stdout and "<img" not in dom.stdout and "pwned" not in dom.stdout.split("<body")[0]
    assert "&lt;script&gt;document.body.innerHTML" in dom.stdout
    assert "Flows × scenarios" in dom.stdout and "ACCES-NAME-DATE" in dom.stdout


def test_read_png_reads_what_it_is_given():  # the reader itself: a 2x2 RGB image with every filter kind
    rows = [(0, bytes([10, 20, 30, 40, 50, 60])), (2, bytes([1, 1, 1, 2, 2, 2]))]
    raw = b"".join(bytes([k]) + r for k, r in rows)
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    assert read_png(png) == (2, 2, [(10, 20, 30), (40, 50, 60), (11, 21, 31), (42, 52, 62)])
    with pytest.raises(AssertionError):
        read_png(b"GIF89a")


def test_a_failure_shows_what_the_harness_asked_the_oc_and_results_read_back(tmp_path: Path):
    calls = [Evidence("adapter", "order_access", '{"mode": "STOC"} -> {"ref": "<b>R1</b>"}'),
             Evidence("adapter", "order_status", '{"ref": "R1"} -> {"state": "confirmed"}')]
    failed = ScenarioResult("Life", "STOC", ["Cmd_Acces"], FAILED, step="Then the OC knows the order is acknowledged",
                            error="[ACCES-STATE] confirmed", exchanges=calls)
    run = RunResult("python:my:Oc", "opsim up", 7, "2026-11-25T10:00:00", [failed])
    page = render_html(run)
    assert "What the harness asked the OC (2 calls)" in page
    assert "&lt;b&gt;R1&lt;/b&gt;" in page and "<b>R1</b>" not in page  # the OC's answers stay text
    [case] = ET.fromstring(render_junit(run)).iter("testcase")
    body = case.find("failure").text
    assert "What the harness asked the OC:" in body and 'order_status {"ref": "R1"} -> {"state": "confirmed"}' in body
    run.save(tmp_path / "results.json")
    assert RunResult.load(tmp_path / "results.json").scenarios[0].exchanges == calls


def a_wide_run(count: int = 60) -> RunResult:
    """More scenarios than a screen is wide, numbered as the console printed them (not alphabetically)."""
    scenarios = [ScenarioResult(f"Feature {i % 3}", f"scenario {count - i:03d}", ["Cmd_Acces", "AR_Cmd_Acces"],
                                FAILED if i % 7 == 0 else PASSED, number=i + 1, duration=float(i),
                                findings=[Finding("ACCES-STATE" if i % 2 else "ACCES-ROUTE", "c", "m")]
                                if i % 7 == 0 else [])
                 for i in range(count)]
    scenarios[5] = ScenarioResult("Feature 5", "needs a verb", ["Cmd_Acces"], NOT_RUN, number=6,
                                  step="When the OC cancels", error="the adapter has no cancel_access")
    return RunResult("reference", "opsim up", 1, "2026-12-07T10:00:00", scenarios, total=count)


def test_the_report_numbers_scenarios_as_the_console_did_and_sums_up_failures_by_check():
    run = a_wide_run()
    run.scenarios.reverse()  # whatever order results.json holds them in
    page = render_html(run)
    columns = re.findall(r'<th scope="col"><a href="#s(\d+)"', page)
    assert columns == [str(n) for n in range(1, 61)]
    assert '<tr id="s42"><td>42</td><td>Feature 2</td><td>scenario 019</td>' in page
    summary = page.split('<section class="summary">', 1)[1].split("</section>", 1)[0]
    # 9 failures (i = 0, 7, ..., 56): by check id, each with its scenarios' numbers.
    assert re.search(r">ACCES-ROUTE</a>: 5 scenario\(s\): <a href=\"#s1\">1</a>, <a href=\"#s15\">15</a>", summary)
    assert re.search(r">ACCES-STATE</a>: 4 scenario\(s\): <a href=\"#s8\">8</a>", summary)
    assert "the adapter has no cancel_access: 1 scenario(s): <a href=\"#s6\">6</a>" in summary
    assert page.index('class="summary"') < page.index("Flows × scenarios")  # read first


def test_a_web_service_operation_is_one_row_whoever_journaled_it():
    sav = ScenarioResult("SAV", "a ticket", ["createTroubleTicketByValue", "sav-2.1:createTroubleTicketByValue",
                                             "sav-2.1:getTroubleTicketByKey"], PASSED, number=1)
    help_30 = ScenarioResult("Help", "3.0", ["order-help-3.0:obtentionStructureAdresseOperation"], PASSED, number=2)
    help_20 = ScenarioResult("Help", "2.0", ["order-help-2.0:obtentionStructureAdresseOperation"], PASSED, number=3)
    page = render_html(RunResult("reference", "opsim up", 1, "2026-12-07T10:00:00", [sav, help_30, help_20]))
    rows = re.findall(r'<tr><th scope="row"><code>([^<]+)</code>', page)
    assert "createTroubleTicketByValue" not in rows and rows.count("sav-2.1:createTroubleTicketByValue") == 1
    # An operation two services share stays one row per service.
    assert {"order-help-3.0:obtentionStructureAdresseOperation",
            "order-help-2.0:obtentionStructureAdresseOperation"} <= set(rows)


def test_an_interrupted_run_says_so_and_how_many_were_not_reached():
    run = a_wide_run(10)
    run.interrupted, run.total = True, 25
    page = render_html(run)
    assert "The run was interrupted" in page and "15 more were selected and not reached" in page


def test_the_flow_column_stays_in_view_while_the_matrix_scrolls(tmp_path: Path):
    """In Chromium: the matrix of 60 scenarios is wider than the window; scrolled to the right, its cells move
    and the flow names stay at the left edge."""
    _, page = write_reports(a_wide_run(), tmp_path / "report")
    probe = tmp_path / "report" / "probe.html"
    probe.write_text(
        '<!DOCTYPE html><html><body><iframe id="f" src="report.html" width="1000" height="800"></iframe><script>'
        'document.getElementById("f").onload = () => {'
        ' const d = document.getElementById("f").contentDocument, box = d.querySelector(".scroll");'
        ' const flow = d.querySelector("table.matrix tbody th"), cell = d.querySelector("table.matrix tbody td");'
        ' const at = () => [flow.getBoundingClientRect().left, cell.getBoundingClientRect().left];'
        ' const before = at(); box.scrollLeft = 800; const after = at();'
        ' document.body.dataset.result = JSON.stringify({wide: box.scrollWidth > box.clientWidth,'
        ' scrolled: box.scrollLeft, before, after}); };'
        "</script></body></html>", encoding="utf-8")
    dom = _chromium(tmp_path, "--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom",
                    probe.as_uri())
    found = re.search(r'data-result="([^"]+)"', dom.stdout)
    assert found, dom.stderr[-2000:]
    result = json.loads(html.unescape(found[1]))
    assert result["wide"] and result["scrolled"] > 0, result
    (flow_before, cell_before), (flow_after, cell_after) = result["before"], result["after"]
    assert cell_after < cell_before - 100, result  # the cells scrolled away
    assert abs(flow_after - flow_before) < 1, result  # the flow names did not
