"""Steps of the sandbox's own scenarios (tests/sandbox_scenarios/*.feature): our reference OC client plays
the OC against the in-process sandbox of the `opsim_sandbox` fixture (simulator.pytest_plugin) and checks the
operator's answers line by line. tests/test_sandbox_scenarios.py imports them.

Value tokens accepted in the tables of answer checks:
    (set)          any non-empty value          (empty) or an empty cell: an empty value
    (as ordered)   the same column of the OC's Cmd_Acces line
    (as in FLOW)   the same column of the last FLOW line received for this order, e.g. (as in CR_Cmd_Acces)
    (today)        the virtual date AAAAMMJJ    (now) the virtual date-time AAAAMMJJHHMMSS
"""


from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from simulator.clock import FrenchCalendar
from simulator.config import Config
from simulator.operators.covage.access import State
from simulator.operators.covage.harness.client import OcFtpClient, ReceivedFile, SandboxAdmin, orders
from simulator.operators.covage.harness.steps.access import BLOCK

TENANT = "DEMO"
NETWORK = ("COVA", "CV")
#: Real seconds to wait for an answer file: answers come within milliseconds, the margin is for slow CI.
ANSWER_TIMEOUT = 5.0

#: The route optique block without its number (NomModulePm1, ...): the same columns the harness checks.
ROUTE_COLUMNS = BLOCK

# ---------------------------------------------------------------------------------------------- world
@dataclass
class OcOrder:
    """What the OC knows of one of its orders: the line it sent and the last line of each answer flow."""

    ref: str
    record: dict[str, str]
    answers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def prestation(self) -> str:
        return self.answers.get("AR_Cmd_Acces", {}).get("ReferencePrestationPrise", "")


