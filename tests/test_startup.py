"""Start-up refusals through real `opsim up` processes: a port in use, a data dir in use, a killed holder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.startup import LOCK_FILE, StartupError
from tests.helpers import OpsimProcess

OPSIM = [sys.executable, "-m", "simulator.cli"]


def up(data_dir: Path, *flags: str) -> subprocess.CompletedProcess:
    """An `opsim up` expected to refuse to start (it would otherwise run until the timeout)."""
    env = {k: v for k, v in os.environ.items() if k != "OPSIM_ADMIN_TOKEN"}
    return subprocess.run([*OPSIM, "up", "--data-dir", str(data_dir), *flags], capture_output=True, text=True,
                          timeout=30, env=env)


def refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "ready" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "opsim.toml"
    path.write_text('[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n', encoding="utf-8")
    return path


def test_ftp_port_in_use_names_the_port_and_the_flag(tmp_path: Path, taken_port: int):
    result = up(tmp_path / "d", "--ftp-port", str(taken_port), "--http-port", "0")
    assert refusal(result) == (f"opsim: cannot start: Covage FTP port {taken_port} on 127.0.0.1 is already in use "
                               f"(change it with --ftp-port covage=PORT)")


def test_http_port_in_use_names_the_port_and_the_flag(tmp_path: Path, taken_port: int):
    result = up(tmp_path / "d", "--ftp-port", "0", "--http-port", str(taken_port))
    assert refusal(result) == (f"opsim: cannot start: HTTP port {taken_port} on 127.0.0.1 is already in use "
                               f"(change it with --http-port)")


def test_an_address_of_another_machine_names_the_flag(tmp_path: Path):
    result = up(tmp_path / "d", "--host", "192.0.2.1", "--ftp-port", "0", "--http-port", "0")  # TEST-NET-1
    assert refusal(result) == ("opsim: cannot start: Covage FTP address 192.0.2.1 is not an address of this machine "
                               "(change it with --host)")


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    result = up(tmp_path / "file", "--ftp-port", "0", "--http-port", "0")
    assert refusal(result) == (f"opsim: cannot start: data dir {tmp_path / 'file'} is not a directory "
                               f"(choose another with --data-dir)")


def test_a_second_up_on_a_data_dir_in_use_is_refused_with_the_pid_of_the_first(tmp_path: Path, config_file: Path):
    first = OpsimProcess(tmp_path / "d", config_file)
    first.start()
    try:
        assert first.proc is not None
        assert (tmp_path / "d" / LOCK_FILE).read_text().strip() == str(first.proc.pid)
        result = up(tmp_path / "d", "--ftp-port", "0", "--http-port", "0")
        assert refusal(result) == (f"opsim: cannot start: data dir {tmp_path / 'd'} is in use by another opsim "
                                   f"(PID {first.proc.pid}): stop it, or choose another --data-dir")
        assert first.proc.poll() is None  # the first one keeps serving
        assert first.api.get("/health")["status"] == "ok"
    finally:
        first.stop()


def test_a_killed_sandbox_does_not_block_the_next_start(tmp_path: Path, config_file: Path):
    first = OpsimProcess(tmp_path / "d", config_file)
    first.start()
    assert first.proc is not None
    killed = first.proc.pid
    first.kill9()  # no clean-up: the lock file stays, holding the dead PID
    assert (tmp_path / "d" / LOCK_FILE).read_text().strip() == str(killed)
    second = OpsimProcess(tmp_path / "d", config_file)
    second.start()  # the kernel released the flock with the process
    try:
        assert second.proc is not None
        assert (tmp_path / "d" / LOCK_FILE).read_text().strip() == str(second.proc.pid)
        assert second.api.get("/health")["status"] == "ok"
    finally:
        second.stop()
    third = OpsimProcess(tmp_path / "d", config_file)  # and after a clean stop
    third.start()
    third.stop()
    assert third.proc is not None and third.proc.returncode == 0


def test_in_process_sandboxes_share_the_lock(opsim_config):
    from simulator.sandbox import Sandbox

    box = Sandbox(opsim_config)
    try:
        with pytest.raises(StartupError, match=rf"is in use by another opsim \(PID {os.getpid()}\)"):
            Sandbox(opsim_config)
    finally:
        box.stop()
    Sandbox(opsim_config).stop()  # released by stop()


def test_a_sandbox_that_fails_to_build_leaves_the_data_dir_free(opsim_config):
    from simulator.sandbox import Sandbox

    opsim_config.operators["covage"].settings["acces_spec"] = "no-such-pack"  # fails after the lock is taken
    with pytest.raises(FileNotFoundError):
        Sandbox(opsim_config)
    opsim_config.operators["covage"].settings["acces_spec"] = "acces-1.2"
    Sandbox(opsim_config).stop()
