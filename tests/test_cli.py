"""The `opsim` command: help texts, start-up, the remote sub-commands, clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import build_parser, main
from simulator.config import load_config

OPSIM = [sys.executable, "-m", "simulator.cli"]


def test_help_names_every_command_and_flag(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in ("up", "status", "clock"))
    with pytest.raises(SystemExit):
        main(["up", "--help"])
    out = capsys.readouterr().out
    for flag in ("--data-dir", "--host", "--ftp-port", "--http-port", "--seed", "--config", "--admin-host",
                 "--admin-token", "--admin-open", "--ftp-passive-ports", "--ftp-masquerade-address"):
        assert flag in out


def test_up_defaults_match_the_documentation():
    args = build_parser().parse_args(["up"])
    assert (args.data_dir, args.host, args.ftp_port, args.http_port) == (None, None, None, None)  # config decides

    config = load_config(None)
    assert (str(config.data_dir), config.host, config.ftp_port_of("covage"), config.http_port) == (
        ".opsim", "127.0.0.1", 2121, 8080)


def test_bad_config_is_reported_not_raised(tmp_path: Path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[tenants]]\ncode = "lower case!"\npassword = "x"\n', encoding="utf-8")
    assert main(["up", "--config", str(bad), "--data-dir", str(tmp_path / "d")]) == 2
    assert "tenants" in capsys.readouterr().err
    assert main(["up", "--config", str(tmp_path / "missing.toml")]) == 2


def test_status_without_a_sandbox_says_how_to_start_one(capsys):
    assert main(["status", "--url", "http://127.0.0.1:9"]) == 1
    assert "opsim up" in capsys.readouterr().err


def test_up_is_ready_fast_prints_endpoints_and_stops_on_ctrl_c(tmp_path: Path):
    config = tmp_path / "opsim.toml"
    config.write_text('[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n\n[[tenants]]\ncode = "ACME"\n'
                      'password = "s3cret"\n', encoding="utf-8")
    proc = subprocess.Popen([*OPSIM, "up", "--data-dir", str(tmp_path / "d"), "--config", str(config),
                             "--ftp-port", "0", "--http-port", "0"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(5)]
    text = "".join(lines)
    assert "ready" in lines[0] and "ftp://127.0.0.1:" in text and "http://127.0.0.1:" in text
    assert "tenant DEMO: login DEMO password demo\n" in text and "tenant ACME: login ACME\n" in text
    assert "s3cret" not in text  # only the demo tenant's password is printed
    http = re.search(r"(http://127\.0\.0\.1:\d+)", text)[1]  # type: ignore[index]
    status = subprocess.run([*OPSIM, "status", "--url", http], capture_output=True, text=True, timeout=20)
    assert status.returncode == 0 and '"status": "ok"' in status.stdout
    clock = subprocess.run([*OPSIM, "clock", "advance", "--working-days", "1", "--url", http], capture_output=True,
                           text=True, timeout=20)
    assert '"now": "2026-11-25T10:00:00"' in clock.stdout
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    assert "stopping" in proc.stdout.read()
    proc.stdout.close()


def test_passive_port_range_is_checked(tmp_path: Path, capsys):
    assert main(["up", "--ftp-passive-ports", "9-3", "--data-dir", str(tmp_path)]) == 2
    assert "30000-30009" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- helpers
def opsim(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """`opsim ARGS` as a user runs it, with no OPSIM_ADMIN_TOKEN unless given."""
    environ = {k: v for k, v in os.environ.items() if k != "OPSIM_ADMIN_TOKEN"} | (env or {})
    return subprocess.run([*OPSIM, *args], capture_output=True, text=True, timeout=timeout, env=environ)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single `opsim: ...` line a failure prints, after checking it is all there is."""
    assert "Traceback" not in result.stderr and result.stdout == "", result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("opsim: "), result.stderr
    return lines[0]