@dataclass
class World:
    """One scenario's OC: its FTP client, the admin API, the address at hand and its orders."""

    oc: OcFtpClient
    admin: SandboxAdmin
    tenant: str
    config: Config
    addresses: list[dict[str, Any]] = field(default_factory=list)
    address: dict[str, Any] | None = None
    socket: dict[str, Any] | None = None  # the free existing socket (a line of address["Lignes"]) at hand
    orders: dict[str, OcOrder] = field(default_factory=dict)
    current: OcOrder | None = None
    last_file: ReceivedFile | None = None
    last_line: dict[str, str] | None = None
    sent_ref: str | None = None  # the order line a reject case is about (None: the file as a whole)
    sent_file: str | None = None  # the name of the last file dropped as a whole-file reject case
    unread: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)  # (flow, ref) -> lines
    _refs: int = 0

    def new_ref(self) -> str:
        self._refs += 1
        return f"CMD-{self.tenant}-{self._refs:04d}"

    @property
    def order(self) -> OcOrder:
        assert self.current is not None, "no order sent in this scenario yet"
        return self.current

    def reference_addresses(self) -> list[dict[str, Any]]:
        if not self.addresses:
            self.addresses = self.admin.addresses(NETWORK[0], limit=300)
            assert self.addresses, "the sandbox lists no deployed address"
        return self.addresses

    def find_address(self, description: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        found = next((a for a in self.reference_addresses() if predicate(a)), None)
        assert found is not None, f"no deployed address on {NETWORK[0]} is {description}"
        return found

    def record_sent(self, ref: str, record: dict[str, str]) -> OcOrder:
        order = self.orders.setdefault(ref, OcOrder(ref, record))
        self.current = order
        return order

    def receive(self, flow: str, ref: str | None = None) -> ReceivedFile:
        """The next file of `flow` (about order `ref` if given); the OI's file must itself be clean."""
        def about(f: ReceivedFile) -> bool:
            return any(r.get("ReferenceCommandePriseInterneOC") == ref for r in f.records)
        received = self.oc.receive(flow, timeout=ANSWER_TIMEOUT, where=about if ref else None)
        assert not received.problems, f"{received.name} is not a clean {flow} file: {received.problems}"
        self.last_file = received
        return received

    def receive_for_order(self, flow: str, ref: str | None = None) -> dict[str, str]:
        """The next `flow` line about an order: the OI may answer several orders in one file, so the
        other lines of that file wait in `unread` for their own step."""
        order = self.orders[ref] if ref else self.order
        waiting = self.unread.get((flow, order.ref))
        if not waiting:
            received = self.receive(flow, order.ref)
            for line in received.records:
                self.unread.setdefault((flow, line["ReferenceCommandePriseInterneOC"]), []).append(line)
            waiting = self.unread[(flow, order.ref)]
        line = waiting.pop(0)
        order.answers[flow] = line
        self.last_line = line
        return line

    def unread_lines(self, flow: str | None = None) -> list[str]:
        return [f"{f} line for {ref}" for (f, ref), lines in self.unread.items() for _ in lines
                if flow is None or f == flow]

    def expected(self, column: str, token: str) -> str | None:
        """The value a table cell asks for; None for (set), checked apart."""
        token = token.strip()
        if token == "(set)":
            return None
        if token in ("", "(empty)"):
            return ""
        if token == "(as ordered)":
            assert column in self.order.record, f"{column} is not a column of the OC's Cmd_Acces line"
            return self.order.record[column]
        if m := re.fullmatch(r"\(as in (\w+)\)", token):
            flow = m[1]
            assert flow in self.order.answers, f"no {flow} received yet for {self.order.ref}"
            return self.order.answers[flow][column]
        if token == "(today)":
            return self.admin.now().strftime("%Y%m%d")
        if token == "(now)":
            return self.admin.now().strftime("%Y%m%d%H%M%S")
        return token

    def check_line(self, line: Mapping[str, str], expectations: Mapping[str, str], where: str) -> None:
        problems = []
        for column, token in expectations.items():
            assert column in line, f"{where}: no column {column!r} (columns: {', '.join(line)})"
            want = self.expected(column, token)
            got = line[column]
            if (want is None and not got) or (want is not None and got != want):
                shown = f"{token!r}" + (f" = {want!r}" if want is not None and want != token else "")
                problems.append(f"{column} = {got!r}, expected {shown}")
        assert not problems, f"{where}: " + "; ".join(problems)

    def order_state(self, ref: str | None = None) -> str:
        return self.admin.order(ref or self.order.ref, self.tenant)["state"]


@pytest.fixture
def admin(opsim_sandbox: Any) -> SandboxAdmin:
    return SandboxAdmin(opsim_sandbox.http_url)


@pytest.fixture
def oc(opsim_sandbox: Any, opsim_config: Config, admin: SandboxAdmin) -> Iterator[OcFtpClient]:
    account = next(t for t in opsim_config.all_tenants() if t.code == TENANT)
    host, port = opsim_sandbox.ftp_address
    # File names carry the sandbox's virtual date, as a real OC's carry its real one.
    with OcFtpClient(host, port, account.login, account.password, account.code, *NETWORK,
                     today=admin.today) as client:
        yield client


@pytest.fixture
def world(oc: OcFtpClient, admin: SandboxAdmin, opsim_config: Config) -> World:
    return World(oc, admin, oc.oc_code, opsim_config)


def table(datatable: list[list[str]]) -> dict[str, str]:
    """A two-column table (column | value) as a dict."""
    assert all(len(row) == 2 for row in datatable), "expected a two-column table: | column | value |"
    return {row[0].strip(): row[1] for row in datatable}


# ---------------------------------------------------------------------------------------------- connection
@given("the OC is connected to the sandbox over FTP")
def connected(world: World) -> None:
    # A listing proves the login worked and the OC's OUT folder exists (and starts empty).
    assert world.oc.receive_all() == [], "OUT should be empty before the OC has sent anything"


# ---------------------------------------------------------------------------------------------- clock
def _advance(world: World, *, working_days: int = 0, hours: int = 0) -> None:
    before = world.admin.now()
    after = world.admin.advance(working_days=working_days, hours=hours)
    expected = FrenchCalendar().add_working_days(before, working_days) + timedelta(hours=hours)
    assert after == expected, f"the clock went from {before} to {after}, expected {expected}"


@given(parsers.re(r"(?P<n>\d+) working days? (?:has|have) passed"), converters={"n": int})
@when(parsers.re(r"(?P<n>\d+) (?:more )?working days? (?:has|have) passed"), converters={"n": int})
def working_days_pass(world: World, n: int) -> None:
    _advance(world, working_days=n)


@given(parsers.re(r"(?P<n>\d+) hours? (?:has|have) passed"), converters={"n": int})
@when(parsers.re(r"(?P<n>\d+) (?:more )?hours? (?:has|have) passed"), converters={"n": int})
def hours_pass(world: World, n: int) -> None:
    _advance(world, hours=n)


@then(parsers.parse('the virtual clock shows "{moment}"'))
def clock_shows(world: World, moment: str) -> None:
    assert world.admin.now() == datetime.fromisoformat(moment)


# ---------------------------------------------------------------------------------------------- operator state
@then(parsers.re(r'the order (?:is|is still) in state "(?P<state>\w+)"'))
def order_in_state(world: World, state: str) -> None:
    assert state in {s.value for s in State}, f"{state} is not an order state ({', '.join(State)})"
    assert world.order_state() == state


@then(parsers.re(r'order "(?P<ref>[^"]+)" is in state "(?P<state>\w+)"'))
def named_order_in_state(world: World, ref: str, state: str) -> None:
    assert state in {s.value for s in State}, f"{state} is not an order state ({', '.join(State)})"
    assert world.order_state(ref) == state


@then(parsers.re(r"the operator has (?P<n>\d+) orders? of the OC"), converters={"n": int})
def operator_orders(world: World, n: int) -> None:
    held = [o["ReferenceCommandePriseInterneOC"] for o in world.admin.orders(world.tenant)]
    assert len(held) == n, f"the operator holds {len(held)} orders of {world.tenant}: {held}"


# ---------------------------------------------------------------------------------------------- answer files
@then(parsers.re(r"an? (?P<flow>\w+) file arrives for the order with"))
def file_for_order(world: World, flow: str, datatable: list[list[str]]) -> None:
    line = world.receive_for_order(flow)
    world.check_line(line, table(datatable), f"{world.last_file.name if world.last_file else flow}")


@then(parsers.re(r'an? (?P<flow>\w+) file arrives for order "(?P<ref>[^"]+)" with'))
def file_for_named_order(world: World, flow: str, ref: str, datatable: list[list[str]]) -> None:
    world.current = world.orders[ref]
    line = world.receive_for_order(flow, ref)
    world.check_line(line, table(datatable), f"{world.last_file.name if world.last_file else flow}")


@then(parsers.re(r"no (?P<flow>\w+) file has arrived(?: yet)?"))
def no_file_of_flow(world: World, flow: str) -> None:
    world.oc.flow(flow)  # a typo in the flow name must not make this step pass
    world.oc.poll()  # answers to a clock move are in OUT when the API call returns: one look is enough
    arrived = [f.name for f in world.oc.inbox if f.flow_name == flow] + world.unread_lines(flow)
    assert not arrived, f"unexpected {flow} answers: {arrived}"


@then("no file has arrived")
def no_file(world: World) -> None:
    world.oc.poll()
    arrived = [f.name for f in world.oc.inbox] + world.unread_lines()
    assert not arrived, f"unexpected answers: {arrived}"


def route_block(line: Mapping[str, str], n: int = 1) -> dict[str, str]:
    return {c: line[f"{c}{n}"] for c in ROUTE_COLUMNS}


@then("it carries a route optique for the OC")
def carries_route(world: World) -> None:
    line = world.last_line
    assert line is not None
    assert line["OC1"] == world.tenant, f"OC1 = {line['OC1']!r}, expected {world.tenant}"
    empty = [c for c, v in route_block(line).items() if not v]
    assert not empty, f"route block 1 has empty columns: {empty}"
    for n in range(2, 5):  # one fibre, one block: blocks 2 to 4 are for multi-fibre offers
        if f"OC{n}" in line:
            filled = {c: v for c, v in route_block(line, n).items() if v}
            assert not filled and not line[f"OC{n}"], f"route block {n} should be empty: {filled}"


@then("it carries no route optique")
def carries_no_route(world: World) -> None:
    line = world.last_line
    assert line is not None
    filled = {c: v for c, v in route_block(line).items() if v}
    assert not filled, f"route block 1 should be empty: {filled}"


@then(parsers.re(r"its route optique is the one of the (?P<flow>\w+)"))
def same_route(world: World, flow: str) -> None:
    assert world.last_line is not None
    assert route_block(world.last_line) == route_block(world.order.answers[flow])


@then(parsers.re(r"its route optique differs from the one of the (?P<flow>\w+)"))
def other_route(world: World, flow: str) -> None:
    assert world.last_line is not None
    new, old = route_block(world.last_line), route_block(world.order.answers[flow])
    assert new["NomModulePm"] and new["PositionModulePm"], f"no route in the line: {new}"
    assert (new["NomModulePm"], new["PositionModulePm"]) != (old["NomModulePm"], old["PositionModulePm"]), (
        f"the PM position is still {old['NomModulePm']}/{old['PositionModulePm']}")


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
    world.admin.advance(working_days=world.config.operators["covage"].timings["cr_cmd"].working_days)
    cr = world.receive_for_order("CR_Cmd_Acces")
    assert cr["EtatCrCommandePrise"] == "OK" and cr["NomModulePm1"], f"CR: {cr}"
    stoc = world.receive_for_order("Cmd_STOC")
    assert stoc["ReferenceCommandeSousTraitantOI"], f"Cmd_STOC: {stoc}"
    assert world.order_state() == "STOC_COMMANDE"


@given("the order has received its CR MAD")
def received_cr_mad(world: World) -> None:
    timings = world.config.operators["covage"].timings
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
