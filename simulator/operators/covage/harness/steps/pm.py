"""Steps of the Protocole PM 2.2 scenarios that drive the user's OC through its adapter (features/pm/).

The OC acts through the PM verbs (order_pm, announce_works, report_works) over the channel the scenario
names (ftp or mail), reads its PM flows (sync) and is asked what it understood (pm_status, works_status,
ipe_summary, pm_opening). The harness reads the operator's side over the admin API only (files, inbound, journal), and
lists IN/.../PM with its own FTP session (never reading nor deleting).

Check ids of the assertions on the OC (the message starts with [ID]; docs/checks.md describes each):
    PM-SENT       the verb made the OC send the flow's file (FTP or mail) and the operator took it
    PM-STATE      pm_status / works_status give what the operator's answers lead to
    PM-AR-MAD     the OC answered the CR_MAD_Pm with an AR MAD
    PM-IPE        ipe_summary gives what the latest IPE says
    PM-CPN        pm_opening gives what the CPN (or, before it, the latest IPE) says of a PM's opening
    PM-NOTICE, PM-WORKS-LATE, PM-WORKS-DOCUMENTS   a works answer refused for that reason
Motifs are named by their key in the pm-2.2 pack (`motifs`: short_notice, photo_missing...), never by text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from conformance.client import AdminError, SandboxAdmin
from conformance.client.ftp import FtpSession
from conformance.plugin import OcScenario
from conformance.verdict import CheckFailed
from conformance.waiting import poll_until, wait_until
from simulator.operators.covage.harness.checks import observe
from simulator.operators.covage.harness.pm_checks import (
    PACK,
    add_working_days,
    check_pm,
    ipe_summary_of,
    latest_ipe,
    motif_label,
    pm_opening_of,
    sub_working_days,
)

#: Real seconds to wait for the operator to take what the OC sent and deliver its answers.
SETTLE_TIMEOUT = 15.0
#: A ReferencePM the operator's network does not have (the generated networks name theirs PM<ARCEP><n>).
UNKNOWN_PM = "PMZZ9999"
#: The check a works answer refused for a motif (pm-2.2 pack key) brings out.
MOTIF_CHECKS = {"short_notice": "PM-NOTICE", "late": "PM-WORKS-LATE", "photo_missing": "PM-WORKS-DOCUMENTS",
                "sheet_missing": "PM-WORKS-DOCUMENTS"}
#: The hour (virtual) after the Monday IPE has gone out (the profile's ipe_time is 06:00).
AFTER_IPE_HOUR = 7


@dataclass
class PmWorld:
    oc: OcScenario
    peek: FtpSession  # the harness's own session on the OC's account: it only lists IN/.../PM
    pm: str = ""
    refs: list[str] = field(default_factory=list)  # the OC's PM orders, oldest first
    works: list[str] = field(default_factory=list)  # its works notices and reports, oldest first
    inbound_seen: int = 0
    changed: str = ""  # the IdentifiantImmeuble of a building the operator changed during the scenario
    opens: date | None = None  # the day the operator re-planned the PM's commercial opening to

    @property
    def admin(self) -> SandboxAdmin:
        return self.oc.admin

    @property
    def tenant(self) -> str:
        return self.oc.tenant.code

    @property
    def in_folder(self) -> str:
        return self.oc.target.folders["pm"]["in"]

    def today(self) -> date:
        return self.admin.now().date()

    # ------------------------------------------------------------------ the sandbox
    def inbound(self) -> list[dict[str, Any]]:
        return self.admin.get_all("/inbound", tenant=self.tenant)

    def settle(self, flow: str | None = None, what: str = "") -> None:
        """Wait until the operator has taken what the OC sent (a new file of `flow`: PM-SENT) and delivered
        every answer."""
        code = f"_{PACK.flow(flow).code}_" if flow else ""
        state: dict[str, list[Any]] = {}

        def settled() -> bool:
            state["inbound"] = self.inbound()
            state["new"] = [f for f in state["inbound"][self.inbound_seen:]
                            if code.upper() in f["filename"].upper()] if flow else [1]
            state["waiting"] = [n for n in self.peek.list_files(self.in_folder) if n.lower().endswith(".csv")]
            state["undelivered"] = [f for f in self.admin.get_all("/files", tenant=self.tenant) if not f["delivered"]]
            return bool(state["new"]) and not state["waiting"] and not state["undelivered"]

        if not poll_until(settled, SETTLE_TIMEOUT):
            assert state["new"], (f"[PM-SENT] {what}: the operator received no {flow} from the OC in "
                                  f"{SETTLE_TIMEOUT:g} s")
            raise AssertionError(f"the operator has not taken {state['waiting']} or delivered {state['undelivered']}")
        self.inbound_seen = len(state["inbound"])

    def advance(self, working_days: int = 0, hours: float = 0) -> None:
        self.admin.advance(working_days=working_days, hours=hours)
        self.settle()

    def answer_lines(self, flow: str) -> list[dict[str, str]]:
        spec = PACK.flow(flow)
        return [dict(r.values) for f in observe(self.admin, self.tenant, pack=PACK).answers if f.flow == flow
                for r in spec.parse(f.content).records]

    # ------------------------------------------------------------------ the OC
    def call(self, verb: str, args: dict[str, Any]) -> dict[str, Any]:
        return self.oc.driver.call(verb, args)

    def sync(self) -> None:
        self.settle()
        self.call("sync", {})
        self.settle()  # the AR MADs it sent while reading

    def order(self, pm: str, channel: str) -> str:
        answer = self.call("order_pm", {"pm": pm, "type": "UNIT", "choice": "P", "channel": channel})
        ref = answer.get("ref")
        assert isinstance(ref, str) and ref, f"[PM-SENT] order_pm answered {answer}, no ref"
        self.settle("Cmd_Info_Pm", "order_pm")
        self.refs.append(ref)
        return ref

    def pm_status(self, ref: str | None = None) -> dict[str, Any]:
        status = self.call("pm_status", {"ref": ref or self.refs[-1]})
        assert isinstance(status.get("state"), str), f"[PM-STATE] pm_status answered {status}"
        return status

    def works_status(self) -> dict[str, Any]:
        status = self.call("works_status", {"ref": self.works[-1]})
        assert isinstance(status.get("state"), str), f"[PM-STATE] works_status answered {status}"
        return status


@pytest.fixture
def pm_world(oc_scenario: OcScenario) -> Iterator[PmWorld]:
    target = oc_scenario.target
    peek = FtpSession(target.ftp_host, target.ftp_port, oc_scenario.tenant.login, oc_scenario.tenant.password)
    yield PmWorld(oc_scenario, peek)
    peek.close()


def _channel(channel: str) -> str:
    channel = channel.strip()
    assert channel in ("ftp", "mail"), f"the scenario names channel {channel!r}: ftp or mail"
    return channel


# ---------------------------------------------------------------------------------------------- given
@given("the OC is a PM client of the operator")
def pm_client(pm_world: PmWorld) -> None:
    operators = {o["operator"]: o for o in pm_world.admin.get("/operators")}
    capabilities = {c["name"] for o in operators.values() for c in o["capabilities"]}
    assert "pm" in capabilities, "the sandbox serves no Protocole PM"


@given("an open PM with deployed addresses")
def open_pm(pm_world: PmWorld) -> None:
    addresses = pm_world.oc.target.deployed_addresses(pm_world.oc.target.oi)
    today = pm_world.today().strftime("%Y%m%d")
    pms = sorted({a["ReferencePM"] for a in addresses if a.get("EtatPM") == "DEPLOYE"
                  and (a.get("DateInstallationPM") or "") <= today})
    assert pms, "no open PM with a deployed address in the sandbox's network"
    pm_world.pm = random.Random(pm_world.tenant).choice(pms)  # spread the scenarios over the PMs


@given(parsers.parse("the OC has ordered the PM over {channel} and read its CR_MAD_Pm"))
def ordered_and_mad(pm_world: PmWorld, channel: str) -> None:
    pm_world.order(pm_world.pm, _channel(channel))
    pm_world.advance(working_days=1)
    pm_world.sync()
    status = pm_world.pm_status()
    assert status["state"] == "available", f"[PM-STATE] after its CR_MAD_Pm the OC says {status}"


# ---------------------------------------------------------------------------------------------- when
@when(parsers.re(r"the OC orders the PM(?P<again> again)? over (?P<channel>\w+)"))
def order_pm(pm_world: PmWorld, again: str | None, channel: str) -> None:
    pm_world.order(pm_world.pm, _channel(channel))


@when(parsers.parse("the OC orders a PM the operator does not know over {channel}"))
def order_unknown(pm_world: PmWorld, channel: str) -> None:
    pm_world.order(UNKNOWN_PM, _channel(channel))


@when("the OC reads its PM flows")
def reads(pm_world: PmWorld) -> None:
    pm_world.sync()


@when(parsers.re(r"(?P<n>\d+) working days? pass(?:es)? for the PM"))
def working_days(pm_world: PmWorld, n: str) -> None:
    pm_world.advance(working_days=int(n))


@when("the Monday IPE has gone out")
def monday(pm_world: PmWorld) -> None:
    now = pm_world.admin.now()
    day = now.date() + timedelta(days=(7 - now.weekday()) % 7 or 7)
    after = datetime.combine(day, datetime.min.time()).replace(hour=AFTER_IPE_HOUR)
    pm_world.advance(hours=(after - now).total_seconds() / 3600)
    assert [f for f in pm_world.admin.get_all("/files", tenant=pm_world.tenant) if f["flow"] == "IPE"], \
        "the operator sent no IPE on Monday"


@when("the operator deploys a building still under construction")
def deploy_building(pm_world: PmWorld) -> None:
    """The operator's own change to its network (the network_change action, docs/api.md): the next IPE shows
    it, and an OC must take the new IPE's word over the last one's."""
    network = pm_world.oc.target.oi
    lines = latest_ipe(observe(pm_world.admin, pm_world.tenant, pack=PACK).answers,
                       pm_world.admin.now().isoformat(timespec="seconds"), network) or []
    building = next((x["IdentifiantImmeuble"] for x in lines if x["EtatImmeuble"] == "EN COURS DE DEPLOIEMENT"), "")
    assert building, f"the IPE of {network} has no building under construction"
    pm_world.admin.post(f"/operators/{pm_world.oc.context().operator}/evolution/network_change",
                        {"network": network, "building": building, "etat": "DEPLOYE"}, tenant=pm_world.tenant)
    pm_world.changed = building


@when(parsers.parse("the operator re-plans a PM to open {days:d} days after the next Monday"))
def replan_pm(pm_world: PmWorld, days: int) -> None:
    """The network_change action {network, pm, opens} (docs/api.md): an open PM with no order behind it is not
    open until that day, when the daily CPN announces it. The PMs any OC has ordered are refused: the next is
    tried."""
    now = pm_world.admin.now()
    opens = now.date() + timedelta(days=(7 - now.weekday()) % 7 or 7) + timedelta(days=days)
    today = now.strftime("%Y%m%d")
    addresses = pm_world.admin.addresses(pm_world.oc.target.oi, limit=300)
    pms = sorted({a["ReferencePM"] for a in addresses if a.get("EtatPM") == "DEPLOYE"
                  and (a.get("DateMiseEnServiceCommercialePM") or "99999999") <= today})
    random.Random(pm_world.tenant).shuffle(pms)
    refused = []
    for pm in pms[:20]:
        try:
            reply = pm_world.admin.post(f"/operators/{pm_world.oc.context().operator}/evolution/network_change",
                                        {"network": pm_world.oc.target.oi, "pm": pm, "opens": opens.isoformat()},
                                        tenant=pm_world.tenant)
        except AdminError as e:
            refused.append(e.detail)
            continue
        assert reply["result"]["DateMiseEnServiceCommercialePM"] == opens.strftime("%Y%m%d"), reply
        pm_world.pm, pm_world.opens = pm, opens
        return
    raise AssertionError(f"the operator re-planned none of {len(pms)} open PMs: {refused[:3]}")


@when("the clock moves past the PM's opening day")
def past_opening(pm_world: PmWorld) -> None:
    """To the opening day, after the daily CPN check (ipe_time): no Monday IPE in between says it."""
    assert pm_world.opens is not None, "no PM opening was re-planned"
    now = pm_world.admin.now()
    after = datetime.combine(pm_world.opens, datetime.min.time()).replace(hour=AFTER_IPE_HOUR)
    pm_world.advance(hours=(after - now).total_seconds() / 3600)


@when(parsers.parse("the OC orders a PM with a building still under construction over {channel}"))
def order_pm_under_construction(pm_world: PmWorld, channel: str) -> None:
    lines = latest_ipe(observe(pm_world.admin, pm_world.tenant, pack=PACK).answers,
                       pm_world.admin.now().isoformat(timespec="seconds"), pm_world.oc.target.oi) or []
    today = pm_world.today().strftime("%Y%m%d")
    candidates = sorted({(x["ReferencePM"], x["IdentifiantImmeuble"]) for x in lines
                         if x["EtatImmeuble"] == "EN COURS DE DEPLOIEMENT" and x["EtatPM"] == "DEPLOYE"
                         and (x["DateMiseEnServiceCommercialePM"] or "") <= today})
    assert candidates, "the IPE has no building under construction behind an open PM"
    pm_world.pm, pm_world.changed = random.Random(pm_world.tenant).choice(candidates)
    pm_world.order(pm_world.pm, _channel(channel))


@when("the operator deploys that building")
def deploy_that_building(pm_world: PmWorld) -> None:
    """The network_change action (docs/api.md): the OCs that had the PM get a CR_MAD_Pm MAJ at once."""
    ref = pm_world.refs[-1]
    before = len(_cr_mad_files(pm_world, ref))
    reply = pm_world.admin.post(f"/operators/{pm_world.oc.context().operator}/evolution/network_change",
                                {"network": pm_world.oc.target.oi, "building": pm_world.changed, "etat": "DEPLOYE"},
                                tenant=pm_world.tenant)
    assert pm_world.tenant in str(reply), f"the operator sends no CR_MAD_Pm MAJ to the OC: {reply}"
    wait_until(lambda: len(_cr_mad_files(pm_world, ref)) != before, SETTLE_TIMEOUT, f"a CR_MAD_Pm MAJ for {ref}")
    pm_world.settle()


def _cr_mad_files(pm_world: PmWorld, ref: str) -> list[list[dict[str, str]]]:
    """The lines of `ref` in each CR_MAD_Pm the operator sent, oldest first."""
    spec = PACK.flow("CR_MAD_Pm")
    files = sorted((f for f in observe(pm_world.admin, pm_world.tenant, pack=PACK).answers if f.flow == "CR_MAD_Pm"),
                   key=lambda f: (f.at_virtual, f.at_real, f.id))
    found = [[dict(r.values) for r in spec.parse(f.content).records if r.values["ReferenceCommandePMInterneOC"] == ref]
             for f in files]
    return [lines for lines in found if lines]


@when(parsers.re(r"the OC announces works at the PM (?P<n>\d+) working days? ahead over (?P<channel>\w+)"))
def announce(pm_world: PmWorld, n: str, channel: str) -> None:
    day = add_working_days(pm_world.today(), int(n))
    answer = pm_world.call("announce_works", {"pm": pm_world.pm, "date": day.strftime("%Y%m%d"),
                                              "channel": _channel(channel)})
    assert answer.get("ref"), f"[PM-SENT] announce_works answered {answer}, no ref"
    pm_world.settle("Notif_Interv_Prev", "announce_works")
    pm_world.works.append(str(answer["ref"]))


@when(parsers.re(r"the OC reports works done (?P<ago>today|\d+ working days ago) (?P<docs>with the photo and the "
                 r"technical sheet|without the photo|without the technical sheet) over (?P<channel>\w+)"))
def report(pm_world: PmWorld, ago: str, docs: str, channel: str) -> None:
    done = pm_world.today() if ago == "today" else sub_working_days(pm_world.today(), int(ago.split()[0]))
    args = {"pm": pm_world.pm, "date": done.strftime("%Y%m%d"), "photo": docs != "without the photo",
            "sheet": docs != "without the technical sheet", "channel": _channel(channel)}
    answer = pm_world.call("report_works", args)
    assert answer.get("ref"), f"[PM-SENT] report_works answered {answer}, no ref"
    pm_world.settle("Notif_Adduction", "report_works")
    pm_world.works.append(str(answer["ref"]))


# ---------------------------------------------------------------------------------------------- then
@then(parsers.re(r"the OC knows the PM order is (?P<state>acknowledged|available)$"))
def knows_state(pm_world: PmWorld, state: str) -> None:
    status = pm_world.pm_status()
    assert status["state"] == state, f"[PM-STATE] the OC says {status['state']!r}, expected {state!r}: {status}"


@then(parsers.parse('the OC knows the PM order is available with every address of its CR_MAD_Pm, nature "{nature}"'))
def knows_available(pm_world: PmWorld, nature: str) -> None:
    status = pm_world.pm_status()
    ref = pm_world.refs[-1]
    files = _cr_mad_files(pm_world, ref)
    assert files, f"the operator sent no CR_MAD_Pm for {ref}"
    lines = files[-1]  # the latest: a MAJ replaces what the last one said
    assert lines[0]["NatureCR"] == nature, f"the operator's CR_MAD_Pm is {lines[0]['NatureCR']}, not {nature}"
    wanted = {"state": "available", "addresses": len(lines), "nature": nature,
              "prestation": lines[0]["ReferencePrestationPM"], "first_mad": lines[0]["DatePremiereMADPM"]}
    wrong = {k: (status.get(k), v) for k, v in wanted.items() if k in status and status.get(k) != v}
    assert status["state"] == "available" and not wrong, f"[PM-STATE] (OC's, the CR_MAD_Pm's): {wrong or status}"


@then("the OC gives the same first MAD date for both orders")
def same_first_mad(pm_world: PmWorld) -> None:
    first, second = (pm_world.pm_status(ref) for ref in pm_world.refs[-2:])
    assert first.get("first_mad") and first.get("first_mad") == second.get("first_mad"), (
        f"[PM-STATE] first MAD dates {first.get('first_mad')!r} and {second.get('first_mad')!r}")


@then(parsers.parse('the OC knows the PM order is rejected for motif "{key}"'))
def knows_rejected(pm_world: PmWorld, key: str) -> None:
    status = pm_world.pm_status()
    label = motif_label(key)
    assert status["state"] == "rejected" and str(status.get("reject_code") or "").startswith(label), (
        f"[PM-STATE] the OC says {status}, expected rejected for {label!r}")


@then(parsers.parse("the operator received an AR MAD for the PM order over {channel}"))
def ar_mad_received(pm_world: PmWorld, channel: str) -> None:
    ref = pm_world.refs[-1]
    spec = PACK.flow("AR_MAD")
    sent = [f for f in observe(pm_world.admin, pm_world.tenant, pack=PACK).sent
            if PACK.parse_filename(f.filename) and PACK.parse_filename(f.filename).flow.name == "AR_MAD"]  # type: ignore[union-attr]
    lines = [(f, dict(r.values)) for f in sent for r in spec.parse(f.content).records
             if r.values.get("ReferenceCommandePMInterneOC") == ref]
    assert lines, f"[PM-AR-MAD] the OC read the CR_MAD_Pm of {ref} and sent no AR MAD for it"
    assert {f.channel for f, _ in lines} == {_channel(channel)}, f"[PM-AR-MAD] the AR MAD came by {lines[0][0].channel}"
    assert all(line["EtatArMAD"] == "OK" for _, line in lines), f"[PM-AR-MAD] {lines}"


@then(parsers.re(r"the OC's summary of (?:a|the) (?P<what>PM|building) matches the IPE"))
def summary_matches(pm_world: PmWorld, what: str) -> None:
    network = pm_world.oc.target.oi
    lines = latest_ipe(observe(pm_world.admin, pm_world.tenant, pack=PACK).answers,
                       pm_world.admin.now().isoformat(timespec="seconds"), network)
    assert lines, f"no IPE of {network} was sent to the OC"
    picked = random.Random(pm_world.tenant + what).choice(lines)
    args = {"network": network, **({"pm": picked["ReferencePM"]} if what == "PM"
                                   else {"building": picked["IdentifiantImmeuble"]})}
    answer = pm_world.call("ipe_summary", args)
    expected = ipe_summary_of(lines, args)
    wrong = {k: (answer.get(k), v) for k, v in expected.items() if answer.get(k) != v}
    assert not wrong, f"[PM-IPE] ipe_summary {args}: (OC's, the IPE's) {wrong}"


@then(parsers.parse('the OC\'s summary of the changed building says "{etat}" as the new IPE does'))
def changed_summary(pm_world: PmWorld, etat: str) -> None:
    network = pm_world.oc.target.oi
    lines = latest_ipe(observe(pm_world.admin, pm_world.tenant, pack=PACK).answers,
                       pm_world.admin.now().isoformat(timespec="seconds"), network) or []
    args = {"network": network, "building": pm_world.changed}
    expected = ipe_summary_of(lines, args)
    assert expected.get("etat") == etat, f"the operator's IPE says {expected} of {pm_world.changed}"
    answer = pm_world.call("ipe_summary", args)
    wrong = {k: (answer.get(k), v) for k, v in expected.items() if answer.get(k) != v}
    assert not wrong, f"[PM-IPE] ipe_summary {args} after the change: (OC's, the new IPE's) {wrong}"


def _opening(pm_world: PmWorld) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OC's pm_opening of the scenario's PM, and what the operator's IPEs and CPNs say."""
    network = pm_world.oc.target.oi
    args = {"network": network, "pm": pm_world.pm}
    answer = pm_world.call("pm_opening", args)
    expected = pm_opening_of(observe(pm_world.admin, pm_world.tenant, pack=PACK).answers,
                             pm_world.admin.now().isoformat(timespec="seconds"), network, pm_world.pm)
    return answer, expected


