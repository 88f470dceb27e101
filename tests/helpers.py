"""Helpers of the core tests: a real ftplib client and a JSON client for the admin API."""

from __future__ import annotations

import ftplib
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from simulator.operators.covage.harness.client.orders import cmd_acces

#: The longest an `opsim up` may take to print its ready line before a test gives up (a loaded CI machine).
READY_WITHIN = 120

#: Tokens of the admin API tests: the admin's, and tenant ACME's (login acme, password pw).
ADMIN_TOKEN = "admin-s3cret"
ACME_TOKEN = "acme-t0ken"


def with_tokens(config: Any) -> Any:
    """A sandbox configuration (the plugin's opsim_config) with an admin token and tenant ACME's token."""
    from simulator.config import Tenant

    config.admin_token = ADMIN_TOKEN
    config.tenants = [Tenant("ACME", "acme", "pw", "noc@acme.test", api_token=ACME_TOKEN)]
    return config


__all__ = ["ACME_TOKEN", "ADMIN_TOKEN", "Api", "OpsimProcess", "cmd_acces", "download", "ftp_login", "upload",
           "wait_for_files", "with_tokens"]


class OpsimProcess:
    """`opsim up` as a user runs it: port 0 (free ports read from its ready lines), one data dir, run from
    `cwd` (the current directory by default); everything it prints is kept in `output`."""

    def __init__(self, data_dir: Path, config: Path, cwd: Path | None = None):
        self.data_dir, self.config, self.cwd = data_dir, config, cwd
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []

    def args(self) -> list[str]:
        return [sys.executable, "-m", "simulator.cli", "up", "--data-dir", str(self.data_dir),
                "--config", str(self.config), "--ftp-port", "0", "--http-port", "0"]

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args(), cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        lines: queue.Queue[str] = queue.Queue()

        def pump(out) -> None:  # noqa: ANN001 - the process's stdout
            for line in out:
                self.output.append(line)
                lines.put(line)

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        # Ready is its ready line, however long a loaded machine takes to print it; only a process that ended, or
        # one silent far beyond any start-up, is a failure.
        ready, deadline = "", time.monotonic() + READY_WITHIN
        while "http://" not in ready:
            try:
                ready += lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and lines.empty():
                    raise AssertionError(f"opsim up ended ({self.proc.returncode}) before it was ready: "
                                         f"{''.join(self.output)!r}") from None
                if time.monotonic() > deadline:
                    raise AssertionError(f"opsim up is not ready after {READY_WITHIN} s: {ready!r}") from None
        ftp = re.search(r"ftp://127\.0\.0\.1:(\d+)", ready)
        http = re.search(r"(http://127\.0\.0\.1:\d+)", ready)
        assert ftp and http, f"no ready lines: {ready!r}"
        self.ftp_port = int(ftp[1])
        self.api = Api(http[1])

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=10)


class Api:
    """A tiny JSON client for the admin API (real HTTP), with an optional bearer token."""

    def __init__(self, base: str, token: str | None = None):
        self.root = base.rstrip("/")
        self.base = self.root + "/api"
        self.token = token
        self.headers: dict[str, str] = {}  # of the last answer

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(status, parsed JSON); `token` overrides the client's for one call."""
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Content-Type": "application/json", **(headers or {})}
        token = token if token is not None else self.token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                self.headers = dict(resp.headers)
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            self.headers = dict(e.headers)
            return e.code, json.loads(e.read() or b"null")

    def get(self, path: str) -> Any:
        """The answer; for a list asked with a `limit` above one page, the following pages up to `limit`."""
        status, body = self.call("GET", path)
        assert status == 200, body
        wanted = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("limit")
        while isinstance(body, list) and wanted and len(body) < int(wanted[0]) and "X-Next-Cursor" in self.headers:
            link = self.headers["Link"].split(";")[0].strip("<>")
            status, more = self.call("GET", link.removeprefix("/api"))
            assert status == 200, more
            body += more
        return body[:int(wanted[0])] if isinstance(body, list) and wanted else body

    def post(self, path: str, body: Any = None) -> Any:
        status, result = self.call("POST", path, body if body is not None else {})
        assert status in (200, 201), result
        return result


def ftp_login(address: tuple[str, int], login: str = "DEMO", password: str = "demo") -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect(*address, timeout=10)
    ftp.login(login, password)
    return ftp


def upload(ftp: ftplib.FTP, folder: str, name: str, content: bytes) -> None:
    ftp.storbinary(f"STOR {folder}/{name}", io.BytesIO(content))


def wait_for_files(ftp: ftplib.FTP, folder: str, count: int = 1, timeout: float = 5) -> list[str]:
    """The .csv files in folder once there are at least `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        names = sorted(n.rsplit("/", 1)[-1] for n in ftp.nlst(folder) if n.endswith(".csv"))
        if len(names) >= count or time.monotonic() > deadline:
            return names
        time.sleep(0.01)


def download(ftp: ftplib.FTP, path: str) -> bytes:
    buf = io.BytesIO()
    ftp.retrbinary(f"RETR {path}", buf.write)
    return buf.getvalue()


def scenario_count(*features: Path) -> int:
    """How many scenarios the feature files (or folders of them) hold, an outline counting one per example
    row: what a run of them must report, whatever scenarios the files gain."""
    files = [f for path in features for f in (sorted(path.rglob("*.feature")) if path.is_dir() else [path])]
    count = 0
    for file in files:
        outline = in_examples = False
        for line in file.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith(("Scenario Outline:", "Scenario Template:")):
                outline, in_examples = True, False
            elif line.startswith(("Scenario:", "Example:")):
                outline, in_examples = False, False
                count += 1
            elif outline and line.startswith(("Examples:", "Scenarios:")):
                in_examples, header = True, True
            elif in_examples and line.startswith("|"):
                count += 0 if header else 1
                header = False
            elif in_examples and line and not line.startswith("#"):
                in_examples = False
    return count
