"""Operators as compositions of capabilities: a test-only operator and capability (tests/operators/echo)
plug in through configuration alone, on their own FTP port, beside Covage."""

from __future__ import annotations

import ftplib
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.config import ConfigError, load_config
from simulator.specs.codec import load_pack
from tests.helpers import Api, ftp_login, wait_for_files

ECHO = Path(__file__).parent / "operators" / "echo"
PACK = load_pack(ECHO / "echo-1.0")


def config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "opsim.toml"
    path.write_text(f'''
[clock]
start = "2026-11-24T10:00:00"
frozen = true

[operators]
profiles = ["{ECHO / 'profile.toml'}"]

[[tenants]]
code = "ACME"
password = "s3cret"
operators = ["covage"]
{extra}''', encoding="utf-8")
    return path


@pytest.fixture
def box(tmp_path: Path) -> Iterator:
    from simulator.sandbox import Sandbox

    config = load_config(config_file(tmp_path), data_dir=tmp_path / "data", ftp_port=0, http_port=0)
    sandbox = Sandbox(config).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def ping_file(lines: list[dict[str, str]], seq: int = 1) -> tuple[str, bytes]:
    flow = PACK.flow("Ping")
    return PACK.render_filename(flow, "ECHO", "DEMO", "20261124", seq), flow.write(lines)


def operators_of(box: Any) -> dict[str, dict[str, Any]]:
    """GET /api/operators by key (other packaged operators, such as one `opsim new operator` wrote, may be
    served beside Covage and echo)."""
    return {o["operator"]: o for o in Api(box.http_url).get("/operators")}


def read(ftp: ftplib.FTP, folder: str, name: str) -> list[dict[str, str]]:
    buf = io.BytesIO()
    ftp.retrbinary(f"RETR {folder}/{name}", buf.write)
    code = name.split("_")[2]
    flow = next(f for f in PACK.flows.values() if f.code == code)
    return [r.values for r in flow.parse(buf.getvalue()).records]


def test_a_capability_of_a_test_operator_gets_files_events_and_actions(box):
    api = Api(box.http_url)
    served = [o["operator"] for o in api.get("/operators")]
    assert served.index("covage") < served.index("echo")  # the packaged operators first, then one's own
    echo = operators_of(box)["echo"]
    assert echo["capabilities"] == [{"name": "echo", "areas": ["echo"], "channels": ["ftp"], "events": ["ring"],
                                     "actions": ["shout"]}]
    port = int(echo["endpoints"]["ftp"].rsplit(":", 1)[1])
    assert port != box.ftp_address[1]  # its own endpoint

    ftp = ftp_login(("127.0.0.1", port))
    assert sorted(ftp.nlst()) == ["inbox", "outbox"]  # the echo layout, nothing of Covage's
    name, content = ping_file([{"Id": "P1", "Texte": "bonjour"}, {"Id": "", "Texte": "sans id"}])
    ftp.storbinary(f"STOR inbox/{name}", io.BytesIO(content))
    [pong] = wait_for_files(ftp, "outbox")
    assert re.fullmatch(r"ECHO_DEMO_PONG_V10_20261124_000001\.csv", pong)
    assert read(ftp, "outbox", pong) == [
        {"Id": "P1", "Etat": "OK", "Motif": "", "Texte": "BONJOUR", "Commentaire": ""},
        {"Id": "", "Etat": "KO", "Motif": "E_MISSING", "Texte": "SANS ID", "Commentaire": ""}]

    api.post("/clock/advance", {"working_days": 1})  # the due event
    ring = next(n for n in wait_for_files(ftp, "outbox", 2) if "_RING_" in n)
    assert read(ftp, "outbox", ring) == [{"Id": "P1", "Texte": "bonjour"}]

    status, refused = api.call("POST", "/operators/echo/echo/shout?tenant=DEMO", {})
    assert status == 409 and "needs a text" in refused["detail"]
    assert api.post("/operators/echo/echo/shout?tenant=DEMO", {"text": "hé ho"})["done"] is True
    shout = next(n for n in wait_for_files(ftp, "outbox", 3) if "_SHOUT_" in n)
    assert read(ftp, "outbox", shout) == [{"Texte": "hé ho"}]
    assert api.call("POST", "/operators/echo/echo/whisper?tenant=DEMO", {})[0] == 404
    ftp.close()

    journal = api.get("/journal?tenant=DEMO")
    assert any(j["flow"] == "Ping" and j["outcome"] == "2 pings" for j in journal)
    assert {j["flow"] for j in journal if j["direction"] == "out"} >= {"Pong", "Ring", "Shout"}


