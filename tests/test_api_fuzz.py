"""Property: whatever a caller sends, the admin API answers in time with JSON, never a 500.

Hypothesis drives every operation of the OpenAPI document served at /api/openapi.json with generated
input, most of it bad: parameters of the wrong type or range (unicode digits, huge numbers, forged
cursors), bodies that are not objects, NaN/Infinity/huge numbers, deep nesting, binary, wrong content
types and tokens. Every answer must come within the timeout, be JSON, be a status the document lists
for that operation, be `{"error", "detail"}` when it is an error, and match the documented schema
when it is a success. Bounded examples keep the run to a few seconds per operation.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.capability import declared_routes
from simulator.clock import MAX_SPEED
from simulator.config import ClockConfig, load_config
from simulator.pytest_plugin import DEFAULT_START
from simulator.sandbox import VERSION, Sandbox
from simulator.web import openapi, routes
from tests.helpers import Api, cmd_acces, ftp_login, upload, wait_for_files

ADMIN_TOKEN = "fuzz-admin"
#: The document of a sandbox of the default configuration: the core's routes and its capabilities' own.
DOC = openapi.document(VERSION, routes.paths(declared_routes(load_config(None).operators)))
OPERATIONS = [(path, method) for path, item in DOC["paths"].items() for method in item]
TIMEOUT = 15  # seconds: an answer slower than this is a hang
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "80"))  # per operation; about 1100 requests in all

FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def make_config(data_dir: Path):  # noqa: ANN201
    config = load_config(None, data_dir=data_dir, host="127.0.0.1", ftp_port=0, http_port=0)
    config.clock = ClockConfig(start=DEFAULT_START, frozen=True)
    config.admin_token = ADMIN_TOKEN
    return config


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox for the whole run (admin token configured), with one order to find and reprovision."""
    sandbox = Sandbox(make_config(tmp_path_factory.mktemp("fuzz"))).start()
    api = Api(sandbox.http_url, ADMIN_TOKEN)
    address = api.get("/addresses?network=COVA&limit=1")[0]
    spec = sandbox.pack.flow("Cmd_Acces")
    ftp = ftp_login(sandbox.ftp_address)
    upload(ftp, "IN/COVA/CV", sandbox.pack.render_filename(spec, "COVA", "DEMO", "20261124", 1),
           spec.write([cmd_acces(address, "FUZZ1", type_racco="OI")]))
    wait_for_files(ftp, "OUT/COVA/CV")
    ftp.close()
    yield sandbox
    sandbox.stop()


# ---------------------------------------------------------------- generated input
EDGE_TEXT = ["", "0", "1", "-1", "2", "1000", "1001", "²", "٣", "１", "𝟙", "9" * 40, "1e308", "NaN", "inf", "-0",
             "1.5", " 1", "true", "null", "[]", "{}", "DEMO", "demo", "ACME", "COVA", "COVB", "FUZZ1", "%", "\x00",
             "A" * 300, "é", "\ud7ff", "../../etc", "'; DROP TABLE orders; --"]
EDGE_NUMBERS = [1e308, -1e308, 1e-308, 5e-324, -0.0, 2**63, -2**63, 2**64, 10**30, MAX_SPEED, MAX_SPEED + 0.5,
                43_920, 43_921, 1300, 1301, 158_112_000, 0.01, 0.009]
text = st.one_of(st.sampled_from(EDGE_TEXT), st.text(max_size=40), st.integers(-2**70, 2**70).map(str),
                 st.floats().map(repr))


def cursors() -> st.SearchStrategy[str]:
    kinds = st.sampled_from(["orders", "journal", "files", "addresses"])
    forged = st.lists(st.one_of(kinds, st.integers(-2**70, 2**70), st.text(max_size=10), st.none(), st.booleans()),
                      max_size=4)
    return st.one_of(text, forged.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode()))


GOOD = {"tenant": ["DEMO", "demo"], "network": ["COVA", "covb"], "ref": ["FUZZ1"]}  # to reach the handlers' depths


def param_value(param: dict[str, Any]) -> st.SearchStrategy[str]:
    schema = param["schema"]
    if param["name"] == "cursor":
        return cursors()
    if param["name"] in GOOD:
        return st.one_of(st.sampled_from(GOOD[param["name"]]), text)
    if schema.get("type") == "integer":
        low = schema.get("minimum", -10)
        valid = st.integers(low, schema.get("maximum", low + 5000)).map(str)
        return st.one_of(valid, text)
    return text


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**80, 2**80), st.floats(), text,
                        st.integers(0, 60_000), st.floats(0, 2 * MAX_SPEED), st.sampled_from(EDGE_NUMBERS))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(text, inner, max_size=4)), max_leaves=12)


def near(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values around what a property's schema allows (inside and just outside its bounds)."""
    low, high = schema.get("minimum", 0), schema.get("maximum", 100)
    if schema["type"] == "integer":
        return st.one_of(st.integers(low - 2, int(high * 1.2) + 2), st.sampled_from(EDGE_NUMBERS))
    if schema["type"] == "number":
        return st.one_of(st.floats(low - 1, high * 1.2), st.integers(math.ceil(low), int(high)),
                         st.sampled_from(EDGE_NUMBERS))
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 20) + 2)


