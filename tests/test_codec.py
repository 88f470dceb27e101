"""The generic codec reads, validates and writes every flow from the spec pack (data, not code)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from simulator.specs.codec import INVALID, MISSING, UnreadableFile, decode, load_pack

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
                               "CR_MES_Ligne", "Annul_Acces", "CR_Annulation_Acces", "Notif_Reprov", "Notif_Racc_Ko"}
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
    if any(values):
        assert parsed.records[0].values == record
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
