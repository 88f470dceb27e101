"""Issue 10 (2): the operator's failures, through real FTP and HTTP (scenarios: features/access/failures.feature)."""

from __future__ import annotations

from datetime import date

import pytest

from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import cmd_acces, cr_stoc
from tests.helpers import Api

RATES = "/operators/covage/access/failure_rates?tenant=DEMO"


@pytest.fixture
def oc(opsim_sandbox):
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=lambda: date(2026, 11, 24)) as client:
        yield client


@pytest.mark.parametrize(("body", "detail"), [
    ({"cr_ko": 1.5}, "cr_ko must be a number from 0 to 1"),
    ({"racc_ko": "half"}, "racc_ko must be a number from 0 to 1"),
    ({"cr_ko": 1, "cr_ko_code": "FIMP01"}, "cr_ko_code 'FIMP01' is not one of FINT02"),
])
def test_failure_rates_out_of_range_or_codes_off_the_list_are_refused(api: Api, body, detail):
    status, answer = api.call("POST", RATES, body)
    assert status == 409 and detail in answer["detail"], answer


def test_a_failure_rate_of_one_fails_every_cr_with_codes_of_the_profile(oc: OcFtpClient, addresses, api: Api):
    assert api.post(RATES, {"cr_ko": 1})["result"] == {"cr_ko": 1.0, "racc_ko": 0.0}
    oc.send("Cmd_Acces", [cmd_acces(a, f"F{i}", type_racco="OI") for i, a in enumerate(addresses[:6])])
    oc.receive("AR_Cmd_Acces")
    api.post("/clock/advance", {"working_days": 1})
    crs = oc.receive("CR_Cmd_Acces").records
    assert {r["EtatCrCommandePrise"] for r in crs} == {"KO"}
    assert {r["MotifKoCrCommandePrise"] for r in crs} <= {"FINT02", "FINT11", "FRDV02"}
    assert all(r["Commentaire"] for r in crs)


def test_by_default_no_cr_fails_and_a_rate_of_zero_restores_it(oc: OcFtpClient, addresses, api: Api):
    api.post(RATES, {"cr_ko": 1})
    api.post(RATES, {"cr_ko": 0})
    # Addresses whose ordered staircase has a free socket: a saturated PBO is a CR KO FINT01 of its own.
    free = [a for a in addresses if any(not ln["Occupee"] for ln in a["Lignes"] if ln["Escalier"] == a["Escaliers"][0])]
    oc.send("Cmd_Acces", [cmd_acces(a, f"Z{i}", type_racco="OI") for i, a in enumerate(free[:4])])
    oc.receive("AR_Cmd_Acces")
    api.post("/clock/advance", {"working_days": 1})
    crs = oc.receive("CR_Cmd_Acces").records
    assert {r["EtatCrCommandePrise"] for r in crs} == {"OK"}, crs


def test_the_connection_failure_rate_touches_only_the_operators_own_connections(oc: OcFtpClient, addresses,
                                                                                api: Api):
    api.post(RATES, {"racc_ko": 1, "racc_ko_code": "FINT04"})
    oc.send("Cmd_Acces", [cmd_acces(addresses[0], "OI1", type_racco="OI"),
                          cmd_acces(addresses[1], "OC1", type_racco="OC")])
    oc.receive("AR_Cmd_Acces")
    api.post("/clock/advance", {"working_days": 1})
    oc.receive("CR_Cmd_Acces")
    api.post("/clock/advance", {"working_days": 5})
    files = {f.flow_name: f.records for f in oc.receive_all(timeout=2)}
    assert [(r["ReferenceCommandePriseInterneOC"], r["MotifKoRaccordement"]) for r in files["Notif_Racc_Ko"]] == [
        ("OI1", "FINT04")]
    assert [r["ReferenceCommandePriseInterneOC"] for r in files["CR_MAD_Ligne"]] == ["OC1"]
    assert api.get("/orders/OI1?tenant=DEMO")["state"] == "RACCO_KO"


def test_a_cr_stoc_ko_with_a_motif_off_the_catalogue_is_a_finding_and_ends_the_attempt(
        oc: OcFtpClient, addresses, api: Api):
    oc.send("Cmd_Acces", [cmd_acces(addresses[0], "SK1")])
    oc.receive("AR_Cmd_Acces")
    api.post("/clock/advance", {"working_days": 1})
    stoc = oc.receive("Cmd_STOC").single()
    oc.receive_all()
    oc.send("CR_STOC", [cr_stoc(stoc, ok=False, motif="ABSENT")])
    ko = oc.receive("Notif_Racc_Ko").single()
    assert ko["MotifKoRaccordement"] == "FAUT01"
    [finding] = [j for j in api.get("/journal?tenant=DEMO") if j["outcome"] == "bad motif"]
    assert "'ABSENT'" in finding["detail"]
    assert api.get("/orders/SK1?tenant=DEMO")["state"] == "RACCO_KO"


def test_after_the_date_limite_the_attempt_ends_and_a_late_cr_stoc_is_refused(oc: OcFtpClient, addresses,
                                                                             api: Api):
    oc.send("Cmd_Acces", [cmd_acces(addresses[0], "DL1")])
    oc.receive("AR_Cmd_Acces")
    api.post("/clock/advance", {"working_days": 1})
    stoc = oc.receive("Cmd_STOC").single()
    oc.receive_all()
    api.post("/clock/advance", {"working_days": 10})
    assert oc.receive_all() == []  # the CR_STOC may still come on the last day
    api.post("/clock/advance", {"working_days": 1})
    ko = oc.receive("Notif_Racc_Ko").single()
    assert ko["MotifKoRaccordement"] == "FAUT01" and stoc["DateLimiteRaccordement"] in ko["Commentaire"]
    oc.send("CR_STOC", [cr_stoc(stoc)])
    assert oc.receive_all(timeout=0.5) == []
    assert any("no CR_STOC is awaited" in j["detail"] for j in api.get("/journal?tenant=DEMO")
               if j["outcome"] == "line rejected")
    assert api.get("/orders/DL1?tenant=DEMO")["state"] == "RACCO_KO"
