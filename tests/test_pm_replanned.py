"""A PM whose commercial opening the operator re-plans (issue 27, scope 3), seen as an OC sees it on a real
sandbox: the `network_change` action {network, pm, opens} makes an open PM not open until that day (the IPE
shows its new DateMiseEnServiceCommercialePM, a Cmd_Info_Pm is refused PM NON OUVERT); on that day it opens at
`evolution_time` and the daily CPN check at `ipe_time` announces it to every client, once.
"""

from __future__ import annotations

import ftplib
from datetime import datetime

import pytest

from simulator.config import Config
from simulator.refdata import ReferenceNetwork
from simulator.sandbox import Sandbox
from tests.helpers import Api, ftp_login
from tests.test_network_evolution import _advance_to, _ipes, _network
from tests.test_pm_flows import SIZE, cmd, receive, send

ACTION = "/operators/covage/evolution/network_change?tenant=DEMO"
WAITING = "EN COURS DE DEPLOIEMENT"


@pytest.fixture
def opsim_config(opsim_config: Config) -> Config:
    # Every PM not yet open would open at the Monday step: a re-planned one must not (its day is planned).
    opsim_config.operators["covage"] = opsim_config.operators["covage"].with_overrides(
        {"network_size": SIZE, "evolution_pm_open": "1"})
    return opsim_config


def _pms(network: ReferenceNetwork) -> list[str]:
    return [p.reference for p in network.iter_pms()]


def _order(box: Sandbox, tenant: str, pm: str, ref: str, day: str) -> dict[str, str]:
    """A Cmd_Info_Pm of `pm` by `tenant` (created if need be): its AR_Cmd_Pm line."""
    oc = ftp_login(box.ftp_address, tenant, "pw")
    try:
        send(oc, tenant, "Cmd_Info_Pm", pm, [cmd(ref, pm, DateCommandePM=day)], seq=int(ref[-1]), date=day)
        [(_, [ar])] = receive(oc, "AR_Cmd_Pm")
    finally:
        oc.quit()
    return ar


def _cpn_pms(ftp: ftplib.FTP, timeout: float = 5) -> list[set[str]]:
    return [{line["ReferencePM"] for line in lines} for _, lines in receive(ftp, "CPN", timeout=timeout)]


def test_a_re_planned_pm_is_not_open_until_its_day_then_its_cpn_announces_it(opsim_sandbox: Sandbox,
                                                                             api: Api) -> None:
    network = _network(opsim_sandbox)
    pm = _pms(network)[1]
    before = network.pm(pm)
    assert before is not None and before.date_mes_commerciale < "20261124"  # open since 2016-2022
    api.post("/tenants", {"code": "REPLAN", "password": "pw"})
    ftp = ftp_login(opsim_sandbox.ftp_address)
    try:
        reply = api.post(ACTION, {"network": "COVA", "pm": pm, "opens": "2026-12-02"})["result"]
        assert reply == {"network": "COVA", "pm": pm, "EtatPM": WAITING, "DateMiseEnServiceCommercialePM": "20261202",
                         "was": before.date_mes_commerciale, "cr_mad_pm": []}
        after = network.pm(pm)
        assert after is not None
        assert (after.etat, after.date_installation, after.date_mes_commerciale) == (
            WAITING, before.date_installation, "20261202")
        shown = {(a["EtatPM"], a["DateMiseEnServiceCommercialePM"])
                 for a in api.get(f"/addresses?network=COVA&limit={SIZE}") if a["ReferencePM"] == pm}
        assert shown == {(WAITING, "20261202")}
        # Not open: a Cmd_Info_Pm is refused as for any PM not open.
        ar = _order(opsim_sandbox, "REPLAN", pm, "RP1", "20261124")
        assert ar["EtatArCommandePM"] == "KO" and ar["MotifKoArCommandePM"].startswith("PM NON OUVERT: "), ar
        # Monday: the step (evolution_pm_open 1) leaves it to its day; the IPE shows the new plan; no CPN.
        _advance_to(opsim_sandbox, api, datetime(2026, 11, 30, 7, 0))
        [(_, ipe)] = _ipes(ftp)
        mine = {(x["EtatPM"], x["DateMiseEnServiceCommercialePM"]) for x in ipe if x["ReferencePM"] == pm}
        assert mine == {(WAITING, "20261202")}
        assert _cpn_pms(ftp, timeout=0.3) == []
        # Its day: open at evolution_time (05:00), announced by the check at ipe_time (06:00).
        _advance_to(opsim_sandbox, api, datetime(2026, 12, 2, 5, 30))
        assert network.pm(pm).etat == "DEPLOYE"  # type: ignore[union-attr]
        assert _cpn_pms(ftp, timeout=0.3) == []
        _advance_to(opsim_sandbox, api, datetime(2026, 12, 2, 7, 0))
        [(name, lines)] = receive(ftp, "CPN")
        assert name == "COVAGE_ZMD_COVA_CPN_20261202_000001.csv"
        assert lines == [link for link in network.nro_links() if link["ReferencePM"] == pm]
        ar = _order(opsim_sandbox, "REPLAN", pm, "RP2", "20261202")
        assert ar["EtatArCommandePM"] == "OK", ar
        # Once: the next day brings no CPN of it.
        _advance_to(opsim_sandbox, api, datetime(2026, 12, 3, 7, 0))
        assert _cpn_pms(ftp, timeout=0.3) == []
        # Every client had it, not only DEMO.
        replan = ftp_login(opsim_sandbox.ftp_address, "REPLAN", "pw")
        try:
            assert _cpn_pms(replan) == [{pm}]
        finally:
            replan.quit()
    finally:
        ftp.quit()


