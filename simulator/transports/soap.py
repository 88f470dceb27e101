"""The SOAP services on the sandbox's HTTP(S) server: a guard in front of each endpoint, flow control.

Every request to a web service passes the guard before the service's own code (spyne) sees it:
- a body over the size limit, a DTD or entity declaration (XXE, entity expansion), XML that does not
  parse, an envelope that is not SOAP 1.1 with one operation in its Body, an unknown operation or a
  SOAPAction naming another operation get a SOAP 1.1 Client fault with HTTP 500, the service's own;
- the OC is identified (the service says how: the header's operateurCommercial/nom, HTTP Basic);
- flow control: at most N requests per second per OC and service (N from the operator's profile, per
  tenant if it says so); above it a Client fault whose code says so, journaled as a finding.
Untrusted XML is parsed here with entities, DTDs and the network refused; spyne parses only what passed.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from lxml import etree
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from ..capability import Capability, SoapEndpoint
from ..documents import Effects, Finding

log = logging.getLogger(__name__)

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
#: Largest SOAP request body accepted (bytes); the services' requests are a few KiB.
MAX_SOAP_BODY = 256 * 1024
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_comments=True, remove_pis=True)
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")


class RateLimiter:
    """At most `limit(tenant)` requests in any one second, per (tenant, service); real time, not the
    virtual clock (an OC's burst is measured on the wire)."""

    def __init__(self, limit: Callable[[str], float], clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, tenant: str, service: str) -> bool:
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault((tenant, service), deque())
            while seen and now - seen[0] >= 1.0:
                seen.popleft()
            if len(seen) >= self.limit(tenant):
                return False
            seen.append(now)
            return True


def tenant_limits(default: int, per_tenant: str) -> Callable[[str], float]:
    """The limit of each OC: `per_tenant` is "ACME=5 DEMO=10" (space or comma separated)."""
    limits: dict[str, float] = {}
    for item in per_tenant.replace(",", " ").split():
        code, _, value = item.partition("=")
        limits[code.strip().upper()] = float(value)
    return lambda tenant: limits.get(tenant, default)


class SoapHost:
    """What the services' wire code may use of the sandbox (capability.ServiceHost)."""

    def __init__(self, operator: str, engine: Any, clock: Any, tenants: Any, limits: Callable[[str], float]):
        self.operator = operator
        self.engine = engine
        self.clock = clock
        self.tenants = tenants  # OperatorTenants: the OCs that are clients of this operator
        self.limiter = RateLimiter(limits)

    def now(self) -> datetime:
        return self.clock.now()

    def known(self, tenant: str) -> bool:
        return tenant in self.tenants

    def login(self, login: str, password: str) -> str | None:
        account = self.tenants.authenticate(login, password)
        return account.code if account else None

    def note(self, finding: Finding) -> None:
        self.engine.note(finding)

    def transact(self, source: Capability, fn: Callable[[datetime], tuple[Any, Effects]]) -> Any:
        return self.engine.transact(source, fn)


class Refused(Exception):
    def __init__(self, kind: str, detail: str, operation: str = ""):
        super().__init__(detail)
        self.kind, self.detail, self.operation = kind, detail, operation


class SoapGuard:
    """One endpoint behind the guard (a WSGI application mounted at `endpoint.path`)."""

    def __init__(self, endpoint: SoapEndpoint, host: SoapHost, max_body: int = MAX_SOAP_BODY):
        self.endpoint = endpoint
        self.host = host
        self.max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method in ("GET", "HEAD"):
            return self._get(environ, start_response)
        if method != "POST":
            return _plain(start_response, "405 Method Not Allowed", b"POST a SOAP 1.1 envelope\n",
                          [("Allow", "GET, POST")])
        try:
            body, tree, operation = self._admit(environ)
        except Refused as r:
            self._journal(r.operation or "?", environ.get("opsim.tenant") or environ.get("opsim.claimed", ""),
                          f"fault {r.kind}", r.detail)
            return self._fault(start_response, r.kind, r.detail, r.operation, close=environ.get("opsim.close", False))
        direct = self.endpoint.direct.get(operation)
        if direct is not None:
            try:
                code, answer = direct(tree, environ["opsim.tenant"])
            except Exception as e:  # a bug answers a technical fault, never a bare error page
                log.exception("%s: %s failed", self.endpoint.service, operation)
                return self._fault(start_response, "technical", type(e).__name__, operation)
            self._journal(operation, environ["opsim.tenant"], "answered" if code == 200 else "fault",
                          _request_id(tree))
            start_response("200 OK" if code == 200 else "500 Internal Server Error",
                           [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(answer)))])
            return [answer]
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        status: list[str] = []

        def recording(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(s)
            return start_response(s, headers, exc_info)

        try:
            result = b"".join(self.endpoint.app(environ, recording))
        except Exception as e:  # a bug answers a technical fault, never a bare error page
            log.exception("%s: %s failed", self.endpoint.service, operation)
            return self._fault(start_response, "technical", type(e).__name__, operation)
        outcome = "answered" if status and status[0].startswith("200") else "fault"
        self._journal(operation, environ["opsim.tenant"], outcome, _request_id(tree))
        return [result]

    # ------------------------------------------------------------------ the checks
    def _admit(self, environ: dict[str, Any]) -> tuple[bytes, Any, str]:
        body = self._body(environ)
        if any(marker in body for marker in _FORBIDDEN):
            raise Refused("malformed", "DTDs and entity declarations are refused")
        try:
            tree = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as e:
            raise Refused("malformed", f"not well-formed XML: {e}") from None
        if tree.getroottree().docinfo.doctype or tree.getroottree().docinfo.internalDTD is not None:
            raise Refused("malformed", "DTDs and entity declarations are refused")
        # Who sends it, as early as it can be told: a refused request is journaled against its OC.
        try:
            basic, bad_login = self._basic(environ, ""), None
        except Refused as r:  # refused once the operation is known: its fault names it
            basic, bad_login = None, r
        claimed = self.endpoint.identify(tree, basic)
        environ["opsim.claimed"] = claimed or ""
        if tree.tag != f"{{{SOAP11_ENV}}}Envelope":
            raise Refused("malformed", f"not a SOAP 1.1 envelope: root element {tree.tag}")
        bodies = tree.findall(f"{{{SOAP11_ENV}}}Body")
        children = [c for c in bodies[0] if isinstance(c.tag, str)] if len(bodies) == 1 else []
        if len(children) != 1:
            raise Refused("malformed", "the SOAP Body must hold exactly one operation")
        local = etree.QName(children[0]).localname
        operation = self.endpoint.actions.get(local)
        if operation is None:
            raise Refused("malformed", f"unknown operation {local}")
        action = environ.get("HTTP_SOAPACTION")
        if action is None:
            raise Refused("malformed", "the SOAPAction header is mandatory (SOAP 1.1)", operation)
        action = action.strip().strip('"')
        if action and action != operation and not action.endswith(("/" + operation, "#" + operation)):
            raise Refused("malformed", f"SOAPAction {action!r} does not match the operation {operation}", operation)
        if bad_login is not None:
            raise Refused(bad_login.kind, bad_login.detail, operation)
        tenant = claimed
        if tenant is None:
            raise Refused("unknown_oc", "the request does not name a known OC (operateurCommercial/nom or "
                                        "HTTP Basic login)", operation)
        environ["opsim.tenant"] = tenant
        if not self.host.limiter.admit(tenant, self.endpoint.service):
            limit = self.host.limiter.limit(tenant)
            detail = f"more than {limit:g} requests per second on {self.endpoint.service}"
            self.host.note(Finding(tenant, "soap", "in", operation, _request_id(tree), "flow control", detail))
            raise Refused("flow_control", detail, operation)
        return body, tree, operation

    def _body(self, environ: dict[str, Any]) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if length > self.max_body:
            environ["opsim.close"] = True  # the rest of the body is not read: the connection must close
            raise Refused("malformed", f"request body over {self.max_body} bytes")
        stream = environ["wsgi.input"]
        body = stream.read(length) if length >= 0 else stream.read(self.max_body + 1)
        if len(body) > self.max_body:
            environ["opsim.close"] = True
            raise Refused("malformed", f"request body over {self.max_body} bytes")
        if not body:
            raise Refused("malformed", "empty request body")
        return body

    def _basic(self, environ: dict[str, Any], operation: str) -> str | None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            login, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise Refused("unknown_oc", "unreadable HTTP Basic credentials", operation) from None
        tenant = self.host.login(login, password)
        if tenant is None:
            raise Refused("unknown_oc", f"HTTP Basic login {login!r} refused", operation)
        return tenant

    # ------------------------------------------------------------------ answers
    def _get(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
        wsdl = self.endpoint.wsdl_path
        if (wsdl == "/wsdl" and path == "/wsdl") or \
                (wsdl == "?wsdl" and path in ("", "/") and query.split("=")[0].lower() == "wsdl"):
            document = self.endpoint.build_wsdl(_endpoint_url(environ))
            start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"),
                                      ("Content-Length", str(len(document)))])
            return [document] if environ["REQUEST_METHOD"].upper() == "GET" else []
        return _plain(start_response, "404 Not Found", f"the WSDL is at {wsdl}\n".encode())

    def _fault(self, start_response: Callable[..., Any], kind: str, detail: str, operation: str,
               close: bool = False) -> list[bytes]:
        body = self.endpoint.fault(kind, detail[:500], operation)
        # SOAP 1.1: a fault is HTTP 500; a body left unread closes the connection (its rest is no request).
        start_response("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8"),
                                                     ("Content-Length", str(len(body))),
                                                     *([("Connection", "close")] if close else [])])
        return [body]

    def _journal(self, operation: str, tenant: str, outcome: str, detail: str) -> None:
        self.host.note(Finding(tenant or "-", "soap", "in", f"{self.endpoint.service}:{operation}", "",
                               outcome, detail[:500]))


def _request_id(tree: Any) -> str:
    found = tree.find(".//{*}identifiantRequete")
    return "" if found is None else f"identifiantRequete={(found.text or '').strip()}"


def _endpoint_url(environ: dict[str, Any]) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT')}"
    return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}"


def _plain(start_response: Callable[..., Any], status: str, body: bytes,
           headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            *(headers or [])])
    return [body]


def mount(app: Any, guards: Mapping[str, SoapGuard]) -> Any:
    """The admin API with every SOAP endpoint beside it, on the same server."""
    return DispatcherMiddleware(app, dict(guards)) if guards else app
