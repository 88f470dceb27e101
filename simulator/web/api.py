"""The admin REST API (Flask blueprint): health, clock, reference data, orders, journal, tenants.

Who may call what is declared on each view (`access`) and enforced by `auth.guard`; every parameter and
body is checked here before it reaches the engine, so a bad request gets a 4xx JSON error, never a 500.
The OpenAPI document (`openapi.py`) describes the same routes and bounds.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, abort, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..clock import MAX_SPEED, MIN_SPEED
from ..faults import FAULT_FIELDS, FaultError, check_rule
from ..specs.variations import STYLE_CHOICES, StyleError, check_style
from ..tenants import new_api_token
from ..transports import mailout
from . import openapi, routes
from .auth import ADMIN, ANY, MAX_BODY, PUBLIC, SCOPED, TENANT, access, guard, principal
from .calls import engine_call as _engine_call
from .calls import sandbox
from .calls import tenant_arg as _tenant_arg
from .openapi import MAX_PAGE, MAX_TEXT

if TYPE_CHECKING:
    from ..facade import SandboxFacade

log = logging.getLogger(__name__)

api = Blueprint("api", __name__, url_prefix="/api")


def create_app(box: SandboxFacade) -> Flask:
    """Application factory: one app per sandbox, no global state."""
    app = Flask("opsim")
    app.config["SANDBOX"] = box
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY + 1  # larger bodies: 413 (see auth._parse_body)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.merge_slashes = False  # "//" would redirect (an HTML 308) instead of answering JSON
    app.before_request(no_encoded_slash)
    app.before_request(guard)
    app.register_blueprint(api)
    app.register_blueprint(routes.blueprint(box))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):  # noqa: ANN202
        if e.response is not None:  # a complete answer given to abort (401 with WWW-Authenticate)
            return e.response
        if e.code == 404 and request.url_rule is None and request.path.startswith("/api/operators/"):
            # No such operator, or none of its capabilities declares this route (web/routes.py).
            return jsonify(error=e.name, detail=f"no route {request.method} {request.path[:200]}: GET /api/operators "
                                                "lists the operators and their capabilities, GET /api/openapi.json "
                                                "every route"), 404
        return jsonify(error=e.name, detail=e.description), e.code

    @app.errorhandler(Exception)
    def internal_error(e: Exception):  # noqa: ANN202
        # A bug still answers JSON; the traceback goes to the log, not to the caller.
        log.exception("admin API: %s %s failed", request.method, request.path)
        return jsonify(error="Internal Server Error", detail=f"{type(e).__name__} (see the sandbox log)"), 500

    return app


def no_encoded_slash() -> Any:
    """No resource's name holds a '/': a path with %2F names none (404), whatever route it would reach once
    decoded (a server that decodes it would route "/operators/a%2Fb/appointments" one segment deeper)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.environ.get("PATH_INFO", "")
    if "%2f" in raw.split("?", 1)[0].lower():
        return jsonify(error="Not Found", detail="a path parameter cannot contain '/' (%2F)"), 404
    return None


# ---------------------------------------------------------------- parameters and bodies
def _body(allowed: set[str], required: bool = True) -> dict[str, Any]:
    """The JSON object body (parsed by guard), with only the `allowed` keys."""
    body = g.get("body")
    if body is None and not required:
        return {}
    if not isinstance(body, dict):
        abort(400, "a JSON object body is expected")
    unknown = sorted(set(body) - allowed)
    if unknown:
        abort(400, f"unknown field {unknown[0][:50]!r} (expected: {', '.join(sorted(allowed)) or 'none'})")
    return body


def _number(body: dict[str, Any], key: str, integer: bool = False) -> Any:
    value = body.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
        abort(400, f"{key} must be {'an integer' if integer else 'a number'}")
    return value


