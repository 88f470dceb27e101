"""The OpenAPI document served at /api/openapi.json describes exactly the routes the API serves."""

from __future__ import annotations

import re

from simulator.web.api import create_app
from tests.helpers import Api


def test_document_is_served_and_names_every_route(api: Api, opsim_sandbox):
    doc = api.get("/openapi.json")
    assert doc["openapi"].startswith("3.") and doc["info"]["version"] == opsim_sandbox.version
    documented = {(re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
                  for path, item in doc["paths"].items() for method in item}
    served = {(rule.rule, method) for rule in create_app(opsim_sandbox).url_map.iter_rules()
              if rule.rule.startswith("/api/") for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served


def test_every_operation_has_responses_parameters_and_bodies_described(api: Api):
    doc = api.get("/openapi.json")
    schemas = doc["components"]["schemas"]
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "the admin token, or a tenant's token"}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            assert op["operationId"] and op["description"].startswith("Access:"), where
            assert any(code.startswith("2") for code in op["responses"]), where
            for code, answer in op["responses"].items():
                # JSON everywhere, but the raw bytes of a file (application/octet-stream)
                (media, body), = answer["content"].items()
                assert media == "application/json" or (code == "200" and media == "application/octet-stream"), where
                schema = body["schema"]
                if code >= "400":
                    assert schema == {"$ref": "#/components/schemas/Error"}, where
                for ref in re.findall(r"#/components/schemas/(\w+)", str(schema)):
                    assert ref in schemas, (where, ref)
            for name in re.findall(r"\{(\w+)\}", path):
                assert {"name": name, "in": "path"}.items() <= next(
                    p for p in op["parameters"] if p["name"] == name).items(), where
            if method == "post":
                assert "application/json" in op["requestBody"]["content"], where
                assert {"401", "403", "415", "413", "400"} <= set(op["responses"]), where
            if op.get("security") != [{}]:
                assert "401" in op["responses"] and "403" in op["responses"], where
    listed = [path for path, item in doc["paths"].items() if "Link" in str(item)]
    assert listed == ["/api/addresses", "/api/orders", "/api/journal", "/api/files", "/api/inbound", "/api/mail"]
