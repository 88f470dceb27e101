"""The OC accounts (tenants): their codes, logins, and salted hashes of their FTP password and admin API token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

from .store import Store


@dataclass(frozen=True)
class Account:
    code: str
    login: str
    password_hash: str
    email: str
    api_token_hash: str = ""  # '' = no token: the tenant cannot read the admin API alone
    operators: frozenset[str] = frozenset()  # the operators it is a client of (empty: every one)

    def client_of(self, operator: str) -> bool:
        return not self.operators or operator in self.operators


def hash_password(password: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    return f"{salt}${hashlib.sha256((salt + password).encode()).hexdigest()}"


def check_password(password: str, hashed: str) -> bool:
    salt, _, _ = hashed.partition("$")
    return hmac.compare_digest(hash_password(password, salt), hashed)


def new_api_token() -> str:
    """A tenant's admin API token, given once to whoever created the tenant (only its hash is kept)."""
    return secrets.token_urlsafe(24)


class TenantRegistry:
    """Read by the transports on every login; written through the engine."""

    def __init__(self, store: Store):
        self._store = store
        self._lock = threading.Lock()
        self._by_login: dict[str, Account] = {}
        self.reload()

    def reload(self) -> None:
        accounts = {r["login"]: Account(r["code"], r["login"], r["password"], r["email"], r["api_token"],
                                        frozenset(filter(None, r["operators"].split(","))))
                    for r in self._store.tenants(reader=True)}
        with self._lock:
            self._by_login = accounts

    def authenticate(self, login: str, password: str) -> Account | None:
        account = self._by_login.get(login)
        if account and check_password(password, account.password_hash):
            return account
        return None

    def by_api_token(self, token: str) -> Account | None:
        """The tenant whose admin API token this is (salted hashes: each is checked, tenants are few)."""
        if not token:
            return None
        for account in list(self._by_login.values()):
            if account.api_token_hash and check_password(token, account.api_token_hash):
                return account
        return None

    def by_login(self, login: str) -> Account | None:
        return self._by_login.get(login)

    def codes(self) -> list[str]:
        return sorted(a.code for a in self._by_login.values())

    def accounts(self) -> list[Account]:
        return list(self._by_login.values())

    def __contains__(self, code: str) -> bool:
        return any(a.code == code for a in self._by_login.values())

    def of(self, operator: str) -> OperatorTenants:
        """The accounts that are clients of one operator: what that operator's endpoints accept."""
        return OperatorTenants(self, operator)


class OperatorTenants:
    """A registry seen from one operator's endpoint: another operator's clients do not exist here."""

    def __init__(self, registry: TenantRegistry, operator: str):
        self._registry = registry
        self.operator = operator

    def authenticate(self, login: str, password: str) -> Account | None:
        account = self.by_login(login)
        return account if account and self._registry.authenticate(login, password) else None

    def by_login(self, login: str) -> Account | None:
        account = self._registry.by_login(login)
        return account if account and account.client_of(self.operator) else None

    def codes(self) -> list[str]:
        return [c for c in self._registry.codes() if c in self]

    def __contains__(self, code: str) -> bool:
        return any(a.code == code and a.client_of(self.operator) for a in self._registry.accounts())