def _text(body: dict[str, Any], key: str, default: str | None = None, pattern: str | None = None,
          max_length: int = MAX_TEXT) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not value and default is None:
        abort(400, f"{key} is required, as a string" if value is None else f"{key} must be a non-empty string")
    if len(value) > max_length:
        abort(400, f"{key} is longer than {max_length} characters")
    if pattern and not re.fullmatch(pattern, value):
        abort(400, f"{key} {value[:50]!r} does not match {pattern}")
    return value


_DIGITS = re.compile(r"[0-9]{1,30}")  # ASCII only: '²'.isdigit() is True but int('²') fails


def _int_arg(name: str, default: int, minimum: int, maximum: int, clamp: bool = False) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw):
        abort(400, f"{name} must be an integer from {minimum} to {maximum}")
    value = int(raw)
    if value < minimum or value > maximum and not clamp:
        abort(400, f"{name} must be an integer from {minimum} to {maximum}")
    return min(value, maximum)


def _limit(default: int = MAX_PAGE) -> int:
    """Items per page: over MAX_PAGE is served as MAX_PAGE, the rest by cursor."""
    return _int_arg("limit", default, 1, MAX_PAGE, clamp=True)


def _encode_cursor(kind: str, *values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([kind, *values]).encode()).decode().rstrip("=")


def _cursor(kind: str, *types: type) -> list[Any] | None:
    """The values of an opaque cursor given by a previous page of the same list; 400 if forged."""
    raw = request.args.get("cursor")
    if raw is None:
        return None
    try:
        if len(raw) > 1000:
            raise ValueError("too long")
        decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        decoded = None
    if (not isinstance(decoded, list) or len(decoded) != len(types) + 1 or decoded[0] != kind
            or not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(decoded[1:], types, strict=True))
            or any(isinstance(v, int) and not 0 <= v < 2**63 for v in decoded[1:])):
        abort(400, "cursor is not one this list gave (use the X-Next-Cursor of the previous page)")
    return decoded[1:]


def _page(items: list[Any] | Response, next_cursor: str | None) -> Response:
    """A list answer as before (a JSON array, or a response already holding one); the next page, if any, in
    Link and X-Next-Cursor."""
    response = items if isinstance(items, Response) else jsonify(items)
    if next_cursor is not None:
        args = request.args.to_dict()
        args["cursor"] = next_cursor
        response.headers["X-Next-Cursor"] = next_cursor
        response.headers["Link"] = f'<{request.path}?{urlencode(args)}>; rel="next"'
    return response


def _optional_tenant() -> str | None:
    # No existence check: the journal also keeps lines of logins that are no tenant (login refused).
    return request.args.get("tenant", "").upper() or None


# ---------------------------------------------------------------- health, document
@api.get("/health")
@access(PUBLIC)
def health():  # noqa: ANN201
    box = sandbox()
    who = principal()
    answer: dict[str, Any] = {"status": "ok", "version": box.version}
    if who.kind != "anonymous":  # anonymous: no endpoints nor tenant list to map the sandbox with
        answer["endpoints"] = box.endpoints()
        answer["tenants"] = box.tenants.codes() if who.admin else [who.tenant]
        answer["networks"] = list(box.networks)
    answer["clock"] = box.clock.describe()
    return jsonify(answer)


@api.get("/openapi.json")
@access(PUBLIC)
def openapi_document():  # noqa: ANN201
    box = sandbox()
    return jsonify(openapi.document(box.version, routes.paths(routes.declared(box))))


# ---------------------------------------------------------------- clock
@api.get("/clock")
@access(ANY)
def clock_get():  # noqa: ANN201
    return jsonify(sandbox().clock.describe())


#: Seconds an advance is waited for before it is answered 202 with a handle to poll (HTTP clients commonly
#: give up after 30 s; the work goes on, however long it takes).
ADVANCE_WAIT = 20.0


