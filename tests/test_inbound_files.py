"""Every inbound file is read and answered, through a real FTP client (docs/files.md).

Files with a header and no data line, file names with impossible dates, and values a spreadsheet would
run as formulas: each gets a protocol answer (or, for flows the protocol does not answer, a journal
finding), never silence.
"""

from __future__ import annotations

import csv
import ftplib
import io

import pytest

from simulator.specs.codec import load_pack
from tests.helpers import Api, cmd_acces, download, upload, wait_for_files

IN, OUT = "IN/COVA/CV", "OUT/COVA/CV"
PACK = load_pack("acces-1.2")


def raw(flow: str, records: list[dict[str, str]]) -> bytes:
    """A file written by hand, as a careless OC would: the codec's writer would defuse formulas."""
    names = PACK.flow(flow).column_names
    lines = [";".join(names), *(";".join(r.get(n, "") for n in names) for r in records)]
    return ("\r\n".join(lines) + "\r\n").encode("iso-8859-1")


def answer_rows(ftp: ftplib.FTP, flow: str) -> list[list[str]]:
    """The data rows of the one answer file in OUT, exactly as written (no trimming, no unquoting)."""
    [name] = wait_for_files(ftp, OUT)
    assert PACK.parse_filename(name).flow.name == flow  # type: ignore[union-attr]
    text = download(ftp, f"{OUT}/{name}").decode("iso-8859-1")
    [header, *rows] = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert header == PACK.flow(flow).column_names
    return rows


def as_dict(flow: str, row: list[str]) -> dict[str, str]:
    return dict(zip(PACK.flow(flow).column_names, row, strict=True))


def wait_read(ftp: ftplib.FTP, name: str, opsim_sandbox) -> None:
    """Until the engine has processed the file (submitted before the upload's 226) and so deleted it."""
    opsim_sandbox.engine.idle()
    assert name not in [n.rsplit("/", 1)[-1] for n in ftp.nlst(IN)], f"{name} was never read"


# ---------------------------------------------------------------- header and no data line
@pytest.mark.parametrize("after_header", ["", "\r\n\r\n", ";;;;\r\n  \r\n"], ids=["header", "blank", "separators"])
@pytest.mark.parametrize("flow", ["Cmd_Acces", "Annul_Acces"])
def test_a_file_without_data_line_gets_one_ko_answer(demo_ftp, order_file, api: Api, flow: str,
                                                     after_header: str):
    name, content = order_file([], flow=flow)
    upload(demo_ftp, IN, name, content + after_header.encode("ascii"))
    reply = PACK.flow(flow).reply
    [row] = answer_rows(demo_ftp, reply["flow"])
    line = as_dict(reply["flow"], row)
    assert (line[reply["state"]], line[reply["motif"]]) == ("KO", "FIMP16")
    assert line[reply["comment"]] == f"{name}: no data line"
    [journal] = [j for j in api.get("/journal?tenant=DEMO") if j["filename"] == name and j["flow"] == flow]
    assert (journal["outcome"], journal["detail"]) == ("file rejected FIMP16", "no data line")


@pytest.mark.parametrize("flow", ["CR_STOC", "CR_MES_Ligne"])
def test_a_file_without_data_line_of_an_unanswered_flow_is_a_finding(demo_ftp, order_file, api: Api,
                                                                     opsim_sandbox, flow: str):
    name, content = order_file([], flow=flow)
    upload(demo_ftp, IN, name, content + b"\r\n")
    wait_read(demo_ftp, name, opsim_sandbox)
    assert wait_for_files(demo_ftp, OUT, timeout=0.2) == []  # CR_STOC and CR_MES have no answer flow
    [finding] = [j for j in api.get("/journal?tenant=DEMO") if j["filename"] == name and j["flow"] == flow]
    assert finding["outcome"] == "no data line"
    assert f"{flow} has no answer flow" in finding["detail"]


