"""Configuration: defaults with no file, a TOML file for tenants, the Covage profile and the clock."""

from __future__ import annotations

import re
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
    assert [(n.interop, n.arcep) for n in config.operators["covage"].networks] == [("COVA", "CV"), ("COVB", "CB")]
    assert config.operators["covage"].refinterne1 == "COVAGE" and config.operators["covage"].refinterne2 == "ZMD"
    assert config.operators["covage"].timings["cr_cmd"] == Delay(working_days=1)


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
    assert [(n.interop, n.arcep) for n in config.operators["covage"].networks] == [("COVX", "CX")]
    assert config.operators["covage"].timings["cr_cmd"] == Delay(seconds=4 * 3600)
    assert config.operators["covage"].timings["oi_connection"] == Delay(working_days=5)  # the profile's default stays
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


# ---------------------------------------------------------------------------------------------- schema checks
@pytest.mark.parametrize("text, message", [
    ("[sandbox]\ndemo_tennant = true\n", "unknown key sandbox.demo_tennant (did you mean demo_tenant?)"),
    ("[clok]\nfrozen = true\n", "unknown section clok (did you mean clock?)"),
    ("[clock]\nfrozn = true\n", "unknown key clock.frozn (did you mean frozen?)"),
    ('[covage.timings]\ncr_cmdd = "1 hour"\n', "unknown key covage.timings.cr_cmdd (did you mean cr_cmd?)"),
    ('[covage.timing]\ncr_cmd = "1 hour"\n', "unknown section covage.timing (did you mean timings?)"),
    ('[[covage.networks]]\ninterop = "COVX"\narcep = "CX"\nnmae = "x"\n',
     "[[covage.networks]] entry 1: unknown key covage.networks.nmae (did you mean name?)"),
    ('[[tenants]]\ncode = "ACME"\npasword = "x"\n',
     "[[tenants]] entry 1: unknown key tenants.pasword (did you mean password?)"),
    ("seed = 7\n", "unknown key seed (did you mean sandbox.seed?)"),  # above every section header
    ("[sandbox]\nspeed = 60\n", "unknown key sandbox.speed (did you mean clock.speed?)"),  # wrong section
    ('[covage.timings]\nsoon = "1 hour"\n', "unknown key covage.timings.soon (known: cr_cmd, cmd_stoc,"),
])
def test_unknown_keys_and_sections_name_the_closest_valid_one(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert str(caught.value) == f"{tmp_path / 'opsim.toml'}: {message}" or message.endswith(",")
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("text, message", [
    ('[clock]\nspeed = "fast"\n', 'clock.speed = "fast": expected a number > 0'),
    ("[clock]\nspeed = 0\n", "clock.speed = 0: expected a number > 0"),
    ('[clock]\nstart = "24/11/2026"\n', 'clock.start = "24/11/2026": expected a date-time such as 2026-11-24T10:00:00'),
    ('[clock]\nstart = "2026-13-45T10:00:00"\n', 'clock.start = "2026-13-45T10:00:00": expected a date-time'),
    ('[clock]\nfrozen = "yes"\n', 'clock.frozen = "yes": expected true or false'),
    ("[sandbox]\nftp_port = 70000\n", "sandbox.ftp_port = 70000: expected a port number from 0 to 65535"),
    ("[sandbox]\nhttp_port = true\n", "sandbox.http_port = true: expected a port number"),
    ('[sandbox]\nseed = "42"\n', 'sandbox.seed = "42": expected an integer >= 0'),
    ('[sandbox]\nftp_passive_ports = "9-3"\n', 'sandbox.ftp_passive_ports = "9-3": expected a port range'),
    ("[sandbox]\nadmin_open = 1\n", "sandbox.admin_open = 1: expected true or false"),
    ('[sandbox]\nadmin_token = "two words"\n', 'sandbox.admin_token = "two words": expected a token'),
    ("[covage]\nnetwork_size = 0\n", "covage.network_size = 0: expected an integer >= 1"),
    ('[covage]\nacces_spec = "acces-9"\n', 'covage.acces_spec = "acces-9": expected a packaged spec pack'),
    ('[covage.timings]\ncr_cmd = "soon"\n', 'covage.timings.cr_cmd = "soon": expected a delay such as'),
    ('[covage.timings]\ncr_cmd = "1.5 working days"\n', 'cr_cmd = "1.5 working days": expected a delay'),
    ("[covage]\nnetworks = []\n", "covage.networks: expected at least one [[covage.networks]] entry"),
    ('[[tenants]]\ncode = "ACME"\npassword = 1234\n', "[[tenants]] entry 1: tenants.password = 1234: expected a non"),
    ('[[tenants]]\ncode = "ACME"\npassword = "x"\napi_token = 5\n', "tenants.api_token = 5: expected a token"),
    ('[tenants]\ncode = "ACME"\n', "tenants: expected an array of tables [[tenants]], not a table [tenants]"),
    ("sandbox = 3\n", "sandbox = 3: expected a table [sandbox]"),
    ("[[clock]]\nfrozen = true\n", "clock: expected a table [clock], not an array of tables [[clock]]"),
])
def test_wrong_values_name_the_key_the_value_and_the_expected_form(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_date_time_may_be_written_as_toml_or_as_a_string(tmp_path: Path):
    assert load_config(write(tmp_path, "[clock]\nstart = 2027-01-04T09:30:00\nspeed = 60\n")).clock.start == \
        datetime(2027, 1, 4, 9, 30)
    assert load_config(write(tmp_path, '[clock]\nstart = "2027-01-04 09:30"\n')).clock.start == \
        datetime(2027, 1, 4, 9, 30)
    assert load_config(write(tmp_path, "[clock]\nspeed = 60\n")).clock.speed == 60.0


def test_unusable_files_are_one_line_errors(tmp_path: Path):
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError, match=r"dir\.toml: is a directory, not a configuration file$"):
        load_config(tmp_path / "dir.toml")
    with pytest.raises(ConfigError, match=r"^configuration file not found: .*missing\.toml$"):
        load_config(tmp_path / "missing.toml")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[covage]\nname = "Réseau"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.toml: not UTF-8 text"):
        load_config(latin1)
    with pytest.raises(ConfigError, match=r"opsim\.toml: not valid TOML: .*line 2"):
        load_config(write(tmp_path, '[sandbox]\nseed = = 4\n'))


def test_admin_keys_and_tenant_tokens_are_read(tmp_path: Path):
    config = load_config(write(tmp_path, '''
[sandbox]
admin_host = "0.0.0.0"
admin_token = "adm1n"

[[tenants]]
code = "acme"
password = "s3cret"
api_token = "acme-token"
'''))
    assert (config.admin_host, config.admin_token, config.admin_open) == ("0.0.0.0", "adm1n", False)
    assert [(t.code, t.login, t.api_token) for t in config.tenants] == [("ACME", "ACME", "acme-token")]
    opened = load_config(write(tmp_path, '[sandbox]\nadmin_host = "10.0.0.5"\nadmin_open = true\n'))
    assert opened.admin_open and opened.admin_token == ""


def test_the_admin_token_comes_from_the_flag_then_the_environment_then_the_file(tmp_path: Path):
    path = write(tmp_path, '[sandbox]\nadmin_token = "from-file"\n')
    assert load_config(path).admin_token == "from-file"
    assert load_config(path, env={"OPSIM_ADMIN_TOKEN": "from-env"}).admin_token == "from-env"
    assert load_config(path, env={"OPSIM_ADMIN_TOKEN": ""}).admin_token == "from-file"  # empty: not set
    assert load_config(path, env={"OPSIM_ADMIN_TOKEN": "from-env"}, admin_token="from-flag").admin_token == \
        "from-flag"
    assert load_config(None, env={"OPSIM_ADMIN_TOKEN": "t"}, admin_host="0.0.0.0").admin_token == "t"


def test_an_admin_api_beyond_loopback_needs_a_token_or_an_explicit_open():
    for host in ("0.0.0.0", "192.168.1.10", "::", "opsim.example"):
        with pytest.raises(ConfigError, match=rf"^the admin API on {re.escape(host)} needs a token .*--admin-token, "
                                              r"OPSIM_ADMIN_TOKEN or \[sandbox\] admin_token, or pass --admin-open"):
            load_config(None, admin_host=host)
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert load_config(None, admin_host=host).admin_host == host
    assert load_config(None, admin_host="0.0.0.0", admin_token="t").admin_token == "t"
    assert load_config(None, admin_host="0.0.0.0", admin_open=True).admin_open


def test_flags_and_environment_are_checked_like_the_file_and_never_echo_a_token():
    with pytest.raises(ConfigError, match=r"^--ftp-port 70000: expected a port number from 0 to 65535"):
        load_config(None, ftp_port=70000)
    with pytest.raises(ConfigError, match=r"^--ftp-passive-ports 9-3: expected a port range"):
        load_config(None, ftp_passive_ports="9-3")
    with pytest.raises(ConfigError) as caught:
        load_config(None, env={"OPSIM_ADMIN_TOKEN": "my secret"})
    assert str(caught.value).startswith("OPSIM_ADMIN_TOKEN: expected a token") and "secret" not in str(caught.value)


@pytest.mark.parametrize("text, message", [
    ('[[tenants]]\ncode = "ACME"\npassword = "a"\n[[tenants]]\ncode = "acme"\npassword = "b"\n',
     "tenants: ACME is defined twice"),
    ('[[tenants]]\ncode = "ACME"\npassword = "a"\n[[tenants]]\ncode = "BETA"\nlogin = "ACME"\npassword = "b"\n',
     "tenants: ACME and BETA have the same login ACME"),
    ('[[tenants]]\ncode = "ACME"\nlogin = "DEMO"\npassword = "a"\n', "tenants: DEMO and ACME have the same login DEMO"),
    ('[[tenants]]\ncode = "ACME"\npassword = "a"\napi_token = "t1"\n[[tenants]]\ncode = "BETA"\npassword = "b"\n'
     'api_token = "t1"\n', "tenants: ACME and BETA have the same api_token"),
    ('[[covage.networks]]\ninterop = "COVX"\narcep = "CX"\n[[covage.networks]]\ninterop = "covx"\narcep = "CY"\n',
     "covage.networks: COVX is defined twice"),
    ('[sandbox]\nadmin_token = "t1"\n[[tenants]]\ncode = "ACME"\npassword = "a"\napi_token = "t1"\n',
     "tenants: ACME's api_token is the admin token"),
])
def test_tenants_are_distinct(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert message in str(caught.value) and "t1" not in str(caught.value)


def test_the_schema_describes_every_configuration_field():
    from dataclasses import fields

    from simulator.config import SCHEMA, ClockConfig, Config, MailConfig, Table, Tenant
    from simulator.layout import Network

    def names(cls: type) -> set[str]:
        return {f.name for f in fields(cls)}

    assert set(SCHEMA["sandbox"].keys) == names(Config) - {"tenants", "clock", "operators", "mail"}
    assert set(SCHEMA["clock"].keys) == names(ClockConfig)
    assert set(SCHEMA["mail"].keys) == names(MailConfig)
    assert set(SCHEMA["tenants"].keys) == names(Tenant)
    covage = SCHEMA["covage"].keys
    profile = load_config(None).operators["covage"]  # the table is read from the profile: settings, timings, networks
    assert set(covage) == {"name", "timings", "networks", "endpoints", *profile.settings}
    assert isinstance(covage["networks"], Table) and set(covage["networks"].keys) == names(Network)
    assert isinstance(covage["timings"], Table) and set(covage["timings"].keys) == set(profile.timings)


def test_the_schema_template_is_a_valid_file_giving_the_defaults(tmp_path: Path):
    from simulator.config import effective_values, schema_template

    text = schema_template()
    for key in ("demo_tenant", "admin_host", "admin_token", "admin_open", "api_token", "cr_cmd", "[[covage.networks]]",
                "OPSIM_ADMIN_TOKEN", "--ftp-port"):
        assert key in text
    assert effective_values(load_config(write(tmp_path, text))) == effective_values(load_config(None))


def test_the_effective_configuration_reads_back_the_same(tmp_path: Path):
    from simulator.config import effective_values, render

    config = load_config(write(tmp_path, '''
[sandbox]
seed = 7
admin_token = "adm1n"
[clock]
start = "2027-01-04T09:30:00"
speed = 2.5
[[tenants]]
code = "ACME"
password = "s3cret"
api_token = "acme-token"
[covage.timings]
cr_cmd = "4 hours"
cmd_stoc = "30 min"
'''))
    text = render(effective_values(config), show_secrets=True)
    again = load_config(write(tmp_path, text))
    assert effective_values(again) == effective_values(config)
    hidden = render(effective_values(config), show_secrets=False)
    assert "s3cret" not in hidden and "adm1n" not in hidden and "acme-token" not in hidden
    assert 'cr_cmd = "4 hours"' in hidden and 'cmd_stoc = "30 minutes"' in hidden


def test_the_schema_and_the_check_document_an_operator_of_ones_own_with_no_comments(tmp_path: Path, capsys):
    """A second operator whose profile says nothing but its keys: `config schema --config` documents it (each key
    named, none left blank) as a file that is valid itself, and `config check` shows its section."""
    from simulator.cli import main

    (tmp_path / "ops" / "zeta").mkdir(parents=True)
    (tmp_path / "ops" / "zeta" / "profile.toml").write_text(
        'name = "Zeta"\ncapabilities = []\nsize = 3\n[timings]\nlater = "1 hour"\n[endpoints]\nftp_port = 0\n',
        encoding="utf-8")
    (tmp_path / "opsim.toml").write_text('[operators]\nprofiles = ["ops/zeta/profile.toml"]\n[zeta]\nsize = 5\n',
                                         encoding="utf-8")
    assert main(["config", "schema", "--config", str(tmp_path / "opsim.toml")]) == 0
    schema = capsys.readouterr().out
    assert "[zeta]" in schema and "size = 3" in schema  # the profile's default, not the file's override
    assert "# Later: a delay" in schema and "flag --ftp-port zeta=PORT" in schema
    (tmp_path / "schema.toml").write_text(schema, encoding="utf-8")
    assert main(["config", "check", str(tmp_path / "schema.toml")]) == 0
    assert "[zeta]" in capsys.readouterr().out
    assert main(["config", "check", str(tmp_path / "opsim.toml")]) == 0
    checked = capsys.readouterr().out
    assert "[zeta]\nname = \"Zeta\"\nsize = 5" in checked and "[zeta.endpoints]\nftp_port = 0" in checked


def test_every_setting_and_timing_of_the_packaged_profiles_is_declared_by_what_reads_it():
    """`opsim config schema` documents each from its declaration (Capability.settings and timings, or the core's
    OPERATOR_SETTINGS), never from the profile file's comments; an override is checked against it."""
    from simulator.config import PACKAGED, declared_settings

    for key, profile in PACKAGED.items():
        settings, timings = declared_settings(profile)
        assert set(profile.settings) - {"name"} <= set(settings), (key, set(profile.settings) - set(settings))
        assert set(profile.timings) <= set(timings), (key, set(profile.timings) - set(timings))


@pytest.mark.parametrize(("toml", "message"), [
    ('[covage]\nipe_time = "25:00"\n', 'covage.ipe_time = "25:00": expected a time of day'),
    ("[covage]\nslice_lines = 0\n", "covage.slice_lines = 0: expected an integer >= 1"),
    ('[covage]\nevolution_abandon = "2"\n', 'covage.evolution_abandon = "2": expected a share from 0 to 1'),
    ('[covage]\nstoc_deadline_motif = "late"\n', "expected a string matching [A-Z]{4}[0-9]{2}"),
])
def test_an_override_is_checked_against_the_declaration_of_what_reads_it(tmp_path: Path, toml: str, message: str):
    (tmp_path / "opsim.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(tmp_path / "opsim.toml")
