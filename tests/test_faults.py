"""Fault rules (simulator/faults.py): set, listed and removed over the admin API (real HTTP), spent one
matching order at a time, kept across a restart; magic values in an order's own free text."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.faults import FaultError, FaultRule, FaultRules, Stages, check_rule, magic_fault
from simulator.operators.covage import on_demand
from simulator.specs.codec import load_pack
from simulator.store import Store
from tests.helpers import Api

PACK = load_pack("acces-1.2")
CATALOGUE = PACK.rejects
STAGES = Stages.of([(PACK.sections, PACK.rejects)])


def test_the_catalogue_is_served_with_the_stage_of_each_code(api: Api):
    listed = api.get("/rejects")
    assert len(listed) == len(CATALOGUE) >= 50
    by_code = {r["code"]: r for r in listed}
    assert by_code["FINT01"]["stage"] == "CR" and by_code["FADR01"]["stage"] == "AR"
    assert by_code["FIMP14"]["stage"] == "ANNUL" and by_code["FADR01"]["label"]


def test_rules_are_set_listed_and_removed_per_tenant(api: Api):
    status, rule = api.call("POST", "/faults?tenant=DEMO", {"code": "FINT04", "count": 2, "ref": "CMD-7"})
    assert status == 201, rule
    assert (rule["action"], rule["stage"], rule["code"], rule["remaining"], rule["fired"]) == (
        "reject", "CR", "FINT04", 2, 0)  # the code's own stage by default
    status, delay = api.call("POST", "/faults?tenant=DEMO", {"action": "delay", "working_days": 3, "count": None})
    assert status == 201 and delay["stage"] == "CR" and delay["remaining"] is None
    assert [r["id"] for r in api.get("/faults?tenant=DEMO")][-2:] == [rule["id"], delay["id"]]
    status, _ = api.call("DELETE", f"/faults/{rule['id']}?tenant=DEMO")
    assert status == 200
    assert rule["id"] not in [r["id"] for r in api.get("/faults?tenant=DEMO")]
    assert api.call("DELETE", f"/faults/{rule['id']}?tenant=DEMO")[0] == 404
    assert api.call("DELETE", "/faults/x1?tenant=DEMO")[0] == 404
    status, removed = api.call("DELETE", "/faults?tenant=DEMO")
    assert status == 200 and removed["removed"] >= 1 and api.get("/faults?tenant=DEMO") == []
    journal = [j["outcome"] for j in api.get("/journal?tenant=DEMO&limit=1000")]
    assert "fault rule set" in journal and "fault rule removed" in journal


@pytest.mark.parametrize(("body", "says"), [
    ({"code": "NOPE01"}, "not in the reject catalogue"),
    ({"code": "FINT04", "stage": "LATER"}, "stage must be one of AR, CR, RACCO, ANNUL"),
    ({"action": "explode"}, "action must be one of reject, delay, reprovision"),
    ({"action": "delay"}, "working_days must be an integer from 1"),
    ({"code": "FINT04", "count": 0}, "count must be an integer from 1"),
    ({"code": "FINT04", "count": True}, "count must be an integer from 1"),
    ({"code": "FINT04", "ref": 7}, "ref must be a string"),
    ({"code": "FINT04", "colour": "red"}, "unknown field 'colour'"),
])
def test_a_bad_rule_is_refused_naming_the_field(api: Api, body: dict, says: str):
    status, answer = api.call("POST", "/faults?tenant=DEMO", body)
    assert status == 400 and says in answer["detail"], answer


def test_a_rule_fires_on_the_next_matching_orders_then_is_spent(tmp_path: Path):
    store = Store(tmp_path / "s.sqlite3")
    FaultRules.create_tables(store)
    rules = FaultRules(store)
    rule, count = check_rule_of({"code": "FINT04", "count": 2, "address": "ab12cd34ef"}, CATALOGUE)
    rules.add("ACME", rule, count)
    assert rules.take("ACME", "CR", "R1", "OTHER") is None  # another address
    assert rules.take("ACME", "AR", "R1", "AB12CD34EF") is None  # another stage
    assert rules.take("OTHER", "CR", "R1", "AB12CD34EF") is None  # another tenant
    fired = [rules.take("ACME", "CR", f"R{n}", "AB12CD34EF") for n in range(3)]
    assert [f.rule.code if f else None for f in fired] == ["FINT04", "FINT04", None]
    assert fired[0].describe() == "fault rule 1: reject at CR: FINT04"
    [listed] = rules.list("ACME", reader=False)
    assert (listed["remaining"], listed["fired"]) == (0, 2)


def test_rules_survive_a_restart_and_unlimited_ones_never_run_out(tmp_path: Path):
    store = Store(tmp_path / "s.sqlite3")
    FaultRules.create_tables(store)
    FaultRules(store).add("ACME", FaultRule("reprovision", "CR", motif="Fibre HS"), None)
    store.close()
    rules = FaultRules(Store(tmp_path / "s.sqlite3"))  # a restart: the rule is still there
    assert all(rules.take("ACME", "CR", f"R{n}").rule.motif == "Fibre HS" for n in range(20))
    assert rules.take("ACME", "CR", "R", actions=("reject",)) is None


def test_magic_values_in_the_order_itself():
    assert magic_fault_of("please OPSIM:FINT04 thanks", CATALOGUE, "CR").rule.code == "FINT04"
    assert magic_fault_of("OPSIM:FINT04", CATALOGUE, "AR") is None  # a production code: CR by default
    assert magic_fault_of("OPSIM:FADR01", CATALOGUE, "AR").rule.code == "FADR01"
    assert magic_fault_of("OPSIM:FINT04@RACCO", CATALOGUE, "RACCO").rule.code == "FINT04"
    assert magic_fault_of("OPSIM:ZZZZ99", CATALOGUE, "CR") is None  # not in the catalogue
    assert magic_fault_of("", CATALOGUE, "CR") is None


def test_check_rule_names_what_is_wrong():
    with pytest.raises(FaultError, match="code 'FOO' is not in the reject catalogue"):
        check_rule_of({"code": "foo"}, CATALOGUE)


def check_rule_of(body, catalogue):  # noqa: ANN001, ANN201 - the pack's catalogue and stages
    return check_rule(body, catalogue, STAGES)


def magic_fault_of(text, catalogue, stage):  # noqa: ANN001, ANN201
    return magic_fault(text, catalogue, STAGES, stage)


def test_the_stages_are_the_packs_data():
    """stages.yaml declares each stage's answer and where a production code fires; the desk reads magic values in
    the columns the pack names."""
    assert list(STAGES.answers) == ["AR", "CR", "RACCO", "ANNUL"]
    assert STAGES.fires_at == {"RACCO": "CR"} and STAGES.rule_stage == "CR"
    assert STAGES.default_for("FINT04", CATALOGUE) == "CR" and STAGES.default_for("FADR01", CATALOGUE) == "AR"
    assert PACK.sections["magic_columns"] == list(on_demand.MAGIC_COLUMNS)
    bare = Stages.of([({}, CATALOGUE)])  # a user's pack without stages.yaml: the stages its codes name
    assert set(bare.answers) == {entry["stage"] for entry in CATALOGUE.values()} and bare.fires_at == {}