@api.post("/clock/advance")
@access(ADMIN)
def clock_advance():  # noqa: ANN201
    body = _body({"hours", "working_days", "seconds", "wait"})
    hours, seconds = _number(body, "hours"), _number(body, "seconds")
    working_days = _number(body, "working_days", integer=True)
    wait = _number(body, "wait") if "wait" in body else ADVANCE_WAIT
    if not (hours or working_days or seconds):
        abort(400, 'give {"hours": n} or {"working_days": n}')
    if not 0 <= wait <= 60:
        abort(400, "wait must be from 0 to 60 seconds")
    box = sandbox()
    handle, future = box.begin(lambda: box.clock.advance(hours=hours, working_days=working_days, seconds=seconds))
    try:
        future.result(timeout=wait)
    except ValueError as e:  # VirtualClock.advance checks the bounds (finite, forward, at most a few years)
        abort(400, str(e))
    except FutureTimeout:  # still running: a handle to poll, never a 503 while the work goes on
        poll = f"/api/clock/advance/{handle}"
        answer = jsonify(_advance_state(handle, future))
        return answer, 202, {"Location": poll}
    return jsonify(box.clock.describe())


@api.get("/clock/advance/<handle>")
@access(ADMIN)
def clock_advance_state(handle: str):  # noqa: ANN201
    # isdigit alone takes "²" (int() does not): ASCII digits only.
    future = sandbox().work.get(int(handle)) if handle.isascii() and handle.isdigit() and len(handle) < 12 else None
    if future is None:
        abort(404, f"no advance {handle} (only the last {sandbox().WORK_KEPT} are kept)")
    return jsonify(_advance_state(int(handle), future))


def _advance_state(handle: int, future: Any) -> dict[str, Any]:
    """An advance started by POST /clock/advance: running (with the due events left), done, or failed."""
    box = sandbox()
    state: dict[str, Any] = {"id": handle, "poll": f"/api/clock/advance/{handle}"}
    if not future.done():
        return {**state, "state": "running", "due_events": box.due_events(), "clock": box.clock.describe()}
    error = future.exception()
    if error is not None:
        return {**state, "state": "failed", "error": f"{type(error).__name__}: {error}"}
    return {**state, "state": "done", "clock": box.clock.describe()}


@api.post("/clock/freeze")
@access(ADMIN)
def clock_freeze():  # noqa: ANN201
    _body(set(), required=False)
    box = sandbox()
    _engine_call(box.clock.freeze)
    return jsonify(box.clock.describe())


@api.post("/clock/resume")
@access(ADMIN)
def clock_resume():  # noqa: ANN201
    body = _body({"speed"}, required=False)
    speed = body.get("speed")
    if speed is not None:
        speed = _number(body, "speed")
        if not MIN_SPEED <= speed <= MAX_SPEED:
            abort(400, f"speed must be from {MIN_SPEED} to {MAX_SPEED:g}")
    box = sandbox()

    def resume() -> None:  # one engine call: never resumed at the old speed if the new one is refused
        box.clock.resume()
        if speed is not None:
            box.clock.set_speed(float(speed))

    _engine_call(resume)
    return jsonify(box.clock.describe())


# ---------------------------------------------------------------- reference data
@api.get("/addresses")
@access(ANY)
def addresses():  # noqa: ANN201
    box = sandbox()
    code = request.args.get("network", box.default_network).upper()
    network = box.networks.get(code)
    if network is None:
        abort(404, f"no network {code[:20]} (known: {', '.join(box.networks)})")
    limit = _limit(50)
    cursor = _cursor("addresses", str, int)
    if cursor is not None and cursor[0] != code:
        abort(400, "cursor is of another network")
    start = cursor[1] if cursor else 0
    out = []
    # One page from the network's database, never the whole network.
    page = network.deployed(limit + 1, offset=start)
    for address in page[:limit]:
        record: dict[str, Any] = network.ipe_record(address)
        pm = network.pm_of(address)
        record["ReferencePrestationPM"] = pm.reference_prestation
        record["ReferencePrise"] = [line.reference_prise for line in address.lines]
        record["Lignes"] = [{"ReferencePrise": ln.reference_prise, "Batiment": ln.batiment, "Escalier": ln.escalier,
                             "Etage": ln.etage, "ReferencePBO": ln.pbo, "Occupee": ln.occupied}
                            for ln in address.lines]
        record["Escaliers"] = list(address.escaliers)
        record["Etages"] = list(address.etages)
        out.append(record)
    more = len(page) > limit
    return _page(out, _encode_cursor("addresses", code, start + limit) if more else None)


