"""The generic codec reads, validates and writes every flow from the spec pack (data, not code)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from simulator.specs.codec import FORMULA, INVALID, MISSING, BadFileName, UnreadableFile, decode, load_pack

PACK = load_pack("acces-1.2")
CMD = PACK.flow("Cmd_Acces")


def valid_cmd(**overrides: str) -> dict[str, str]:
    record = {c.name: "" for c in CMD.columns}
    record.update(ReferenceCommandePriseInterneOC="REF1", CommuneImmeuble="BEAUVAIS", CodePostalImmeuble="60000",
                  CodeInseeImmeuble="60057", TypeRacco="STOC", NomClient="DUPONT", ContactClient1="0601020304",
                  ReferencePm="PMCV0001", PriseExistante="N", TypeCommandeDemande="AUTO",
                  DateCommandePrise="20261124")
    record.update(overrides)
    return record


def test_pack_has_every_access_flow_of_the_spec():
    assert set(PACK.flows) == {"Cmd_Acces", "AR_Cmd_Acces", "CR_Cmd_Acces", "Cmd_STOC", "CR_STOC", "CR_MAD_Ligne",
                               "CR_MES_Ligne", "Annul_Acces", "CR_Annulation_Acces", "Notif_Reprov", "Notif_Racc_Ko",
                               "Notif_Ecrasement"}
    assert len(CMD.columns) == 35
    assert CMD.column_names[:3] == ["ReferenceCommandePriseInterneOC", "CommuneImmeuble", "CodePostalImmeuble"]
    cr = PACK.flow("CR_Cmd_Acces").column_names
    assert cr[-2:] == ["Commentaire", "RaccordementLong"] and "ConnecteurPriseCouleur4" in cr


def test_round_trip_writes_iso_8859_1_with_crlf_and_header():
    content = CMD.write([valid_cmd(CommuneImmeuble="ÉVREUX")])
    assert content.startswith(b"ReferenceCommandePriseInterneOC;CommuneImmeuble;")
    assert b"\r\n" in content and "ÉVREUX".encode("iso-8859-1") in content
    parsed = CMD.parse(content)
    assert parsed.warnings == []
    assert [r.values["CommuneImmeuble"] for r in parsed.records] == ["ÉVREUX"]
    assert parsed.records[0].errors == []


def test_utf8_is_accepted_with_a_warning():
    content = CMD.write([valid_cmd()]).decode("iso-8859-1").replace("BEAUVAIS", "ÉVREUX").encode("utf-8")
    parsed = CMD.parse(content)
    assert parsed.records[0]["CommuneImmeuble"] == "ÉVREUX"
    assert parsed.warnings and "UTF-8" in parsed.warnings[0]
    bom = b"\xef\xbb\xbf" + CMD.write([valid_cmd()])
    assert "BOM" in CMD.parse(bom).warnings[0]


def test_missing_and_invalid_values_are_field_errors():
    records = [valid_cmd(NomClient=""), valid_cmd(TypeRacco="XX"), valid_cmd(DateCommandePrise="24/11/2026"),
               valid_cmd(ComplementNumeroVoieImmeuble="BIS")]
    parsed = CMD.parse(CMD.write(records))
    kinds = [[(e.column, e.kind) for e in r.errors] for r in parsed.records]
    assert kinds == [[("NomClient", MISSING)], [("TypeRacco", INVALID)], [("DateCommandePrise", INVALID)],
                     [("ComplementNumeroVoieImmeuble", INVALID)]]
    assert PACK.code_for(parsed.records[0].errors) == "FIMP15"
    assert PACK.code_for(parsed.records[1].errors) == "FIMP16"


def test_extra_columns_are_an_error_but_a_trailing_separator_is_not():
    base = CMD.write([valid_cmd()]).decode("iso-8859-1").rstrip("\r\n")
    ok = CMD.parse((base + ";\r\n").encode("iso-8859-1"))
    assert ok.records[0].errors == []
    bad = CMD.parse((base + ";SURPLUS\r\n").encode("iso-8859-1"))
    assert bad.records[0].errors[0].column == "*"


@pytest.mark.parametrize("content, reason", [
    (b"", "empty"),
    (b"Foo;Bar\r\n1;2\r\n", "header has 2 columns"),
    ("x".encode("utf-16"), "UTF-16"),
    ((";".join(CMD.column_names) + "\r\n" + "X" * 200_000 + "\r\n").encode(), "not a readable CSV"),
])
def test_unreadable_files_say_why(content: bytes, reason: str):
    with pytest.raises(UnreadableFile, match=reason):
        CMD.parse(content)


def test_header_accepts_the_accented_info_columns_of_real_files():
    header = ";".join(CMD.column_names).replace("InfoCmdAcces1", "Info Cmd Accès 1")
    content = (header + "\r\n" + ";".join(valid_cmd().values()) + "\r\n").encode("cp1252")
    assert CMD.parse(content).records[0].errors == []


def test_file_names_follow_the_seed_pattern():
    name = PACK.render_filename(PACK.flow("CR_Cmd_Acces"), "COVA", "DEMO", "20261124", 7)
    assert name == "COVA_DEMO_CrCMD_ACCES_V12_20261124_000007.csv"
    parsed = PACK.parse_filename("COVA_DEMO_CMD_ACCES_V12_20261124_12.csv")
    assert (parsed.flow.name, parsed.oi, parsed.oc, parsed.seq) == ("Cmd_Acces", "COVA", "DEMO", "12")
    assert PACK.parse_filename("COVA_DEMO_CR_ANNUL_ACCES_V12_20261124_1.csv").flow.name == "CR_Annulation_Acces"
    assert PACK.parse_filename("COVA_DEMO_CMD_ACCES_V13_20261124_1.csv") is None
    assert PACK.parse_filename("../COVA_DEMO_CMD_ACCES_V12_20261124_1.csv") is None


def test_rejects_catalogue_is_complete():
    codes = set(PACK.rejects)
    expected = ({f"FADR0{i}" for i in range(1, 5)} | {f"FIMP{i:02d}" for i in range(1, 20)}
                | {f"FINT{i:02d}" for i in range(1, 14)} | {f"FCLI0{i}" for i in range(1, 8)}
                | {f"FRDV0{i}" for i in range(1, 7)} | {"FAUT01"})
    assert codes == expected
    assert all(PACK.reject_label(c) for c in codes)


def test_a_user_pack_replaces_the_default(tmp_path: Path):
    for f in (Path(__file__).parents[1] / "simulator/specs/acces-1.2").glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        (tmp_path / f.name).write_text(text.replace("version: V12", "version: V13"), encoding="utf-8")
    pack = load_pack(tmp_path)
    assert pack.parse_filename("COVA_DEMO_CMD_ACCES_V13_20261124_1.csv") is not None
    with pytest.raises(FileNotFoundError):
        load_pack(tmp_path / "nowhere")


LATIN1_TEXT = st.characters(codec="iso-8859-1", exclude_characters=";", exclude_categories=("Cc",))


@given(st.lists(st.text(alphabet=LATIN1_TEXT, max_size=20).map(str.strip), min_size=35, max_size=35))
def test_any_latin1_line_round_trips(values: list[str]):
    # Latin-1 bytes that also happen to form valid UTF-8 (e.g. "Â¡") are read as UTF-8, as the spec
    # accepts UTF-8 on input: such text is ambiguous by nature, so the property holds for the rest.
    encoded = "".join(values).encode("latin-1")
    assume(encoded.isascii() or not _valid_utf8(encoded))
    record = dict(zip(CMD.column_names, values, strict=True))
    parsed = CMD.parse(CMD.write([record]))
    if any(values):  # what a spreadsheet would run comes back defused (see the formula tests)
        assert parsed.records[0].values == {k: PACK.formula.defuse(v) for k, v in record.items()}
    else:
        assert parsed.records == []  # blank lines are not records


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(st.binary(max_size=300))
def test_decode_never_crashes_on_bytes(data: bytes):
    try:
        text, _ = decode(data, ("cp1252", "latin-1"))
    except UnreadableFile:
        return
    assert isinstance(text, str)


# ---------------------------------------------------------------- files without data lines
@pytest.mark.parametrize("after_header", ["", "\r\n", "\r\n\r\n  \r\n", ";;;;\r\n;\r\n"])
def test_a_header_without_data_lines_parses_to_no_record(after_header: str):
    content = (";".join(CMD.column_names) + "\r\n" + after_header).encode("ascii")
    assert CMD.parse(content).records == []


def test_flows_say_whether_the_protocol_answers_them():
    answers = {name: flow.answer_flow for name, flow in PACK.flows.items() if flow.direction == "OC->OI"}
    # CR_STOC and CR_MES have no answer flow in Accès 1.2 (spec: decisions after the first capability).
    assert answers == {"Cmd_Acces": "AR_Cmd_Acces", "Annul_Acces": "CR_Annulation_Acces",
                       "CR_STOC": None, "CR_MES_Ligne": None}


# ---------------------------------------------------------------- dates
@pytest.mark.parametrize("date", ["99999999", "20261399", "20261100", "20260230", "20250229", "00000101"])
def test_file_names_with_an_impossible_date_are_refused_naming_it(date: str):
    name = f"COVA_DEMO_ANNUL_ACCES_V12_{date}_1.csv"
    assert PACK.parse_filename(name) is None
    with pytest.raises(BadFileName, match=f"date '{date}' is not a valid date") as refused:
        PACK.check_filename(name)
    assert refused.value.flow is PACK.flow("Annul_Acces")  # so it is answered with that flow's answer


def test_file_names_with_real_dates_are_accepted():
    for date in ("20261124", "20240229", "20261231"):
        assert PACK.check_filename(f"COVA_DEMO_CMD_ACCES_V12_{date}_1.csv").date == date
    with pytest.raises(BadFileName, match="does not follow") as refused:
        PACK.check_filename("COVA_DEMO_NOPE_V12_20261124_1.csv")
    assert refused.value.flow is None


@pytest.mark.parametrize("column, value", [("DateCommandePrise", "20261399"), ("DateInstall", "20260231"),
                                           ("DateCommandePrise", "99999999")])
def test_date_columns_must_be_calendar_days(column: str, value: str):
    [record] = CMD.parse(CMD.write([valid_cmd(**{column: value})])).records
    assert [(e.column, e.kind) for e in record.errors] == [(column, INVALID)]
    assert "AAAAMMJJ" in str(record.errors[0])
    datetime_flow = PACK.flow("CR_STOC")
    values = {c: "X" for c in datetime_flow.column_names} | {"CrRaccordementPrise": "OK",
                                                             "PrisePosee": "OUI",
                                                             "NotificationReprovisioningHL": "NON"}
    assert datetime_flow.validate(values | {"DateRaccordementPrise": "20261124103000"}) == []
    [error] = datetime_flow.validate(values | {"DateRaccordementPrise": "20261124256000"})
    assert error.column == "DateRaccordementPrise"


# ---------------------------------------------------------------- formulas (CSV injection)
@pytest.mark.parametrize("column, value", [
    ("ReferenceCommandePriseInterneOC", "=1+1"),
    ("NomClient", "@SUM(1)"),
    ("ContactClient1", "+cmd|' /C calc'!A0"),
    ("CommentaireCmdAcces", "-2+3"),
    ("PrenomClient", "=HYPERLINK(\"http://x.test\",\"clic\")"),
    ("InfoCmdAcces1", "-A1"),
])
def test_values_a_spreadsheet_would_run_are_refused_naming_the_column(column: str, value: str):
    raw = ";".join(CMD.column_names) + "\r\n" + ";".join(valid_cmd(**{column: value}).values()) + "\r\n"
    [record] = CMD.parse(raw.encode("latin-1")).records
    assert [(e.column, e.kind) for e in record.errors] == [(column, FORMULA)]
    assert str(record.errors[0]) == f"{column}: value would run as a formula in a spreadsheet"
    assert PACK.code_for(record.errors) == "FIMP16"


@pytest.mark.parametrize("value", ["+\u07c4", "-\u0663"], ids=["nko-four", "arabic-indic-three"])
def test_signs_before_digits_of_other_scripts_are_formulas(value: str):
    # Digits to Unicode, not to a spreadsheet; "-\u0663" is what cp1252 bytes 2D D9 A3 become read as UTF-8.
    raw = ";".join(CMD.column_names) + "\r\n" + ";".join(valid_cmd(NomClient=value).values()) + "\r\n"
    [record] = CMD.parse(raw.encode("utf-8")).records
    assert [(e.column, e.kind) for e in record.errors] == [("NomClient", FORMULA)]


def test_a_formula_decides_the_code_even_with_a_missing_value():
    errors = CMD.validate(valid_cmd(NomClient="", ReferenceCommandePriseInterneOC="=1"))
    assert {(e.column, e.kind) for e in errors} == {("ReferenceCommandePriseInterneOC", FORMULA),
                                                    ("NomClient", MISSING)}
    assert PACK.code_for(errors) == PACK.validation_codes["formula"] == "FIMP16"


@pytest.mark.parametrize("value", ["+33612345678", "-12", "-0,5", "+1.25", "-18.5 dBm", "-", "+", "A-1",
                                   "JEAN-PIERRE", "X=Y", "O'NEIL"])
def test_numbers_phone_numbers_and_plain_text_are_data(value: str):
    assert CMD.validate(valid_cmd(ContactClient1=value)) == []
    assert f";{value};".encode("latin-1") in CMD.write([valid_cmd(ContactClient1=value)])


def test_the_writer_defuses_formulas_with_a_single_quote():
    content = CMD.write([valid_cmd(ReferenceCommandePriseInterneOC="=1+1", NomClient="@SUM(1)",
                                   PrenomClient="\t=X", CommentaireCmdAcces="  =1")])
    [_, line] = content.decode("latin-1").split("\r\n")[:2]
    cells = line.split(";")
    assert cells[0] == "'=1+1" and cells[CMD.column_names.index("NomClient")] == "'@SUM(1)"
    assert cells[CMD.column_names.index("PrenomClient")] == "'\t=X"
    assert cells[CMD.column_names.index("CommentaireCmdAcces")] == "'  =1"
    # What opsim writes, it reads back without a formula error (the quote is data), and never twice.
    [record] = CMD.parse(content).records
    assert record.errors == [] and record["ReferenceCommandePriseInterneOC"] == "'=1+1"
    assert CMD.write([record.values]) == content


def test_a_pack_without_the_formula_section_still_guards(tmp_path: Path):
    for f in (Path(__file__).parents[1] / "simulator/specs/acces-1.2").glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        if f.name == "pack.yaml":
            text = text[:text.index("  # A value a spreadsheet")]  # a pack written before the rule
            assert "formula" not in text
        (tmp_path / f.name).write_text(text, encoding="utf-8")
    pack = load_pack(tmp_path)
    flow = pack.flow("Cmd_Acces")
    errors = flow.validate(valid_cmd(NomClient="@SUM(1)"))
    assert [e.kind for e in errors] == [FORMULA] and pack.code_for(errors) == "FIMP16"
    assert b";'@SUM(1);" in flow.write([valid_cmd(NomClient="@SUM(1)")])


def test_a_pack_sets_its_own_triggers(tmp_path: Path):
    for f in (Path(__file__).parents[1] / "simulator/specs/acces-1.2").glob("*.yaml"):
        text = f.read_text(encoding="utf-8").replace('triggers: ["=", "@",', 'triggers: ["=", "@", "!",')
        (tmp_path / f.name).write_text(text, encoding="utf-8")
    flow = load_pack(tmp_path).flow("Cmd_Acces")
    assert [e.column for e in flow.validate(valid_cmd(NomClient="!X"))] == ["NomClient"]
    assert CMD.validate(valid_cmd(NomClient="!X")) == []  # the default pack has no such trigger


#: The OWASP rule, written independently of the codec: what no written cell may start with.
RUNS = re.compile(r"^ *([=@\t\r]|[+-](?!\d+(?:[.,]\d+)?(?: ?[A-Za-z]+)?$).)", re.DOTALL)
CELL = st.tuples(st.sampled_from(["", "=", "@", "+", "-", "\t", " =", "  @", "+3", "-1"]),
                 st.text(alphabet=st.characters(codec="iso-8859-1"), max_size=12)).map("".join)


@given(st.lists(CELL, min_size=35, max_size=35))
def test_no_written_cell_ever_starts_a_formula(values: list[str]):
    record = dict(zip(CMD.column_names, values, strict=True))
    content = CMD.write([record])
    [header, line] = list(csv.reader(io.StringIO(content.decode("iso-8859-1"), newline=""), delimiter=";"))
    assert header == CMD.column_names
    assert [cell for cell in line if RUNS.match(cell)] == []
    for written, value in zip(line, values, strict=True):  # a cell is only prefixed, and only if it would run
        cleaned = value.replace("\r", " ").replace("\n", " ").replace(";", ",")
        assert written == cleaned or (written == "'" + cleaned and RUNS.match(cleaned))


def test_a_pack_with_a_misspelt_formula_key_says_so(tmp_path: Path):
    for f in (Path(__file__).parents[1] / "simulator/specs/acces-1.2").glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text(encoding="utf-8").replace("  escape:", "  escpae:"),
                                       encoding="utf-8")
    with pytest.raises(ValueError, match="formula has unknown keys escpae"):
        load_pack(tmp_path)


_CELLS = st.sampled_from(["", " ", "60000", "6000", "60057", "2A004", "20261124", "20261399", "20261124103000",
                          "STOC", "OI", "AUTO", "N", "O", "x" * 300, "=1+1", "+33 6", "-12", "-x", "@SUM", " =A1",
                          "a\nb", "\n=1", "É", "PMCV0001", "REF1"])


@given(data=st.data())
def test_rows_checked_column_by_column_get_the_errors_of_rows_checked_one_by_one(data):
    flow = data.draw(st.sampled_from(sorted(PACK.flows.values(), key=lambda f: f.name)))
    width = len(flow.columns)
    valid = [v for k, v in valid_cmd().items()] if flow is CMD else None
    rows = []
    for _ in range(data.draw(st.integers(1, 6))):
        if valid is not None and data.draw(st.booleans()):  # mostly right rows, sometimes one cell off
            row = list(valid)
            if data.draw(st.booleans()):
                row[data.draw(st.integers(0, width - 1))] = data.draw(_CELLS)
        else:
            row = data.draw(st.lists(_CELLS, min_size=max(0, width - 2), max_size=width + 2))
        rows.append(row)
    together = flow.records_of(rows, 2)
    one_by_one = [flow.record(row, n) for n, row in enumerate(rows, 2)]
    assert [(r.values, r.line, r.errors) for r in together] == [(r.values, r.line, r.errors) for r in one_by_one]
