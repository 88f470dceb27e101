"""Steps of the web-service scenarios (features/eligibility/, features/sav/): the OC asks the order help
service the structure of an address, opens and follows trouble tickets, through its adapter's verbs
(lookup_address, open_ticket, ticket_status, close_ticket). They share the Accès steps' world (the OC's
orders, the sandbox's addresses). The checks on how the OC calls the services run at each scenario's end
(simulator/operators/covage/harness/ws_checks.py); the assertions here start with their id:
    WS-STRUCTURE        lookup_address gives the buildings, staircases, floors and sockets of the answer
    WS-FREE             lookup_address gives as free exactly the sockets nobody holds
    WS-FAULT            a fault (unknown address) is reported as such, without the OC failing
    WS-TICKET-STATE     ticket_status gives the state the operator holds
    WS-TICKET-LINE      no ticket opened on a line that is not in service
"""

from __future__ import annotations

from typing import Any

from pytest_bdd import parsers, then, when

from simulator.operators.covage.harness.steps.access import UNKNOWN_HEXACLE, AccessWorld


def lookups(world: AccessWorld) -> list[dict[str, Any]]:
    return world.__dict__.setdefault("ws_lookups", [])


def lookup(world: AccessWorld, hexacle: str) -> dict[str, Any]:
    answer = world.oc.driver.call("lookup_address", {"hexacle": hexacle})
    lookups(world).append({"hexacle": hexacle, **answer})
    return answer


@when("the OC looks up the structure of the address")
def look_up_the_address(access_world: AccessWorld) -> None:
    lookup(access_world, access_world.building()["CodeAdresseImmeuble"])


@when("the OC looks up the structure of an address the operator does not know")
def look_up_unknown(access_world: AccessWorld) -> None:
    lookup(access_world, UNKNOWN_HEXACLE)


@when(parsers.parse("the OC looks up the structure of {n:d} addresses one after the other"))
def look_up_several(access_world: AccessWorld, n: int) -> None:
    for address in access_world.reference_addresses()[:n]:
        lookup(access_world, address["CodeAdresseImmeuble"])


@then("the OC knows the buildings, staircases and floors of the address")
def knows_structure(access_world: AccessWorld) -> None:
    building = access_world.building()
    answer = lookups(access_world)[-1]
    assert answer.get("found"), f"[WS-STRUCTURE] lookup_address found nothing: {answer}"
    ours = [b for b in answer["buildings"] if b["identifiant_immeuble"] == building["IdentifiantImmeuble"]]
    assert ours, f"[WS-STRUCTURE] building {building['IdentifiantImmeuble']} missing from {answer['buildings']}"
    staircases = [s["escalier"] for s in ours[0]["staircases"]]
    assert staircases == (building["Escaliers"] or [""]), f"[WS-STRUCTURE] staircases {staircases}"
    for staircase in ours[0]["staircases"]:
        floors = [f["etage"] for f in staircase["floors"]]
        assert floors == building["Etages"], f"[WS-STRUCTURE] floors of {staircase['escalier']!r}: {floors}"
    sockets = {sk["reference"] for s in ours[0]["staircases"] for f in s["floors"] for sk in f["sockets"]}
    expected = {ln["ReferencePrise"] for ln in building["Lignes"] if ln["Batiment"] == building["BatimentImmeuble"]}
    assert sockets == expected, f"[WS-STRUCTURE] sockets {sorted(sockets ^ expected)} differ"


@then("the OC knows the free sockets of the address")
def knows_free_sockets(access_world: AccessWorld) -> None:
    building = access_world.building()
    answer = lookups(access_world)[-1]
    taken_by_network = {ln["ReferencePrise"] for ln in building["Lignes"] if ln["Occupee"]}
    free = set(answer["free_sockets"])
    assert free and not free & taken_by_network, \
        f"[WS-FREE] free sockets {sorted(free)} include sockets another operator holds {sorted(taken_by_network)}"


@then("the OC knows the ordered socket is not free")
def ordered_socket_taken(access_world: AccessWorld) -> None:
    socket = access_world.socket
    assert socket is not None
    answer = lookups(access_world)[-1]
    assert socket["ReferencePrise"] not in answer.get("free_sockets", []), \
        f"[WS-FREE] {socket['ReferencePrise']} was ordered and still reported free"


@then("the OC knows the address is unknown")
def knows_unknown(access_world: AccessWorld) -> None:
    answer = lookups(access_world)[-1]
    assert answer.get("found") is False and answer.get("error") == "C01", \
        f"[WS-FAULT] an unknown address must be reported as not found with codeErreur C01: {answer}"


@then("the OC knows the structure of each")
def knows_each(access_world: AccessWorld) -> None:
    for answer in lookups(access_world):
        assert answer.get("found") and answer["buildings"], f"[WS-STRUCTURE] {answer['hexacle']}: {answer}"


# ---------------------------------------------------------------------------------------------- SAV
def tickets(world: AccessWorld) -> list[str | None]:
    return world.__dict__.setdefault("ws_tickets", [])


@when("the OC opens a trouble ticket on the order")
def open_ticket(access_world: AccessWorld) -> None:
    answer = access_world.oc.driver.call("open_ticket", {"ref": access_world.ref, "description": "Plus de synchro"})
    assert answer.get("ticket"), f"[WS-TICKET-LINE] the OC opened no ticket on its line in service: {answer}"
    tickets(access_world).append(answer["ticket"])


@when("the OC is asked to open a trouble ticket on the order")
def asked_to_open_ticket(access_world: AccessWorld) -> None:
    answer = access_world.oc.driver.call("open_ticket", {"ref": access_world.ref, "description": "Plus de synchro"})
    tickets(access_world).append(answer.get("ticket"))


@when("the OC closes the ticket")
def close_ticket(access_world: AccessWorld) -> None:
    access_world.oc.driver.call("close_ticket", {"ticket": tickets(access_world)[-1]})


@then(parsers.parse('the OC knows the ticket is "{state}"'))
def knows_ticket_state(access_world: AccessWorld, state: str) -> None:
    answer = access_world.oc.driver.call("ticket_status", {"ticket": tickets(access_world)[-1]})
    assert answer.get("state") == state, f"[WS-TICKET-STATE] ticket_status says {answer}, the operator {state}"


@then("the OC opened no ticket")
def opened_no_ticket(access_world: AccessWorld) -> None:
    assert tickets(access_world)[-1] is None, \
        f"[WS-TICKET-LINE] the OC opened ticket {tickets(access_world)[-1]} on a line that is not in service"