@then("the OC knows the PM is not open yet")
def knows_not_open(pm_world: PmWorld) -> None:
    answer, expected = _opening(pm_world)
    assert expected == {"open": False}, f"the operator's IPE does not show {pm_world.pm} not open: {expected}"
    assert answer.get("open") is False, f"[PM-CPN] pm_opening {pm_world.pm}: the OC says {answer}, the IPE not open"


@then("the operator sent the OC a CPN of the PM")
def cpn_sent(pm_world: PmWorld) -> None:
    spec = PACK.flow("CPN")
    cpns = [f for f in observe(pm_world.admin, pm_world.tenant, pack=PACK).answers if f.flow == "CPN"
            and any(r.values["ReferencePM"] == pm_world.pm for r in spec.parse(f.content).records)]
    assert cpns, f"the operator sent the OC no CPN of {pm_world.pm} (opening {pm_world.opens})"
    day = pm_world.opens.isoformat() if pm_world.opens else ""
    assert all(f.at_virtual.startswith(day) for f in cpns), [f.filename for f in cpns]


@then("the OC knows the PM is open with its PM-NRO links")
def knows_open(pm_world: PmWorld) -> None:
    answer, expected = _opening(pm_world)
    assert expected.get("open") is True and expected.get("links"), f"no CPN of {pm_world.pm}: {expected}"
    wrong = {k: (answer.get(k), v) for k, v in expected.items() if answer.get(k) != v}
    assert not wrong, f"[PM-CPN] pm_opening {pm_world.pm} after its CPN: (OC's, the CPN's) {wrong}"