def test_each_operator_serves_only_its_clients_and_its_own_tree(box):
    echo_port = box.ftp_address_of("echo")[1]
    with pytest.raises(ftplib.error_perm, match="530"):  # ACME is a client of Covage only
        ftp_login(("127.0.0.1", echo_port), "ACME", "s3cret")
    covage = ftp_login(box.ftp_address, "ACME", "s3cret")
    assert sorted(covage.nlst()) == ["IN", "OUT"]
    with pytest.raises(ftplib.error_perm):
        covage.cwd("/inbox")
    covage.close()
    # The Covage capability is unchanged beside it: a Cmd_Acces dropped on Covage's port is answered there.
    demo = ftp_login(box.ftp_address)
    demo.storbinary("STOR IN/COVA/CV/COVA_DEMO_CMD_ACCES_V12_20261124_1.csv", io.BytesIO(b"not a cmd\r\n"))
    assert wait_for_files(demo, "OUT/COVA/CV")[0].startswith("COVA_DEMO_ARCMD_ACCES_V12_")
    demo.close()


def test_opsim_up_prints_every_operator_endpoint(tmp_path: Path):
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "up", "--config", str(config_file(tmp_path)),
                             "--data-dir", str(tmp_path / "data"), "--ftp-port", "0", "--http-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.lstrip().startswith("tenant"):
                break
        text = "".join(lines)
        assert re.search(r"ftp\s+ftp://127\.0\.0\.1:\d+\s+Covage", text), text
        assert re.search(r"ftp\s+ftp://127\.0\.0\.1:\d+\s+Echo", text), text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("extra, message", [
    ('[[tenants]]\ncode = "BETA"\npassword = "x"\noperators = ["echoo"]\n', "BETA is a client of echoo"),
    ('[echo.timings]\nrign = "1 hour"\n', "unknown key echo.timings.rign (did you mean ring?)"),
    ('[echo.endpoints]\nftp_port = "x"\n', 'echo.endpoints.ftp_port = "x": expected a port number'),
])
def test_mistakes_about_operators_name_the_key(tmp_path: Path, extra: str, message: str):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(config_file(tmp_path, extra))


