"""Protocole Accès 1.2 scenarios (features/access/*.feature): the OC's steps, played over real FTP.

Shared steps (clock, order state, answer-file checks) and the `world` fixture are in features/conftest.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_bdd import given, parsers, scenarios, then, when

from conformance.client import orders

if TYPE_CHECKING:
    from conftest import World

scenarios("access")

Record = dict[str, str]


# ---------------------------------------------------------------------------------------------- addresses
def is_apartment_building(address: dict[str, Any]) -> bool:
    """A single building with staircases or floors and at least one free socket."""
    return (address["TypeImmeuble"] == "IMMEUBLE" and address["BatimentImmeuble"] == ""
            and any(address["Etages"]) and any(not line["Occupee"] for line in address["Lignes"]))


def apartment_building(world: World) -> dict[str, Any]:
    if world.address is None:
        world.address = world.find_address("an apartment building with a free socket", is_apartment_building)
    return world.address


@given("an apartment building with free sockets")
def given_apartment_building(world: World) -> None:
    address = apartment_building(world)
    world.socket = next(line for line in address["Lignes"] if not line["Occupee"])


@given("an apartment building served by several PBOs")
def given_building_with_pbos(world: World) -> None:
    world.address = world.find_address("an apartment building served by several PBOs", lambda a: (
        is_apartment_building(a) and len({line["ReferencePBO"] for line in a["Lignes"]}) > 1))


@given("a free socket on the building's last staircase")
def free_socket_last_staircase(world: World) -> None:
    address = apartment_building(world)
    last = address["Escaliers"][-1]
    world.socket = next((line for line in address["Lignes"] if line["Escalier"] == last and not line["Occupee"]),
                        None)
    assert world.socket is not None, f"no free socket on staircase {last!r} of {address['IdentifiantImmeuble']}"


# ---------------------------------------------------------------------------------------------- ordering
def send_orders(world: World, records: list[Record]) -> str:
    for record in records:
        world.record_sent(record["ReferenceCommandePriseInterneOC"], record)
    return world.oc.send("Cmd_Acces", records)


def order_record(world: World, ref: str, **overrides: str) -> Record:
    """A valid Cmd_Acces line at the building at hand, dated on the virtual clock."""
    return orders.cmd_acces(apartment_building(world), ref, date=world.admin.now().strftime("%Y%m%d"), **overrides)


@when(parsers.parse('the OC orders a new socket in "{mode}" mode'))
def order_new_socket(world: World, mode: str) -> None:
    ref = world.new_ref()
    send_orders(world, [order_record(world, ref, TypeRacco=mode)])
    world.sent_ref = ref


@when(parsers.parse('the OC orders the free socket in "{mode}" mode'))
def order_free_socket(world: World, mode: str) -> None:
    assert world.socket is not None, "no free socket picked"
    ref = world.new_ref()
    record = orders.cmd_acces(apartment_building(world), ref, type_racco=mode, existing=world.socket["ReferencePrise"],
                              date=world.admin.now().strftime("%Y%m%d"))
    assert record["PriseExistante"] == "O" and record["Etage"] == world.socket["Etage"]
    send_orders(world, [record])


@when(parsers.parse('the OC orders an existing socket without its ReferencePrise in "{mode}" mode'))
def order_hotline(world: World, mode: str) -> None:
    assert world.socket is not None, "no free socket picked"
    # The floor of a free socket, so the OI's hotline can find it there.
    record = order_record(world, world.new_ref(), TypeRacco=mode, PriseExistante="O", ReferencePrise="",
                          Escalier=world.socket["Escalier"], Etage=world.socket["Etage"])
    send_orders(world, [record])


@when(parsers.parse('the OC orders {n:d} existing sockets without their ReferencePrise in "{mode}" mode in one file'))
def order_hotlines(world: World, n: int, mode: str) -> None:
    assert world.socket is not None, "no free socket picked"
    send_orders(world, [order_record(world, world.new_ref(), TypeRacco=mode, PriseExistante="O", ReferencePrise="",
                                     Escalier=world.socket["Escalier"], Etage=world.socket["Etage"])
                        for _ in range(n)])
    ar = world.receive("AR_Cmd_Acces")
    assert [line["EtatArCommandePrise"] for line in ar.records] == ["OK"] * n, ar.records


@given(parsers.parse('the OC has ordered a new socket in "{mode}" mode and got its AR OK'))
def ordered_and_acknowledged(world: World, mode: str) -> None:
    if world.address is None:
        given_apartment_building(world)
    order_new_socket(world, mode)
    line = world.receive_for_order("AR_Cmd_Acces")
    assert line["EtatArCommandePrise"] == "OK" and line["ReferencePrestationPrise"], f"AR: {line}"


@given("the order has received its CR and its Cmd_STOC")
def cr_and_cmd_stoc(world: World) -> None:
    world.admin.advance(working_days=world.config.covage.timings["cr_cmd"].working_days)
    cr = world.receive_for_order("CR_Cmd_Acces")
    assert cr["EtatCrCommandePrise"] == "OK" and cr["NomModulePm1"], f"CR: {cr}"
    stoc = world.receive_for_order("Cmd_STOC")
    assert stoc["ReferenceCommandeSousTraitantOI"], f"Cmd_STOC: {stoc}"
    assert world.order_state() == "STOC_COMMANDE"


@given("the order has received its CR MAD")
def received_cr_mad(world: World) -> None:
    timings = world.config.covage.timings
    world.admin.advance(working_days=timings["cr_cmd"].working_days)
    assert world.receive_for_order("CR_Cmd_Acces")["EtatCrCommandePrise"] == "OK"
    mode = world.order.record["TypeRacco"]
    if mode == "STOC":
        answer_cmd_stoc(world, "OK")
    else:
        world.admin.advance(working_days=timings["oi_connection" if mode == "OI" else "oc_connection"].working_days)
    assert world.receive_for_order("CR_MAD_Ligne")["EtatCrMadPrise"] == "OK"
    assert world.order_state() == "MAD"


# ---------------------------------------------------------------------------------------------- the OC's answers
@when(parsers.re(r'the OC answers the Cmd_STOC with a CR_STOC (?P<state>OK|KO)(?: for motif "(?P<motif>\w+)")?'))
def answer_cmd_stoc(world: World, state: str, motif: str | None = None) -> None:
    cmd_stoc = world.order.answers.get("Cmd_STOC")
    assert cmd_stoc is not None, "no Cmd_STOC received for this order"
    # A reprovisioning gave the technician a discharge number: the CR_STOC reports it.
    decharge = world.order.answers.get("Notif_Reprov", {}).get("NumeroDecharge", "")
    record = orders.cr_stoc(cmd_stoc, ok=state == "OK", motif=motif or "",
                            when=world.admin.now().strftime("%Y%m%d%H%M%S"), NumeroDecharge=decharge)
    world.oc.send("CR_STOC", [record])


@when("the OC sends a CR MES OK for the line")
def send_cr_mes(world: World) -> None:
    cr_mad = world.order.answers.get("CR_MAD_Ligne")
    assert cr_mad is not None, "no CR_MAD_Ligne received for this order"
    name = world.oc.send("CR_MES_Ligne", [orders.cr_mes(cr_mad, date=world.admin.now().strftime("%Y%m%d"))])
    world.oc.wait_consumed(name)  # no answer flow: the file leaving IN says the OI has processed it


@when(parsers.re(r"the OC cancels the order(?: again)?"))
def cancel(world: World) -> None:
    record = orders.annul_acces(world.order.ref, world.order.prestation, date=world.admin.now().strftime("%Y%m%d"))
    world.oc.send("Annul_Acces", [record])


@when(parsers.parse('the operator reprovisions the order for motif "{motif}"'))
def reprovision(world: World, motif: str) -> None:
    order = world.admin.reprovision(world.order.ref, world.tenant, motif)
    last = order["history"][-1]
    assert (last["step"], last["detail"]) == ("Notif Reprov", motif), f"last step: {last}"


# ---------------------------------------------------------------------------------------------- specific checks
@then("its ReferencePBO is the PBO of the ordered socket")
def pbo_of_socket(world: World) -> None:
    assert world.last_line is not None and world.socket is not None
    assert world.last_line["ReferencePBO"] == world.socket["ReferencePBO"]


@then("its ReferencePrise is a free socket of the ordered staircase and floor")
def free_socket_of_floor(world: World) -> None:
    assert world.last_line is not None
    record = world.order.record
    candidates = {line["ReferencePrise"] for line in apartment_building(world)["Lignes"] if not line["Occupee"]
                  and (line["Escalier"], line["Etage"]) == (record["Escalier"], record["Etage"])}
    got = world.last_line["ReferencePrise"]
    assert got in candidates, f"ReferencePrise {got!r} is not one of the free sockets there: {sorted(candidates)}"


@then("its ReferencePBO is the PBO of the socket it names")
def pbo_of_named_socket(world: World) -> None:
    line = world.last_line
    assert line is not None
    socket = line["ReferencePrise"]
    pbo = {s["ReferencePrise"]: s["ReferencePBO"] for s in apartment_building(world)["Lignes"]}.get(socket)
    assert pbo is not None, f"{socket} is not a socket of the building"
    assert line["ReferencePBO"] == pbo, f"ReferencePBO {line['ReferencePBO']}, but {socket} is on {pbo}"


@then("each order gets a Notif_Reprov with a ReferencePrise of its own")
def hotline_sockets_differ(world: World) -> None:
    sockets = {ref: world.receive_for_order("Notif_Reprov", ref)["ReferencePrise"] for ref in world.orders}
    assert all(sockets.values()), f"a Notif_Reprov without ReferencePrise: {sockets}"
    assert len(set(sockets.values())) == len(sockets), f"one socket given to several orders: {sockets}"


@then("its route optique reaches the PBO it names")
def route_reaches_pbo(world: World) -> None:
    line = world.last_line
    assert line is not None and line["ReferencePBO"]
    # opsim names the PBO side of a route after its PBO (refdata.build_route: CBR-<ReferencePBO>).
    assert line["ReferenceCablePBO1"] == f"CBR-{line['ReferencePBO']}", (
        f"ReferencePBO {line['ReferencePBO']} but the fibre reaches the PBO by cable {line['ReferenceCablePBO1']}")


# ---------------------------------------------------------------------------------------------- rejects
def unknown_hexacle(world: World, ref: str) -> Record:
    hexacle = "ZZZZZZZZZZ"
    assert all(a["CodeAdresseImmeuble"] != hexacle for a in world.reference_addresses())
    return order_record(world, ref, CodeAdresseImmeuble=hexacle)


def other_pm(world: World, ref: str) -> Record:
    own = apartment_building(world)["ReferencePM"]
    other = world.find_address("served by another PM", lambda a: a["ReferencePM"] != own)
    return order_record(world, ref, ReferencePm=other["ReferencePM"])


def unknown_batiment(world: World, ref: str) -> Record:
    def shared(a: dict[str, Any]) -> bool:
        return sum(b["CodeAdresseImmeuble"] == a["CodeAdresseImmeuble"] for b in world.reference_addresses()) > 1
    address = world.find_address("a street address with several buildings", shared)
    return orders.cmd_acces(address, ref, Batiment="ZZ", date=world.admin.now().strftime("%Y%m%d"))


def unknown_escalier(world: World, ref: str) -> Record:
    address = world.find_address("a building with staircases", lambda a: any(a["Escaliers"]))
    return orders.cmd_acces(address, ref, Escalier="ZZ", date=world.admin.now().strftime("%Y%m%d"))


def unknown_socket(world: World, ref: str) -> Record:
    reference = "CV-ZZZZ-ZZZZ"
    assert all(reference not in a["ReferencePrise"] for a in world.reference_addresses())
    return order_record(world, ref, PriseExistante="O", ReferencePrise=reference)


#: Cmd_Acces lines, valid or wrong in one way, by the phrase the scenarios use.
ORDER_LINES: dict[str, Callable[[World, str], Record]] = {
    "a valid order": lambda w, ref: order_record(w, ref),
    "an order at an unknown hexaclé": unknown_hexacle,
    "an order without NomClient": lambda w, ref: order_record(w, ref, NomClient=""),
    'an order with TypeRacco "XX"': lambda w, ref: order_record(w, ref, TypeRacco="XX"),
    'an order with TypeCommandeDemande "XXXX"': lambda w, ref: order_record(w, ref, TypeCommandeDemande="XXXX"),
    "an order on an unknown ReferencePm": lambda w, ref: order_record(w, ref, ReferencePm="PMZZ9999"),
    "an order on the ReferencePm of another PM": other_pm,
    "an order for an unknown Batiment of a multi-building address": unknown_batiment,
    "an order for an unknown Escalier": unknown_escalier,
    "an order for an unknown Etage": lambda w, ref: order_record(w, ref, Etage="99"),
    "an order for an unknown existing ReferencePrise": unknown_socket,
}


def order_line(world: World, phrase: str, ref: str) -> Record:
    assert phrase in ORDER_LINES, f"unknown order line {phrase!r} (known: {', '.join(ORDER_LINES)})"
    return ORDER_LINES[phrase](world, ref)


def reuse_reference(world: World) -> None:
    ordered_and_acknowledged(world, "STOC")
    send_orders(world, [order_record(world, world.order.ref)])
    world.sent_ref = world.order.ref


def cancel_unknown(world: World) -> None:
    ref = "CMD-NEVER-SENT"
    world.oc.send("Annul_Acces", [orders.annul_acces(ref, date=world.admin.now().strftime("%Y%m%d"))])
    world.sent_ref = ref


def bad_header(world: World) -> None:
    content = world.oc.flow("Cmd_Acces").write([order_record(world, world.new_ref())])
    header, rest = content.split(b"\r\n", 1)
    assert b";NomClient;" in header
    world.sent_ref = None
    world.sent_file = world.oc.send_raw(world.oc.next_filename("Cmd_Acces"),
                                        header.replace(b";NomClient;", b";NomDuClient;") + b"\r\n" + rest)


def named_for_other_oc(world: World) -> None:
    name = world.oc.next_filename("Cmd_Acces", oc="AUTREOC")
    world.sent_ref = None
    world.sent_file = world.oc.send("Cmd_Acces", [order_record(world, world.new_ref())], filename=name)


#: What the OC does wrong beyond one bad line: the phrase of the scenario -> the action.
WRONG_MOVES: dict[str, Callable[[World], None]] = {
    "an order reusing the reference of an acknowledged order": reuse_reference,
    "a cancellation of an unknown order": cancel_unknown,
    "an order file with a bad header": bad_header,
    "an order file named for another OC": named_for_other_oc,
}


# Only the known phrases match, so "the OC sends a CR MES..." and a typo are not taken for a reject case.
CASES = "|".join(re.escape(case) for case in [*ORDER_LINES, *WRONG_MOVES])


@when(parsers.re(rf"the OC sends (?P<case>{CASES})"))
def send_case(world: World, case: str) -> None:
    if case in WRONG_MOVES:
        WRONG_MOVES[case](world)
        return
    ref = world.new_ref()
    send_orders(world, [order_line(world, case, ref)])
    world.sent_ref = ref


@then(parsers.re(r'an? (?P<flow>\w+) file arrives with one KO line for motif "(?P<code>\w+)"'))
def one_ko_line(world: World, flow: str, code: str) -> None:
    reply = next(f.reply for f in world.oc.pack.flows.values() if f.reply.get("flow") == flow)
    line = world.receive(flow).single()
    assert (line[reply["state"]], line[reply["motif"]]) == ("KO", code), (
        f"{reply['state']}={line[reply['state']]!r} {reply['motif']}={line[reply['motif']]!r}: {line}")
    assert code in world.oc.pack.rejects, f"{code} is not an Annexe 5f code of the spec pack"
    assert line[reply["date"]] == world.admin.now().strftime("%Y%m%d%H%M%S")
    if world.sent_ref is not None:
        assert line["ReferenceCommandePriseInterneOC"] == world.sent_ref
        assert line["Commentaire"], "a KO line must say why in Commentaire"
    else:  # the file as a whole: the comment names it
        assert world.sent_file and line["Commentaire"].startswith(world.sent_file), line["Commentaire"]


# ---------------------------------------------------------------------------------------------- several lines
@when("the OC sends one Cmd_Acces file with the orders")
def send_many(world: World, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    assert header == ["ReferenceCommandePriseInterneOC", "order"], f"table header: {header}"
    records = [order_line(world, phrase, ref) for ref, phrase in rows]
    send_orders(world, records)  # the first line of a reference is the order: a repeat is a reject


@then(parsers.re(r"an? (?P<flow>\w+) file arrives with the lines"))
def file_with_lines(world: World, flow: str, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    received = world.receive(flow)
    assert len(received.records) == len(rows), f"{received.name}: {len(received.records)} lines, {len(rows)} expected"
    for number, (line, row) in enumerate(zip(received.records, rows, strict=True), start=1):
        world.check_line(line, dict(zip(header, row, strict=True)), f"{received.name} line {number}")
        order = world.orders.get(line["ReferenceCommandePriseInterneOC"])
        if order is not None and flow not in order.answers:
            order.answers[flow] = line