def body_for(op: dict[str, Any]) -> st.SearchStrategy[bytes | None]:
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    properties = DOC["components"]["schemas"].get(name, {}).get("properties", {})
    keys = st.sampled_from(list(properties)) if properties else text
    shaped = st.dictionaries(st.one_of(keys, keys, text), json_values(), max_size=4)
    plausible = st.fixed_dictionaries({}, optional={k: near(v) for k, v in properties.items()})
    encoded = st.one_of(shaped, json_values(), *[plausible] * 6).map(
        lambda v: json.dumps(v, allow_nan=True).encode())
    raw = st.one_of(st.binary(max_size=200), st.sampled_from([
        b"NaN", b"Infinity", b'{"speed": 1e400}', b'{"hours": -Infinity}', b"[" * 5000, b"{" * 3000, b'{"a":' * 40,
        b'{"code": "\\udfff", "password": "x"}', b'{"working_days": ' + b"9" * 5000 + b"}", b"\xef\xbb\xbf{}",
        b'{"hours": 1, "hours": "x"}']))
    return st.one_of(st.none(), encoded, encoded, encoded, raw)


@st.composite
def requests(draw: st.DrawFn, path: str, method: str) -> dict[str, Any]:
    op = DOC["paths"][path][method]
    url_path = path
    query: dict[str, str] = {}
    for param in op.get("parameters", []):
        if param["in"] == "path":
            url_path = url_path.replace(f"{{{param['name']}}}", quote(draw(param_value(param)) or "x", safe=""))
        elif draw(st.booleans()) or (param["required"] and draw(st.integers(0, 3))):
            query[param["name"]] = draw(param_value(param))
    if draw(st.integers(0, 9)) == 0:
        query[draw(text)] = draw(text)  # an unknown parameter
    headers = {"Host": "127.0.0.1", "Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    body = draw(body_for(op)) if method == "post" else None
    if draw(st.integers(0, 3)) == 0:  # a quarter of the requests are wrong before the body: token, type, origin
        token = draw(st.sampled_from(["demo", "wrong", "", None]))
        if token is None:
            del headers["Authorization"]
        else:
            headers["Authorization"] = f"Bearer {token}"
        content_type = draw(st.sampled_from(["application/json; charset=utf-8", "text/plain",
                                             "application/x-www-form-urlencoded", None]))
        if content_type is None:
            del headers["Content-Type"]
        else:
            headers["Content-Type"] = content_type
        if draw(st.booleans()):
            headers["Origin"] = draw(st.sampled_from(["http://evil.example", "null", "http://127.0.0.1"]))
    target = url_path + ("?" + urlencode(query) if query else "")
    return {"method": method.upper(), "target": target, "headers": headers, "body": body}


# ---------------------------------------------------------------- checks
def send(url: str, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes, float]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    started = time.monotonic()
    try:
        conn.request(request["method"], request["target"], body=request["body"], headers=request["headers"])
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read(), time.monotonic() - started
    finally:
        conn.close()


def conforms(value: Any, schema: dict[str, Any]) -> str | None:
    """The subset of JSON Schema the document uses; None if `value` conforms, else where it does not."""
    if "$ref" in schema:
        schema = DOC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    types = schema.get("type")
    if types is not None:
        kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
                 "integer": int, "number": (int, float)}
        allowed = [types] if isinstance(types, str) else types
        if not any(isinstance(value, kinds[t]) and not (t in ("integer", "number") and isinstance(value, bool))
                   for t in allowed):
            return f"{value!r:.80} is not {types}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            return f"missing {missing}"
        for key, sub in schema.get("properties", {}).items():
            if key in value and (problem := conforms(value[key], sub)):
                return f"{key}: {problem}"
    if isinstance(value, list) and "items" in schema:
        for item in value:
            if problem := conforms(item, schema["items"]):
                return f"[]: {problem}"
    return None


def check(op: dict[str, Any], request: dict[str, Any], status: int, headers: dict[str, str], raw: bytes,
          took: float) -> None:
    where = f"{request['method']} {request['target'][:200]} -> {status}: {raw[:300]!r}"
    assert status < 500, where
    assert took < TIMEOUT, where
    documented = op["responses"].get(str(status), {}).get("content", {})
    if status < 400 and "application/octet-stream" in documented:  # a file's raw bytes (GET .../content)
        assert headers.get("Content-Type", "") == "application/octet-stream", where
        return
    assert headers.get("Content-Type", "").startswith("application/json"), where
    answer = json.loads(raw)
    assert str(status) in op["responses"], f"undocumented status: {where}"
    if status >= 400:
        assert isinstance(answer, dict) and set(answer) == {"error", "detail"}, where
        assert isinstance(answer["error"], str) and isinstance(answer["detail"], str) and answer["detail"], where
    else:
        schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
        problem = conforms(answer, schema)
        assert problem is None, f"{where}: {problem}"
    assert all(math.isfinite(v) for v in _numbers(answer)), where


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


# ---------------------------------------------------------------- the properties
def test_served_document_is_the_one_fuzzed(box: Sandbox):
    assert Api(box.http_url).get("/openapi.json") == json.loads(json.dumps(DOC))


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_every_operation_survives_generated_input(box: Sandbox, path: str, method: str):
    op = DOC["paths"][path][method]

    @FUZZ
    @given(request=requests(path, method))
    def run(request: dict[str, Any]) -> None:
        check(op, request, *send(box.http_url, request))

    run()
    assert Api(box.http_url, ADMIN_TOKEN).get("/health")["status"] == "ok"  # still serving
