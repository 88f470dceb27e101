"""Steps of the Accès 1.2 scenarios that drive the user's OC through its adapter (features/access/).

The OC acts through business verbs ("the OC orders...", "its technician completes the connection") and is
asked what it understood ("the OC knows the order is confirmed with the route of the CR"). The operator's
answers are checked too: the harness looks at OUT with its own FTP session (without deleting) just before
the OC synchronises, so it sees what the OC is about to read.

Check ids of the assertions on the OC (the message starts with [ID]; docs/checks.md describes each):
    ACCES-SENT          the verb made the OC drop the expected file in IN, and the operator took it
    ACCES-REF           order_access returned the ReferenceCommandePriseInterneOC of the order it sent
    ACCES-OUT-CLEAN     after a sync, the OC has deleted every file it read in OUT
    ACCES-MES-BEFORE-MAD the OC sends no CR MES before it has read the CR MAD OK
    ACCES-STATE         order_status gives the state the protocol's answers lead to
    ACCES-PRESTATION    order_status gives the ReferencePrestationPrise of the AR
    ACCES-REJECT-CODE   order_status gives the motif of the KO answer as reject_code
    ACCES-ROUTE         order_status gives the route of the CR
    ACCES-REPROV-ROUTE  after a Notif_Reprov, order_status gives its new route
    ACCES-RESIL         after a CR_Annulation OK RESIL, order_status gives terminated
    ACCES-REJECT-RESEND after a reject, the OC orders again under a new reference
    ACCES-DECHARGE      call_hotline returns the décharge number the operator's hotline gave

Value tokens of the answer tables:
    (set) any non-empty value; (empty) or an empty cell: empty; (as ordered) the column of the OC's
    Cmd_Acces as the operator holds it; (as in FLOW) the same column of the last FLOW line for the order;
    (as given by the hotline) the décharge number call_hotline returned; (today) the virtual date AAAAMMJJ;
    (now) the virtual date-time AAAAMMJJHHMMSS.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from conformance.plugin import OcScenario
from conformance.results import Evidence
from conformance.waiting import poll_until
from simulator.operators.covage.harness import OPERATOR
from simulator.operators.covage.harness.checks import observe
from simulator.operators.covage.harness.client import OcFtpClient, SandboxAdmin, orders
from simulator.operators.covage.harness.reference import ROUTE_COLUMNS

#: Real seconds to wait for the operator to take a file the OC dropped (milliseconds on a quiet host).
SETTLE_TIMEOUT = 10.0
#: The route optique block 1 without its number (the CR names its columns NomModulePm1, ...).
BLOCK = ("NomModulePm", "PositionModulePm", "ReferenceCableModulePm", "InformationTubeModulePm",
         "InformationFibreModulePm", "ReferenceCablePBO", "InformationTubePBO", "InformationFibrePBO",
         "ConnecteurPriseNumero", "ConnecteurPriseCouleur")
#: An accented first name: the OC must write it in ISO-8859-1 (check ACCES-FILE-ENCODING).
CUSTOMER = {"NomClient": "DUPONT", "PrenomClient": "HÉLÈNE", "ContactClient1": "0601020304"}
#: A CodeAdresseImmeuble (hexaclé) no deployed address has.
UNKNOWN_HEXACLE = "ZZZZZZZZZZ"


@dataclass
class SeenFile:
    """A file the operator left in OUT, as the harness saw it before the OC read it."""

    name: str
    flow: str | None
    records: list[dict[str, str]]


@dataclass
class AccessWorld:
    """One scenario: the OC under test (through `oc`), the harness's own look at the FTP account, the orders."""

    oc: OcScenario
    peek: OcFtpClient  # the harness's own session on the OC's account: it only lists (never reads or deletes)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    address: dict[str, Any] | None = None
    socket: dict[str, Any] | None = None  # the free existing socket at hand (a line of address["Lignes"])
    refs: list[str] = field(default_factory=list)
    last_sync: list[SeenFile] = field(default_factory=list)
    answers: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (ref, flow) -> last line
    routes: dict[str, dict[str, str | None]] = field(default_factory=dict)  # ref -> the route the OC must hold
    last_line: dict[str, str] | None = None
    mode: str = ""  # TypeRacco of the OC's last order
    hotline: dict[str, str] = field(default_factory=dict)  # ref -> the décharge call_hotline returned
    other: dict[str, str] = field(default_factory=dict)  # the second OC the harness plays: tenant, ref
    rdv: str = ""  # the IdRdv book_appointment returned
    journal_mark: int = 0

    @property
    def admin(self) -> SandboxAdmin:
        return self.oc.admin

    @property
    def tenant(self) -> str:
        return self.oc.tenant.code

    @property
    def ref(self) -> str:
        assert self.refs, "no order sent in this scenario yet"
        return self.refs[-1]

    # ------------------------------------------------------------------ the sandbox
    def journal(self) -> list[dict[str, Any]]:
        lines = self.admin.get_all("/journal", tenant=self.tenant, since=self.journal_mark, settled="true")
        return sorted(lines, key=lambda line: line["id"])

    def mark(self) -> None:
        lines = self.journal()
        if lines:
            self.journal_mark = lines[-1]["id"]

    def settle(self, sent_flow: str | None = None, what: str = "") -> None:
        """Wait until the operator has taken what the OC dropped and put its answers in OUT.

        sent_flow: the OC's action must have dropped a file of that flow (check ACCES-SENT)."""
        state: dict[str, list[Any]] = {}

        def settled() -> bool:
            state["waiting"] = [n for n in self.peek.session.list_files(self.peek.in_folder) if n.endswith(".csv")]
            journal = self.journal()
            state["taken"] = [j for j in journal if j["direction"] == "in" and j["flow"] == sent_flow] \
                if sent_flow else [1]
            state["undelivered"] = [f for f in self.admin.get_all("/files", tenant=self.tenant) if not f["delivered"]]
            return not state["waiting"] and bool(state["taken"]) and not state["undelivered"]

        if not poll_until(settled, SETTLE_TIMEOUT):
            assert state["taken"], (f"[ACCES-SENT] {what}: the operator received no {sent_flow} from the OC within "
                                    f"{SETTLE_TIMEOUT:g} s (IN holds {state['waiting'] or 'nothing'})")
            raise AssertionError(f"the operator has not taken {state['waiting']} or not delivered "
                                 f"{state['undelivered']} within {SETTLE_TIMEOUT:g} s")
        self.mark()

    def look_at_out(self) -> list[SeenFile]:
        """What waits in OUT for the OC: listed over FTP, read over the admin API, so that the journal's
        `downloaded` lines stay the OC's own (ACCES-OUT-CLEAN judges them)."""
        seen = []
        names = self.peek.session.list_files(self.peek.out_folder)
        emitted = {f.filename: f.content for f in observe(self.admin, self.tenant).answers} if names else {}
        for name in names:
            content = emitted.get(name, b"")
            parsed = self.peek.pack.parse_filename(name)
            records = [dict(r.values) for r in parsed.flow.parse(content).records] if parsed else []
            seen.append(SeenFile(name, parsed.flow.name if parsed else None, records))
            self.oc.record.evidence.append(Evidence("file out", name, content.decode("utf-8", errors="replace")))
        return seen

    def answer_lines(self, flow: str) -> list[dict[str, str]]:
        """Every line of `flow` the operator has answered the OC so far, read over the admin API: the harness
        does not download from OUT here, so the journal keeps only the OC's own downloads."""
        spec = self.peek.pack.flow(flow)
        return [dict(r.values) for f in observe(self.admin, self.tenant).answers if f.flow == flow
                for r in spec.parse(f.content).records]

    # ------------------------------------------------------------------ addresses
    def reference_addresses(self) -> list[dict[str, Any]]:
        if not self.addresses:
            self.addresses = self.oc.target.deployed_addresses(self.oc.target.oi)
            assert self.addresses, "the sandbox lists no deployed address"
        return self.addresses

    def building(self) -> dict[str, Any]:
        if self.address is None:
            found = [a for a in self.reference_addresses() if is_apartment_building(a)]
            assert found, "no deployed apartment building with a free socket"
            # Spread the scenarios over the buildings: on a shared sandbox, earlier runs took some sockets.
            self.address = random.Random(self.tenant).choice(found)
        return self.address

    # ------------------------------------------------------------------ the OC's orders
    def order(self, mode: str, socket: str | None, where: Mapping[str, str] | None = None,
              appointment: str | None = None) -> str:
        address = address_columns(self.building(), **(where or {}))
        self.mode = mode
        args = {"address": address, "socket": socket, "mode": mode, "customer": dict(CUSTOMER)}
        if appointment is not None:  # only then: an adapter written before appointments sees no new argument
            args["appointment"] = appointment
        answer = self.oc.driver.call("order_access", args)
        ref = answer.get("ref")
        assert isinstance(ref, str) and ref, f"[ACCES-REF] order_access answered {answer}, no ref"
        self.settle("Cmd_Acces", "order_access")
        held = {o["ReferenceCommandePriseInterneOC"] for o in self.admin.orders(self.tenant)}
        if ref not in held:  # a rejected order: the operator's AR KO must name it (an empty one refuses a whole file)
            answered = {line.get("ReferenceCommandePriseInterneOC", "") for line in self.answer_lines("AR_Cmd_Acces")}
            assert ref in answered or "" in answered, (
                f"[ACCES-REF] order_access answered {ref!r}, but the operator holds no such order (it holds "
                f"{sorted(held)}) and answered none (its AR_Cmd_Acces lines name {sorted(answered)})")
        self.refs.append(ref)
        return ref

    def status(self, ref: str | None = None) -> dict[str, Any]:
        status = self.oc.driver.call("order_status", {"ref": ref or self.ref})
        assert isinstance(status.get("state"), str), f"[ACCES-STATE] order_status answered {status}"
        return status

    def expected(self, column: str, token: str) -> str | None:
        token = token.strip()
        if token == "(set)":
            return None
        if token in ("", "(empty)"):
            return ""
        if token == "(as ordered)":
            data = self.admin.order(self.ref, self.tenant)["data"]
            assert column in data, f"{column} is not a column of the OC's Cmd_Acces"
            return data[column]
        if m := re.fullmatch(r"\(as in (\w+)\)", token):
            line = self.answers.get((self.ref, m[1]))
            assert line is not None, f"no {m[1]} seen yet for {self.ref}"
            return line[column]
        if token == "(as given by the hotline)":
            assert self.ref in self.hotline, "the OC's technician has not called the hotline"
            return self.hotline[self.ref]
        if token == "(today)":
            return self.admin.now().strftime("%Y%m%d")
        if token == "(now)":
            return self.admin.now().strftime("%Y%m%d%H%M%S")
        return token

    def check_line(self, line: Mapping[str, str], expectations: Mapping[str, str], where: str) -> None:
        problems = []
        for column, token in expectations.items():
            assert column in line, f"{where}: no column {column!r}"
            want, got = self.expected(column, token), line[column]
            if (want is None and not got) or (want is not None and got != want):
                problems.append(f"{column} = {got!r}, expected {token!r}" + (f" = {want!r}" if want != token else ""))
        assert not problems, f"{where}: " + "; ".join(problems)

    def answer(self, flow: str, ref: str | None = None) -> dict[str, str]:
        """The line of `flow` for the order in the files the OC read at its last synchronisation."""
        ref = ref or self.ref
        lines = [(f.name, r) for f in self.last_sync if f.flow == flow for r in f.records
                 if r.get("ReferenceCommandePriseInterneOC") == ref]
        seen = [f.name for f in self.last_sync]
        assert len(lines) == 1, f"{len(lines)} {flow} lines for {ref} at the OC's last synchronisation: {seen}"
        self.last_line = lines[0][1]
        return lines[0][1]


