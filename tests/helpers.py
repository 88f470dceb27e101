"""Helpers of the core tests: a real ftplib client and a JSON client for the admin API."""

from __future__ import annotations

import ftplib
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from conformance.waiting import poll_until
from simulator.launch import READY_WITHIN, LaunchError, OpsimUp
from simulator.operators.covage.harness.client.orders import cmd_acces
from simulator.profile import packaged_profiles, read_profile


def nested_in_acces() -> list[str]:
    """The folders Covage's layout nests right inside the Accès area's (PM, and a capability's that `opsim new
    capability covage <name>` adds): what a listing of IN/<OI>/<ARCEP> or OUT/<OI>/<ARCEP> shows beside files."""
    layout = read_profile(packaged_profiles()["covage"]).layout
    base = layout["acces"]["in"] + "/"
    return sorted(t["in"][len(base):] for t in layout.values()
                  if t["in"].startswith(base) and "/" not in t["in"][len(base):])


#: What the FTP tests see in a tenant's IN/COVA/CV and OUT/COVA/CV before any file: ["PM"] as shipped.
NESTED = nested_in_acces()

#: The longest an `opsim up` may take to print its ready line before a test gives up (a loaded CI machine).

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


class OpsimProcess(OpsimUp):
    """`opsim up` as a user runs it: port 0 (free ports read from its banner), one data dir, run from `cwd` (the
    current directory by default); everything it prints is kept in `output`. Subclasses add flags in `args`."""

    def __init__(self, data_dir: Path, config: Path, cwd: Path | None = None):
        super().__init__(data_dir, config, cwd=cwd)

    def args(self) -> list[str]:
        return [*super().command(), "--ftp-port", "0", "--http-port", "0"]

    def command(self) -> list[str]:
        return self.args()

    def start(self, timeout: float = READY_WITHIN) -> OpsimProcess:  # type: ignore[override]
        try:
            super().start(timeout)
        except LaunchError as e:
            raise AssertionError(str(e)) from None
        self.api = Api(self.http_url)
        return self


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
    def names() -> list[str]:
        return sorted(n.rsplit("/", 1)[-1] for n in ftp.nlst(folder) if n.endswith(".csv"))

    def enough() -> list[str] | None:
        found = names()
        return found if len(found) >= count else None

    return poll_until(enough, timeout, every=0.01) or names()


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
