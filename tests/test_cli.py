"""The `opsim` command: help texts, start-up, the remote sub-commands, clean stop."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import build_parser, main

OPSIM = [sys.executable, "-m", "simulator.cli"]


def test_help_names_every_command_and_flag(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in ("up", "status", "clock"))
    with pytest.raises(SystemExit):
        main(["up", "--help"])
    out = capsys.readouterr().out
    for flag in ("--data-dir", "--host", "--ftp-port", "--http-port", "--seed", "--config"):
        assert flag in out


def test_up_defaults_match_the_documentation():
    args = build_parser().parse_args(["up"])
    assert (args.data_dir, args.host, args.ftp_port, args.http_port) == (None, None, None, None)  # config decides
    from simulator.config import load_config

    config = load_config(None)
    assert (str(config.data_dir), config.host, config.ftp_port, config.http_port) == (".opsim", "127.0.0.1", 2121,
                                                                                       8080)


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
    assert "tenant DEMO: login DEMO password demo" in text and "tenant ACME" in text
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