def is_apartment_building(address: Mapping[str, Any]) -> bool:
    """A single building with floors and at least one free socket."""
    first = (address["Escaliers"] or [""])[0]  # the staircase an order names: its PBO must not be saturated
    return (address["TypeImmeuble"] == "IMMEUBLE" and address["BatimentImmeuble"] == ""
            and any(address["Etages"]) and any(not line["Occupee"] for line in address["Lignes"])
            and any(not line["Occupee"] for line in address["Lignes"] if line["Escalier"] == first))


def address_columns(address: Mapping[str, Any], **where: str) -> dict[str, str]:
    """The Cmd_Acces address columns (spec names) of an address of GET /api/addresses."""
    columns = {
        "CommuneImmeuble": address["CommuneImmeuble"], "CodePostalImmeuble": address["CodePostalImmeuble"],
        "CodeInseeImmeuble": address["CodeInseeImmeuble"], "CodeVoieRivoliImmeuble": address["CodeVoieRivoliImmeuble"],
        "NumeroVoieImmeuble": address["NumeroVoieImmeuble"], "TypeVoieImmeuble": address["TypeVoieImmeuble"],
        "LibelleVoieImmeuble": address["NomVoieImmeuble"], "CodeAdresseImmeuble": address["CodeAdresseImmeuble"],
        "Batiment": address["BatimentImmeuble"], "Escalier": (address["Escaliers"] or [""])[0],
        "Etage": (address["Etages"] or [""])[-1], "ReferencePm": address["ReferencePM"],
    }
    columns.update(where)
    return columns


