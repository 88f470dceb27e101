"""The reference network evolves over virtual time (issue 13, scope 3), seen as an OC sees it: the weekly IPE
over real FTP, the CPN, the CR_MAD_Pm, the access orders and the admin API, on real sandboxes.

Every Monday at 05:00 a step moves buildings on (CIBLE -> SIGNE -> EN COURS DE DEPLOIEMENT -> DEPLOYE) or
abandons them (gone three months later) and opens PMs; the IPE at 06:00 shows it. The `network_change`
operator action changes one building or PM at once.
"""

from __future__ import annotations

import ftplib
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from simulator.config import ClockConfig, Config, load_config
from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import cmd_acces
from simulator.operators.covage.order_help import AddressQuery, OrderHelpError
from simulator.pytest_plugin import DEFAULT_START
from simulator.refdata import ReferenceNetwork, generate_network
from simulator.refdata.evolution import Lifecycle, add_months
from simulator.sandbox import Sandbox
from simulator.specs.codec import load_pack
from tests.helpers import Api, download, ftp_login
from tests.test_pm_flows import cmd, receive, send

SIZE = 300
PACK = load_pack("pm-2.2")
PM_OUT = "OUT/COVA/CV/PM"
LIFE = Lifecycle()
#: Brisk rates, so that a few weeks of a 300-building network show every kind of change.
RATES = {"evolution_cible_signe": "0.3", "evolution_signe_en_cours": "0.3", "evolution_en_cours_deploye": "0.3",
         "evolution_abandon": "0.05"}
FIRST_MONDAY = datetime(2026, 11, 30, 7, 0)  # after the step (05:00) and the IPE (06:00)
ACTION = "/operators/covage/evolution/network_change?tenant=DEMO"


def _profile(config: Config, **overrides: str) -> Config:
    config.operators["covage"] = config.operators["covage"].with_overrides({"network_size": SIZE, **RATES,
                                                                             **overrides})
    return config


@pytest.fixture
def opsim_config(opsim_config: Config) -> Config:
    return _profile(opsim_config)


def _config(data_dir: Path, start: datetime = DEFAULT_START, **overrides: str) -> Config:
    """A configuration as the plugin makes it (loopback, free ports, frozen clock), for a second sandbox."""
    config = load_config(None, data_dir=data_dir, host="127.0.0.1", ftp_port=0, http_port=0)
    config.clock = ClockConfig(start=start, frozen=True)
    return _profile(config, **overrides)


def _network(box: Sandbox) -> ReferenceNetwork:
    return box.operators["covage"].capabilities["pm"].networks["COVA"]


def _advance_to(box: Sandbox, api: Api, moment: datetime) -> None:
    api.post("/clock/advance", {"hours": (moment - box.clock.now()).total_seconds() / 3600})
    box.engine.idle()


def _ipes(ftp: ftplib.FTP) -> list[tuple[str, list[dict[str, str]]]]:
    """The IPE files of COVA now in the OC's PM folder, (date of the name, lines), read then deleted."""
    files = []
    for name in sorted(n.rsplit("/", 1)[-1] for n in ftp.nlst(PM_OUT) if "_IPEZMD_" in n):
        parsed = PACK.flow("IPE").parse(download(ftp, f"{PM_OUT}/{name}"))
        assert [r.errors for r in parsed.records if r.errors] == []
        files.append((name.split("_")[-2], [r.values for r in parsed.records]))
        ftp.delete(f"{PM_OUT}/{name}")
    return files


def _weeks(box: Sandbox, api: Api, ftp: ftplib.FTP, weeks: int, first: int = 0) -> list[list[dict[str, str]]]:
    """Monday after Monday, the IPE of each (exactly one per Monday, of that Monday)."""
    out = []
    for week in range(first, first + weeks):
        monday = FIRST_MONDAY + timedelta(days=7 * week)
        _advance_to(box, api, monday)
        [(day, lines)] = _ipes(ftp)
        assert day == f"{monday:%Y%m%d}"
        out.append(lines)
    return out


