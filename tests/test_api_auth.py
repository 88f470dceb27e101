"""Who may call the admin API: admin and tenant tokens, cross-site writes, Host names, the admin address.

Everything over real HTTP against the sandbox of the opsim_sandbox fixture.
"""

from __future__ import annotations

import http.client
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance.client import AdminError, SandboxAdmin
from simulator.config import ConfigError, load_config
from simulator.sandbox import Sandbox
from simulator.store import Store
from tests.helpers import ACME_TOKEN, ADMIN_TOKEN, Api, with_tokens


def raw(url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
        ) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers (http.client adds Host only when not given)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        headers = dict(headers or {})
        conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


class TestWithTokens:
    """An admin token is configured: every call but health and the document needs a token."""

    @pytest.fixture
    def opsim_config(self, opsim_config):  # noqa: ANN001, ANN201 - the plugin's, with tokens
        return with_tokens(opsim_config)

    @pytest.fixture
    def admin(self, opsim_sandbox) -> Api:  # noqa: ANN001
        return Api(opsim_sandbox.http_url, token=ADMIN_TOKEN)

    @pytest.fixture
    def anonymous(self, opsim_sandbox) -> Api:  # noqa: ANN001
        return Api(opsim_sandbox.http_url)

    def test_anonymous_callers_get_401_except_on_health_and_the_document(self, anonymous: Api):
        for method, path, body in [("GET", "/clock", None), ("GET", "/addresses", None),
                                   ("GET", "/orders?tenant=DEMO", None), ("GET", "/orders/X?tenant=DEMO", None),
                                   ("GET", "/journal", None), ("GET", "/journal?tenant=DEMO", None),
                                   ("GET", "/files?tenant=DEMO", None), ("GET", "/tenants", None),
                                   ("POST", "/clock/freeze", {}), ("POST", "/clock/advance", {"hours": 1}),
                                   ("POST", "/clock/resume", {"speed": 2}),
                                   ("POST", "/tenants", {"code": "EVIL", "password": "x"}),
                                   ("POST", "/orders/X/reprovision?tenant=DEMO", {})]:
            status, answer = anonymous.call(method, path, body)
            assert status == 401, (method, path, answer)
            assert answer["error"] == "Unauthorized" and "token" in answer["detail"]
            assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
        assert anonymous.call("GET", "/openapi.json")[0] == 200

    def test_anonymous_health_shows_status_version_and_clock_only(self, anonymous: Api, admin: Api):
        health = anonymous.get("/health")
        assert set(health) == {"status", "version", "clock"} and health["clock"]["frozen"] is True
        full = admin.get("/health")
        assert full["tenants"] == ["ACME", "DEMO"] and "endpoints" in full

    def test_unknown_or_malformed_tokens_get_401(self, anonymous: Api):
        assert anonymous.call("GET", "/clock", token="wrong")[0] == 401
        status, answer = anonymous.call("GET", "/clock", headers={"Authorization": f"Basic {ADMIN_TOKEN}"})
        assert status == 401 and "Bearer" in answer["detail"]
        assert anonymous.call("GET", "/health", token="wrong")[0] == 401

    def test_admin_token_does_everything(self, admin: Api):
        assert admin.post("/clock/advance", {"hours": 1})["now"] == "2026-11-24T11:00:00"
        assert {t["code"] for t in admin.get("/tenants")} == {"ACME", "DEMO"}
        assert admin.get("/journal") is not None and admin.get("/files") == []
        assert admin.get("/orders?tenant=ACME") == []

    def test_tenant_token_reads_its_own_data_and_shared_data_only(self, anonymous: Api):
        acme = Api(anonymous.root, token=ACME_TOKEN)
        assert acme.get("/orders?tenant=acme") == [] and acme.get("/files?tenant=ACME") == []
        assert isinstance(acme.get("/journal?tenant=ACME"), list)
        assert acme.call("GET", "/orders/NOPE?tenant=ACME")[0] == 404
        assert acme.get("/clock")["now"] == "2026-11-24T10:00:00"
        assert len(acme.get("/addresses?limit=2")) == 2
        assert acme.get("/health")["tenants"] == ["ACME"]  # not the other tenants
        for method, path, body in [("GET", "/orders?tenant=DEMO", None), ("GET", "/orders/X?tenant=DEMO", None),
                                   ("GET", "/journal?tenant=DEMO", None), ("GET", "/files?tenant=DEMO", None),
                                   ("GET", "/orders?tenant=NOSUCH", None),
                                   ("GET", "/journal", None), ("GET", "/files", None), ("GET", "/tenants", None),
                                   ("POST", "/clock/freeze", {}), ("POST", "/clock/advance", {"hours": 1}),
                                   ("POST", "/tenants", {"code": "EVIL", "password": "x"}),
                                   ("POST", "/orders/X/reprovision?tenant=ACME", {})]:
            status, answer = acme.call(method, path, body)
            assert status == 403, (method, path, answer)
            assert answer["error"] == "Forbidden" and answer["detail"]

    def test_demo_tenant_has_the_documented_token_demo(self, anonymous: Api):
        demo = Api(anonymous.root, token="demo")
        assert demo.get("/orders?tenant=DEMO") == []
        assert demo.call("GET", "/orders?tenant=ACME")[0] == 403

    def test_created_tenant_gets_a_token_once_and_only_its_hash_is_stored(self, admin: Api, opsim_sandbox):
        created = admin.post("/tenants", {"code": "newco", "password": "pw"})
        token = created["api_token"]
        assert created["code"] == "NEWCO" and len(token) >= 24
        newco = Api(admin.root, token=token)
        assert newco.get("/orders?tenant=NEWCO") == []
        assert newco.call("GET", "/orders?tenant=DEMO")[0] == 403
        assert {"code": "NEWCO", "login": "NEWCO", "email": "", "api_token": True} in admin.get("/tenants")
        stored = sqlite3.connect(opsim_sandbox.config.data_dir / "opsim.sqlite3").execute(
            "SELECT api_token FROM tenants WHERE code = 'NEWCO'").fetchone()[0]
        assert stored and token not in stored  # a salted hash, not the token

    def test_conformance_client_sends_its_token(self, opsim_sandbox):
        assert SandboxAdmin(opsim_sandbox.http_url, token=ADMIN_TOKEN).advance(hours=2).hour == 12
        with pytest.raises(AdminError) as refused:
            SandboxAdmin(opsim_sandbox.http_url, token=ACME_TOKEN).advance(hours=2)
        assert refused.value.status == 403
        with pytest.raises(AdminError) as anonymous:
            SandboxAdmin(opsim_sandbox.http_url).now()
        assert anonymous.value.status == 401

    def test_a_foreign_host_is_served_when_a_token_protects_the_api(self, opsim_sandbox):
        status, _, body = raw(opsim_sandbox.http_url, "GET", "/api/clock",
                              headers={"Host": "opsim.example:8080", "Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert status == 200 and b"now" in body


# ---------------------------------------------------------------- no token configured (the default)
def test_without_a_token_everything_is_open_on_loopback(api: Api):
    assert api.post("/clock/advance", {"hours": 1})["now"] == "2026-11-24T11:00:00"
    assert api.get("/health")["tenants"] == ["DEMO"]
    assert api.call("GET", "/clock", token="anything")[0] == 200  # tokens are not checked then


def test_cross_site_write_is_refused(opsim_sandbox):
    url = opsim_sandbox.http_url
    host = urlsplit(url).netloc
    status, _, body = raw(url, "POST", "/api/clock/freeze", b"{}",
                          {"Origin": "http://evil.example", "Content-Type": "application/json"})
    assert status == 403 and b"cross-site" in body
    assert raw(url, "POST", "/api/clock/freeze", b"{}",
               {"Origin": "null", "Content-Type": "application/json"})[0] == 403
    # The same origin is fine, as is no Origin at all (curl, scripts).
    assert raw(url, "POST", "/api/clock/freeze", b"{}",
               {"Origin": f"http://{host}", "Content-Type": "application/json"})[0] == 200
    assert raw(url, "POST", "/api/clock/freeze", b"{}", {"Content-Type": "application/json"})[0] == 200


def test_form_posts_are_refused_with_415(opsim_sandbox):
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"):
        status, headers, body = raw(opsim_sandbox.http_url, "POST", "/api/clock/resume", b"speed=1e308",
                                    {"Content-Type": content_type})
        assert status == 415 and headers["Content-Type"] == "application/json", content_type
        assert b"application/json" in body
    assert raw(opsim_sandbox.http_url, "POST", "/api/clock/freeze", b"")[0] == 415  # no type at all


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "10.0.0.1", "127.0.0.1.evil.example"])
def test_foreign_host_is_refused_without_a_token(opsim_sandbox, host: str):
    status, headers, body = raw(opsim_sandbox.http_url, "GET", "/api/clock", headers={"Host": host})
    assert status == 421 and headers["Content-Type"] == "application/json" and b"Host" in body


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:1", "[::1]:8080", "[::1]"])
def test_loopback_hosts_are_served_without_a_token(opsim_sandbox, host: str):
    assert raw(opsim_sandbox.http_url, "GET", "/api/clock", headers={"Host": host})[0] == 200