def table(datatable: list[list[str]]) -> dict[str, str]:
    assert all(len(row) == 2 for row in datatable), "expected a two-column table: | column | value |"
    return {row[0].strip(): row[1] for row in datatable}


def route_block(line: Mapping[str, str]) -> dict[str, str]:
    return {c: line.get(f"{c}1", "") for c in BLOCK}


@pytest.fixture
def access_world(oc_scenario: OcScenario) -> Any:
    with access_world_of(oc_scenario) as world:
        yield world


@contextmanager
def access_world_of(oc_scenario: OcScenario) -> Iterator[AccessWorld]:
    """The world of one OC scenario, with the harness's own FTP session on the OC's account."""
    peek = OcFtpClient(oc_scenario.target.ftp_host, oc_scenario.target.ftp_port, oc_scenario.tenant.login,
                       oc_scenario.tenant.password, oc_scenario.tenant.code, oc_scenario.target.oi,
                       oc_scenario.target.arcep, folders=oc_scenario.target.folders.get("acces"))
    world = AccessWorld(oc_scenario, peek)
    world.mark()
    try:
        yield world
    finally:
        peek.close()


# ---------------------------------------------------------------------------------------------- the OC
@given("the OC is a client of the operator")
def oc_is_client(access_world: AccessWorld) -> None:
    # The harness's own login proves the account works, and the OC's OUT folder starts empty.
    assert access_world.peek.session.list_files(access_world.peek.out_folder) == []


@given("an apartment building with free sockets")
def apartment_building(access_world: AccessWorld) -> None:
    building = access_world.building()
    first = (building["Escaliers"] or [""])[0]
    free = [line for line in building["Lignes"] if not line["Occupee"] and line["Escalier"] == first]
    # Any free socket of the first staircase, drawn per scenario: on a shared sandbox an earlier scenario's
    # live order may hold the first one (GET /api/addresses shows the network's occupancy, not the orders').
    access_world.socket = random.Random(access_world.tenant).choice(free)


@when(parsers.re(r'the OC orders a new socket in "(?P<mode>\w+)" mode(?: at an address with free sockets)?'))
def order_new_socket(access_world: AccessWorld, mode: str) -> None:
    access_world.order(mode, None)


@when(parsers.parse('the OC orders a new socket in "{mode}" mode at an address the operator does not know'))
def order_unknown_address(access_world: AccessWorld, mode: str) -> None:
    assert all(a["CodeAdresseImmeuble"] != UNKNOWN_HEXACLE for a in access_world.reference_addresses())
    access_world.order(mode, None, {"CodeAdresseImmeuble": UNKNOWN_HEXACLE})


@when(parsers.parse('the OC orders a new socket in "{mode}" mode with {column} "{value}"'))
def order_with(access_world: AccessWorld, mode: str, column: str, value: str) -> None:
    """An order whose address column the operator's reference data will refuse (Annexe 5f)."""
    assert column in address_columns(access_world.building()), f"{column} is not an address column of the verb"
    access_world.order(mode, None, {column: value})


@when(parsers.parse('the OC orders a new socket in "{mode}" mode with the ReferencePm of another PM'))
def order_other_pm(access_world: AccessWorld, mode: str) -> None:
    here = access_world.building()["ReferencePM"]
    other = next((a["ReferencePM"] for a in access_world.reference_addresses() if a["ReferencePM"] != here), None)
    assert other is not None, "the reference network has a single PM"
    access_world.order(mode, None, {"ReferencePm": other})


