"""Golden sample files (fixtures/acces-1.2): what opsim emits today is what was reviewed and committed."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pytest

from simulator.operators.covage.harness.client import OcFtpClient
from simulator.specs.codec import load_pack

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "acces-1.2"
PACK = load_pack("acces-1.2")
spec = importlib.util.spec_from_file_location("regenerate", FIXTURES.parent / "regenerate.py")
regenerate = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(regenerate)  # type: ignore[union-attr]

VALID = sorted((FIXTURES / "valid").glob("*.csv"))


def test_every_access_flow_has_a_valid_sample():
    flows = {PACK.parse_filename(p.name).flow.name for p in VALID}  # type: ignore[union-attr]
    assert flows == set(PACK.flows)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_samples_parse_cleanly_and_round_trip(path: Path):
    name = PACK.parse_filename(path.name)
    assert name is not None
    content = path.read_bytes()
    parsed = name.flow.parse(content)
    assert parsed.records and all(r.errors == [] for r in parsed.records)
    assert name.flow.write([r.values for r in parsed.records]) == content


def test_a_fresh_run_emits_exactly_the_golden_files(tmp_path: Path):
    regenerate.main(tmp_path)
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.csv")}
    golden = {p.relative_to(FIXTURES): p.read_bytes() for p in FIXTURES.rglob("*.csv")}
    assert sorted(fresh) == sorted(golden)
    changed = [str(p) for p in golden if fresh[p] != golden[p]]
    assert changed == [], "run `python fixtures/regenerate.py` and review the diff if the change is intended"


@pytest.mark.parametrize("case, flow, code", [(c, f, k) for c, (f, k) in regenerate.INVALID.items()])
def test_invalid_samples_get_their_reject_code(opsim_sandbox, case: str, flow: str, code: str):
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=lambda: date(2026, 11, 24)) as oc:
        oc.send_raw(oc.next_filename(flow), (FIXTURES / "invalid" / f"{case}.csv").read_bytes())
        reply = PACK.flow(flow).reply
        [line] = oc.receive(reply["flow"]).records
    assert (line[reply["state"]], line[reply["motif"]]) == ("KO", code)