def test_an_empty_file_is_still_unreadable(demo_ftp, order_file):
    name, _ = order_file([])
    upload(demo_ftp, IN, name, b"")
    [row] = answer_rows(demo_ftp, "AR_Cmd_Acces")
    line = as_dict("AR_Cmd_Acces", row)
    assert (line["EtatArCommandePrise"], line["MotifKoArCommandePrise"]) == ("KO", "FIMP16")
    assert line["Commentaire"] == f"{name}: empty file: no header line"


# ---------------------------------------------------------------- dates in file names
@pytest.mark.parametrize("flow, date", [("Cmd_Acces", "99999999"), ("Cmd_Acces", "20261399"),
                                        ("Annul_Acces", "20260230")])
def test_a_file_name_with_an_impossible_date_is_refused(demo_ftp, addresses, api: Api, flow: str, date: str):
    record = cmd_acces(addresses[0], "DATE1") if flow == "Cmd_Acces" else {
        "ReferenceCommandePriseInterneOC": "DATE1", "DateAnnulation": "20261124",
        "ResponsabiliteAnnulationCommandePrise": "OC"}
    name = f"COVA_DEMO_{PACK.flow(flow).code}_V12_{date}_1.csv"
    upload(demo_ftp, IN, name, PACK.flow(flow).write([record]))
    reply = PACK.flow(flow).reply
    [row] = answer_rows(demo_ftp, reply["flow"])  # answered in the flow's own answer
    line = as_dict(reply["flow"], row)
    assert (line[reply["state"]], line[reply["motif"]]) == ("KO", "FIMP16")
    assert f"date '{date}' is not a valid date (AAAAMMJJ" in line[reply["comment"]]
    assert api.get("/orders?tenant=DEMO") == []


# ---------------------------------------------------------------- formulas
def test_formulas_are_refused_and_never_echoed_as_formulas(demo_ftp, addresses, api: Api):
    records = [cmd_acces(addresses[0], "=1+1"), cmd_acces(addresses[1], "FORM2", NomClient="@SUM(1)"),
               cmd_acces(addresses[2], "FORM3", ContactClient1="+33612345678")]
    upload(demo_ftp, IN, "COVA_DEMO_CMD_ACCES_V12_20261124_1.csv", raw("Cmd_Acces", records))
    rows = answer_rows(demo_ftp, "AR_Cmd_Acces")
    first, second, third = (as_dict("AR_Cmd_Acces", r) for r in rows)
    assert first["ReferenceCommandePriseInterneOC"] == "'=1+1"  # echoed, defused
    for line, column in ((first, "ReferenceCommandePriseInterneOC"), (second, "NomClient")):
        assert (line["EtatArCommandePrise"], line["MotifKoArCommandePrise"]) == ("KO", "FIMP16")
        assert line["Commentaire"] == f"{column}: value would run as a formula in a spreadsheet"
    assert (third["ReferenceCommandePriseInterneOC"], third["EtatArCommandePrise"]) == ("FORM3", "OK")
    assert not any(cell.startswith(("=", "@", "+", "-", "\t", "\r")) for row in rows for cell in row)
    assert [o["ReferenceCommandePriseInterneOC"] for o in api.get("/orders?tenant=DEMO")] == ["FORM3"]
    assert api.get("/orders/FORM3?tenant=DEMO")["data"]["ContactClient1"] == "+33612345678"


def test_a_formula_in_a_cancellation_is_refused(demo_ftp):
    record = {"ReferenceCommandePriseInterneOC": "-1+cmd|' /C calc'!A0", "DateAnnulation": "20261124",
              "ResponsabiliteAnnulationCommandePrise": "OC"}
    upload(demo_ftp, IN, "COVA_DEMO_ANNUL_ACCES_V12_20261124_1.csv", raw("Annul_Acces", [record]))
    [row] = answer_rows(demo_ftp, "CR_Annulation_Acces")
    line = as_dict("CR_Annulation_Acces", row)
    assert (line["EtatCrAnnResCommandePrise"], line["MotifKoCrAnnResCommandePrise"]) == ("KO", "FIMP16")
    assert line["ReferenceCommandePriseInterneOC"] == "'-1+cmd|' /C calc'!A0"