@then("nothing is left in the OC's PM folder")
def pm_folder_empty(pm_world: PmWorld) -> None:
    folder = pm_world.oc.target.folders["pm"]["out"]
    left = pm_world.peek.list_files(folder)
    if left:
        raise CheckFailed("PM-OUT-CLEAN", f"{folder} still holds {', '.join(sorted(left))} after the OC read its "
                          "PM flows: the reader reads and deletes everything there")


@then(parsers.parse("the OC knows the works {kind} is accepted"))
def works_accepted(pm_world: PmWorld, kind: str) -> None:
    status = pm_world.works_status()
    assert status["state"] == "accepted", f"[{_check_of(status)}] the OC says {status}, expected accepted"


@then("the OC knows the building's information")
def building_info(pm_world: PmWorld) -> None:
    status = pm_world.works_status()
    line = next(x for x in reversed(pm_world.answer_lines("CR_InfoSyndic")) if x["EtatCrInfoSyndic"] == "OK")
    info = status.get("info") or {}
    wrong = {k: (info.get(k), line[k]) for k in info if k in line and info[k] != line[k]}
    assert info.get("CodeAccesImmeuble") == line["CodeAccesImmeuble"] and not wrong, (
        f"[PM-STATE] the OC holds {info}, the CR_InfoSyndic says {line}")


@then(parsers.parse('the OC knows the works {kind} is refused for motif "{key}"'))
def works_refused(pm_world: PmWorld, kind: str, key: str) -> None:
    status = pm_world.works_status()
    label = motif_label(key)
    assert status["state"] == "refused" and str(status.get("reject_code") or "").startswith(label), (
        f"[PM-STATE] the OC says {status}, expected refused for {label!r}")


@then(parsers.parse("the check {check} reports it"))
def check_reports(pm_world: PmWorld, check: str) -> None:
    """The scenario made the OC do it on purpose: the check must see it; it is then no finding against the OC."""
    found = [f.check for f in check_pm(pm_world.oc.record, wait=0)]
    assert check in found, f"the check {check} did not report what the OC was made to do (found: {found})"
    pm_world.oc.record.expected.add(check)


def _check_of(status: dict[str, Any]) -> str:
    """The check id a refused works answer brings out (its motif), else PM-STATE."""
    code = str(status.get("reject_code") or "")
    key = next((k for k in MOTIF_CHECKS if code.startswith(motif_label(k))), "")
    return MOTIF_CHECKS.get(key, "PM-STATE")
