"""Generated invalid files through the real FTP server (tests/spec_strategies.py): hundreds per run, each line
with one rule of the spec broken. The server stays up, answers every data line with a catalogue code, and the
journal explains each refusal with its line number."""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.operators.covage.harness.client import OcFtpClient
from simulator.specs.codec import load_pack
from tests.helpers import Api

from .spec_strategies import record_with_one_broken_rule

PACK = load_pack("acces-1.2")
ORDERS = PACK.flow("Cmd_Acces")


@pytest.fixture
def oc(opsim_sandbox):
    api = Api(opsim_sandbox.http_url)
    code = "P" + secrets.token_hex(3).upper()
    api.post("/tenants", {"code": code, "password": "pw"})
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, code, "pw", code, today=lambda: date(2026, 11, 24)) as client:
        client.tenant = code  # type: ignore[attr-defined]
        client.api = api  # type: ignore[attr-defined]
        yield client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(record_with_one_broken_rule(ORDERS), min_size=1, max_size=4))
def test_every_generated_invalid_line_is_answered_and_explained(oc, lines):
    records = [record for record, _, _ in lines]
    name = oc.send("Cmd_Acces", records)
    answer = oc.receive("AR_Cmd_Acces")
    assert len(answer.records) == len(records), (name, answer.records)
    for line, (record, column, _) in zip(answer.records, lines, strict=True):
        assert line["ReferenceCommandePriseInterneOC"] == record["ReferenceCommandePriseInterneOC"]
        assert line["EtatArCommandePrise"] == "KO" and line["MotifKoArCommandePrise"] in PACK.rejects, line
        assert column in line["Commentaire"], (column, line["Commentaire"])  # the field at fault is named
    [entry] = [j for j in oc.api.get(f"/journal?tenant={oc.tenant}&limit=20") if j["filename"] == name
               and j["direction"] == "in" and " lines: " in j["outcome"]]  # (a `not upper case` line may join it)
    assert entry["outcome"] == f"{len(records)} lines: 0 OK, {len(records)} KO"
    assert all(f"line {n}: " in entry["detail"] for n in range(2, len(records) + 2)), entry["detail"]
