"""A large inbound file is answered in slices (`slice_lines` of the profile), each its own transaction: what holds
for the whole file still holds across slice borders, the answer is one file written once, the file's CR events
go on the clock with it, and a tenant's files stay in order. Here slices are 5 lines, so small files cross
several borders."""

from __future__ import annotations

import collections

import pytest

from simulator.config import Config
from tests.helpers import Api, cmd_acces, download, upload, wait_for_files

IN, OUT = "IN/COVA/CV", "OUT/COVA/CV"
SLICE = 5


@pytest.fixture
def opsim_config(opsim_config: Config) -> Config:
    opsim_config.operators["covage"] = opsim_config.operators["covage"].with_overrides({"slice_lines": SLICE})
    return opsim_config


def raw(pack, records: list[dict[str, str]]) -> bytes:  # noqa: ANN001 - SpecPack
    names = pack.flow("Cmd_Acces").column_names
    return "".join(";".join(r.get(n, "") for n in names) + "\r\n" for r in [{n: n for n in names}, *records]) \
        .encode("iso-8859-1")


def ar_lines(ftp, pack) -> list[dict[str, str]]:  # noqa: ANN001 - ftplib.FTP, SpecPack
    [name] = wait_for_files(ftp, OUT)
    assert "ARCMD" in name, name
    records = pack.flow("AR_Cmd_Acces").parse(download(ftp, f"{OUT}/{name}")).records
    ftp.delete(f"{OUT}/{name}")
    return [r.values for r in records]


def test_rules_of_the_whole_file_hold_across_slices(opsim_sandbox, demo_ftp, order_file, addresses, api: Api):
    refs = [f"S{i:02d}" for i in range(23)]
    records = [cmd_acces(addresses[i % len(addresses)], ref) for i, ref in enumerate(refs)]
    records[18]["ReferenceCommandePriseInterneOC"] = "S00"  # line 20, fourth slice: the ref of line 2
    records[12]["NomClient"] = "=1+2"  # a formula in the third slice
    records[3]["CommuneImmeuble"] = records[3]["CommuneImmeuble"].lower()  # upper case, first slice
    records[21]["CommuneImmeuble"] = records[21]["CommuneImmeuble"].lower()  # ... and fifth
    name, _ = order_file(records)
    upload(demo_ftp, IN, name, raw(opsim_sandbox.pack, records))  # by hand: the codec would defuse the formula
    opsim_sandbox.engine.idle()

    lines = ar_lines(demo_ftp, opsim_sandbox.pack)  # one AR for the five slices, lines in file order
    assert [line["ReferenceCommandePriseInterneOC"] for line in lines] == \
        [r["ReferenceCommandePriseInterneOC"] for r in records]
    states = {i + 2: (line["EtatArCommandePrise"], line["MotifKoArCommandePrise"]) for i, line in enumerate(lines)}
    assert states.pop(20) == ("KO", "FIMP13")
    assert states.pop(14) == ("KO", opsim_sandbox.pack.validation_codes["formula"])
    assert set(states.values()) == {("OK", "")}
    orders = api.get("/orders?tenant=DEMO&limit=100")
    assert sorted(o["ReferenceCommandePriseInterneOC"] for o in orders) == sorted(set(refs) - {"S18", "S12"})
    assert len({o["ReferencePrestationPrise"] for o in orders}) == 21
    assert len(opsim_sandbox.store.pending_events("DEMO")) == 21  # each order's CR is on the clock

    journal = [j for j in api.get("/journal?limit=50") if j["filename"] == name]
    outcomes = collections.Counter(j["outcome"] for j in journal)
    assert outcomes["23 lines: 21 OK, 2 KO"] == 1, journal
    assert outcomes["not upper case"] == 1, journal  # one finding for the file, naming both lines
    [upper] = [j["detail"] for j in journal if j["outcome"] == "not upper case"]
    assert "line 5 " in upper and "line 23 " in upper
    [summary] = [j["detail"] for j in journal if j["outcome"].startswith("23 lines")]
    assert "line 14: " in summary and "line 20: FIMP13" in summary
    assert not opsim_sandbox.store.query("SELECT * FROM inbox_progress") + \
        opsim_sandbox.store.query("SELECT * FROM inbox_parts") + opsim_sandbox.store.query("SELECT * FROM inbox_events")


def test_a_tenants_next_file_waits_for_its_file_in_slices(opsim_sandbox, demo_ftp, order_file, addresses):
    first = [cmd_acces(addresses[i % len(addresses)], f"F{i:02d}") for i in range(17)]
    upload(demo_ftp, IN, *order_file(first))
    # Its first line reuses the last line of the file before, answered in that file's last slice.
    upload(demo_ftp, IN, *order_file([cmd_acces(addresses[0], "F16"), cmd_acces(addresses[1], "G00")]))
    opsim_sandbox.engine.idle()
    names = wait_for_files(demo_ftp, OUT, 2)
    assert len(names) == 2 and names == sorted(names)  # the second file's AR has the next sequence number
    pack = opsim_sandbox.pack
    first_ar, second_ar = (pack.flow("AR_Cmd_Acces").parse(download(demo_ftp, f"{OUT}/{n}")).records for n in names)
    assert [r["EtatArCommandePrise"] for r in first_ar] == ["OK"] * 17
    assert [(r["ReferenceCommandePriseInterneOC"], r["MotifKoArCommandePrise"]) for r in second_ar] == \
        [("F16", "FIMP13"), ("G00", "")]


def test_an_unreadable_line_far_in_the_file_refuses_it_whole(opsim_sandbox, demo_ftp, order_file, addresses, api):
    records = [cmd_acces(addresses[i % len(addresses)], f"U{i:02d}") for i in range(12)]
    name, content = order_file(records)
    content += b'"' + b"x" * 140_000 + b'"\r\n'  # one field over the csv module's limit, after three slices
    upload(demo_ftp, IN, name, content)
    opsim_sandbox.engine.idle()
    [line] = ar_lines(demo_ftp, opsim_sandbox.pack)
    assert (line["EtatArCommandePrise"], line["MotifKoArCommandePrise"]) == ("KO", "FIMP16")
    assert api.get("/orders?tenant=DEMO") == []