@when(parsers.parse('the OC orders a new socket in "{mode}" mode at an address of several buildings with '
                    'Batiment "{batiment}"'))
def order_unknown_batiment(access_world: AccessWorld, mode: str, batiment: str) -> None:
    """Several buildings share one street address (one hexaclé): the Batiment column tells them apart."""
    world = access_world
    shared = Counter(a["CodeAdresseImmeuble"] for a in world.reference_addresses())
    found = [a for a in world.reference_addresses() if shared[a["CodeAdresseImmeuble"]] > 1]
    assert found, "the reference network has no street address with several buildings"
    world.address = found[0]
    here = [a["BatimentImmeuble"] for a in found if a["CodeAdresseImmeuble"] == found[0]["CodeAdresseImmeuble"]]
    assert batiment not in here, f"Batiment {batiment} exists at that address"
    world.order(mode, None, {"Batiment": batiment})


@when(parsers.parse('the OC orders the existing socket "{reference}" in "{mode}" mode'))
def order_named_socket(access_world: AccessWorld, reference: str, mode: str) -> None:
    access_world.order(mode, reference)


@when("the customer insists and the OC orders again at the right address")
def order_again(access_world: AccessWorld) -> None:
    world = access_world
    rejected = world.ref
    world.order(world.mode, None)
    assert world.ref != rejected, (f"[ACCES-REJECT-RESEND] the OC ordered again under {rejected}, the reference "
                                   "the operator rejected")


@when(parsers.parse('the OC orders the free socket in "{mode}" mode by its ReferencePrise'))
def order_free_socket(access_world: AccessWorld, mode: str) -> None:
    socket = access_world.socket
    assert socket is not None, "no free socket picked"
    access_world.order(mode, socket["ReferencePrise"], {"Batiment": socket["Batiment"],
                                                        "Escalier": socket["Escalier"], "Etage": socket["Etage"]})


@when(parsers.parse('the OC orders an existing socket without its ReferencePrise in "{mode}" mode'))
def order_hotline(access_world: AccessWorld, mode: str) -> None:
    socket = access_world.socket
    assert socket is not None, "no free socket picked"
    # The floor of a free socket, so the OI's hotline can find one there.
    access_world.order(mode, "existing", {"Escalier": socket["Escalier"], "Etage": socket["Etage"]})


@when("the OC synchronises")
def synchronises(access_world: AccessWorld) -> None:
    world = access_world
    world.settle()
    seen = world.look_at_out()
    world.oc.driver.call("sync", {})
    left = set(world.peek.session.list_files(world.peek.out_folder)) & {f.name for f in seen}
    assert not left, f"[ACCES-OUT-CLEAN] the OC synchronised but left what it read in OUT: {sorted(left)}"
    world.last_sync = seen
    for file in seen:
        for line in file.records:
            ref = line.get("ReferenceCommandePriseInterneOC", "")
            if file.flow:
                world.answers[(ref, file.flow)] = line
            if file.flow == "CR_Cmd_Acces" and line.get("EtatCrCommandePrise") == "OK":
                world.routes[ref] = {c: line.get(c) or None for c in ROUTE_COLUMNS}
            elif file.flow == "Notif_Reprov" and ref in world.routes:
                world.routes[ref].update({c: line[c] for c in ROUTE_COLUMNS if line.get(c)})
    world.settle()  # what the OC sent while handling its files (a CR_STOC, a CR MES) is taken too


@when("its technician completes the connection")
def technician_connects(access_world: AccessWorld) -> None:
    access_world.oc.driver.call("complete_stoc", {"ref": access_world.ref, "outcome": "OK", "motif": ""})
    access_world.settle("CR_STOC", "complete_stoc")


@when(parsers.parse('its technician cannot connect the customer for motif "{motif}"'))
def technician_fails(access_world: AccessWorld, motif: str) -> None:
    access_world.oc.driver.call("complete_stoc", {"ref": access_world.ref, "outcome": "KO", "motif": motif})
    access_world.settle("CR_STOC", "complete_stoc")


@when("the customer's line is in service")
def line_in_service(access_world: AccessWorld) -> None:
    world = access_world
    cr_mad = world.answers.get((world.ref, "CR_MAD_Ligne"))
    world.oc.driver.call("report_in_service", {"ref": world.ref})
    if cr_mad is not None and cr_mad["EtatCrMadPrise"] == "OK":
        world.settle("CR_MES_Ligne", "report_in_service")
        return
    before = world.journal_mark
    world.settle()
    early = [j["filename"] for j in world.admin.get_all("/journal", tenant=world.tenant, since=before)
             if j["direction"] == "in" and j["flow"] == "CR_MES_Ligne"]
    assert not early, f"[ACCES-MES-BEFORE-MAD] the OC sent a CR MES before it had read a CR MAD OK: {early}"


@when(parsers.re(r"the OC cancels the order(?: again)?"))
def cancel(access_world: AccessWorld) -> None:
    access_world.oc.driver.call("cancel_access", {"ref": access_world.ref})
    access_world.settle("Annul_Acces", "cancel_access")


@given(parsers.parse('the OC has ordered a new socket in "{mode}" mode and got its AR OK'))
def ordered_and_acknowledged(access_world: AccessWorld, mode: str) -> None:
    access_world.order(mode, None)
    synchronises(access_world)
    line = access_world.answer("AR_Cmd_Acces")
    assert line["EtatArCommandePrise"] == "OK", f"AR: {line}"
    oc_knows_state(access_world, "acknowledged")


