"""The admin API routes the capabilities declare (`capability.Route`): served, checked and documented from the one
declaration, at `/api/operators/<operator>/<path>` for each operator that has the capability.

A route's values (path, query, JSON body) are checked against the declaration's schemas before they reach the
engine: an unknown body field, a missing required value, a wrong type, a value out of bounds or of its `enum`
is a 400 naming it. The action's refusal (`ActionRefused`) is a 409 with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, abort, g, jsonify, request

from .auth import ADMIN, TENANT, access
from .calls import engine_call, sandbox, tenant_arg
from .openapi import BAD, COMMON, MAX_TEXT, TENANT_REQUIRED, WRITE, _error, _json_body, _ok, _operation, _param

if TYPE_CHECKING:
    from ..capability import Route, Schema
    from ..facade import SandboxFacade

_PATH_PARAMETER = re.compile(r"\{(\w+)\}")
#: A path parameter's schema (a name or an id: no '/' by construction).
_PATH_SCHEMA: Mapping[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}


def declared(box: SandboxFacade) -> list[tuple[str, str, Route]]:
    """(operator, capability, route) for every route of every enabled operator's capabilities."""
    return [(key, name, route) for key, operator in box.operators.items()
            for name, capability in operator.capabilities.items() for route in capability.routes]


def blueprint(box: SandboxFacade) -> Blueprint:
    """The capabilities' routes of this sandbox (one blueprint per app: the routes depend on its operators)."""
    routes = Blueprint("capabilities", __name__, url_prefix="/api")
    for operator, capability, route in declared(box):
        rule = f"/operators/{operator}/" + _PATH_PARAMETER.sub(r"<\1>", route.path)
        routes.add_url_rule(rule, endpoint=f"{operator}__{capability}__{route.action}__{route.method.lower()}",
                            view_func=_view(operator, capability, route), methods=[route.method])
    return routes


def _view(operator: str, capability: str, route: Route) -> Callable[..., Response]:
    @access(ADMIN if route.admin else TENANT)
    def view(**path: str) -> Response:
        tenant = tenant_arg()
        args: dict[str, Any] = {}
        for name, value in path.items():
            args[name] = _checked(name, value, _PATH_SCHEMA)
        for name, schema in route.query.items():
            raw = request.args.get(name)
            if raw is not None:
                args[name] = _checked(name, _from_query(name, raw, schema), schema)
        if route.body is not None:
            body = g.get("body")
            if body is None:
                body = {}
            if not isinstance(body, dict):
                abort(400, "a JSON object body is expected")
            unknown = sorted(set(body) - set(route.body))
            if unknown:
                abort(400, f"unknown field {unknown[0][:50]!r} (expected: {', '.join(sorted(route.body))})")
            for name, value in body.items():
                args[name] = _checked(name, value, route.body[name])
        missing = [name for name in route.required if name not in args]
        if missing:
            where = "query parameter" if missing[0] in route.query else "field"
            abort(400, f"the {missing[0]} {where} is required")
        box = sandbox()
        result, error = engine_call(lambda: box.act(operator, capability, route.action, tenant, args))
        if error:
            abort(409, error)
        return jsonify(result)

    view.__name__ = f"{operator}_{capability}_{route.action}"
    return view


def _from_query(name: str, raw: str, schema: Schema) -> Any:
    if schema.get("type") == "integer":
        if not re.fullmatch(r"-?[0-9]{1,18}", raw):
            abort(400, f"{name} must be an integer")
        return int(raw)
    return raw


def _checked(name: str, value: Any, schema: Schema) -> Any:
    """The value if it fits its schema (the subset the routes use: type, length, bounds, enum); a 400 if not."""
    kind = schema.get("type", "string")
    if kind == "string":
        if not isinstance(value, str):
            abort(400, f"{name} must be a string")
        if len(value) < schema.get("minLength", 0):
            abort(400, f"{name} must be a non-empty string")
        if len(value) > schema.get("maxLength", MAX_TEXT):
            abort(400, f"{name} is longer than {schema.get('maxLength', MAX_TEXT)} characters")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            abort(400, f"{name} must be an integer")
        if not schema.get("minimum", value) <= value <= schema.get("maximum", value):
            abort(400, f"{name} must be between {schema.get('minimum')} and {schema.get('maximum')}")
    elif kind == "boolean" and not isinstance(value, bool):
        abort(400, f"{name} must be true or false")
    if "enum" in schema and value not in schema["enum"]:
        abort(400, f"{name} must be one of {', '.join(map(str, schema['enum']))}")
    return value


def paths(routes: Iterable[tuple[str, str, Route]]) -> dict[str, Any]:
    """The OpenAPI operations of the capabilities' routes (`declared`), from the same declarations."""
    documented: dict[str, Any] = {}
    for operator, capability, route in routes:
        path = f"/api/operators/{operator}/{route.path}"
        parameters = [_param(name, "path", f"a value of {name}", dict(_PATH_SCHEMA), True)
                      for name in _PATH_PARAMETER.findall(route.path)]
        parameters.append(TENANT_REQUIRED)
        parameters += [_param(name, "query", schema.get("description", name),
                              {k: v for k, v in schema.items() if k != "description"}, name in route.required)
                       for name, schema in route.query.items()]
        body = None
        if route.body is not None:
            body = _json_body({"type": "object", "additionalProperties": False, "properties": dict(route.body),
                               **({"required": [n for n in route.required if n in route.body]}
                                  if any(n in route.body for n in route.required) else {})},
                              required=any(n in route.body for n in route.required))
        responses = {"200": _ok("done", dict(route.answer)), "400": BAD,
                     "404": _error("no such tenant"), "409": _error(route.refused),
                     **(WRITE if route.method != "GET" else COMMON)}
        who = "admin token" if route.admin else "admin token or the tenant's token"
        documented.setdefault(path, {})[route.method.lower()] = _operation(
            route.summary + f" (operator {operator}, capability {capability})", who, responses, parameters, body)
    return documented