def test_week_by_week_states_move_forward_abandoned_buildings_go_and_each_ipe_shows_its_step(
        opsim_sandbox: Sandbox, opsim_config: Config, api: Api) -> None:
    generated = generate_network("COVA", "CV", opsim_config.seed, SIZE)
    previous = {a.identifiant_immeuble: a.etat_immeuble for a in generated.addresses}
    abandoned_on: dict[str, date] = {}
    moved = 0
    ftp = ftp_login(opsim_sandbox.ftp_address)
    try:
        for week, lines in enumerate(_weeks(opsim_sandbox, api, ftp, 16)):
            monday = (FIRST_MONDAY + timedelta(days=7 * week)).date()
            day = f"{monday:%Y%m%d}"
            states = {line["IdentifiantImmeuble"]: line for line in lines}
            for building, since in abandoned_on.items():  # in the IPE until three months after, then gone
                assert (building in states) == (monday < add_months(since, 3)), (building, since, monday)
            for building, line in states.items():
                etat, was = line["EtatImmeuble"], previous[building]
                assert LIFE.rank(etat) >= LIFE.rank(was), (building, was, etat)
                if etat != was:  # this Monday's step, in this Monday's IPE
                    moved += 1
                    assert line["DateDerniereModification"] == day, line
                    if etat == "DEPLOYE":
                        assert line["DateCablageAdresse"] == day
                    if etat == "ABANDONNE":
                        abandoned_on[building] = monday
                previous[building] = etat
        gone = {b for b, since in abandoned_on.items() if add_months(since, 3) <= monday}
        assert moved > 30 and gone, (moved, abandoned_on)
        assert not gone & set(states)
        # The admin API lists the same deployed buildings as the last IPE, the newly deployed ones included.
        listed = {a["IdentifiantImmeuble"] for a in api.get(f"/addresses?network=COVA&limit={SIZE + 1}")}
        assert listed == {b for b, line in states.items() if line["EtatImmeuble"] == "DEPLOYE"}
        assert listed - {a.identifiant_immeuble for a in generated.addresses if a.deployed}
    finally:
        ftp.quit()


def test_two_sandboxes_with_the_same_seed_evolve_alike_and_a_restart_keeps_the_overlay(tmp_path: Path) -> None:
    ipes: list[list[list[dict[str, str]]]] = []
    for name in ("a", "b"):
        with Sandbox(_config(tmp_path / name)) as box:
            ftp = ftp_login(box.ftp_address)
            ipes.append(_weeks(box, Api(box.http_url), ftp, 3))
            ftp.quit()
    assert ipes[0] == ipes[1]
    assert ipes[0][0] != ipes[0][2]  # it did evolve
    # Sandbox "a" again, on its data dir: the evolved network, then its next steps, as "b" goes on.
    with Sandbox(_config(tmp_path / "a")) as box:
        network = _network(box)
        last = {line["IdentifiantImmeuble"]: line["EtatImmeuble"] for line in ipes[0][-1]}
        assert {a.identifiant_immeuble: a.etat_immeuble for a in network.iter_addresses()} == last
        ftp = ftp_login(box.ftp_address)
        resumed = _weeks(box, Api(box.http_url), ftp, 2, first=3)
        ftp.quit()
    with Sandbox(_config(tmp_path / "b")) as box:
        ftp = ftp_login(box.ftp_address)
        assert _weeks(box, Api(box.http_url), ftp, 2, first=3) == resumed
        ftp.quit()


def test_pms_opened_by_the_step_or_the_action_get_a_cpn_and_show_in_the_ipe(tmp_path: Path) -> None:
    start = datetime(2016, 1, 5, 10, 0)  # most PMs of the network open later (2016-2022)
    with Sandbox(_config(tmp_path, start=start, evolution_pm_open="0.5")) as box:
        api = Api(box.http_url)
        network = _network(box)
        closed = {p.reference: p for p in network.iter_pms() if p.date_mes_commerciale > "20160111"}
        assert len(closed) >= 5
        ftp = ftp_login(box.ftp_address)
        try:
            _advance_to(box, api, datetime(2016, 1, 11, 7, 0))  # Monday: step 05:00, IPE and CPN check 06:00
            by_step = {ref for ref in closed if network.pm(ref).date_mes_commerciale == "20160111"}  # type: ignore[union-attr]
            assert 0 < len(by_step) < len(closed)
            [(_, cpn)] = receive(ftp, "CPN")
            on_time = {p.reference for p in network.iter_pms() if "20160105" < p.date_mes_commerciale <= "20160111"}
            assert {line["ReferencePM"] for line in cpn} == on_time == by_step | (on_time - set(closed))
            [(_, ipe)] = _ipes(ftp)
            for line in ipe:
                if line["ReferencePM"] in by_step:
                    assert (line["EtatPM"], line["DateMiseEnServiceCommercialePM"]) == ("DEPLOYE", "20160111")
            # The action opens one more at once; the next daily check announces it.
            pm = sorted(set(closed) - by_step)[0]
            reply = api.post(ACTION, {"network": "COVA", "pm": pm, "open": True})["result"]
            assert reply["DateMiseEnServiceCommercialePM"] == "20160111"
            status, again = api.call("POST", ACTION, {"network": "COVA", "pm": pm, "open": True})
            assert status == 409 and "open since 20160111" in str(again), again
            _advance_to(box, api, datetime(2016, 1, 12, 7, 0))
            [(_, cpn)] = receive(ftp, "CPN")
            assert {line["ReferencePM"] for line in cpn} == {pm}
            # An open PM takes orders (before, PM NON OUVERT).
            api.post("/tenants", {"code": "EVO", "password": "pw"})
            oc = ftp_login(box.ftp_address, "EVO", "pw")
            send(oc, "EVO", "Cmd_Info_Pm", pm, [cmd("EVO1", pm, DateCommandePM="20160112")], date="20160112")
            [(_, [ar])] = receive(oc, "AR_Cmd_Pm")
            assert ar["EtatArCommandePM"] == "OK", ar
            oc.quit()
        finally:
            ftp.quit()


