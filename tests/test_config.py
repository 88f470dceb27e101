"""Configuration: defaults with no file, a TOML file for tenants, the Covage profile and the clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from simulator.clock import Delay
from simulator.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "opsim.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_need_no_file():
    config = load_config(None)
    assert [(t.code, t.login, t.password) for t in config.all_tenants()] == [("DEMO", "DEMO", "demo")]
    assert [(n.interop, n.arcep) for n in config.covage.networks] == [("COVA", "CV"), ("COVB", "CB")]
    assert config.covage.refinterne1 == "COVAGE" and config.covage.refinterne2 == "ZMD"
    assert config.covage.timings["cr_cmd"] == Delay(working_days=1)


def test_file_sets_tenants_networks_timings_and_clock(tmp_path: Path):
    config = load_config(write(tmp_path, '''
[sandbox]
seed = 7
demo_tenant = false

[clock]
start = "2027-01-04T09:30:00"
frozen = true

[[tenants]]
code = "ACME"
login = "acme-ftp"
password = "s3cret"
email = "noc@acme.test"

[covage]
network_size = 50

[covage.timings]
cr_cmd = "4 hours"

[[covage.networks]]
interop = "COVX"
arcep = "CX"
'''), ftp_port=0)
    assert config.seed == 7 and config.ftp_port == 0
    assert [(t.code, t.login, t.email) for t in config.all_tenants()] == [("ACME", "acme-ftp", "noc@acme.test")]
    assert [(n.interop, n.arcep) for n in config.covage.networks] == [("COVX", "CX")]
    assert config.covage.timings["cr_cmd"] == Delay(seconds=4 * 3600)
    assert config.covage.timings["oi_connection"] == Delay(working_days=5)  # the profile's default stays
    assert config.clock.start == datetime(2027, 1, 4, 9, 30) and config.clock.frozen


@pytest.mark.parametrize("text, message", [
    ('[[tenants]]\ncode = "ACME"\n', "missing key tenants.password"),
    ('[[tenants]]\ncode = "a b"\npassword = "x"\n', "2 to 8"),
    ('[covage.timings]\ncr_cmd = "soon"\n', "covage.timings"),
    ('[[covage.networks]]\ninterop = "TOOLONG"\narcep = "X"\n', "4 letters"),
    ("[sandbox\n", "opsim.toml"),
])
def test_bad_files_say_what_is_wrong(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_a_configured_network_is_served(tmp_path: Path, opsim_config):
    from simulator.sandbox import Sandbox
    from tests.helpers import ftp_login

    custom = load_config(write(tmp_path, '[[covage.networks]]\ninterop = "COVX"\narcep = "CX"\n'),
                         data_dir=opsim_config.data_dir, ftp_port=0, http_port=0)
    with Sandbox(custom) as box:
        ftp = ftp_login(box.ftp_address)
        assert ftp.nlst("IN") == ["COVX"] and ftp.nlst("IN/COVX") == ["CX"]
        ftp.close()
        assert set(box.networks) == {"COVX"}
