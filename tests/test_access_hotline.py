"""Issue 10 (1): the hotline and reprovisioning, in seed 002's order, through real FTP and real HTTP.

CR CMD (Hotline=O) -> Cmd_STOC -> the technician calls the hotline with the socket found -> Notif_Reprov
(Commande HOTLINE, décharge) -> CR_STOC with that décharge -> CR MAD. A wrong décharge is a finding; a
Hotline order with no free existing socket gets a CR KO; the OC's own hot and cold requests; the
operator's reprovisioning of a building under works.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import cmd_acces, cr_stoc
from tests.helpers import Api


@pytest.fixture
def oc(opsim_sandbox):
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=lambda: date(2026, 11, 24)) as client:
        yield client


def building(api: Api) -> dict[str, Any]:
    return next(a for a in api.get("/addresses?network=COVA&limit=100")
                if a["TypeImmeuble"] == "IMMEUBLE" and sum(not ln["Occupee"] for ln in a["Lignes"]) >= 2)


def hotline_order(oc: OcFtpClient, api: Api, ref: str, mode: str = "STOC") -> tuple[dict[str, Any], dict]:
    address = building(api)
    socket = next(ln for ln in address["Lignes"] if not ln["Occupee"])
    oc.send("Cmd_Acces", [cmd_acces(address, ref, type_racco=mode, existing="", Escalier=socket["Escalier"],
                                    Etage=socket["Etage"])])
    assert oc.receive("AR_Cmd_Acces").single()["EtatArCommandePrise"] == "OK"
    api.post("/clock/advance", {"working_days": 1})
    return address, socket


def journal(api: Api, outcome: str) -> list[dict[str, Any]]:
    return [j for j in api.get("/journal?tenant=DEMO") if j["outcome"] == outcome]


def test_hotline_in_seed_002_order_and_the_decharge_checked(oc: OcFtpClient, api: Api, opsim_sandbox):
    address, socket = hotline_order(oc, api, "HL1")
    cr = oc.receive("CR_Cmd_Acces").single()
    assert (cr["EtatCrCommandePrise"], cr["Hotline"], cr["ReferencePrise"]) == ("OK", "O", "")
    assert cr["NomModulePm1"] and cr["ReferencePBO"]  # the route of an existing socket there
    stoc = oc.receive("Cmd_STOC").single()  # the Cmd_STOC follows at once, before any Notif_Reprov
    assert stoc["ReferencePrise"] == ""
    assert oc.receive_all() == []
    # The technician on site calls the hotline with the socket he found.
    answer = api.post("/operators/covage/hotline?tenant=DEMO", {"ref": "HL1", "socket": socket["ReferencePrise"]})
    assert answer["NumeroDecharge"].startswith("DCHCV") and answer["ReferencePrise"] == socket["ReferencePrise"]
    reprov = oc.receive("Notif_Reprov").single()
    assert (reprov["MotifReprov"], reprov["NumeroDecharge"], reprov["ReferencePrise"]) == (
        "Commande HOTLINE", answer["NumeroDecharge"], socket["ReferencePrise"])
    assert reprov["ReferencePBO"] == socket["ReferencePBO"]
    # A second call for the same order is refused: the socket is reprovisioned once.
    status, again = api.call("POST", "/operators/covage/hotline?tenant=DEMO", {"ref": "HL1", "socket": "X"})
    assert status == 409 and "already reprovisioned" in again["detail"]
    name = oc.send("CR_STOC", [cr_stoc({**stoc, "ReferencePrise": socket["ReferencePrise"]},
                                       NotificationReprovisioningHL="OUI", NumeroDecharge=answer["NumeroDecharge"])])
    mad = oc.receive("CR_MAD_Ligne").single()
    assert (mad["EtatCrMadPrise"], mad["ReferencePrise"]) == ("OK", socket["ReferencePrise"])
    assert [j for j in journal(api, "wrong decharge") if j["filename"] == name] == []


def test_a_cr_stoc_with_another_decharge_is_a_finding(oc: OcFtpClient, api: Api, opsim_sandbox):
    _, socket = hotline_order(oc, api, "HL2")
    stoc = oc.receive("Cmd_STOC").single()
    oc.receive_all()
    api.post("/operators/covage/hotline?tenant=DEMO", {"ref": "HL2", "socket": socket["ReferencePrise"]})
    oc.receive("Notif_Reprov")
    name = oc.send("CR_STOC", [cr_stoc(stoc, NotificationReprovisioningHL="NON", NumeroDecharge="DCH-OTHER")])
    assert oc.receive("CR_MAD_Ligne").single()["EtatCrMadPrise"] == "OK"  # the connection is still taken
    [finding] = journal(api, "wrong decharge")
    assert finding["filename"] == name and "'DCH-OTHER'" in finding["detail"] and "OUI" in finding["detail"]


def test_a_cr_stoc_of_a_hotline_order_without_the_call_is_a_finding(oc: OcFtpClient, api: Api, opsim_sandbox):
    hotline_order(oc, api, "HL3")
    stoc = oc.receive("Cmd_STOC").single()
    oc.send("CR_STOC", [cr_stoc(stoc)])
    oc.receive("CR_MAD_Ligne")
    [finding] = journal(api, "wrong decharge")
    assert "no call to the hotline" in finding["detail"]


@pytest.mark.parametrize(("body", "detail"), [
    ({"ref": "NOPE", "socket": "CV-X"}, "no order NOPE"),
    ({"ref": "HL4", "socket": "CV-ZZZZ-ZZZZ"}, "unknown on COVA"),
    ({"ref": "HL4"}, "socket: the ReferencePrise"),
])
def test_a_hotline_call_that_cannot_be_done_is_refused_with_the_reason(oc: OcFtpClient, api: Api, body, detail):
    hotline_order(oc, api, "HL4")
    status, answer = api.call("POST", "/operators/covage/hotline?tenant=DEMO", body)
    assert status == 409 and detail in answer["detail"], answer


def test_a_hotline_call_on_an_occupied_or_faraway_socket_is_refused(oc: OcFtpClient, api: Api):
    address, _ = hotline_order(oc, api, "HL5")
    occupied = next(ln for ln in address["Lignes"] if ln["Occupee"])
    status, answer = api.call("POST", "/operators/covage/hotline?tenant=DEMO",
                              {"ref": "HL5", "socket": occupied["ReferencePrise"]})
    assert status == 409 and "held by another line" in answer["detail"]
    elsewhere = next(ln for a in api.get("/addresses?network=COVA&limit=100") if a["CodeAdresseImmeuble"]
                     != address["CodeAdresseImmeuble"] for ln in a["Lignes"])
    status, answer = api.call("POST", "/operators/covage/hotline?tenant=DEMO",
                              {"ref": "HL5", "socket": elsewhere["ReferencePrise"]})
    assert status == 409 and "not at the address" in answer["detail"]
    status, answer = api.call("POST", "/operators/covage/hotline?tenant=DEMO", {"ref": "HL5", "socket": 3})
    assert status == 400
    # The route's declaration checks the values before the action sees them (simulator/web/routes.py).
    status, answer = api.call("POST", "/operators/covage/hotline?tenant=DEMO", {"ref": "HL5", "kind": "warm"})
    assert status == 400 and answer["detail"] == "kind must be one of hotline, hot, cold", answer
    status, answer = api.call("POST", "/operators/covage/hotline?tenant=DEMO", {"ref": "HL5", "colour": "red"})
    assert status == 400 and "unknown field 'colour'" in answer["detail"], answer


def test_a_hotline_order_with_no_free_existing_socket_gets_a_cr_ko(oc: OcFtpClient, api: Api):
    address = next(a for a in api.get("/addresses?network=COVA&limit=300") if a["TypeImmeuble"] == "IMMEUBLE"
                   and any(ln["Occupee"] for ln in a["Lignes"]))
    floor = next((ln["Escalier"], ln["Etage"]) for ln in address["Lignes"] if ln["Occupee"])
    free = [ln for ln in address["Lignes"] if not ln["Occupee"] and (ln["Escalier"], ln["Etage"]) == floor]
    # Take the floor's free sockets with orders of their own first.
    records = [cmd_acces(address, f"TAKE{i}", existing=ln["ReferencePrise"]) for i, ln in enumerate(free)]
    records.append(cmd_acces(address, "HLKO", existing="", Escalier=floor[0], Etage=floor[1]))
    oc.send("Cmd_Acces", records)
    assert {r["EtatArCommandePrise"] for r in oc.receive("AR_Cmd_Acces").records} == {"OK"}
    api.post("/clock/advance", {"working_days": 1})
    crs = {r["ReferenceCommandePriseInterneOC"]: r for r in oc.receive("CR_Cmd_Acces").records}
    assert (crs["HLKO"]["EtatCrCommandePrise"], crs["HLKO"]["MotifKoCrCommandePrise"]) == ("KO", "FIMP17")
    assert api.get("/orders/HLKO?tenant=DEMO")["state"] == "CR_KO"


def test_the_ocs_hot_and_cold_reprovisioning_requests(oc: OcFtpClient, api: Api):
    address = building(api)
    oc.send("Cmd_Acces", [cmd_acces(address, "RP1", type_racco="STOC")])
    oc.receive("AR_Cmd_Acces")
    api.post("/clock/advance", {"working_days": 1})
    cr = oc.receive("CR_Cmd_Acces").single()
    oc.receive_all()
    hot = api.post("/operators/covage/hotline?tenant=DEMO", {"ref": "RP1", "kind": "hot", "motif": "Fibre occupée"})
    reprov = oc.receive("Notif_Reprov").single()
    assert (reprov["MotifReprov"], reprov["NumeroDecharge"]) == ("Fibre occupée", hot["NumeroDecharge"])
    assert reprov["ReferencePrise"] == cr["ReferencePrise"] and reprov["PositionModulePm1"] != cr["PositionModulePm1"]
    cold = api.post("/operators/covage/hotline?tenant=DEMO", {"ref": "RP1", "kind": "cold", "motif": "Fibre HS"})
    assert cold["NumeroDecharge"] == "" and cold["due"]
    assert oc.receive_all() == []  # a cold reprovisioning comes later
    api.post("/clock/advance", {"working_days": 1})
    later = oc.receive("Notif_Reprov").single()
    assert later["MotifReprov"] == "Fibre HS" and later["NumeroDecharge"] not in ("", hot["NumeroDecharge"])
    assert api.get("/orders/RP1?tenant=DEMO")["data"]["NumeroDecharge"] == later["NumeroDecharge"]


def test_the_operator_reprovisions_a_building_under_works(oc: OcFtpClient, api: Api):
    address = building(api)
    oc.send("Cmd_Acces", [cmd_acces(address, "W1", type_racco="OI"), cmd_acces(address, "W2", type_racco="OI")])
    oc.receive("AR_Cmd_Acces")
    api.post("/clock/advance", {"working_days": 1})
    oc.receive("CR_Cmd_Acces")
    done = api.post("/operators/covage/access/building_works?tenant=DEMO",
                    {"building": address["IdentifiantImmeuble"]})
    assert sorted(done["result"]["orders"]) == ["W1", "W2"]
    lines = [r for f in oc.receive_all(timeout=2) if f.flow_name == "Notif_Reprov" for r in f.records]
    assert sorted(r["ReferenceCommandePriseInterneOC"] for r in lines) == ["W1", "W2"]
    assert {r["MotifReprov"] for r in lines} == {"Travaux programmés"}
    status, answer = api.call("POST", "/operators/covage/access/building_works?tenant=DEMO", {"building": "IMB/X"})
    assert status == 409 and "no order of DEMO" in answer["detail"]


def test_in_oi_mode_the_operators_own_technician_does_the_hotline(oc: OcFtpClient, api: Api):
    _, socket = hotline_order(oc, api, "HLOI", mode="OI")
    cr = oc.receive("CR_Cmd_Acces").single()
    assert cr["Hotline"] == "O" and oc.receive_all() == []  # no Cmd_STOC in OI mode
    status, answer = api.call("POST", "/operators/covage/hotline?tenant=DEMO",
                              {"ref": "HLOI", "socket": socket["ReferencePrise"]})
    assert status == 409 and "operator's own technician" in answer["detail"]
    api.post("/clock/advance", {"working_days": 1})
    reprov = oc.receive("Notif_Reprov").single()
    assert reprov["MotifReprov"] == "Commande HOTLINE" and reprov["NumeroDecharge"] and reprov["ReferencePrise"]
