"""The evidence API of the conformance checks: what the OC sent (GET /api/inbound, its bytes) and the
bytes of each answer file (GET /api/files/<id>/content), with the access rules of tokens.

Real FTP uploads, real HTTP reads, against the sandbox of the opsim_sandbox fixture.
"""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from simulator.operators.covage.harness.client import OcFtpClient, SandboxAdmin, orders
from simulator.store import Store
from tests.helpers import ACME_TOKEN, ADMIN_TOKEN, Api, with_tokens


def fetch(base: str, path: str, token: str | None = None) -> tuple[int, str, bytes]:
    """(status, Content-Type, body) of one GET."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{base}/api{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def send_order(box: Any, admin: SandboxAdmin, ref: str, login: str = "DEMO", password: str = "demo",
               code: str = "DEMO") -> tuple[str, bytes]:
    """Drop one Cmd_Acces over FTP, wait for its AR; (file name, bytes sent)."""
    address = admin.addresses("COVA", limit=1)[0]
    host, port = box.ftp_address
    with OcFtpClient(host, port, login, password, code, today=admin.today) as oc:
        content = oc.flow("Cmd_Acces").write([orders.cmd_acces(address, ref)])
        name = oc.send_raw(oc.next_filename("Cmd_Acces"), content)
        oc.receive("AR_Cmd_Acces", timeout=5)
    return name, content


def test_inbound_files_keep_their_bytes_time_channel_and_outcome(opsim_sandbox: Any) -> None:
    admin = SandboxAdmin(opsim_sandbox.http_url)
    name, content = send_order(opsim_sandbox, admin, "EV-1")

    listed = admin.get_all("/inbound", tenant="DEMO")

    assert [f["filename"] for f in listed] == [name]
    entry = listed[0]
    assert entry["location"] == "IN/COVA/CV" and entry["channel"] == "ftp"
    assert entry["at_virtual"] == "2026-11-24T10:00:00" and entry["size"] == len(content)
    assert entry["outcomes"], entry  # the journal said something of it
    status, media, body = fetch(opsim_sandbox.http_url, f"/inbound/{entry['id']}/content?tenant=DEMO")
    assert (status, media, body) == (200, "application/octet-stream", content)


def test_answer_file_bytes_are_those_the_oc_downloaded(opsim_sandbox: Any) -> None:
    admin = SandboxAdmin(opsim_sandbox.http_url)
    address = admin.addresses("COVA", limit=1)[0]
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=admin.today) as oc:
        oc.send("Cmd_Acces", [orders.cmd_acces(address, "EV-2")])
        ar = oc.receive("AR_Cmd_Acces", timeout=5)
    emitted = next(f for f in admin.get_all("/files", tenant="DEMO") if f["filename"] == ar.name)

    status, media, body = fetch(opsim_sandbox.http_url, f"/files/{emitted['id']}/content?tenant=DEMO")

    assert (status, media, body) == (200, "application/octet-stream", ar.content)


def test_unknown_or_bad_ids_and_other_tenants_files_are_refused(opsim_sandbox: Any) -> None:
    admin = SandboxAdmin(opsim_sandbox.http_url)
    send_order(opsim_sandbox, admin, "EV-3")
    inbound_id = admin.get_all("/inbound", tenant="DEMO")[0]["id"]
    api = Api(opsim_sandbox.http_url)
    api.post("/tenants", {"code": "OTHER", "password": "pw"})

    assert api.call("GET", f"/inbound/{inbound_id}/content?tenant=OTHER")[0] == 404  # not OTHER's file
    assert api.call("GET", "/inbound/99999/content?tenant=DEMO")[0] == 404
    assert api.call("GET", "/files/99999/content?tenant=DEMO")[0] == 404
    status, answer = api.call("GET", "/inbound/abc/content?tenant=DEMO")
    assert status == 400 and "integer" in answer["detail"]
    assert api.call("GET", f"/inbound/{inbound_id}/content")[0] == 400  # the tenant is required
    assert api.call("GET", "/inbound?tenant=NOPE")[0] == 404
    assert api.get("/inbound?tenant=OTHER") == []


def test_the_inbound_list_pages_by_cursor(opsim_sandbox: Any) -> None:
    admin = SandboxAdmin(opsim_sandbox.http_url)
    for ref in ("P-1", "P-2", "P-3"):
        send_order(opsim_sandbox, admin, ref)
    api = Api(opsim_sandbox.http_url)

    status, page = api.call("GET", "/inbound?tenant=DEMO&limit=2")

    assert status == 200 and len(page) == 2 and "X-Next-Cursor" in api.headers
    every = admin.get_all("/inbound", tenant="DEMO", limit=1)  # three pages of one
    assert [f["id"] for f in every[:2]] == [f["id"] for f in page] and len(every) == 3
    assert len({f["id"] for f in every}) == 3


class TestWithTokens:
    @pytest.fixture
    def opsim_config(self, opsim_config):  # noqa: ANN001, ANN201 - the plugin's, with tokens
        return with_tokens(opsim_config)

    def test_admin_and_the_tenants_own_token_read_others_do_not(self, opsim_sandbox: Any) -> None:
        admin = SandboxAdmin(opsim_sandbox.http_url, token=ADMIN_TOKEN)
        send_order(opsim_sandbox, admin, "TK-1", "acme", "pw", "ACME")
        inbound_id = admin.get_all("/inbound", tenant="ACME")[0]["id"]
        file_id = admin.get_all("/files", tenant="ACME")[0]["id"]
        base = opsim_sandbox.http_url
        for path in ("/inbound?tenant=ACME", f"/inbound/{inbound_id}/content?tenant=ACME",
                     f"/files/{file_id}/content?tenant=ACME"):
            assert fetch(base, path, ADMIN_TOKEN)[0] == 200, path
            assert fetch(base, path, ACME_TOKEN)[0] == 200, path
            assert fetch(base, path)[0] == 401, path
            assert fetch(base, path, "demo")[0] == 403, path  # DEMO's token, on ACME's files
            assert fetch(base, path.replace("ACME", "DEMO"), ACME_TOKEN)[0] == 403, path


def test_an_old_data_dir_gains_the_content_columns(tmp_path: Path) -> None:
    path = tmp_path / "opsim.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE inbox (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, location TEXT NOT NULL, "
        "filename TEXT NOT NULL, sha256 TEXT NOT NULL, at_real REAL NOT NULL, removed INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO inbox (tenant, location, filename, sha256, at_real) VALUES ('DEMO', 'IN/COVA/CV', 'a.csv', "
        "'x', 0);")
    old.commit()
    old.close()

    store = Store(path)
    try:
        rows = store.received("DEMO")
        assert [(r["filename"], r["size"], r["at_virtual"], r["channel"]) for r in rows] == [("a.csv", None, "", "")]
        assert store.inbound_content("DEMO", rows[0]["id"]) is None  # kept nothing then: 404 by the API
        new_id = store.record_inbound("DEMO", "IN/COVA/CV", "b.csv", "y", "covage", b"bytes", "2026-11-24T10:00:00",
                                      "ftp")
        assert store.inbound_content("DEMO", new_id) == b"bytes"
    finally:
        store.close()
