"""Faults on demand through real FTP: fault rules (POST /api/faults) and magic values make the operator refuse
at AR, CR, RACCO and ANNUL with any catalogue code, delay a CR, or reprovision right after it."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

import pytest

from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import annul_acces, cmd_acces
from tests.helpers import Api


@pytest.fixture
def oc(api: Api, opsim_sandbox):
    """A tenant of its own: its rules and files are this test's alone."""
    code = "F" + secrets.token_hex(3).upper()
    api.post("/tenants", {"code": code, "password": "pw"})
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, code, "pw", code, today=lambda: date(2026, 11, 24)) as client:
        client.tenant = code  # type: ignore[attr-defined]
        yield client


def order(oc: OcFtpClient, address: dict[str, Any], ref: str, **extra: str) -> dict[str, str]:
    oc.send("Cmd_Acces", [cmd_acces(address, ref, **extra)])
    return oc.receive("AR_Cmd_Acces").single()


def rule(api: Api, tenant: str, **body: Any) -> dict[str, Any]:
    status, answer = api.call("POST", f"/faults?tenant={tenant}", body)
    assert status == 201, answer
    return answer


def test_a_rule_gives_a_cr_ko_with_its_code_to_the_next_order_only(oc, api: Api, orderable):
    tenant = oc.tenant
    rule(api, tenant, code="FINT02", comment="saturation virtuelle (test)")
    assert order(oc, orderable[4], "R1")["EtatArCommandePrise"] == "OK"
    assert order(oc, orderable[5], "R2")["EtatArCommandePrise"] == "OK"
    api.post("/clock/advance", {"working_days": 1})
    crs = {line["ReferenceCommandePriseInterneOC"]: line for line in oc.receive("CR_Cmd_Acces").records}
    assert (crs["R1"]["EtatCrCommandePrise"], crs["R1"]["MotifKoCrCommandePrise"]) == ("KO", "FINT02")
    assert crs["R1"]["Commentaire"] == "saturation virtuelle (test)"
    assert crs["R2"]["EtatCrCommandePrise"] == "OK"  # count 1: spent on R1
    [listed] = api.get(f"/faults?tenant={tenant}")
    assert (listed["remaining"], listed["fired"]) == (0, 1)
    assert any(j["outcome"] == "fault applied" and "R1" in j["detail"] for j in api.get(f"/journal?tenant={tenant}"))


def test_magic_values_give_a_cr_ko_or_a_failed_connection(oc, api: Api, orderable):
    order(oc, orderable[4], "M1", CommentaireCmdAcces="test OPSIM:FINT04")
    order(oc, orderable[5], "M2", type_racco="OI", CommentaireCmdAcces="OPSIM:FCLI02@RACCO")
    api.post("/clock/advance", {"working_days": 1})
    crs = {line["ReferenceCommandePriseInterneOC"]: line for line in oc.receive("CR_Cmd_Acces").records}
    assert (crs["M1"]["EtatCrCommandePrise"], crs["M1"]["MotifKoCrCommandePrise"]) == ("KO", "FINT04")
    assert crs["M2"]["EtatCrCommandePrise"] == "OK"
    api.post("/clock/advance", {"working_days": 5})
    ko = oc.receive("Notif_Racc_Ko").single()
    assert (ko["ReferenceCommandePriseInterneOC"], ko["MotifKoRaccordement"]) == ("M2", "FCLI02")
    assert api.get(f"/orders/M2?tenant={oc.tenant}")["state"] == "RACCO_KO"


def test_a_rule_refuses_at_the_ar_for_one_address(oc, api: Api, orderable):
    rule(api, oc.tenant, code="FIMP11", address=orderable[4]["CodeAdresseImmeuble"], count=None)
    first = order(oc, orderable[4], "A1")
    assert (first["EtatArCommandePrise"], first["MotifKoArCommandePrise"]) == ("KO", "FIMP11")
    assert first["Commentaire"] == "Adresse temporairement inéligible"  # the catalogue's label
    assert order(oc, orderable[5], "A2")["EtatArCommandePrise"] == "OK"  # another address
    assert order(oc, orderable[4], "A3")["MotifKoArCommandePrise"] == "FIMP11"  # count null: every order there


def test_a_rule_refuses_a_cancellation(oc, api: Api, orderable):
    ar = order(oc, orderable[4], "C1")
    rule(api, oc.tenant, code="FIMP16", stage="ANNUL", comment="annulation refusée (test)")
    oc.send("Annul_Acces", [annul_acces("C1", ar["ReferencePrestationPrise"], date="20261124")])
    cr = oc.receive("CR_Annulation_Acces").single()
    assert (cr["EtatCrAnnResCommandePrise"], cr["MotifKoCrAnnResCommandePrise"]) == ("KO", "FIMP16")
    assert api.get(f"/orders/C1?tenant={oc.tenant}")["state"] == "AR_OK"


def test_a_delay_moves_the_cr_by_working_days(oc, api: Api, orderable):
    rule(api, oc.tenant, action="delay", working_days=3)
    order(oc, orderable[4], "D1")
    api.post("/clock/advance", {"working_days": 1})
    assert oc.receive_all() == []
    api.post("/clock/advance", {"working_days": 2})
    assert oc.receive_all() == []
    api.post("/clock/advance", {"working_days": 1})
    assert oc.receive("CR_Cmd_Acces").single()["EtatCrCommandePrise"] == "OK"


def test_a_reprovisioning_rule_sends_a_notif_reprov_right_after_the_cr(oc, api: Api, orderable):
    rule(api, oc.tenant, action="reprovision", motif="Fibre HS")
    order(oc, orderable[4], "P1", type_racco="OI")
    api.post("/clock/advance", {"working_days": 1})
    cr = oc.receive("CR_Cmd_Acces").single()
    reprov = oc.receive("Notif_Reprov").single()
    assert reprov["MotifReprov"] == "Fibre HS" and reprov["NumeroDecharge"]
    assert (reprov["NomModulePm1"], reprov["PositionModulePm1"]) != (cr["NomModulePm1"], cr["PositionModulePm1"])
