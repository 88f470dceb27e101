"""Who may call the admin API, and what a request must look like before any handler reads it.

Every request passes `guard` (a `before_request` hook) in this order:

1. DNS rebinding: with no admin token (and no `admin_open`), the Host header must name loopback (421).
2. Cross-site writes: a mutating request whose Origin is not its Host is refused (403), and it must be
   JSON (415), so an HTML form on another site can neither move the clock nor create accounts.
3. Access: with an admin token configured, each view's policy (`access`) decides; a bearer token is
   the admin token or a tenant's token (401 when missing or unknown, 403 when not enough).
4. The JSON body of a mutating request is parsed once, strictly (no NaN/Infinity, bounded depth and
   size), into `flask.g.body`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, g, jsonify, request

if TYPE_CHECKING:
    from ..facade import SandboxFacade

ADMIN = "admin"  # the admin token only: mutating calls and reads across tenants
TENANT = "tenant"  # the admin token, or the token of the tenant named by ?tenant=
SCOPED = "scoped"  # with ?tenant= as TENANT, without it as ADMIN (journal, files)
ANY = "any"  # any valid token: data that is the same for every OC (addresses, clock)
PUBLIC = "public"  # no token needed (health shows less to anonymous callers; the API document)

MAX_BODY = 1024 * 1024  # bytes of a request body (larger: 413)
MAX_DEPTH = 16  # nesting of a JSON body (deeper: 400); the API's bodies are flat objects
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

F = TypeVar("F", bound=Callable[..., Any])


def access(policy: str) -> Callable[[F], F]:
    """Declare who may call a view (read by `guard`)."""
    def mark(view: F) -> F:
        view.access = policy  # type: ignore[attr-defined]
        return view
    return mark


@dataclass(frozen=True)
class Principal:
    """The caller: `admin` (admin token, or anyone when no admin token is configured), `tenant`, or
    `anonymous` (no token while one is configured)."""

    kind: str
    tenant: str | None = None

    @property
    def admin(self) -> bool:
        return self.kind == "admin"


def principal() -> Principal:
    return g.get("principal", Principal("anonymous"))


def guard() -> None:
    box: SandboxFacade = current_app.config["SANDBOX"]
    config = box.config
    if not config.admin_token and not config.admin_open and not _loopback_host(request.headers.get("Host")):
        abort(421, "with no admin token the API answers only to localhost, 127.0.0.1 or [::1] "
                   "(Host header); configure an admin token to serve other names")
    if request.method in MUTATING:
        origin = request.headers.get("Origin")
        if origin is not None and not _same_origin(origin, request.headers.get("Host", "")):
            abort(403, f"cross-site request refused: Origin {origin[:100]} is not this API's host")
        if request.mimetype != "application/json":
            abort(415, "a mutating call takes a JSON body (Content-Type: application/json)")
    g.principal = _authenticate(box)
    view = current_app.view_functions.get(request.endpoint or "")
    _authorize(g.principal, getattr(view, "access", ANY), bool(config.admin_token))
    if request.method in MUTATING:
        g.body = _parse_body()


# ---------------------------------------------------------------- the caller
def _authenticate(box: SandboxFacade) -> Principal:
    header = request.headers.get("Authorization")
    admin_token = box.config.admin_token
    if not admin_token:  # no token configured: loopback only (checked above), everyone is the admin
        return Principal("admin")
    if header is None:
        return Principal("anonymous")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        _unauthorized("the Authorization header must be 'Bearer <token>'")
    if hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal("admin")
    account = box.tenants.by_api_token(token)
    if account is None:
        _unauthorized("unknown token")
    return Principal("tenant", account.code)


def _authorize(who: Principal, policy: str, token_configured: bool) -> None:
    if who.admin or policy == PUBLIC or not token_configured:
        return
    if who.kind == "anonymous":
        _unauthorized("this call needs a token: Authorization: Bearer <token>")
    if policy == ANY:
        return
    tenant = request.args.get("tenant", "").upper()
    if policy == ADMIN or (policy == SCOPED and not tenant):
        abort(403, f"this call needs the admin token (the token of tenant {who.tenant} "
                   "reads only its own orders, journal and files)")
    if policy == TENANT and not tenant:
        abort(400, "the tenant query parameter is required (e.g. ?tenant=DEMO)")
    if tenant != who.tenant:
        abort(403, f"the token of tenant {who.tenant} reads only ?tenant={who.tenant}")


def _unauthorized(detail: str) -> NoReturn:
    response = jsonify({"error": "Unauthorized", "detail": detail})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="opsim admin API"'
    abort(response)


# ---------------------------------------------------------------- where the request comes from
_LOOPBACK_NAMES = {"localhost"}


def _split_host(host: str) -> str:
    """'127.0.0.1:8080' -> '127.0.0.1', '[::1]:80' -> '::1', 'localhost' -> 'localhost'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _loopback_host(host: str | None) -> bool:
    if host is None:  # HTTP/1.0 without Host: no browser sends that, so no rebinding either
        return True
    name = _split_host(host)
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _same_origin(origin: str, host: str) -> bool:
    try:
        parts = urlsplit(origin.strip())
        origin_port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        host_parts = urlsplit(f"//{host.strip()}")
        host_port = host_parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # bad port, "null" origin of a sandboxed page...
        return False
    return bool(parts.hostname) and parts.hostname == host_parts.hostname and origin_port == host_port


# ---------------------------------------------------------------- the body
def _parse_body() -> Any:
    """The JSON body, or None when empty; 400 for anything a handler should not have to think about."""
    data = request.get_data(cache=True)  # a Content-Length over MAX_CONTENT_LENGTH: 413 before reading
    if len(data) > MAX_BODY:  # a chunked body is cut at MAX_CONTENT_LENGTH (MAX_BODY + 1), not refused
        abort(413, f"the body is over {MAX_BODY} bytes")
    if not data.strip():
        return None
    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                           parse_int=_bounded_int)
    except RecursionError:
        abort(400, "the JSON body is nested too deeply")
    except UnicodeDecodeError:
        abort(400, "the JSON body is not UTF-8")
    except ValueError as e:
        abort(400, f"the body is not valid JSON: {str(e)[:200]}")
    _check_tree(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:30]} is out of range")
    return value


_INT = re.compile(r"-?[0-9]{1,30}")


def _bounded_int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise ValueError("integers have at most 30 digits")
    return int(text)


def _check_tree(value: Any) -> None:
    """Depth within MAX_DEPTH; strings storable (no lone surrogates, which SQLite cannot encode)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            abort(400, f"the JSON body is nested more than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                abort(400, "the JSON body has a lone surrogate (\\ud800-\\udfff) in a string")