def test_a_building_deployed_by_the_action_is_orderable_and_sends_a_cr_mad_pm_maj(
        opsim_sandbox: Sandbox, api: Api) -> None:
    network = _network(opsim_sandbox)
    building = next(a for a in network.iter_addresses() if a.etat_immeuble == "EN COURS DE DEPLOIEMENT"
                    and network.deployed_behind(a.pm))
    api.post("/tenants", {"code": "MAJOC", "password": "pw"})
    ftp = ftp_login(opsim_sandbox.ftp_address, "MAJOC", "pw")
    host, port = opsim_sandbox.ftp_address
    try:
        send(ftp, "MAJOC", "Cmd_Info_Pm", building.pm, [cmd("MAJ1", building.pm)])
        receive(ftp, "AR_Cmd_Pm")
        api.post("/clock/advance", {"working_days": 1})
        [(_, initial)] = receive(ftp, "CR_MAD_Pm")
        assert building.identifiant_immeuble not in {line["IdentifiantImmeuble"] for line in initial}
        with OcFtpClient(host, port, "MAJOC", "pw", "MAJOC", today=lambda: date(2026, 11, 25)) as oc:
            oc.send("Cmd_Acces", [cmd_acces(network.ipe_record(building), "ACC1", date="20261125")])
            [before] = oc.receive("AR_Cmd_Acces").records
            assert (before["EtatArCommandePrise"], before["MotifKoArCommandePrise"]) == ("KO", "FIMP11")
            result = api.post(ACTION, {"network": "COVA", "building": building.identifiant_immeuble,
                                       "etat": "DEPLOYE"})["result"]
            assert (result["was"], result["etat"], result["cr_mad_pm"]) == ("EN COURS DE DEPLOIEMENT", "DEPLOYE",
                                                                             ["MAJOC"])
            [(_, update)] = receive(ftp, "CR_MAD_Pm")
            assert {line["NatureCR"] for line in update} == {"MAJ"}
            assert {line["ReferenceCommandePMInterneOC"] for line in update} == {"MAJ1"}
            assert [line["IdentifiantImmeuble"] for line in update] == \
                [a.identifiant_immeuble for a in network.deployed_behind(building.pm)]
            assert building.identifiant_immeuble in {line["IdentifiantImmeuble"] for line in update}
            # The access desk sees it deployed too: a new socket there is accepted, through one of its new PBOs.
            address = next(a for a in api.get(f"/addresses?network=COVA&limit={SIZE + 1}")
                           if a["IdentifiantImmeuble"] == building.identifiant_immeuble)
            assert address["EtatImmeuble"] == "DEPLOYE" and address["DateCablageAdresse"] == "20261125"
            oc.send("Cmd_Acces", [cmd_acces(address, "ACC2", date="20261125")])
            [after] = oc.receive("AR_Cmd_Acces").records
            assert after["EtatArCommandePrise"] == "OK", after
        # Back to a former state: refused, nothing changed.
        status, refused = api.call("POST", ACTION, {"network": "COVA", "building": building.identifiant_immeuble,
                                                    "etat": "SIGNE"})
        assert status == 409 and "only moves forward" in str(refused), refused
        assert network.address_by_id(building.identifiant_immeuble).etat_immeuble == "DEPLOYE"  # type: ignore[union-attr]
    finally:
        ftp.quit()


def test_order_help_lists_a_building_once_it_is_deployed(opsim_sandbox: Sandbox, api: Api) -> None:
    """The order help's listings follow the network's evolution (they were built once, at the first call)."""
    network = _network(opsim_sandbox)
    help_desk = opsim_sandbox.operators["covage"].capabilities["order_help"]
    deployed_hexacles = {a.hexacle for a in network.deployed()}
    building = next(a for a in network.iter_addresses() if a.etat_immeuble == "EN COURS DE DEPLOIEMENT"
                    and a.hexacle not in deployed_hexacles)

    def listed() -> set[str]:
        try:
            return {n["codeHexacle"] for n in help_desk.numbers(hexacle_voie=building.hexacle_voie)}
        except OrderHelpError:  # no deployed building in that street yet
            return set()

    assert building.hexacle not in listed()
    api.post(ACTION, {"network": "COVA", "building": building.identifiant_immeuble, "etat": "DEPLOYE"})
    assert building.hexacle in listed()
    assert [a.identifiant_immeuble for a in help_desk.locate(AddressQuery(
        hexacle_voie=building.hexacle_voie, numero=building.numero, complement=building.complement))[1]] \
        == [building.identifiant_immeuble]