@given("the order has received its CR and its Cmd_STOC")
def cr_and_cmd_stoc(access_world: AccessWorld) -> None:
    access_world.admin.advance(working_days=1)
    synchronises(access_world)
    assert access_world.answer("CR_Cmd_Acces")["EtatCrCommandePrise"] == "OK"
    assert access_world.answer("Cmd_STOC")["ReferenceCommandeSousTraitantOI"]
    oc_knows_state(access_world, "stoc requested", "CR")


@given("the order has received its CR MAD")
def received_cr_mad(access_world: AccessWorld) -> None:
    world = access_world
    mode = world.admin.order(world.ref, world.tenant)["data"]["TypeRacco"]
    world.admin.advance(working_days=1)
    synchronises(world)
    assert world.answer("CR_Cmd_Acces")["EtatCrCommandePrise"] == "OK"
    if mode == "STOC":
        technician_connects(world)
    else:  # the OI (5 working days) or the OC (1) connects
        world.admin.advance(working_days=5 if mode == "OI" else 1)
    synchronises(world)
    assert world.answer("CR_MAD_Ligne")["EtatCrMadPrise"] == "OK"
    oc_knows_state(world, "available")


# ---------------------------------------------------------------------------------------------- what the OC knows
def oc_knows_state(access_world: AccessWorld, state: str, route_of: str | None = None) -> None:
    world = access_world
    state = state.replace(" ", "_")
    status = world.status()
    check = "ACCES-RESIL" if state == "terminated" else "ACCES-STATE"  # a RESIL taken for an ANNUL has its own id
    assert status["state"] == state, (f"[{check}] the OC says order {world.ref} is {status['state']!r}, "
                                      f"after the operator's answers it is {state!r}")
    ar = world.answers.get((world.ref, "AR_Cmd_Acces"))
    if ar and ar.get("ReferencePrestationPrise"):
        assert status.get("prestation") == ar["ReferencePrestationPrise"], (
            f"[ACCES-PRESTATION] the OC holds prestation {status.get('prestation')!r}, "
            f"the AR gave {ar['ReferencePrestationPrise']!r}")
    if route_of is not None:
        if route_of == "CR":
            cr = world.answers.get((world.ref, "CR_Cmd_Acces"))
            assert cr is not None, "no CR_Cmd_Acces seen for the order"
            want = {c: cr.get(c) or None for c in ROUTE_COLUMNS}
        else:
            want = world.routes[world.ref]
        route = status.get("route") or {}
        wrong = {c: (route.get(c), v) for c, v in want.items() if route.get(c) != v}
        check = "ACCES-REPROV-ROUTE" if route_of == "Notif_Reprov" else "ACCES-ROUTE"
        assert not wrong, (f"[{check}] the OC's route differs from the {route_of}'s "
                           f"(column: (OC's, expected)): {wrong}")


@then(parsers.re(r"the OC knows the order is (?P<state>[a-z_ ]+?)"
                 r"(?: with the route of the (?P<route_of>CR|Notif_Reprov))?$"))
def oc_knows(access_world: AccessWorld, state: str, route_of: str | None) -> None:
    oc_knows_state(access_world, state, route_of)


@then(parsers.parse('the OC knows the order is rejected for motif "{code}"'))
def oc_knows_rejected(access_world: AccessWorld, code: str) -> None:
    status = access_world.status()
    assert status["state"] == "rejected", f"[ACCES-STATE] the OC says {status['state']!r}, expected 'rejected'"
    assert status.get("reject_code") == code, (f"[ACCES-REJECT-CODE] the OC holds reject code "
                                               f"{status.get('reject_code')!r}, the operator said {code!r}")


@then(parsers.parse('the OC still knows the first order is rejected for motif "{code}"'))
def first_still_rejected(access_world: AccessWorld, code: str) -> None:
    first = access_world.refs[0]
    status = access_world.status(first)
    assert status["state"] == "rejected", (f"[ACCES-STATE] the OC says its first order {first} is "
                                           f"{status['state']!r}, expected 'rejected'")
    assert status.get("reject_code") == code, (f"[ACCES-REJECT-CODE] the OC holds reject code "
                                               f"{status.get('reject_code')!r} for {first}, the operator said {code!r}")


@then(parsers.parse('the OC knows the connection failed for motif "{code}"'))
def oc_knows_connection_failed(access_world: AccessWorld, code: str) -> None:
    status = access_world.status()
    assert status["state"] == "connection_failed", (f"[ACCES-STATE] the OC says {status['state']!r}, "
                                                    "expected 'connection_failed'")
    assert status.get("reject_code") == code, (f"[ACCES-REJECT-CODE] reject_code {status.get('reject_code')!r}, "
                                               f"not {code}")


# ---------------------------------------------------------------------------------------------- the operator
@when(parsers.parse('the operator reprovisions the order for motif "{motif}"'))
def reprovision(access_world: AccessWorld, motif: str) -> None:
    order = access_world.admin.reprovision(access_world.ref, access_world.tenant, motif)
    last = order["history"][-1]
    assert (last["step"], last["detail"]) == ("Notif Reprov", motif), f"last step: {last}"


@then(parsers.re(r'the operator holds the order in state "(?P<state>\w+)"'))
def operator_state(access_world: AccessWorld, state: str) -> None:
    got = access_world.admin.order(access_world.ref, access_world.tenant)["state"]
    assert got == state, f"the operator holds {access_world.ref} in state {got}, expected {state}"


@then(parsers.re(r"the OC (?:has )?read an? (?P<flow>\w+) for the order with"))
def read_answer(access_world: AccessWorld, flow: str, datatable: list[list[str]]) -> None:
    access_world.check_line(access_world.answer(flow), table(datatable), flow)


