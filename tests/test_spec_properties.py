"""Properties of the codec on files generated from the spec pack itself (tests/spec_strategies.py): a valid
record of any inbound flow survives write then parse unchanged with no error; a record with exactly one rule
broken gets exactly that column's error, of the right kind, and the catalogue code the pack maps it to."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.specs.codec import load_pack

from .spec_strategies import record_with_one_broken_rule, valid_record

PACK = load_pack("acces-1.2")
INBOUND = [f for f in PACK.flows.values() if f.direction == "OC->OI"]


@pytest.mark.parametrize("flow", INBOUND, ids=[f.name for f in INBOUND])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_valid_file_round_trips_with_no_error(flow, data):
    records = data.draw(st.lists(valid_record(flow), min_size=1, max_size=5))
    parsed = flow.parse(flow.write(records))
    assert [dict(r.values) for r in parsed.records] == records
    assert all(r.errors == [] for r in parsed.records), [r.errors for r in parsed.records]


@pytest.mark.parametrize("flow", INBOUND, ids=[f.name for f in INBOUND])
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_one_broken_rule_is_one_error_of_that_column_with_its_code(flow, data):
    record, column, kind = data.draw(record_with_one_broken_rule(flow))
    [parsed] = flow.parse(flow.write([record])).records
    assert [(e.column, e.kind) for e in parsed.errors] == [(column, kind)], (record[column], parsed.errors)
    assert PACK.code_for(parsed.errors) in PACK.rejects
