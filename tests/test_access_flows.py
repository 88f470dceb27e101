"""Access flows through real FTP with the reference OC client: the cases the BDD outline leaves out."""

from __future__ import annotations

from datetime import date

import pytest

from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import cmd_acces, cr_mes, cr_stoc
from tests.helpers import Api


@pytest.fixture
def oc(opsim_sandbox):
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=lambda: date(2026, 11, 24)) as client:
        yield client


def ar_of(oc: OcFtpClient, records: list[dict[str, str]]) -> list[dict[str, str]]:
    oc.send("Cmd_Acces", records)
    return oc.receive("AR_Cmd_Acces").records


def test_cr_stoc_for_an_unknown_order_is_a_finding_and_no_answer(oc: OcFtpClient, api: Api, opsim_sandbox):
    fake = {"ReferenceCommandePriseInterneOC": "NOPE", "ReferencePrestationPrise": "X",
            "ReferenceCommandeSousTraitantOI": "Y", "ReferencePrise": ""}
    name = oc.send("CR_STOC", [cr_stoc(fake)])
    oc.wait_consumed(name)
    opsim_sandbox.engine.idle()
    [finding] = [j for j in api.get("/journal?tenant=DEMO") if j["outcome"] == "line rejected"]
    assert (finding["flow"], finding["filename"]) == ("CR_STOC", name) and "no order NOPE" in finding["detail"]
    assert [j["outcome"] for j in api.get("/journal?tenant=DEMO") if j["filename"] == name][0] == "1 lines: 0 OK, 1 KO"
    assert oc.receive_all() == []  # CR_STOC has no answer flow: never another flow's file


def test_cr_stoc_with_another_subcontracting_reference_is_refused(oc: OcFtpClient, addresses, api: Api,
                                                                  opsim_sandbox):
    [ar] = ar_of(oc, [cmd_acces(addresses[0], "STOC1")])
    api.post("/clock/advance", {"working_days": 1})
    stoc = oc.receive("Cmd_STOC").single()
    oc.receive_all()
    name = oc.send("CR_STOC", [cr_stoc(stoc, ReferenceCommandeSousTraitantOI="ST-WRONG")])
    oc.wait_consumed(name)
    opsim_sandbox.engine.idle()
    [finding] = [j for j in api.get("/journal?tenant=DEMO") if j["outcome"] == "line rejected"]
    assert "ReferenceCommandeSousTraitantOI" in finding["detail"]
    assert oc.receive_all() == []
    assert api.get("/orders/STOC1?tenant=DEMO")["state"] == "STOC_COMMANDE"


def test_cr_mes_misuse_is_a_journal_finding(oc: OcFtpClient, addresses, api: Api, opsim_sandbox):
    [ar] = ar_of(oc, [cmd_acces(addresses[0], "MES1", type_racco="OC")])
    name = oc.send("CR_MES_Ligne", [cr_mes({**ar, "ReferencePrise": ""})])  # before the CR MAD
    oc.wait_consumed(name)
    opsim_sandbox.engine.idle()
    findings = [j for j in api.get("/journal?tenant=DEMO") if j["outcome"] == "line rejected"]
    assert len(findings) == 1 and "after the CR MAD" in findings[0]["detail"]
    assert api.get("/orders/MES1?tenant=DEMO")["state"] == "AR_OK"
    assert oc.receive_all() == []  # no flow answers a CR MES


def test_order_by_rivoli_without_hexacle(oc: OcFtpClient, addresses):
    record = cmd_acces(addresses[1], "RIV1", CodeAdresseImmeuble="")
    assert ar_of(oc, [record])[0]["EtatArCommandePrise"] == "OK"


def test_second_network_has_its_own_folders_and_addresses(opsim_sandbox, api: Api):
    host, port = opsim_sandbox.ftp_address
    address = api.get("/addresses?network=COVB&limit=1")[0]
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", oi="COVB", arcep="CB",
                     today=lambda: date(2026, 11, 24)) as covb:
        [ok, ko] = ar_of(covb, [cmd_acces(address, "B1"), cmd_acces(api.get("/addresses?network=COVA&limit=1")[0],
                                                                      "B2")])
    assert ok["EtatArCommandePrise"] == "OK" and ok["ReferencePrestationPrise"].startswith("CB")
    assert (ko["EtatArCommandePrise"], ko["MotifKoArCommandePrise"]) == ("KO", "FADR01")


def test_utf8_file_is_processed_and_reported(oc: OcFtpClient, addresses, api: Api):
    content = oc.flow("Cmd_Acces").write([cmd_acces(addresses[0], "UTF1", NomClient="LÉA")])
    oc.send_raw(oc.next_filename("Cmd_Acces"), content.decode("iso-8859-1").encode("utf-8"))
    assert oc.receive("AR_Cmd_Acces").single()["EtatArCommandePrise"] == "OK"
    inbound = [j for j in api.get("/journal?tenant=DEMO") if j["flow"] == "Cmd_Acces"]
    assert "UTF-8" in inbound[-1]["detail"]
    assert api.get("/orders/UTF1?tenant=DEMO")["data"]["NomClient"] == "LÉA"


def test_socket_rules(oc: OcFtpClient, addresses):
    address = next(a for a in addresses if any(not ln["Occupee"] for ln in a["Lignes"]))
    socket = next(ln["ReferencePrise"] for ln in address["Lignes"] if not ln["Occupee"])
    other = next(a for a in addresses if a["CodeAdresseImmeuble"] != address["CodeAdresseImmeuble"])
    lines = ar_of(oc, [
        cmd_acces(address, "S1", existing=socket),                      # OK
        cmd_acces(address, "S2", existing=socket),                      # same socket again
        cmd_acces(address, "S3", ReferencePrise=socket),                # a new socket that already exists
        cmd_acces(other, "S4", existing=socket, ReferencePrise=socket),  # a socket of another address
        cmd_acces(address, "S5", ReferencePrestationPm="PRPMXX9999"),
        cmd_acces(address, "S6", ReferencePrestationPm=other["ReferencePrestationPM"])
        if other["ReferencePM"] != address["ReferencePM"] else cmd_acces(address, "S6", ReferencePm="PMXX0000"),
    ])
    codes = [(ln["ReferenceCommandePriseInterneOC"], ln["EtatArCommandePrise"], ln["MotifKoArCommandePrise"])
             for ln in lines]
    assert codes[:5] == [("S1", "OK", ""), ("S2", "KO", "FIMP19"), ("S3", "KO", "FIMP18"),
                         ("S4", "KO", "FIMP03"), ("S5", "KO", "FIMP04")]
    assert codes[5][1:] in {("KO", "FIMP05"), ("KO", "FIMP07")}


@pytest.mark.parametrize("state, code", [("EN COURS DE DEPLOIEMENT", "FIMP11"), ("CIBLE", "FIMP10")])
def test_buildings_not_deployed_are_refused(oc: OcFtpClient, opsim_sandbox, state: str, code: str):
    network = opsim_sandbox.networks["COVA"]
    building = next((a for a in network.addresses if a.etat_immeuble == state), None)
    if building is None:  # the seeded network always has some; say so if that ever changes
        pytest.fail(f"the reference network has no building in state {state}")
    record = cmd_acces(network.ipe_record(building), "ND1")
    [line] = ar_of(oc, [record])
    assert (line["EtatArCommandePrise"], line["MotifKoArCommandePrise"]) == ("KO", code)