# ---------------------------------------------------------------- orders
@api.get("/orders")
@access(TENANT)
def orders():  # noqa: ANN201
    tenant = _tenant_arg()
    limit = _limit()
    after = _cursor("orders", str, str)
    found = sandbox().store.orders_json(tenant, limit + 1, tuple(after) if after else None)
    page = found[:limit]
    more = len(found) > limit
    # The orders' JSON as SQLite writes it from the stored data: 1,000 orders decoded into dicts and encoded
    # again cost several times the rest of the request.
    body = Response("[" + ",".join(doc for _, _, doc in page) + "]\n", mimetype="application/json")
    return _page(body, _encode_cursor("orders", page[-1][0], page[-1][1]) if more else None)


@api.get("/orders/<ref>")
@access(TENANT)
def order(ref: str):  # noqa: ANN201
    tenant = _tenant_arg()
    box = sandbox()
    found = box.store.get_order(tenant, ref, reader=True)
    if found is None:
        abort(404, f"no order {ref[:100]} for {tenant}")
    found.history = box.store.order_history(tenant, ref)
    return jsonify(found.as_json())


@api.post("/orders/<ref>/reprovision")
@access(ADMIN)
def reprovision(ref: str):  # noqa: ANN201
    """Operator action: change the route optique of an order between CR and CR MAD (Notif_Reprov)."""
    tenant = _tenant_arg()
    motif = _text(_body({"motif"}, required=False), "motif", default="Fibre HS")
    box = sandbox()
    error = _engine_call(lambda: box.reprovision(tenant, ref, motif))
    if error:
        abort(409, error)
    return order(ref)


# ---------------------------------------------------------------- operators and their capabilities
@api.get("/operators")
@access(ANY)
def operators():  # noqa: ANN201
    """Every enabled operator: its endpoints, networks, folders and what each capability declares."""
    box = sandbox()
    endpoints = box.endpoints()
    return jsonify([{
        "operator": key, "name": op.profile.name,
        "endpoints": {k.split(":", 1)[0]: v for k, v in endpoints.items() if k.endswith(f":{key}")},
        "networks": [{"interop": n.interop, "arcep": n.arcep} for n in op.profile.networks],
        # The address of each area's mailbox (e-mail channel): where an OC sends that area's files by mail.
        "mailboxes": {area: mail.address(area) for area in mail.mailboxes}
        if (mail := mailout.OperatorMail.of(key, op.profile.settings, op.layout)) else {},
        "folders": [{"path": f.path, "area": f.area, "direction": f.direction, "network": f.network}
                    for f in op.layout.folders.values()],
        "capabilities": [{"name": c.name, "areas": list(c.areas), "channels": list(c.channels),
                          "events": list(c.events), "actions": list(c.actions)} for c in op.capabilities.values()],
    } for key, op in box.operators.items()])


@api.post("/operators/<operator>/<capability>/<action>")
@access(ADMIN)
def operator_action(operator: str, capability: str, action: str):  # noqa: ANN201
    """An operator action offered by a capability, for one tenant; the body holds its arguments."""
    box = sandbox()
    op = box.operators.get(operator)
    if op is None or capability not in op.capabilities or action not in op.capabilities[capability].actions:
        abort(404, f"no action {operator[:30]}/{capability[:30]}/{action[:30]} (GET /api/operators lists them)")
    tenant = _tenant_arg()
    body = g.get("body")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        abort(400, "a JSON object body is expected (the action's arguments)")
    result, error = _engine_call(lambda: box.act(operator, capability, action, tenant, body))
    if error:
        abort(409, error)
    return jsonify(operator=operator, capability=capability, action=action, tenant=tenant, done=True,
                   result=result)


