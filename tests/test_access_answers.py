"""Issue 10 (5): wrong answers fixed, through real FTP.

CR_STOC and CR_MES have no answer flow: their errors are journal findings, never another flow's file.
A flow is taken only in its own folder. Values differing from the IPE only by case are taken, with a
finding. An empty staircase or floor where the building has several is FADR03/FADR04.
"""

from __future__ import annotations

from typing import Any

import pytest

from simulator.specs.codec import load_pack
from tests.helpers import Api, cmd_acces, download, upload, wait_for_files

IN, OUT = "IN/COVA/CV", "OUT/COVA/CV"
PACK = load_pack("acces-1.2")


def journal(api: Api, name: str) -> list[dict[str, Any]]:
    return [j for j in api.get("/journal?tenant=DEMO") if j["filename"] == name]


def read_single(ftp, flow: str, folder: str = OUT) -> dict[str, str]:
    [name] = wait_for_files(ftp, folder)
    assert PACK.parse_filename(name).flow.name == flow  # type: ignore[union-attr]
    [record] = PACK.flow(flow).parse(download(ftp, f"{folder}/{name}")).records
    return dict(record.values)


def processed(ftp, folder: str, name: str, opsim_sandbox) -> None:
    opsim_sandbox.engine.idle()
    assert name not in [n.rsplit("/", 1)[-1] for n in ftp.nlst(folder)], f"{name} was never read"


@pytest.mark.parametrize("flow", ["CR_STOC", "CR_MES_Ligne"])
def test_an_unreadable_file_of_an_unanswered_flow_is_a_finding_and_no_answer(demo_ftp, order_file, api: Api,
                                                                             opsim_sandbox, flow: str):
    name, _ = order_file([], flow=flow)
    upload(demo_ftp, IN, name, b"Not;The;Header\r\nA;B;C\r\n")
    processed(demo_ftp, IN, name, opsim_sandbox)
    assert wait_for_files(demo_ftp, OUT, timeout=0.3) == []  # never an ARCMD_ACCES or a CR MAD
    [finding] = [j for j in journal(api, name) if j["outcome"] == "file rejected"]
    assert finding["flow"] == flow and f"{flow} has no answer flow" in finding["detail"]


def test_a_cr_mes_with_an_impossible_date_in_its_name_is_a_finding_and_no_answer(demo_ftp, api: Api, opsim_sandbox):
    name = "COVA_DEMO_CrMESL_V12_20261399_000001.csv"
    upload(demo_ftp, IN, name, PACK.flow("CR_MES_Ligne").write([]))
    processed(demo_ftp, IN, name, opsim_sandbox)
    assert wait_for_files(demo_ftp, OUT, timeout=0.3) == []
    [finding] = journal(api, name)
    assert (finding["flow"], finding["outcome"]) == ("CR_MES_Ligne", "file rejected")


def test_a_cmd_acces_dropped_in_the_pm_folder_is_refused_in_the_acces_folder(demo_ftp, order_file, addresses,
                                                                           api: Api, opsim_sandbox):
    name, content = order_file([cmd_acces(addresses[0], "INPM1")])
    upload(demo_ftp, f"{IN}/PM", name, content)
    processed(demo_ftp, f"{IN}/PM", name, opsim_sandbox)
    ar = read_single(demo_ftp, "AR_Cmd_Acces")
    assert (ar["EtatArCommandePrise"], ar["MotifKoArCommandePrise"]) == ("KO", "FIMP16")
    assert "acces folder, not in IN/COVA/CV/PM" in ar["Commentaire"]
    assert wait_for_files(demo_ftp, f"{OUT}/PM", timeout=0.2) == []
    assert api.get("/orders?tenant=DEMO") == [] or all(
        o["ReferenceCommandePriseInterneOC"] != "INPM1" for o in api.get("/orders?tenant=DEMO"))


