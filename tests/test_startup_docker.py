"""The Dockerfile, checked without a Docker engine: its ENTRYPOINT, CMD and HEALTHCHECK run as the image would
run them (the `opsim` command from this checkout, /data replaced by a temporary dir)."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

from simulator.config import Config, load_config

DOCKERFILE = Path(__file__).parent.parent / "Dockerfile"
OPSIM = [sys.executable, "-m", "simulator.cli"]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, rest = line.strip().partition(" ")
            found.append((name.upper(), rest.strip()))
    return found


def one(name: str) -> str:
    values = [rest for instruction, rest in instructions() if instruction == name]
    assert len(values) == 1, f"{name}: {values}"
    return values[0]


def exec_form(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def entrypoint_command(data_dir: Path) -> list[str]:
    """The ENTRYPOINT with `opsim` from this checkout, its data dir in `data_dir`, and free ports (given as
    `docker run` arguments would be: after the ENTRYPOINT's own flags)."""
    entry = exec_form(one("ENTRYPOINT"))
    assert entry[:2] == ["opsim", "up"]
    entry = [str(data_dir) if arg == "/data" else arg for arg in entry]
    return [*OPSIM, *entry[1:], *exec_form(one("CMD")), "--ftp-port", "0", "--http-port", "0", "--smtp-port", "0",
            "--https-port", "0"]


def env_without_token() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OPSIM_ADMIN_TOKEN"}


def test_the_image_runs_opsim_up_as_a_non_root_user_with_the_container_flags_in_its_entrypoint():
    entry = exec_form(one("ENTRYPOINT"))
    flags = dict(zip(entry[2::2], entry[3::2], strict=True))
    assert flags == {"--data-dir": "/data", "--host": "0.0.0.0", "--admin-host": "0.0.0.0",
                     "--ftp-passive-ports": "30000-30009", "--smtp-port": "2525", "--https-port": "8443"}
    assert exec_form(one("CMD")) == []  # optional flags only: `docker run opsim --seed 7` keeps the ones above
    assert one("USER") not in ("root", "0")
    assert one("VOLUME") == "/data"
    first, last = flags["--ftp-passive-ports"].split("-")
    defaults = load_config(None)  # every operator that ships listens on its own FTP port, each exposed
    ftp_ports = [str(defaults.ftp_port_of(key)) for key in defaults.operators]
    assert one("EXPOSE").split() == [*ftp_ports, str(Config.http_port), f"{first}-{last}",
                                     flags["--smtp-port"], flags["--https-port"]]


def test_without_a_token_the_image_refuses_to_start_and_says_how_to_give_one(tmp_path: Path):
    result = subprocess.run(entrypoint_command(tmp_path / "data"), capture_output=True, text=True, timeout=30,
                            env=env_without_token())
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("opsim: the admin API on 0.0.0.0 needs a token") and \
        "OPSIM_ADMIN_TOKEN" in result.stderr and len(result.stderr.splitlines()) == 1


def test_with_a_token_the_image_starts_and_its_healthcheck_passes_until_it_stops(tmp_path: Path):
    healthcheck = one("HEALTHCHECK")
    assert healthcheck.startswith("--") and " CMD " in healthcheck
    probe = exec_form(healthcheck.split(" CMD ", 1)[1])
    assert probe[0] == "python" and "/api/health" in probe[-1]
    env = env_without_token() | {"OPSIM_ADMIN_TOKEN": "s3cret-token"}
    proc = subprocess.Popen(entrypoint_command(tmp_path / "data"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []], daemon=True).start()
    try:
        ready = ""
        while "CA certificate" not in ready:  # the last line of the start (after tenants and endpoints)
            ready += lines.get(timeout=20)
        assert "ftp://0.0.0.0:" in ready and "Bearer token required" in ready
        assert "smtp  0.0.0.0:" in ready and "https://" in ready, ready  # the e-mail channel and HTTPS are on
        port = re.search(r"http://[\d.]+:(\d+)/api", ready)[1]  # type: ignore[index]
        env["OPSIM_HEALTH_URL"] = f"http://127.0.0.1:{port}/api/health"
        check = subprocess.run([sys.executable, *probe[1:]], capture_output=True, text=True, timeout=20, env=env)
        assert check.returncode == 0, check.stderr
    finally:
        proc.terminate()  # `docker stop` sends SIGTERM
        assert proc.wait(timeout=15) == 0
    after = subprocess.run([sys.executable, *probe[1:]], capture_output=True, text=True, timeout=20, env=env)
    assert after.returncode != 0  # unhealthy once the sandbox is gone
