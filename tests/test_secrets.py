"""Tenants' secrets: scrypt for passwords, SHA-256 for the random API tokens, the older salted SHA-256 hashes
still accepted and replaced at the first successful use, and logins that pay scrypt once per process."""

from __future__ import annotations

import ftplib
import hashlib
import sqlite3
from pathlib import Path

import pytest

from conformance.waiting import poll_until
from simulator import tenants
from simulator.config import load_config
from simulator.sandbox import Sandbox
from simulator.store import Store
from simulator.tenants import TenantRegistry, check_password, hash_password, hash_token, outdated
from tests.helpers import ADMIN_TOKEN, Api, ftp_login


def legacy_hash(secret: str, salt: str = "0123456789abcdef") -> str:
    """How versions before scrypt stored a secret: a salt, '$', SHA-256 of salt + secret."""
    return f"{salt}${hashlib.sha256((salt + secret).encode()).hexdigest()}"


def test_a_password_is_kept_as_a_salted_scrypt_hash():
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first.startswith(f"scrypt${tenants.SCRYPT_N}$8$1$") and first != second  # salted
    assert check_password("s3cret", first) and not check_password("s3cret ", first)
    assert not outdated(first) and outdated(legacy_hash("s3cret"))
    assert check_password("s3cret", legacy_hash("s3cret")) and not check_password("other", legacy_hash("s3cret"))
    assert not check_password("s3cret", "scrypt$4096$8$1$zz$00")  # damaged: matches nothing, raises nothing
    assert hash_token("tok") == "sha256$" + hashlib.sha256(b"tok").hexdigest() and not outdated(hash_token("t"), True)


def test_a_login_pays_scrypt_once_per_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = Store(tmp_path / "opsim.sqlite3")
    store.upsert_tenant("ACME", "acme", hash_password("right"))
    registry = TenantRegistry(store)
    calls: list[int] = []
    real = tenants._scrypt
    monkeypatch.setattr(tenants, "_scrypt", lambda *a: calls.append(1) or real(*a))
    assert [registry.authenticate("acme", "right") is not None for _ in range(5)] == [True] * 5
    assert [registry.authenticate("acme", "wrong") for _ in range(5)] == [None] * 5
    assert len(calls) == 2  # one verification of the right password, one of the wrong one
    assert registry.authenticate("nobody", "right") is None and len(calls) == 2
    # A new password (the account changed) is verified again, and the old one no longer opens it.
    store.upsert_tenant("ACME", "acme", hash_password("new"))
    registry.reload()
    assert registry.authenticate("acme", "right") is None and registry.authenticate("acme", "new") is not None


def test_hashes_of_older_versions_open_the_account_and_are_replaced(tmp_path: Path):
    """A data dir whose tenant was created by an older version: its FTP password and API token still work,
    and after their first use the store holds them in the current form."""
    data = tmp_path / "data"

    def config():  # noqa: ANN202
        loaded = load_config(None, data_dir=data, host="127.0.0.1", ftp_port=0, http_port=0)
        loaded.admin_token = ADMIN_TOKEN
        return loaded

    with Sandbox(config()) as box:
        Api(box.http_url, ADMIN_TOKEN).post("/tenants", {"code": "OLDCO", "password": "pw"})
    db = sqlite3.connect(data / "opsim.sqlite3")
    with db:
        db.execute("UPDATE tenants SET password = ?, api_token = ? WHERE code = 'OLDCO'",
                   (legacy_hash("pw"), legacy_hash("old-token", "fedcba9876543210")))
    with Sandbox(config()) as box:
        with pytest.raises(ftplib.error_perm):
            ftp_login(box.ftp_address, "OLDCO", "wrong")
        ftp_login(box.ftp_address, "OLDCO", "pw").quit()
        assert Api(box.http_url, "old-token").get("/health")["tenants"] == ["OLDCO"]
        def stored() -> tuple[str, str]:
            return db.execute("SELECT password, api_token FROM tenants WHERE code = 'OLDCO'").fetchone()

        # Written by the engine, just after the login.
        def rewritten() -> tuple[str, str] | None:
            password, token = stored()
            return (password, token) if not outdated(password) and not outdated(token, token=True) else None

        password, token = poll_until(rewritten, 10) or stored()
        assert check_password("pw", password) and password.startswith("scrypt$"), password
        assert token == hash_token("old-token")
        ftp_login(box.ftp_address, "OLDCO", "pw").quit()  # the new hash opens it too
        assert Api(box.http_url, "old-token").get("/health")["tenants"] == ["OLDCO"]