# ---------------------------------------------------------------- where the admin API listens
def config_for(tmp_path: Path, **fields: Any):  # noqa: ANN201
    config = load_config(None, data_dir=tmp_path / "data", host="127.0.0.1", ftp_port=0, http_port=0)
    for key, value in fields.items():
        setattr(config, key, value)
    return config


def test_admin_api_listens_on_admin_host_not_on_the_ftp_host(tmp_path: Path):
    with Sandbox(config_for(tmp_path, admin_host="127.0.0.2")) as box:
        assert box.http.address[0] == "127.0.0.2" and box.ftp_address[0] == "127.0.0.1"
        status, _, _ = raw(box.http_url, "GET", "/api/clock", headers={"Host": "127.0.0.2"})
        assert status == 200


def test_start_refuses_a_public_admin_api_without_token(tmp_path: Path):
    box = Sandbox(config_for(tmp_path, admin_host="0.0.0.0"))
    with pytest.raises(ConfigError, match="no admin token"):
        box.start()
    # With a token, or when told explicitly, it starts.
    with Sandbox(config_for(tmp_path, admin_host="0.0.0.0", admin_token=ADMIN_TOKEN)) as box:
        assert Api(f"http://127.0.0.1:{box.http.address[1]}", ADMIN_TOKEN).get("/clock")["now"]
    with Sandbox(config_for(tmp_path, admin_host="0.0.0.0", admin_open=True)) as box:
        status, _, _ = raw(f"http://127.0.0.1:{box.http.address[1]}", "GET", "/api/clock",
                           headers={"Host": "opsim.lan:8080"})
        assert status == 200  # admin_open: the operator chose to serve any name


# ---------------------------------------------------------------- data dirs written before tokens
def test_old_data_dir_gets_the_token_column_and_keeps_its_tenants(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    old = sqlite3.connect(data / "opsim.sqlite3")
    old.execute("CREATE TABLE tenants (code TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, password TEXT NOT NULL, "
                "email TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL)")
    old.execute("INSERT INTO tenants VALUES ('OLDCO', 'oldco', 'salt$hash', 'a@b.c', 0)")
    old.commit()
    old.close()
    store = Store(data / "opsim.sqlite3")
    assert [tuple(r) for r in store.tenants()] == [("OLDCO", "oldco", "salt$hash", "a@b.c", "", "")]
    store.close()
    with Sandbox(config_for(tmp_path, admin_token=ADMIN_TOKEN)) as box:
        admin = Api(box.http_url, ADMIN_TOKEN)
        assert {t["code"]: t["api_token"] for t in admin.get("/tenants")} == {"DEMO": True, "OLDCO": False}
        assert Api(box.http_url, "demo").get("/orders?tenant=DEMO") == []
