"""The file rules every protocol shares (conformance/file_rules.py) judged on PM 2.2 files, the checks a step
finds turned into findings with their id (conformance/verdict.py), and the adapter's contract (CONTRACT-TYPE).

The observations are built by hand here (the checks are pure functions of them); the whole harness judges real
OCs on real sandboxes in tests/test_examiner_self_test.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.verdict import CONTRACT_CHECKS, CheckFailed, finding_of, wrong_types
from simulator.operators.covage.harness import pytest_conformance_clause as covage_clause
from simulator.operators.covage.harness.checks import AnswerFile, Observation, SentFile
from simulator.operators.covage.harness.pm_checks import PACK, check_files, check_out_clean

OC = "TDEMO001"
IN_PM = "IN/COVA/CV/PM"


def cmd_info_pm(ref: str = "R-1") -> bytes:
    return PACK.flow("Cmd_Info_Pm").write([{
        "ReferenceCommandePMInterneOC": ref, "ReferencePM": "PMCV0001", "TypeCommandePM": "UNIT",
        "ChoixTechniqueOC": "P", "DateCommandePM": "20261124", "ReferenceContrat": "", "Commentaire": "ÉCHAFAUDAGE"}])


def sent(name: str, content: bytes, at: str = "2026-11-24T10:00:00", n: int = 1) -> SentFile:
    return SentFile(n, name, IN_PM, at, content)


def observation(*files: SentFile, answers: tuple[AnswerFile, ...] = (), journal: tuple[dict, ...] = (),
                now: str = "2026-11-24T10:00:00") -> Observation:
    return Observation(OC, OC, PACK, now, list(journal), list(files), list(answers))


def name(day: str = "20261124", seq: int = 1, pm: str = "PMCV0001") -> str:
    return PACK.render_filename(PACK.flow("Cmd_Info_Pm"), "COVA", OC, day, seq, pm=pm)


def checks_of(obs: Observation) -> list[str]:
    return [f.check for f in check_files(obs)]


def test_a_well_made_pm_file_passes_every_file_rule() -> None:
    assert checks_of(observation(sent(name(), cmd_info_pm()))) == []


def test_a_pm_file_dated_with_another_day_than_the_virtual_one_is_pm_name_date() -> None:
    # The machine's date (December) while the virtual clock says 24 November.
    assert checks_of(observation(sent(name("20261207"), cmd_info_pm()))) == ["PM-NAME-DATE"]


def test_a_sequence_used_twice_in_a_day_for_one_flow_is_pm_name_seq_whatever_the_pm() -> None:
    obs = observation(sent(name(pm="PMCV0001"), cmd_info_pm("A")), sent(name(pm="PMCV0002"), cmd_info_pm("B"), n=2))
    assert checks_of(obs) == ["PM-NAME-SEQ"]
    assert checks_of(observation(sent(name(seq=1), cmd_info_pm("A")), sent(name(seq=2), cmd_info_pm("B"), n=2))) == []


def test_a_pm_file_in_utf8_is_pm_file_encoding() -> None:
    utf8 = cmd_info_pm().decode("iso-8859-1").encode("utf-8")
    assert checks_of(observation(sent(name(), utf8))) == ["PM-FILE-ENCODING"]


def test_a_pm_file_with_another_separator_is_pm_file_columns() -> None:
    commas = cmd_info_pm().replace(b";", b",")
    assert checks_of(observation(sent(name(), commas))) == ["PM-FILE-COLUMNS"]


def test_a_line_with_a_column_too_many_is_pm_file_columns_and_names_the_line() -> None:
    header, line = cmd_info_pm().split(b"\r\n")[:2]
    findings = check_files(observation(sent(name(), header + b"\r\n" + line + b";EXTRA\r\n")))
    assert [f.check for f in findings] == ["PM-FILE-COLUMNS"]
    assert "line 2: 8 columns where 7 are expected" in findings[0].message, findings[0].message


def test_a_bad_pm_name_stays_pm_file() -> None:
    assert checks_of(observation(sent("CMD_PM.csv", cmd_info_pm()))) == ["PM-FILE"]


def ipe(at: str) -> AnswerFile:
    filename = PACK.render_filename(PACK.flow("IPE"), "COVA", "", at[:10].replace("-", ""), 1)
    return AnswerFile(1, filename, "IPE", "OUT/COVA/CV/PM", at, b"")


def test_an_ipe_never_downloaded_a_day_after_it_came_is_pm_out_clean() -> None:
    came = ipe("2026-11-23T06:00:00")
    assert check_out_clean(observation(answers=(came,), now="2026-11-23T20:00:00"), "COVA") == []
    late = check_out_clean(observation(answers=(came,), now="2026-11-24T07:00:00"), "COVA")
    assert [f.check for f in late] == ["PM-OUT-CLEAN"] and "waits unread" in late[0].message
    # Another network's folder: not one the OC's context names.
    assert check_out_clean(observation(answers=(came,), now="2026-11-24T07:00:00"), "COVB") == []
    downloaded = {"id": 1, "direction": "out", "outcome": "downloaded", "filename": came.filename,
                  "at_virtual": "2026-11-23T07:00:00", "at_real": 0.0}
    kept = check_out_clean(observation(answers=(came,), journal=(downloaded,), now="2026-11-24T07:00:00"), "COVA")
    assert [f.check for f in kept] == ["PM-OUT-CLEAN"] and "left there" in kept[0].message


# ---------------------------------------------------------------------------------------------- step findings
def clause_of(check: str) -> str:
    return covage_clause(check) or "docs/checks.md"


def test_a_check_a_step_finds_is_a_finding_with_its_id() -> None:
    found = finding_of(CheckFailed("PM-STATE", "pm_status says sent"), clause_of)
    assert found is not None and (found.check, found.message) == ("PM-STATE", "pm_status says sent")
    assert found.clause.startswith("PM 2.2")
    older = finding_of(AssertionError("[PM-SENT] order_pm answered {}, no ref\nassert False"), clause_of)
    assert older is not None and (older.check, older.message) == ("PM-SENT", "order_pm answered {}, no ref")
    assert finding_of(AssertionError("the sandbox serves no Protocole PM"), clause_of) is None
    assert finding_of(RuntimeError("[PM-STATE] not an assertion: a crash of the harness"), clause_of) is None


# ---------------------------------------------------------------------------------------------- CONTRACT-TYPE
def test_a_field_of_the_wrong_type_is_named() -> None:
    assert wrong_types("pm_status", {"state": "available", "addresses": 12, "reject_code": None}) == []
    assert wrong_types("pm_status", {"state": "available", "addresses": "12"}) == [
        "addresses = '12' is str, not an integer or null"]
    assert wrong_types("ipe_summary", {"found": 1}) == ["found = 1 is int, not a boolean"]
    assert wrong_types("ipe_summary", {"found": True, "addresses": True}) == [
        "addresses = True is bool, not an integer or null"]
    assert wrong_types("a_verb_of_tomorrow", {"x": object()}) == []


def test_every_contract_check_is_documented() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "checks.md").read_text(encoding="utf-8")
    assert set(re.findall(r"^\| `(CONTRACT-[A-Z-]+)` \|", doc, re.MULTILINE)) == set(CONTRACT_CHECKS)


@pytest.mark.parametrize("field", ["ref", "state", "addresses", "found", "emplacement"])
def test_every_typed_field_is_in_docs_adapters(field: str) -> None:
    doc = (Path(__file__).parent.parent / "docs" / "adapters.md").read_text(encoding="utf-8")
    assert f"`{field}`" in doc
