"""Issue 10 (4): the booking service over real HTTP and the IdRdv checks of the CR (real FTP)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from simulator.clock import FrenchCalendar
from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import cmd_acces
from tests.helpers import Api

SLOTS = "/operators/covage/appointments?tenant=DEMO"


@pytest.fixture
def oc(opsim_sandbox):
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=lambda: date(2026, 11, 24)) as client:
        yield client


def free(api: Api, hexacle: str) -> list[dict[str, str]]:
    return api.get(f"{SLOTS}&network=COVA&address={hexacle}")["slots"]


def test_the_free_slots_run_from_j8_to_j26_working_days(api: Api, addresses):
    now = datetime.fromisoformat(api.get("/clock")["now"])
    calendar = FrenchCalendar()
    slots = free(api, addresses[0]["CodeAdresseImmeuble"].lower())  # case does not matter in a query
    days = sorted({s["date"] for s in slots})
    assert days[0] == calendar.add_working_days(now, 8).date().isoformat()
    assert days[-1] == calendar.add_working_days(now, 26).date().isoformat()
    assert len(days) == 19 and all(calendar.is_working_day(date.fromisoformat(d)) for d in days)
    halves = {(s["slot"][-2:], s["start"], s["end"]) for s in slots}
    assert halves == {("AM", "08:00", "12:00"), ("PM", "13:00", "17:00")}


def test_a_slot_is_booked_until_full_and_a_cancelled_booking_frees_it(api: Api, addresses):
    hexacle = addresses[0]["CodeAdresseImmeuble"]
    slot = free(api, hexacle)[0]["slot"]
    booked = [api.post(SLOTS, {"address": hexacle, "network": "COVA", "slot": slot}) for _ in range(4)]
    assert len({b["IdRdv"] for b in booked}) == 4 and all(b["IdRdv"].startswith("RDVCV") for b in booked)
    assert slot not in {s["slot"] for s in free(api, hexacle)}  # 4 per half-day and network
    status, answer = api.call("POST", SLOTS, {"address": hexacle, "slot": slot})
    assert status == 409 and "not a free slot" in answer["detail"]
    assert api.call("DELETE", f"/operators/covage/appointments/{booked[0]['IdRdv']}?tenant=DEMO")[1]["state"] == \
        "CANCELLED"
    assert slot in {s["slot"] for s in free(api, hexacle)}
    status, answer = api.call("DELETE", f"/operators/covage/appointments/{booked[0]['IdRdv']}?tenant=DEMO")
    assert status == 409 and "is CANCELLED" in answer["detail"]


@pytest.mark.parametrize(("method", "path", "body", "status", "detail"), [
    ("GET", SLOTS, None, 400, "address query parameter"),
    ("GET", f"{SLOTS}&address=ZZZZZZZZZZ", None, 409, "unknown on COVA"),
    ("GET", f"{SLOTS}&address=X&network=NOPE", None, 409, "network 'NOPE'"),
    ("POST", SLOTS, {"address": "X"}, 400, "the slot field is required"),
    ("POST", SLOTS, {"address": "X", "slot": ""}, 400, "slot must be a non-empty string"),
    ("POST", SLOTS, {"address": "X", "slot": "1", "when": "now"}, 400, "unknown field 'when'"),
    ("DELETE", "/operators/covage/appointments/RDVNONE?tenant=DEMO", None, 409, "no appointment RDVNONE"),
    ("GET", "/operators/nobody/appointments?tenant=DEMO&address=X", None, 404, "GET /api/operators lists"),
])
def test_bad_calls_to_the_booking_service_get_a_clear_answer(api: Api, method, path, body, status, detail):
    got, answer = api.call(method, path, body)
    assert got == status and detail in answer["detail"], answer


def order_with(oc: OcFtpClient, api: Api, address, ref: str, rdv: str) -> dict[str, str]:
    oc.send("Cmd_Acces", [cmd_acces(address, ref, type_racco="OI", IdRdv=rdv)])
    assert oc.receive("AR_Cmd_Acces").single()["EtatArCommandePrise"] == "OK"
    api.post("/clock/advance", {"working_days": 1})
    return oc.receive("CR_Cmd_Acces").single()


def test_an_appointment_is_used_once_then_refused_frdv04(oc: OcFtpClient, api: Api, addresses):
    address = addresses[0]
    hexacle = address["CodeAdresseImmeuble"]
    rdv = api.post(SLOTS, {"address": hexacle, "slot": free(api, hexacle)[0]["slot"]})["IdRdv"]
    assert order_with(oc, api, address, "R1", rdv)["EtatCrCommandePrise"] == "OK"
    assert api.get("/orders/R1?tenant=DEMO")["data"]["RdvSlot"]
    cr = order_with(oc, api, address, "R2", rdv)
    assert (cr["EtatCrCommandePrise"], cr["MotifKoCrCommandePrise"]) == ("KO", "FRDV04")
    assert "already used by order R1" in cr["Commentaire"]


def test_an_appointment_whose_day_has_passed_is_refused_frdv04(oc: OcFtpClient, api: Api, addresses):
    address = addresses[0]
    hexacle = address["CodeAdresseImmeuble"]
    rdv = api.post(SLOTS, {"address": hexacle, "slot": free(api, hexacle)[0]["slot"]})["IdRdv"]
    api.post("/clock/advance", {"working_days": 9})
    cr = order_with(oc, api, address, "R3", rdv)
    assert (cr["EtatCrCommandePrise"], cr["MotifKoCrCommandePrise"]) == ("KO", "FRDV04")
    assert "a day gone" in cr["Commentaire"]