# ---------------------------------------------------------------- journal, files, tenants
@api.get("/journal")
@access(SCOPED)
def journal():  # noqa: ANN201
    """Newest first by pages (each page oldest first, as before): the cursor walks back in time. With
    `settled=true`, once the engine has taken what was submitted before the call (the transports journal an OC's
    downloads and deletions through the engine: an OC that just deleted a file finds it journaled)."""
    settled = request.args.get("settled", "false").lower()
    if settled not in ("true", "false", "1", "0"):
        abort(400, "settled must be true or false")
    if settled in ("true", "1"):
        _engine_call(lambda: None)  # the engine's queue is in order: what came before is committed after this
    tenant = _optional_tenant()
    limit = _limit(200)
    since = _int_arg("since", 0, 0, 2**63 - 1)
    before = _cursor("journal", int)
    lines = sandbox().store.journal(tenant, limit + 1, since, before[0] if before else None)
    more = len(lines) > limit
    page = lines[1:] if more else lines  # the extra line is the oldest: it opens the next page
    return _page(page, _encode_cursor("journal", page[0]["id"]) if more else None)


@api.get("/files")
@access(SCOPED)
def files():  # noqa: ANN201
    tenant = _optional_tenant()
    return _pages_by_id("files", lambda count, after: sandbox().store.emitted(tenant, count, after))


def _pages_by_id(name: str, fetch: Callable[[int, int], list[dict[str, Any]]]) -> Response:
    """One page of rows of increasing id (fetch(count, after_id)), with the cursor of the next page."""
    limit = _limit()
    after = _cursor(name, int)
    found = fetch(limit + 1, after[0] if after else 0)
    page = found[:limit]
    return _page(page, _encode_cursor(name, page[-1]["id"]) if len(found) > limit else None)


@api.get("/files/<file_id>/content")
@access(TENANT)
def file_content(file_id: str):  # noqa: ANN201
    """The bytes of one answer file, as the OC picks them up (the conformance checks read them)."""
    tenant = _tenant_arg()
    return _stored_bytes(sandbox().store.outbound_content(tenant, _id(file_id)),
                         f"no answer file {file_id} for {tenant}")


def _stored_bytes(content: bytes | None, missing: str) -> Response:
    """A file's bytes as stored, or 404 saying which file is not there."""
    if content is None:
        abort(404, missing)
    return _bytes(content)


@api.get("/inbound")
@access(TENANT)
def inbound():  # noqa: ANN201
    """Every file the tenant sent, by id: where and when (virtual) it came, its size, what the journal said."""
    tenant = _tenant_arg()
    return _pages_by_id("inbound", lambda count, after: sandbox().store.received(tenant, count, after))


@api.get("/inbound/<inbound_id>/content")
@access(TENANT)
def inbound_content(inbound_id: str):  # noqa: ANN201
    """The bytes of one file the tenant sent, exactly as received."""
    tenant = _tenant_arg()
    return _stored_bytes(sandbox().store.inbound_content(tenant, _id(inbound_id)),
                         f"no inbound file {inbound_id} for {tenant} (files received before opsim kept their "
                         "content have none)")


@api.get("/mail")
@access(TENANT)
def mail():  # noqa: ANN201
    """The mails sent to the tenant (answers to files it mailed, replies about bad mails), by id."""
    tenant = _tenant_arg()
    return _pages_by_id("mail", lambda count, after: mailout.mails(sandbox().store, tenant, count, after))