def test_re_planning_is_refused_with_its_reason_and_a_clock_jump_over_the_day_still_announces_it(
        opsim_sandbox: Sandbox, api: Api) -> None:
    network = _network(opsim_sandbox)
    ordered, pm, other = _pms(network)[2:5]
    api.post("/tenants", {"code": "BEHIND", "password": "pw"})
    assert _order(opsim_sandbox, "BEHIND", ordered, "BH1", "20261124")["EtatArCommandePM"] == "OK"
    for body, why in (
            ({"pm": ordered, "opens": "2026-12-01"}, f"PM {ordered} has orders behind it (PM order BH1 of BEHIND)"),
            ({"pm": pm, "opens": "2026-11-24"}, "is not after today"),
            ({"pm": pm, "opens": "2026-11-20"}, "is not after today"),
            ({"pm": pm, "opens": "next week"}, "opens must be a day"),
            ({"pm": "PMZZ9999", "opens": "2026-12-01"}, "no PM PMZZ9999"),
    ):
        status, refused = api.call("POST", ACTION, {"network": "COVA", **body})
        assert status == 409 and why in str(refused), (body, refused)
    assert network.pm(ordered).etat == "DEPLOYE"  # type: ignore[union-attr]
    # Two PMs re-planned (one twice: the later plan holds), then one opened at once before its day.
    api.post(ACTION, {"network": "COVA", "pm": pm, "opens": "2026-11-26"})
    api.post(ACTION, {"network": "COVA", "pm": pm, "opens": "20261204"})
    api.post(ACTION, {"network": "COVA", "pm": other, "opens": "2026-12-10"})
    opened = api.post(ACTION, {"network": "COVA", "pm": other, "open": True})["result"]
    assert opened["DateMiseEnServiceCommercialePM"] == "20261124"
    ftp = ftp_login(opsim_sandbox.ftp_address)
    try:
        _advance_to(opsim_sandbox, api, datetime(2026, 11, 25, 7, 0))
        assert _cpn_pms(ftp) == [{other}]
        # One jump over the first plan's day and the real one's: one CPN, at the latest day, with the PM.
        _advance_to(opsim_sandbox, api, datetime(2026, 12, 7, 7, 0))
        assert _cpn_pms(ftp) == [{pm}]
        assert network.pm(pm).date_mes_commerciale == "20261204"  # type: ignore[union-attr]
        assert network.pm(pm).etat == "DEPLOYE"  # type: ignore[union-attr]
        _advance_to(opsim_sandbox, api, datetime(2026, 12, 11, 7, 0))  # the other's former day: nothing
        assert _cpn_pms(ftp, timeout=0.3) == []
        assert network.pm(other).date_mes_commerciale == "20261124"  # type: ignore[union-attr]
    finally:
        ftp.quit()