@then(parsers.re(r"the OC (?:has )?read an? (?P<flow>\w+) for the order$"))
def read_answer_plain(access_world: AccessWorld, flow: str) -> None:
    access_world.answer(flow)


@then(parsers.re(r"the OC read no (?P<flow>\w+) for the first order"))
def read_no_flow_for_first(access_world: AccessWorld, flow: str) -> None:
    access_world.peek.flow(flow)
    first = access_world.refs[0]
    arrived = [f.name for f in access_world.last_sync if f.flow == flow
               for r in f.records if r.get("ReferenceCommandePriseInterneOC") == first]
    assert not arrived, f"unexpected {flow} lines for the rejected order {first}: {arrived}"


@then("the operator holds no order of the OC")
def operator_holds_nothing(access_world: AccessWorld) -> None:
    held = [o["ReferenceCommandePriseInterneOC"] for o in access_world.admin.orders(access_world.tenant)]
    assert not held, f"the operator holds orders {held}, expected none"


@then(parsers.re(r"the OC read no (?P<flow>\w+)$"))
def read_no_flow(access_world: AccessWorld, flow: str) -> None:
    access_world.peek.flow(flow)  # a typo in the flow name must not make this step pass
    arrived = [f.name for f in access_world.last_sync if f.flow == flow]
    assert not arrived, f"unexpected {flow} files: {arrived}"


@then("the OC read nothing")
def read_nothing(access_world: AccessWorld) -> None:
    arrived = [f.name for f in access_world.last_sync]
    assert not arrived, f"unexpected files in OUT: {arrived}"


@then("it carries a route optique for the OC")
def carries_route(access_world: AccessWorld) -> None:
    line = access_world.last_line
    assert line is not None
    assert line["OC1"] == access_world.tenant, f"OC1 = {line['OC1']!r}, expected {access_world.tenant}"
    empty = [c for c, v in route_block(line).items() if not v]
    assert not empty, f"route block 1 has empty columns: {empty}"


@then("it carries no route optique")
def carries_no_route(access_world: AccessWorld) -> None:
    line = access_world.last_line
    assert line is not None
    filled = {c: v for c, v in route_block(line).items() if v}
    assert not filled, f"route block 1 should be empty: {filled}"


@then(parsers.re(r"its route optique is the one of the (?P<flow>\w+)"))
def same_route(access_world: AccessWorld, flow: str) -> None:
    assert access_world.last_line is not None
    assert route_block(access_world.last_line) == route_block(access_world.answers[(access_world.ref, flow)])


@then(parsers.re(r"its route optique differs from the one of the (?P<flow>\w+)"))
def other_route(access_world: AccessWorld, flow: str) -> None:
    assert access_world.last_line is not None
    new, old = route_block(access_world.last_line), route_block(access_world.answers[(access_world.ref, flow)])
    assert new["NomModulePm"] and new["PositionModulePm"], f"no route in the line: {new}"
    assert (new["NomModulePm"], new["PositionModulePm"]) != (old["NomModulePm"], old["PositionModulePm"])


@then("its ReferencePBO is the PBO of the ordered socket")
def pbo_of_socket(access_world: AccessWorld) -> None:
    assert access_world.last_line is not None and access_world.socket is not None
    assert access_world.last_line["ReferencePBO"] == access_world.socket["ReferencePBO"]


@given("an apartment building served by several PBOs")
def building_of_several_pbos(access_world: AccessWorld) -> None:
    world = access_world
    found = [a for a in world.reference_addresses()
             if is_apartment_building(a) and len({line["ReferencePBO"] for line in a["Lignes"]}) > 1]
    assert found, "the reference network has no apartment building served by several PBOs"
    world.address = random.Random(world.tenant).choice(found)


@then("its ReferencePBO is one of the PBOs serving the building")
def pbo_of_building(access_world: AccessWorld) -> None:
    line = access_world.last_line
    assert line is not None
    pbos = {socket["ReferencePBO"] for socket in access_world.building()["Lignes"]}
    assert line["ReferencePBO"] in pbos, f"ReferencePBO {line['ReferencePBO']!r} is none of the building's {pbos}"


@then("its route optique reaches the PBO it names")
def route_reaches_pbo(access_world: AccessWorld) -> None:
    line = access_world.last_line
    assert line is not None and line["ReferencePBO"]
    # opsim names the PBO side of a route after its PBO (its reference network's convention: CBR-<ReferencePBO>).
    assert line["ReferenceCablePBO1"] == f"CBR-{line['ReferencePBO']}", (
        f"ReferencePBO {line['ReferencePBO']} but the fibre reaches the PBO by cable {line['ReferenceCablePBO1']}")


@then("its ReferencePrise is a free socket of the ordered staircase and floor")
def free_socket_of_floor(access_world: AccessWorld) -> None:
    line = access_world.last_line
    assert line is not None
    data = access_world.admin.order(access_world.ref, access_world.tenant)["data"]
    candidates = {s["ReferencePrise"] for s in access_world.building()["Lignes"] if not s["Occupee"]
                  and (s["Escalier"], s["Etage"]) == (data["Escalier"], data["Etage"])}
    assert line["ReferencePrise"] in candidates, f"{line['ReferencePrise']!r} is not one of {sorted(candidates)}"


# ---------------------------------------------------------------------------------------------- the clock
@given(parsers.re(r"(?P<n>\d+) working days? (?:has|have) passed"), converters={"n": int})
@when(parsers.re(r"(?P<n>\d+) (?:more )?working days? (?:has|have) passed"), converters={"n": int})
def working_days_pass(access_world: AccessWorld, n: int) -> None:
    access_world.admin.advance(working_days=n)