class FakeAdminApi:
    """An HTTP server standing for a sandbox whose admin API wants `Bearer good`; it records each request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                outer.requests.append({"method": self.command, "path": self.path, "body": body,
                                       "authorization": self.headers.get("Authorization")})
                if self.headers.get("Authorization") != "Bearer good":
                    status, answer = 401, {"error": "Unauthorized", "detail": "a Bearer token is required"}
                elif self.path == "/api/clock/advance":
                    status, answer = 400, {"error": "Bad Request", "detail": "the virtual clock only moves forward"}
                else:
                    status, answer = 200, {"status": "ok", "path": self.path}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api():
    api = FakeAdminApi()
    yield api
    api.close()


# ---------------------------------------------------------------------------------------------- help
@pytest.mark.parametrize("argv", [["--help"], ["up", "--help"], ["status", "--help"], ["clock", "--help"],
                                  ["config", "--help"], ["config", "check", "--help"], ["config", "schema", "--help"]])
def test_every_help_text_is_printed(argv: list[str]):
    result = opsim(*argv)
    assert result.returncode == 0 and result.stdout.startswith("usage: opsim") and result.stderr == ""


def test_up_help_is_true_to_the_code(capsys):
    from simulator.config import Config

    with pytest.raises(SystemExit):
        main(["up", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for default in (f"default ./{Config.data_dir}", f"default {Config.host}", f"default {Config.admin_host}",
                    "default: its profile's, as `opsim up` prints it", f"default {Config.http_port}",
                    f"default {Config.seed}"):
        assert default in out
    assert "the admin API listens on --admin-host" in out and "$OPSIM_ADMIN_TOKEN" in out
    args = build_parser().parse_args(["up", "--admin-host", "0.0.0.0", "--admin-token", "t", "--admin-open"])
    assert (args.admin_host, args.admin_token, args.admin_open) == ("0.0.0.0", "t", True)
    assert build_parser().parse_args(["up"]).admin_open is None  # the file decides


def test_opsim_alone_and_config_alone_print_their_help():
    for argv in ([], ["config"]):
        result = opsim(*argv)
        assert result.returncode == 2 and "usage: opsim" in result.stdout


# ---------------------------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("text, message", [
    ("[sandbox]\ndemo_tennant = true\n", "unknown key sandbox.demo_tennant (did you mean demo_tenant?)"),
    ("[clok]\nfrozen = true\n", "unknown section clok (did you mean clock?)"),
    ("[clock]\nfrozn = true\n", "unknown key clock.frozn (did you mean frozen?)"),
    ('[clock]\nspeed = "fast"\n', 'clock.speed = "fast": expected a number > 0'),
    ('[clock]\nstart = "24/11/2026"\n', 'clock.start = "24/11/2026": expected a date-time such as 2026-11-24T10:00:00'),
    ("[sandbox\n", "not valid TOML: Expected ']'"),
])
def test_a_bad_config_file_exits_2_with_one_line_naming_the_key(tmp_path: Path, text: str, message: str):
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    result = opsim("up", "--config", str(bad), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert one_line_error(result).startswith(f"opsim: {bad}: {message}")
    assert not (tmp_path / "d").exists()  # refused before touching anything


def test_a_directory_or_a_missing_file_as_config_is_one_line(tmp_path: Path):
    result = opsim("up", "--config", str(tmp_path), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert one_line_error(result) == f"opsim: {tmp_path}: is a directory, not a configuration file"
    result = opsim("up", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and one_line_error(result).startswith("opsim: configuration file not found")


def test_bad_flags_are_one_line_errors(tmp_path: Path):
    result = opsim("up", "--ftp-port", "70000", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert one_line_error(result) == ("opsim: --ftp-port 70000: expected a port number from 0 to 65535 "
                                      "(0: any free port)")


def test_admin_api_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path):
    result = opsim("up", "--admin-host", "0.0.0.0", "--data-dir", str(tmp_path / "d"), "--ftp-port", "0",
                   "--http-port", "0")
    assert result.returncode == 2
    line = one_line_error(result)
    assert line.startswith("opsim: the admin API on 0.0.0.0 needs a token")
    assert "--admin-token" in line and "OPSIM_ADMIN_TOKEN" in line and "--admin-open" in line
    assert not (tmp_path / "d").exists()


def test_config_check_prints_the_effective_configuration_without_secrets(tmp_path: Path):
    path = tmp_path / "opsim.toml"
    path.write_text('[sandbox]\nseed = 7\n[[tenants]]\ncode = "acme"\npassword = "s3cret"\napi_token = "acme-t"\n'
                    '[covage.timings]\ncr_cmd = "4 hours"\n', encoding="utf-8")
    result = opsim("config", "check", str(path), "--ftp-port", "2200", env={"OPSIM_ADMIN_TOKEN": "adm1n"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"# {path} is valid")
    for line in ("seed = 7", "ftp_port = 2200", 'code = "ACME"', 'cr_cmd = "4 hours"',
                 'oi_connection = "5 working days"', "# admin_token = (hidden: --show-secrets)"):
        assert line in out.splitlines()
    assert "s3cret" not in out and "acme-t" not in out and "adm1n" not in out
    shown = opsim("config", "check", str(path), "--show-secrets")
    assert 'password = "s3cret"' in shown.stdout and 'api_token = "acme-t"' in shown.stdout


def test_config_check_reports_a_bad_file_in_one_line(tmp_path: Path):
    path = tmp_path / "opsim.toml"
    path.write_text("[sandbox]\ndemo_tennant = false\n", encoding="utf-8")
    result = opsim("config", "check", str(path))
    assert result.returncode == 2
    assert one_line_error(result) == f"opsim: {path}: unknown key sandbox.demo_tennant (did you mean demo_tenant?)"


def test_config_schema_documents_every_key_and_is_itself_a_valid_file(tmp_path: Path):
    schema = opsim("config", "schema")
    assert schema.returncode == 0
    for key in ("[sandbox]", "demo_tenant", "admin_open", "[clock]", "# [[tenants]]", "api_token", "[covage.timings]",
                "hotline_reprov", "[[covage.networks]]", "flag --http-port", "env OPSIM_ADMIN_TOKEN"):
        assert key in schema.stdout
    path = tmp_path / "schema.toml"
    path.write_text(schema.stdout, encoding="utf-8")
    assert opsim("config", "check", str(path)).returncode == 0


# ---------------------------------------------------------------------------------------------- remote commands
def test_status_and_clock_send_the_admin_token(fake_api: FakeAdminApi):
    assert opsim("status", "--url", fake_api.url, env={"OPSIM_ADMIN_TOKEN": "good"}).returncode == 0
    result = opsim("clock", "resume", "--speed", "60", "--url", fake_api.url, "--token", "good")
    assert result.returncode == 0, result.stderr
    assert opsim("clock", "--url", fake_api.url, env={"OPSIM_ADMIN_TOKEN": "good"}).returncode == 0
    assert [(r["method"], r["path"], r["body"], r["authorization"]) for r in fake_api.requests] == [
        ("GET", "/api/health", None, "Bearer good"),
        ("POST", "/api/clock/resume", {"speed": 60.0}, "Bearer good"),
        ("GET", "/api/clock", None, "Bearer good"),
    ]


def test_a_missing_or_wrong_token_says_how_to_give_one(fake_api: FakeAdminApi):
    result = opsim("status", "--url", fake_api.url)
    assert fake_api.requests[-1]["authorization"] is None  # no token: no header
    assert result.returncode == 1
    assert one_line_error(result) == ("opsim: 401 Unauthorized: a Bearer token is required "
                                      "(give the admin token with --token or OPSIM_ADMIN_TOKEN)")
    result = opsim("clock", "freeze", "--url", fake_api.url, "--token", "bad", env={"OPSIM_ADMIN_TOKEN": "good"})
    assert fake_api.requests[-1]["authorization"] == "Bearer bad"  # the flag wins over the environment
    assert result.returncode == 1 and "401" in one_line_error(result)


def test_an_api_error_is_one_line_with_its_detail(fake_api: FakeAdminApi):
    result = opsim("clock", "advance", "--hours", "1", "--url", fake_api.url, "--token", "good")
    assert result.returncode == 1
    assert one_line_error(result) == "opsim: 400 Bad Request: the virtual clock only moves forward"
    assert fake_api.requests[-1]["body"] == {"hours": 1.0, "working_days": 0}


@pytest.mark.parametrize("argv, message", [
    (["clock", "advance"], "opsim: clock advance needs --hours N or --working-days N"),
    (["clock", "freeze", "--speed", "2"], "opsim: --speed goes with `opsim clock resume`"),
    (["clock", "show", "--hours", "1"], "opsim: --hours and --working-days go with `opsim clock advance`"),
])
def test_clock_usage_mistakes_are_one_line(argv: list[str], message: str):
    result = opsim(*argv, "--url", "http://127.0.0.1:9")
    assert result.returncode == 2 and one_line_error(result) == message


@pytest.mark.parametrize("argv, message", [
    (["clock", "resume", "--speed", "0"], "argument --speed: 0: expected a number > 0"),
    (["clock", "advance", "--hours", "-1"], "argument --hours: -1: the virtual clock only moves forward"),
    (["clock", "advance", "--working-days", "two"], "argument --working-days: invalid int value: 'two'"),
])
def test_clock_bad_numbers_are_refused_by_the_parser(argv: list[str], message: str):
    result = opsim(*argv)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_clock_resume_with_a_speed_on_a_real_sandbox(opsim_process):
    url = opsim_process.api.base.removesuffix("/api")
    result = opsim("clock", "resume", "--speed", "60", "--url", url)
    assert result.returncode == 0, result.stderr
    clock = json.loads(result.stdout)
    assert clock["frozen"] is False and clock["speed"] == 60.0
    frozen = json.loads(opsim("clock", "freeze", "--url", url).stdout)
    assert frozen["frozen"] is True


def test_conformance_run_without_the_harness_extra_says_what_to_install(tmp_path: Path) -> None:
    """The sandbox installs without the harness's libraries (the Docker image); `conformance run` then says
    which are missing and how to get them, instead of a traceback from a child pytest."""
    script = ("import sys; sys.modules['zeep'] = sys.modules['pytest_bdd'] = None\n"
              "from simulator.cli import main\n"
              "sys.exit(main(['conformance', 'run', '--adapter', 'reference']))")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "pytest_bdd, zeep missing" in done.stderr and "pip install 'opsim[conformance]'" in done.stderr
    assert "Traceback" not in done.stderr
