"""A Cmd_Info_Pm for a PM not yet installed is refused (PM NON OUVERT): the sandbox's clock starts in 2016,
before most PMs of the generated network are installed (their dates run from 2016 to 2022)."""

from __future__ import annotations

from datetime import datetime

import pytest

from simulator.config import ClockConfig, Config
from tests.helpers import Api, ftp_login
from tests.test_pm_flows import PACK, SIZE, cmd, receive, send


@pytest.fixture
def opsim_config(opsim_config: Config) -> Config:
    # PMs open on their generated dates here: the weekly evolution opens none earlier (evolution_pm_open 0;
    # tests/test_network_evolution.py has PMs opened by it).
    opsim_config.operators["covage"] = opsim_config.operators["covage"].with_overrides(
        {"network_size": SIZE, "evolution_pm_open": "0"})
    opsim_config.clock = ClockConfig(start=datetime(2016, 1, 5, 10, 0), frozen=True)
    return opsim_config


def test_pm_not_yet_open_is_refused_with_its_dates(opsim_sandbox, api: Api) -> None:
    api.post("/tenants", {"code": "EARLY", "password": "pw"})
    network = opsim_sandbox.operators["covage"].capabilities["pm"].networks["COVA"]
    later = next(p for p in network.iter_pms() if p.date_installation > "20160105")
    ftp = ftp_login(opsim_sandbox.ftp_address, "EARLY", "pw")
    try:
        send(ftp, "EARLY", "Cmd_Info_Pm", later.reference, [cmd("EARLY1", later.reference, DateCommandePM="20160105")],
             date="20160105")
        [(_, [ar])] = receive(ftp, "AR_Cmd_Pm")
    finally:
        ftp.quit()
    assert ar["EtatArCommandePM"] == "KO", ar
    assert ar["MotifKoArCommandePM"].startswith("PM NON OUVERT: ")
    assert f"DateInstallationPM {later.date_installation}" in ar["MotifKoArCommandePM"]
    assert PACK.flow("AR_Cmd_Pm").column_names == list(ar)


def test_cpn_once_per_pm_when_it_opens_on_the_clock(opsim_sandbox, api: Api) -> None:
    api.post("/tenants", {"code": "CPNOC", "password": "pw"})
    network = opsim_sandbox.operators["covage"].capabilities["pm"].networks["COVA"]
    start = "20160105"
    pms = list(network.iter_pms())
    first_day = min(p.date_mes_commerciale for p in pms if p.date_mes_commerciale > start)
    day = datetime.strptime(first_day, "%Y%m%d")
    ftp = ftp_login(opsim_sandbox.ftp_address, "CPNOC", "pw")
    try:
        hours = (day.replace(hour=5) - datetime(2016, 1, 5, 10)).total_seconds() / 3600
        api.post("/clock/advance", {"hours": hours})  # the day it opens, 05:00: not yet
        opsim_sandbox.engine.idle()
        assert receive(ftp, "CPN", timeout=0.2) == []
        api.post("/clock/advance", {"hours": 2})  # 07:00, after the daily check at ipe_time (06:00)
        [(cpn_name, lines)] = receive(ftp, "CPN")
        assert cpn_name == f"COVAGE_ZMD_COVA_CPN_{first_day}_000001.csv"
        opened = {p.reference for p in pms if start < p.date_mes_commerciale <= first_day}
        assert {line["ReferencePM"] for line in lines} == opened
        links = [link for link in network.nro_links() if link["ReferencePM"] in opened]
        assert lines == links
        assert list(lines[0]) == PACK.flow("CPN").column_names
        # The next day: nothing again for the same PMs (only PMs opening that day, if any).
        api.post("/clock/advance", {"hours": 24})
        opsim_sandbox.engine.idle()
        later = receive(ftp, "CPN", timeout=0.3)
        assert all(line["ReferencePM"] not in opened for _, file_lines in later for line in file_lines)
    finally:
        ftp.quit()