@given(parsers.re(r"(?P<n>\d+) hours? (?:has|have) passed"), converters={"n": int})
@when(parsers.re(r"(?P<n>\d+) (?:more )?hours? (?:has|have) passed"), converters={"n": int})
def hours_pass(access_world: AccessWorld, n: int) -> None:
    access_world.admin.advance(hours=n)


# ---------------------------------------------------------------------------------------------- the hotline
@when("its technician calls the hotline with the socket found on site")
def calls_hotline(access_world: AccessWorld) -> None:
    """Seed 002: the OC's technician on site names the socket found to the operator's hotline, which
    reprovisions it hot and gives a décharge number (the CR_STOC must carry it)."""
    world = access_world
    assert world.socket is not None, "no free socket picked"
    url = f"{world.oc.target.url.rstrip('/')}/api/operators/{OPERATOR}/hotline?tenant={world.tenant}"
    answer = world.oc.driver.call("call_hotline", {"ref": world.ref, "socket": world.socket["ReferencePrise"],
                                                   "hotline": url})
    data = world.admin.order(world.ref, world.tenant)["data"]
    assert data.get("HotlineCall"), "[ACCES-DECHARGE] call_hotline returned but the operator's hotline got no call"
    assert answer.get("decharge") == data.get("NumeroDecharge"), (
        f"[ACCES-DECHARGE] call_hotline returned décharge {answer.get('decharge')!r}, the hotline gave "
        f"{data.get('NumeroDecharge')!r}")
    world.hotline[world.ref] = answer["decharge"]
    world.settle()


@then("its ReferencePrise is the socket found on site")
def socket_found_on_site(access_world: AccessWorld) -> None:
    line, socket = access_world.last_line, access_world.socket
    assert line is not None and socket is not None
    assert line["ReferencePrise"] == socket["ReferencePrise"], (
        f"ReferencePrise {line['ReferencePrise']!r}, the technician found {socket['ReferencePrise']!r}")


# ---------------------------------------------------------------------------------------------- failures
@given("an apartment building whose staircase's PBO is saturated")
def saturated_building(access_world: AccessWorld) -> None:
    """A staircase whose PBO has every socket occupied in the network data: no port for a new socket."""
    world = access_world
    for address in world.reference_addresses():
        if address["BatimentImmeuble"] != "":
            continue
        for pbo in {line["ReferencePBO"] for line in address["Lignes"]}:
            lines = [line for line in address["Lignes"] if line["ReferencePBO"] == pbo]
            if all(line["Occupee"] for line in lines):
                world.address = address
                world.socket = {"Escalier": lines[0]["Escalier"], "Etage": lines[0]["Etage"]}
                return
    raise AssertionError("the reference network has no saturated PBO at a single building")


@when(parsers.parse('the OC orders a new socket in "{mode}" mode on that staircase'))
def order_on_staircase(access_world: AccessWorld, mode: str) -> None:
    socket = access_world.socket
    assert socket is not None
    access_world.order(mode, None, {"Escalier": socket["Escalier"], "Etage": socket["Etage"]})


def failure_rates(world: AccessWorld, **rates: Any) -> None:
    world.admin.post(f"/operators/{OPERATOR}/access/failure_rates", rates, tenant=world.tenant)


@given(parsers.parse('the operator fails every CR of the OC with "{code}"'))
def fails_every_cr(access_world: AccessWorld, code: str) -> None:
    failure_rates(access_world, cr_ko=1, cr_ko_code=code)


@given(parsers.parse('the operator fails every connection it makes for the OC with "{code}"'))
def fails_every_connection(access_world: AccessWorld, code: str) -> None:
    failure_rates(access_world, racc_ko=1, racc_ko_code=code)


# ---------------------------------------------------------------------------------------------- écrasement
@given("the OC's line on the free socket is in service")
def line_in_service_on_free_socket(access_world: AccessWorld) -> None:
    world = access_world
    order_free_socket(world, "OC")
    synchronises(world)
    assert world.answer("AR_Cmd_Acces")["EtatArCommandePrise"] == "OK"
    received_cr_mad(world)
    line_in_service(world)
    oc_knows_state(world, "in service")


@when("another OC orders the same socket and its line is delivered")
def other_oc_takes_the_socket(access_world: AccessWorld) -> None:
    """The harness plays a second OC (a tenant of its own, the reference client): it orders the socket the
    OC under test holds, in OC mode, and its CR then its CR MAD come."""
    world = access_world
    socket, address = world.socket, world.building()
    assert socket is not None
    code = "X" + "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(7))
    password = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(16))
    created = world.admin.post("/tenants", {"code": code, "password": password})
    target = world.oc.target
    with OcFtpClient(target.ftp_host, target.ftp_port, created["login"], password, created["code"], target.oi,
                     target.arcep, today=world.admin.today, folders=target.folders.get("acces")) as other:
        ref = f"{created['code']}-ECR-1"
        record = orders.cmd_acces(address, ref, type_racco="OC", existing=socket["ReferencePrise"],
                                  date=world.admin.today().strftime("%Y%m%d"))
        other.send("Cmd_Acces", [record])
        ar = other.receive("AR_Cmd_Acces").single()
        assert ar["EtatArCommandePrise"] == "OK", f"the other OC's order was refused: {ar}"
        world.admin.advance(working_days=1)
        assert other.receive("CR_Cmd_Acces").single()["EtatCrCommandePrise"] == "OK"
        world.admin.advance(working_days=1)
        assert other.receive("CR_MAD_Ligne").single()["EtatCrMadPrise"] == "OK"
    world.other = {"tenant": created["code"], "ref": ref}


