"""BDD harness: each scenario runs an in-process sandbox (plugin fixture `opsim_sandbox`) and plays the OC
with the reference client over real FTP. Time is driven through the admin HTTP API only.

Steps shared by every feature live here: the clock, the order's state at the operator, and the checks of
answer files. Flow-specific steps live next to their scenarios (features/access/test_access.py).

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

from conformance.client import OcFtpClient, ReceivedFile, SandboxAdmin
from simulator.clock import FrenchCalendar
from simulator.config import Config
from simulator.operators.covage.access import State

TENANT = "DEMO"
NETWORK = ("COVA", "CV")
#: Real seconds to wait for an answer file: answers come within milliseconds, the margin is for slow CI.
ANSWER_TIMEOUT = 5.0

ROUTE_COLUMNS = ("NomModulePm", "PositionModulePm", "ReferenceCableModulePm", "InformationTubeModulePm",
                 "InformationFibreModulePm", "ReferenceCablePBO", "InformationTubePBO", "InformationFibrePBO",
                 "ConnecteurPriseNumero", "ConnecteurPriseCouleur")

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
