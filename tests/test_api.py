"""Admin API over real HTTP: health, clock, reference data, orders, journal, tenants."""

from __future__ import annotations

import ftplib

import pytest

from tests.helpers import Api, cmd_acces, ftp_login, upload, wait_for_files


def test_health_lists_endpoints_tenants_and_networks(api: Api, opsim_sandbox):
    health = api.get("/health")
    assert health["status"] == "ok"
    assert health["tenants"] == ["DEMO"] and health["networks"] == ["COVA", "COVB"]
    assert health["endpoints"]["ftp"].endswith(str(opsim_sandbox.ftp_address[1]))


def test_clock_freeze_advance_resume(api: Api):
    assert api.get("/clock") == {"now": "2026-11-24T10:00:00", "frozen": True, "speed": 0.0, "working_day": True,
                                 "holiday": None}
    assert api.post("/clock/advance", {"working_days": 3})["now"] == "2026-11-27T10:00:00"
    assert api.post("/clock/advance", {"hours": 2})["now"] == "2026-11-27T12:00:00"
    assert api.post("/clock/advance", {"working_days": 1})["now"] == "2026-11-30T12:00:00"  # over the weekend
    resumed = api.post("/clock/resume", {"speed": 3600})
    assert resumed["frozen"] is False and resumed["speed"] == 3600
    assert api.post("/clock/freeze")["frozen"] is True


@pytest.mark.parametrize("body", [{}, {"hours": -1}, {"working_days": "x"}, [1, 2]])
def test_clock_advance_refuses_bad_bodies(api: Api, body):
    status, answer = api.call("POST", "/clock/advance", body)
    assert status == 400 and answer["detail"]


def test_addresses_are_deployed_ipe_lines_with_their_sockets(api: Api):
    addresses = api.get("/addresses?network=COVB&limit=5")
    assert len(addresses) == 5
    for a in addresses:
        assert a["EtatImmeuble"] == "DEPLOYE"
        assert a["CodeAdresseImmeuble"].startswith("CB") and len(a["CodeAdresseImmeuble"]) == 10
        assert a["ReferencePrise"] == [line["ReferencePrise"] for line in a["Lignes"]]
        assert all(ref.startswith("CB-") for ref in a["ReferencePrise"])
    assert api.call("GET", "/addresses?network=NOPE")[0] == 404
    assert api.call("GET", "/addresses?limit=-3")[0] == 400


def test_orders_show_state_and_history(api: Api, demo_ftp: ftplib.FTP, addresses, order_file):
    name, content = order_file([cmd_acces(addresses[0], "API1", type_racco="OI")])
    upload(demo_ftp, "IN/COVA/CV", name, content)
    wait_for_files(demo_ftp, "OUT/COVA/CV")
    api.post("/clock/advance", {"working_days": 1})
    order = api.get("/orders/API1?tenant=DEMO")
    assert order["state"] == "CR_OK"
    assert [h["step"] for h in order["history"]] == ["AR OK", "CR OK"]
    assert order["history"][1]["at_virtual"] == "2026-11-25T10:00:00"
    assert [o["ReferenceCommandePriseInterneOC"] for o in api.get("/orders?tenant=DEMO")] == ["API1"]
    assert api.call("GET", "/orders/NOPE?tenant=DEMO")[0] == 404
    assert api.call("GET", "/orders")[0] == 400
    journal = api.get("/journal?tenant=DEMO")
    assert [j["flow"] for j in journal if j["direction"] != "admin"][:2] == ["Cmd_Acces", "AR_Cmd_Acces"]


def test_reprovision_outside_its_window_is_refused(api: Api):
    status, answer = api.call("POST", "/orders/NONE/reprovision?tenant=DEMO", {"motif": "Fibre HS"})
    assert status == 409 and "no order" in answer["detail"]


def test_new_tenant_logs_in_to_its_own_tree(api: Api, opsim_sandbox):
    created = api.post("/tenants", {"code": "acme", "password": "pw", "email": "noc@acme.test"})
    assert created["code"] == "ACME" and "IN/COVA/CV" in created["folders"]
    ftp = ftp_login(opsim_sandbox.ftp_address, "ACME", "pw")
    assert sorted(ftp.nlst()) == ["IN", "OUT"]
    ftp.close()
    assert api.call("POST", "/tenants", {"code": "ACME", "password": "x"})[0] == 400  # exists
    assert api.call("POST", "/tenants", {"code": "bad code!", "password": "x"})[0] == 400
    assert api.call("POST", "/tenants", {"code": "NOPW"})[0] == 400
    assert {t["code"] for t in api.get("/tenants")} == {"DEMO", "ACME"}


def test_an_encoded_slash_in_a_path_parameter_is_a_missing_resource_not_a_wrong_method(api: Api):
    # The server decodes %2F before routing: GET .../0%2F0/appointments would reach the POST-only action
    # route /operators/<operator>/<capability>/<action> and answer an undocumented 405.
    status, body = api.call("GET", "/operators/0%2F0/appointments?address=X")
    assert status == 404, body
    assert "%2F" in body["detail"]


def test_an_advance_handle_that_is_not_ascii_digits_is_a_missing_resource(api: Api):
    # "²".isdigit() is True but int("²") raises: the handle answered 500 (found by test_api_fuzz).
    for handle in ("%C2%B2", "%D9%A3", "12a", "9" * 12):
        status, body = api.call("GET", f"/clock/advance/{handle}")
        assert status == 404 and body["error"] == "Not Found", (handle, status, body)