@api.get("/mail/<mail_id>.eml")
@access(TENANT)
def mail_eml(mail_id: str):  # noqa: ANN201
    """One mail sent to the tenant, the whole message as it was sent (RFC 5322, .eml)."""
    tenant = _tenant_arg()
    content = mailout.message(sandbox().store, tenant, _id(mail_id))
    if content is None:
        abort(404, f"no mail {mail_id} for {tenant}")
    return _bytes(content)  # the .eml's bytes, never re-encoded


def _id(raw: str) -> int:
    # Parsed here rather than by a Flask <int:> converter: a bad id is a JSON 400, not an HTML 404.
    if not _DIGITS.fullmatch(raw) or int(raw) >= 2**63:
        abort(400, "the id must be an integer (an id of the list)")
    return int(raw)


def _bytes(content: bytes) -> Response:
    # Raw bytes, never decoded: the encoding of the file is part of what is checked.
    return Response(content, mimetype="application/octet-stream")


# ---------------------------------------------------------------- faults on demand
@api.get("/rejects")
@access(ANY)
def rejects():  # noqa: ANN201
    catalogue = sandbox().reject_catalogue()
    return jsonify([{"code": code, "stage": entry.get("stage", ""), "label": entry.get("label", "")}
                    for code, entry in sorted(catalogue.items())])


@api.get("/faults")
@access(TENANT)
def faults():  # noqa: ANN201
    return jsonify(sandbox().faults.list(_tenant_arg()))


@api.post("/faults")
@access(TENANT)
def add_fault():  # noqa: ANN201
    tenant = _tenant_arg()
    box = sandbox()
    try:
        rule, count = check_rule(_body(set(FAULT_FIELDS)), box.reject_catalogue(), box.fault_stages())
    except FaultError as e:
        abort(400, str(e))
    return jsonify(_engine_call(lambda: box.add_fault(tenant, rule, count))), 201


@api.delete("/faults")
@access(TENANT)
def delete_faults():  # noqa: ANN201
    tenant = _tenant_arg()
    box = sandbox()
    return jsonify(removed=_engine_call(lambda: box.delete_faults(tenant, None)))


@api.delete("/faults/<rule_id>")
@access(TENANT)
def delete_fault(rule_id: str):  # noqa: ANN201
    tenant = _tenant_arg()
    box = sandbox()
    if not rule_id.isdigit() or len(rule_id) > 18 or not _engine_call(lambda: box.delete_faults(tenant, int(rule_id))):
        abort(404, f"no fault rule {rule_id[:20]} for {tenant}")
    return jsonify(removed=1)


@api.get("/answer-style")
@access(TENANT)
def answer_style():  # noqa: ANN201
    tenant = _tenant_arg()
    return jsonify(check_style(sandbox().store.answer_style(tenant, reader=True)))


@api.put("/answer-style")
@access(TENANT)
def set_answer_style():  # noqa: ANN201
    tenant = _tenant_arg()
    try:
        style = check_style(_body(set(STYLE_CHOICES)))
    except StyleError as e:
        abort(400, str(e))
    box = sandbox()
    _engine_call(lambda: box.set_answer_style(tenant, style))
    return jsonify(style)


@api.get("/tenants")
@access(ADMIN)
def tenants():  # noqa: ANN201
    return jsonify([{"code": r["code"], "login": r["login"], "email": r["email"], "api_token": bool(r["api_token"])}
                    for r in sandbox().store.tenants(reader=True)])


@api.post("/tenants")
@access(ADMIN)
def add_tenant():  # noqa: ANN201
    body = _body({"code", "password", "email", "login"})
    code = _text(body, "code", max_length=8).upper()
    password = _text(body, "password")
    email = _text(body, "email", default="")
    login = _text(body, "login", default=code, pattern=r"[!-~]{1,64}", max_length=64)
    token = new_api_token()
    box = sandbox()
    error = _engine_call(lambda: box.add_tenant(code, password, email, login, api_token=token))
    if error:
        abort(400, error)
    return jsonify(code=code, login=login, folders=box.ensure_folders(code), api_token=token), 201
