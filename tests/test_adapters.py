"""The adapter kinds: what an OC's own code answers, and how its failures are reported (never a crash)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from conformance.adapters import (
    AdapterFailed,
    AdapterSpecError,
    CommandAdapter,
    Context,
    FtpAccount,
    PythonAdapter,
    VerbNotImplemented,
    adapter_factory,
)


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return Context("ACME", "ACME", "covage", "COVA", "CV", FtpAccount("127.0.0.1", 2121, "ACME", "pw"),
                   "acces-1.2", "2026-11-24", "2026-11-24T10:00:00", str(tmp_path))


class TinyOc:
    def __init__(self, context: Context):
        self.context = context
        self.orders: dict[str, str] = {}

    def order_access(self, args: dict) -> dict:
        ref = f"R{len(self.orders) + 1}"
        self.orders[ref] = args["mode"]
        return {"ref": ref}

    def order_status(self, args: dict) -> dict:
        return {"state": "sent", "mode": self.orders[args["ref"]], "tenant": self.context.tenant,
                "today": self.context.today}

    def sync(self, args: dict) -> None:
        raise RuntimeError("FTP down")

    def cancel_access(self, args: dict) -> list:
        return []


def test_a_python_adapter_keeps_one_instance_per_scenario(ctx: Context):
    oc = PythonAdapter(TinyOc)
    assert oc.call("order_access", {"mode": "STOC"}, ctx) == {"ref": "R1"}
    later = dataclasses.replace(ctx, today="2026-11-25", now="2026-11-25T10:00:00")
    assert oc.call("order_status", {"ref": "R1"}, later) == {"state": "sent", "mode": "STOC", "tenant": "ACME",
                                                             "today": "2026-11-25"}  # the call's context
    with pytest.raises(VerbNotImplemented):
        oc.call("complete_stoc", {"ref": "R1"}, ctx)
    with pytest.raises(AdapterFailed, match="RuntimeError: FTP down"):
        oc.call("sync", {}, ctx)
    with pytest.raises(AdapterFailed, match="returned list"):
        oc.call("cancel_access", {"ref": "R1"}, ctx)


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "oc.py"
    path.write_text("import json, sys\nverb = sys.argv[1]\nrequest = json.load(sys.stdin)\n" + body, encoding="utf-8")
    return f"{sys.executable} {path}"


def test_a_command_adapter_gets_context_and_args_and_answers_json(ctx: Context, tmp_path: Path):
    oc = CommandAdapter(script(tmp_path, 'print(json.dumps({"verb": verb, "tenant": request["context"]["tenant"], '
                                         '"ftp": request["context"]["ftp"]["port"], "args": request["args"]}))'))
    assert oc.call("order_status", {"ref": "R1"}, ctx) == {"verb": "order_status", "tenant": "ACME", "ftp": 2121,
                                                           "args": {"ref": "R1"}}


@pytest.mark.parametrize("body, error", [
    ("sys.exit(3)", VerbNotImplemented),
    ("sys.stderr.write('no route to OSS'); sys.exit(1)", AdapterFailed),
    ("print('not json')", AdapterFailed),
    ("print('[1, 2]')", AdapterFailed),
])
def test_command_adapter_outcomes(ctx: Context, tmp_path: Path, body: str, error: type):
    with pytest.raises(error) as raised:
        CommandAdapter(script(tmp_path, body)).call("sync", {}, ctx)
    if "no route" in body:
        assert raised.value.output == "no route to OSS"  # stderr goes in the report


def test_a_command_that_hangs_is_stopped(ctx: Context, tmp_path: Path):
    with pytest.raises(AdapterFailed, match="no answer within 0.5 s"):
        CommandAdapter(script(tmp_path, "import time; time.sleep(5)"), timeout=0.5).call("sync", {}, ctx)


@pytest.mark.parametrize("spec, message", [
    ("bogus", "expected reference, python:<module>:<Class> or command:<command line>"),
    ("python:nowhere", "expected python:<module>:<Class>"),
    ("python:no_such_module_here:Oc", "No module named"),
    ("command:", "the command line is missing"),
    ("command:/no/such/oc.sh", "does not exist"),
])
def test_bad_adapter_specs_say_why(spec: str, message: str):
    with pytest.raises(AdapterSpecError, match=message):
        adapter_factory(spec)


def test_context_is_plain_json(ctx: Context):
    data = json.loads(json.dumps(ctx.as_json()))
    assert data["ftp"] == {"host": "127.0.0.1", "port": 2121, "user": "ACME", "password": "pw"}
    assert data["today"] == "2026-11-24" and data["state_dir"] == ctx.state_dir
