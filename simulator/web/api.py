"""The admin REST API (Flask blueprint): health, clock, reference data, orders, journal, tenants."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, abort, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

if TYPE_CHECKING:
    from ..sandbox import Sandbox

api = Blueprint("api", __name__, url_prefix="/api")


def sandbox() -> Sandbox:
    return current_app.config["SANDBOX"]


def create_app(box: Sandbox) -> Flask:
    """Application factory: one app per sandbox, no global state."""
    app = Flask("opsim")
    app.config["SANDBOX"] = box
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(api)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):  # noqa: ANN202
        return jsonify(error=e.name, detail=e.description), e.code

    return app


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "a JSON object body is expected")
    return body


@api.get("/health")
def health():  # noqa: ANN201
    box = sandbox()
    return jsonify(status="ok", version=box.version, endpoints=box.endpoints(), tenants=box.tenants.codes(),
                   networks=[n.interop for n in box.config.covage.networks], clock=box.clock.describe())


# ---------------------------------------------------------------- clock
@api.get("/clock")
def clock_get():  # noqa: ANN201
    return jsonify(sandbox().clock.describe())


@api.post("/clock/advance")
def clock_advance():  # noqa: ANN201
    body = _json_body()
    try:
        hours = float(body.get("hours", 0))
        working_days = int(body.get("working_days", 0))
        seconds = float(body.get("seconds", 0))
    except (TypeError, ValueError):
        abort(400, "hours and seconds are numbers, working_days an integer")
    if not (hours or working_days or seconds):
        abort(400, 'give {"hours": n} or {"working_days": n}')
    if min(hours, working_days, seconds) < 0:
        abort(400, "the virtual clock only moves forward")
    box = sandbox()
    box.engine.call(lambda: box.clock.advance(hours=hours, working_days=working_days, seconds=seconds))
    return jsonify(box.clock.describe())


@api.post("/clock/freeze")
def clock_freeze():  # noqa: ANN201
    box = sandbox()
    box.engine.call(box.clock.freeze)
    return jsonify(box.clock.describe())


@api.post("/clock/resume")
def clock_resume():  # noqa: ANN201
    box = sandbox()
    body = request.get_json(silent=True) or {}
    speed = body.get("speed") if isinstance(body, dict) else None
    if speed is not None and (not isinstance(speed, int | float) or speed <= 0):
        abort(400, "speed must be a positive number")
    box.engine.call(box.clock.resume)
    if speed is not None:
        box.engine.call(lambda: box.clock.set_speed(float(speed)))
    return jsonify(box.clock.describe())


# ---------------------------------------------------------------- reference data
@api.get("/addresses")
def addresses():  # noqa: ANN201
    box = sandbox()
    code = request.args.get("network", box.config.covage.networks[0].interop).upper()
    network = box.networks.get(code)
    if network is None:
        abort(404, f"no network {code} (known: {', '.join(box.networks)})")
    limit = request.args.get("limit", "50")
    if not limit.isdigit():
        abort(400, "limit must be a positive integer")
    out = []
    for address in network.deployed(int(limit)):
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
    return jsonify(out)


# ---------------------------------------------------------------- orders
def _tenant_arg() -> str:
    tenant = request.args.get("tenant", "").upper()
    if not tenant:
        abort(400, "the tenant query parameter is required (e.g. ?tenant=DEMO)")
    if tenant not in sandbox().tenants:
        abort(404, f"no tenant {tenant}")
    return tenant


@api.get("/orders")
def orders():  # noqa: ANN201
    tenant = _tenant_arg()
    limit = request.args.get("limit", "1000")
    if not limit.isdigit():
        abort(400, "limit must be a positive integer")
    return jsonify([o.as_json() for o in sandbox().store.orders(tenant, int(limit))])


@api.get("/orders/<ref>")
def order(ref: str):  # noqa: ANN201
    tenant = _tenant_arg()
    box = sandbox()
    found = box.store.get_order(tenant, ref, reader=True)
    if found is None:
        abort(404, f"no order {ref} for {tenant}")
    found.history = box.store.order_history(tenant, ref)
    return jsonify(found.as_json())


@api.post("/orders/<ref>/reprovision")
def reprovision(ref: str):  # noqa: ANN201
    """Operator action: change the route optique of an order between CR and CR MAD (Notif_Reprov)."""
    tenant = _tenant_arg()
    body = request.get_json(silent=True) or {}
    motif = str(body.get("motif", "Fibre HS"))
    box = sandbox()
    error = box.engine.call(lambda: box.reprovision(tenant, ref, motif))
    if error:
        abort(409, error)
    return order(ref)


# ---------------------------------------------------------------- journal, files, tenants
@api.get("/journal")
def journal():  # noqa: ANN201
    tenant = request.args.get("tenant", "").upper() or None
    try:
        limit = int(request.args.get("limit", "200"))
        since = int(request.args.get("since", "0"))
    except ValueError:
        abort(400, "limit and since are integers")
    return jsonify(sandbox().store.journal(tenant, limit, since))


@api.get("/files")
def files():  # noqa: ANN201
    tenant = request.args.get("tenant", "").upper() or None
    return jsonify(sandbox().store.emitted(tenant))


@api.get("/tenants")
def tenants():  # noqa: ANN201
    return jsonify([{"code": r["code"], "login": r["login"], "email": r["email"]}
                    for r in sandbox().store.tenants(reader=True)])


@api.post("/tenants")
def add_tenant():  # noqa: ANN201
    body = _json_body()
    code = str(body.get("code", "")).upper()
    password = body.get("password")
    if not isinstance(password, str) or not password:
        abort(400, "password is required")
    box = sandbox()
    error = box.engine.call(lambda: box.add_tenant(code, password, str(body.get("email", "")),
                                                   str(body.get("login", code))))
    if error:
        abort(400, error)
    return jsonify(code=code, login=str(body.get("login", code)),
                   folders=box.mailboxes_for(code)), 201