def test_values_differing_only_by_case_are_taken_with_a_finding(demo_ftp, order_file, addresses, api: Api,
                                                                 opsim_sandbox):
    address = next(a for a in addresses if a["TypeImmeuble"] == "IMMEUBLE" and a["Etages"][-1] != "RDC")
    record = cmd_acces(address, "CASE1", CommuneImmeuble=address["CommuneImmeuble"].lower(), Etage="rdc")
    name, content = order_file([record])
    upload(demo_ftp, IN, name, content)
    ar = read_single(demo_ftp, "AR_Cmd_Acces")
    assert ar["EtatArCommandePrise"] == "OK", ar
    [finding] = [j for j in journal(api, name) if j["outcome"] == "not upper case"]
    assert "Etage 'rdc'" in finding["detail"] and "CommuneImmeuble" in finding["detail"]
    assert api.get("/orders/CASE1?tenant=DEMO")["data"]["Etage"] == "RDC"


def test_an_order_in_upper_case_raises_no_case_finding(demo_ftp, order_file, addresses, api: Api):
    name, content = order_file([cmd_acces(addresses[0], "CASE2")])
    upload(demo_ftp, IN, name, content)
    assert read_single(demo_ftp, "AR_Cmd_Acces")["EtatArCommandePrise"] == "OK"
    assert [j for j in journal(api, name) if j["outcome"] == "not upper case"] == []


@pytest.mark.parametrize(("column", "code"), [("Escalier", "FADR03"), ("Etage", "FADR04")])
def test_an_empty_staircase_or_floor_where_the_building_has_several_is_refused(
        demo_ftp, order_file, api: Api, column: str, code: str):
    candidates = api.get("/addresses?network=COVA&limit=300")
    address = next(a for a in candidates if a["TypeImmeuble"] == "IMMEUBLE" and len(a["Escaliers"]) > 1
                   and len(a["Etages"]) > 1)
    name, content = order_file([cmd_acces(address, "EMPTY1", **{column: ""})])
    upload(demo_ftp, IN, name, content)
    ar = read_single(demo_ftp, "AR_Cmd_Acces")
    assert (ar["EtatArCommandePrise"], ar["MotifKoArCommandePrise"]) == ("KO", code)
    assert f"{column} is empty" in ar["Commentaire"]


def test_an_empty_staircase_is_fine_where_the_building_has_one(demo_ftp, order_file, api: Api):
    candidates = api.get("/addresses?network=COVA&limit=300")
    address = next(a for a in candidates if a["TypeImmeuble"] == "IMMEUBLE" and len(a["Escaliers"]) == 1)
    name, content = order_file([cmd_acces(address, "ONE1", Escalier="")])
    upload(demo_ftp, IN, name, content)
    assert read_single(demo_ftp, "AR_Cmd_Acces")["EtatArCommandePrise"] == "OK"


def test_the_operators_journal_findings_against_the_oc_are_reported_by_check_id():
    from simulator.operators.covage.harness.checks import Observation, run_checks

    def line(n: int, flow: str, outcome: str) -> dict[str, Any]:
        return {"id": n, "at_virtual": "2026-11-24T10:00:00", "at_real": 1.0, "direction": "in", "flow": flow,
                "filename": f"F{n}.csv", "outcome": outcome, "detail": "X-1: details"}

    journal = [line(1, "CR_STOC", "line rejected"), line(2, "CR_STOC", "wrong decharge"),
               line(3, "Cmd_Acces", "not upper case"), line(4, "CR_STOC", "bad motif"),
               line(5, "CR_MES_Ligne", "file rejected"), line(6, "Cmd_Acces", "1 lines: 1 OK, 0 KO")]
    findings = run_checks(Observation("DEMO", "DEMO", PACK, "2026-11-24T10:00:00", journal))
    assert [f.check for f in findings] == ["ACCES-UNANSWERED-REFUSED", "ACCES-DECHARGE", "ACCES-UPPER-CASE",
                                           "ACCES-STOC-MOTIF", "ACCES-UNANSWERED-REFUSED"]
    assert findings[1].message == "F2.csv: wrong decharge: X-1: details"