def test_unknown_operators_and_profiles_are_one_line_errors(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text('[operators]\nenabled = ["covag"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no operator covag \(did you mean covage\?\)"):
        load_config(path)
    path.write_text('[operators]\nprofiles = ["nowhere/profile.toml"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="operator profile not found"):
        load_config(path)


def test_a_data_dir_written_before_operators_opens_with_its_files_and_events(tmp_path: Path):
    """The old layout (homes at ftp/<TENANT>, bare event kinds, no operator columns) is migrated."""
    import sqlite3

    from simulator.sandbox import Sandbox

    data = tmp_path / "data"
    config = load_config(None, data_dir=data, ftp_port=0, http_port=0)
    Sandbox(config).stop()
    db = sqlite3.connect(data / "opsim.sqlite3")
    db.execute("INSERT INTO events (due, kind, tenant, ref) VALUES (0, 'cr_cmd', 'DEMO', 'OLD1')")
    db.commit()
    db.close()
    old_home = data / "ftp" / "DEMO"
    (old_home / "OUT" / "COVA" / "CV").mkdir(parents=True)
    (old_home / "OUT" / "COVA" / "CV" / "kept.csv").write_bytes(b"x")
    (data / "ftp" / "covage" / "DEMO").rename(tmp_path / "new-home")  # as if it had never existed
    box = Sandbox(config).start()
    try:
        ftp = ftp_login(box.ftp_address)
        assert "kept.csv" in [n.rsplit("/", 1)[-1] for n in ftp.nlst("OUT/COVA/CV")]
        ftp.close()
        kinds = [r[0] for r in sqlite3.connect(data / "opsim.sqlite3").execute("SELECT kind FROM events")]
        # (besides the weekly IPE and the daily CPN check each network's PM desk plans at start)
        assert [k for k in kinds if k not in ("covage:pm:ipe", "covage:pm:cpn", "covage:evolution:evolution")] == [
                "covage:access:cr_cmd"]
    finally:
        box.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_each_operator_port_is_set_by_its_flag_and_checked(tmp_path: Path):
    wanted = _free_port()
    config = load_config(config_file(tmp_path), operator_ports={"echo": wanted}, ftp_port=0)
    assert (config.ftp_port_of("echo"), config.ftp_port_of("covage")) == (wanted, 0)
    with pytest.raises(ConfigError, match=r"--ftp-port echo=70000: expected a port number"):
        load_config(config_file(tmp_path), operator_ports={"echo": 70000})
    with pytest.raises(ConfigError, match=r"--ftp-port ecko=2200: no operator ecko is enabled \(did you mean echo\?\)"):
        load_config(config_file(tmp_path), operator_ports={"ecko": 2200})
    # On the command line: `--ftp-port echo=PORT` beside a bare `--ftp-port` (the first operator's).
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "up", "--config", str(config_file(tmp_path)),
                             "--data-dir", str(tmp_path / "data"), "--ftp-port", "0", "--ftp-port", f"echo={wanted}",
                             "--http-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        text = ""
        for line, _ in zip(proc.stdout, range(20), strict=False):  # the banner lists each operator's endpoint
            text += line
            if re.search(r"ftp\s+ftp://\S+\s+Echo", line):
                break
        assert re.search(rf"ftp\s+ftp://127\.0\.0\.1:{wanted}\s+Echo", text), text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_free_port_is_chosen_once_and_kept_for_the_data_dir(tmp_path: Path):
    """Echo's profile asks for any free port (0): the one chosen at the data dir's first start is asked again at
    every later start, so an OC's client configuration keeps working; if another program took it meanwhile, the
    operator listens on a new free one."""
    import socket

    from simulator.sandbox import Sandbox

    config = load_config(config_file(tmp_path), data_dir=tmp_path / "data", ftp_port=0, http_port=0)
    with Sandbox(config) as box:
        first = box.ftp_address_of("echo")[1]
    with Sandbox(config) as box:
        assert box.ftp_address_of("echo")[1] == first
        ftp_login(box.ftp_address_of("echo")).quit()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the last session's TIME_WAIT
        squatter.bind(("127.0.0.1", first))
        squatter.listen()
        with Sandbox(config) as box:
            moved = box.ftp_address_of("echo")[1]
            assert moved != first
            ftp_login(box.ftp_address_of("echo")).quit()
    with Sandbox(config) as box:
        assert box.ftp_address_of("echo")[1] == moved  # the new one is kept in turn


def test_the_harness_reads_each_operators_folders_from_the_api(box):
    """No client or step of the harness builds a folder path: it reads them from GET /api/operators."""
    from conformance.plugin import connect, folders_of

    covage, echo = operators_of(box)["covage"], operators_of(box)["echo"]
    assert folders_of(echo, "") == {"echo": {"in": "/inbox", "out": "/outbox"}}
    folders = folders_of(covage, "COVB")
    assert {area: folders[area] for area in ("acces", "pm")} == {
        "acces": {"in": "/IN/COVB/CB", "out": "/OUT/COVB/CB"}, "pm": {"in": "/IN/COVB/CB/PM", "out": "/OUT/COVB/CB/PM"}}
    assert set(folders) == set(box.operators["covage"].profile.layout)  # and a capability's added to it
    target = connect(box.http_url, "covage")
    assert target.folders["acces"] == {"in": "/IN/COVA/CV", "out": "/OUT/COVA/CV"}


def test_the_harness_plays_a_second_operators_scenario_through_the_adapter(tmp_path: Path):
    """Echo, enabled by configuration alone, on its own port: `opsim conformance run` plays its scenario with its
    own features folder (whose conftest names its harness), its OC as a Python adapter reading its folders from
    the context, against a sandbox started with that configuration."""
    config = tmp_path / "echo.toml"
    config.write_text(f'[operators]\nenabled = ["echo"]\nprofiles = ["{ECHO / "profile.toml"}"]\n', encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "conformance", "run", "--features",
                           str(ECHO / "features"), "--sandbox-config", str(config), "--adapter",
                           "python:tests.operators.echo.oc:EchoOc", "--report-dir", str(tmp_path / "report")],
                          cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "report" / "results.json").read_text(encoding="utf-8"))
    [scenario] = results["scenarios"]
    assert scenario["outcome"] == "passed" and scenario["scenario"].startswith("a ping is answered")
    assert {"Ping", "Pong", "Ring"} <= set(scenario["flows"]), scenario["flows"]


def test_an_answer_file_names_its_area_and_a_refusal_names_the_operators_own_folders(box):
    """The core assumes no operator: an answer without its folder's area is a programming error said at once
    (a default area once sent answers to another protocol's folder), and an upload outside the drop folders
    is refused naming the folders of that operator's layout."""
    from simulator.documents import OutboundDocument

    with pytest.raises(ValueError, match="names the area of its folder"):
        OutboundDocument("DEMO", "ECHO", "Pong", [])
    echo = ftp_login(box.ftp_address_of("echo"))
    with pytest.raises(ftplib.error_perm, match=r"550 Uploads go in /inbox/\."):
        echo.storbinary("STOR inbox/deeper/x.csv", io.BytesIO(b"x"))
    echo.close()
    covage = ftp_login(box.ftp_address)
    with pytest.raises(ftplib.error_perm, match=r"550 Uploads go in /IN/COVA/CV/, .*/IN/COVA/CV/PM/, .*"
                                                r"/IN/COVB/CB/PM/"):
        covage.storbinary("STOR IN/COVA/CV/PM/deeper/x.csv", io.BytesIO(b"x"))
    covage.close()
