"""The OC accounts (tenants): their codes, logins, and hashes of their FTP password and admin API token.

Passwords are kept as scrypt hashes (`hashlib.scrypt`, salted, memory-hard): a copied data dir does not give
them away at the speed of a plain hash. A login pays scrypt once per process and password: what was verified
is remembered as an HMAC under a key of the process, so the FTP thread does not spend milliseconds on every
session of a client that logs in again and again; a wrong password is remembered too (a bounded set), so
repeating it costs nothing either. API tokens are random (24 bytes), so a plain SHA-256 of each is as safe and
lets a request find its tenant in one lookup. Hashes of older versions (salted SHA-256) still verify, and are
replaced by the current form at the first successful login or call (`on_rehash`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
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


#: scrypt's cost: 2^12 rounds of 8 blocks (4 MiB, about 15 ms): what a sandbox's every start pays per configured
#: tenant, and each login once per process. opsim's choice: its passwords guard test accounts on a developer's
#: machine; it is still some 10,000 times the work of the salted SHA-256 it replaces.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**12, 8, 1
_SCRYPT = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$"
_TOKEN = "sha256$"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return _SCRYPT + f"{salt.hex()}${_scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P).hex()}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=128 * r * n * p + 2**20)


def check_password(password: str, hashed: str) -> bool:
    """Whether the password is the one hashed: scrypt, or the salted SHA-256 of older data dirs."""
    if hashed.startswith("scrypt$"):
        try:
            _, n, r, p, salt, key = hashed.split("$")
            expected = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
        except ValueError:  # a damaged hash matches nothing
            return False
        return hmac.compare_digest(expected.hex(), key)
    salt, _, digest = hashed.partition("$")
    return hmac.compare_digest(hashlib.sha256((salt + password).encode()).hexdigest(), digest)


def hash_token(token: str) -> str:
    return _TOKEN + hashlib.sha256(token.encode()).hexdigest()


def outdated(hashed: str, token: bool = False) -> bool:
    """A hash of an older form, to be replaced once its secret is known again."""
    return bool(hashed) and not hashed.startswith(_TOKEN if token else _SCRYPT)


def new_api_token() -> str:
    """A tenant's admin API token, given once to whoever created the tenant (only its hash is kept)."""
    return secrets.token_urlsafe(24)


#: Wrong (login, password) pairs remembered, so that repeating one costs no scrypt (the oldest are forgotten).
REFUSED_KEPT = 1024


class TenantRegistry:
    """Read by the transports on every login; written through the engine. `on_rehash(code, password_hash,
    api_token_hash)` stores a hash of the current form for an account whose stored one is older ('' keeps it)."""

    def __init__(self, store: Store, on_rehash: Callable[[str, str, str], None] | None = None):
        self._store = store
        self._on_rehash = on_rehash
        self._lock = threading.Lock()
        self._by_login: dict[str, Account] = {}
        self._by_token: dict[str, Account] = {}
        self._key = secrets.token_bytes(32)  # of this process only: what it remembers means nothing elsewhere
        self._verified: dict[tuple[str, str], bytes] = {}  # (login, stored hash) -> HMAC of the right password
        self._refused: OrderedDict[tuple[str, str, bytes], None] = OrderedDict()
        self.reload()

    def reload(self) -> None:
        accounts = {r["login"]: Account(r["code"], r["login"], r["password"], r["email"], r["api_token"],
                                        frozenset(filter(None, r["operators"].split(","))))
                    for r in self._store.tenants(reader=True)}
        with self._lock:
            self._by_login = accounts
            self._by_token = {a.api_token_hash: a for a in accounts.values() if a.api_token_hash.startswith(_TOKEN)}

    def authenticate(self, login: str, password: str) -> Account | None:
        account = self._by_login.get(login)
        if account is None:
            return None
        mark = hmac.digest(self._key, password.encode(), "sha256")
        remembered = self._verified.get((login, account.password_hash))
        if remembered is not None and hmac.compare_digest(remembered, mark):
            return account
        refused = (login, account.password_hash, mark)
        if refused in self._refused:
            return None
        if not check_password(password, account.password_hash):
            with self._lock:
                self._refused[refused] = None
                while len(self._refused) > REFUSED_KEPT:
                    self._refused.popitem(last=False)
            return None
        self._verified[(login, account.password_hash)] = mark
        if outdated(account.password_hash) and self._on_rehash is not None:
            self._on_rehash(account.code, hash_password(password), "")
        return account

    def by_api_token(self, token: str) -> Account | None:
        """The tenant whose admin API token this is: one lookup of its hash (older salted hashes: checked one by
        one, then replaced)."""
        if not token:
            return None
        account = self._by_token.get(hash_token(token))
        if account is not None:
            return account
        for account in list(self._by_login.values()):
            if outdated(account.api_token_hash, token=True) and check_password(token, account.api_token_hash):
                if self._on_rehash is not None:
                    self._on_rehash(account.code, "", hash_token(token))
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
