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
    opsim_config.operators["covage"] = opsim_config.operators["covage"].with_overrides({"network_size": SIZE})
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