@then("the other OC's order holds the socket with the écrasement in its history")
def other_order_holds_socket(access_world: AccessWorld) -> None:
    world = access_world
    other = world.admin.order(world.other["ref"], world.other["tenant"])
    assert world.socket is not None, "no socket chosen by an earlier step"
    assert other["state"] == "MAD" and other["data"]["ReferencePrise"] == world.socket["ReferencePrise"], other
    steps = [h["step"] for h in other["history"]]
    assert "Ecrasement" in steps, f"the other OC's order history shows no écrasement: {steps}"
    for tenant in (world.tenant, world.other["tenant"]):  # both sides in the journal
        lines = [j for j in world.admin.get_all("/journal", tenant=tenant) if j["outcome"] == "ecrasement"]
        assert lines, f"no écrasement in the journal of {tenant}"


# ---------------------------------------------------------------------------------------------- appointments
def booking_url(world: AccessWorld) -> str:
    return f"{world.oc.target.url.rstrip('/')}/api/operators/{OPERATOR}/appointments?tenant={world.tenant}"


def book(world: AccessWorld, address: Mapping[str, Any]) -> str:
    answer = world.oc.driver.call("book_appointment", {"address": address_columns(address),
                                                       "booking": booking_url(world)})
    rdv = answer.get("IdRdv")
    assert isinstance(rdv, str) and rdv, f"book_appointment answered {answer}, no IdRdv"
    return rdv


@when("the OC books a connection appointment at the address")
def books_appointment(access_world: AccessWorld) -> None:
    access_world.rdv = book(access_world, access_world.building())


@when(parsers.parse('the OC orders a new socket in "{mode}" mode with that appointment'))
def order_with_appointment(access_world: AccessWorld, mode: str) -> None:
    assert access_world.rdv, "no appointment booked in this scenario"
    access_world.order(mode, None, appointment=access_world.rdv)


@when(parsers.parse('the OC orders a new socket in "{mode}" mode with an IdRdv never booked'))
def order_with_unknown_idrdv(access_world: AccessWorld, mode: str) -> None:
    access_world.order(mode, None, appointment="RDVUNKNOWN0001")


@when(parsers.parse('the OC orders a new socket in "{mode}" mode with an appointment since cancelled'))
def order_with_cancelled_appointment(access_world: AccessWorld, mode: str) -> None:
    world = access_world
    world.rdv = book(world, world.building())
    world.admin.delete(f"/operators/{OPERATOR}/appointments/{world.rdv}", tenant=world.tenant)
    world.order(mode, None, appointment=world.rdv)


@when(parsers.parse('the OC orders a new socket in "{mode}" mode with an appointment booked at another address'))
def order_with_appointment_elsewhere(access_world: AccessWorld, mode: str) -> None:
    world = access_world
    here = world.building()["CodeAdresseImmeuble"]
    other = next(a for a in world.reference_addresses() if a["CodeAdresseImmeuble"] != here)
    world.rdv = book(world, other)
    world.order(mode, None, appointment=world.rdv)


@then("the operator holds the appointment as used by the order")
def appointment_used(access_world: AccessWorld) -> None:
    data = access_world.admin.order(access_world.ref, access_world.tenant)["data"]
    assert data.get("IdRdv") == access_world.rdv, f"the order carries IdRdv {data.get('IdRdv')!r}"
    assert data.get("RdvSlot"), "the operator did not take the appointment for the order"


@when(parsers.parse('its technician asks the hotline a hot reprovisioning for motif "{motif}"'))
def asks_hot_reprovisioning(access_world: AccessWorld, motif: str) -> None:
    """Seed 002 "DEMANDE REPROV": the fibre is occupied or broken on site; the hotline reprovisions at once."""
    world = access_world
    url = f"{world.oc.target.url.rstrip('/')}/api/operators/{OPERATOR}/hotline?tenant={world.tenant}"
    answer = world.oc.driver.call("call_hotline", {"ref": world.ref, "socket": "", "kind": "hot", "motif": motif,
                                                   "hotline": url})
    data = world.admin.order(world.ref, world.tenant)["data"]
    assert answer.get("decharge") and answer.get("decharge") == data.get("NumeroDecharge"), (
        f"[ACCES-DECHARGE] call_hotline returned décharge {answer.get('decharge')!r}, the hotline gave "
        f"{data.get('NumeroDecharge')!r}")
    world.hotline[world.ref] = answer["decharge"]
    world.settle()


@when("the operator reprovisions the building for scheduled works")
def building_works(access_world: AccessWorld) -> None:
    world = access_world
    building = world.admin.order(world.ref, world.tenant)["data"]["IdentifiantImmeuble"]
    done = world.admin.post(f"/operators/{OPERATOR}/access/building_works", {"building": building},
                            tenant=world.tenant)
    assert world.ref in done["result"]["orders"], done


@given("a floor of an apartment building whose sockets are all taken")
def floor_all_taken(access_world: AccessWorld) -> None:
    """The building and floor of the scenario's Hotline order: every existing socket there is occupied."""
    world = access_world
    for address in world.reference_addresses():
        if address["TypeImmeuble"] != "IMMEUBLE" or address["BatimentImmeuble"] != "":
            continue
        floors: dict[tuple[str, str], list[bool]] = {}
        for line in address["Lignes"]:
            floors.setdefault((line["Escalier"], line["Etage"]), []).append(line["Occupee"])
        taken = [floor for floor, occupied in floors.items() if all(occupied)]
        if taken:
            world.address = address
            world.socket = {"Escalier": taken[0][0], "Etage": taken[0][1]}
            return
    raise AssertionError("the reference network has no floor whose sockets are all taken")
