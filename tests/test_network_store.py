"""The reference network in SQLite: generated once per data dir, deterministic, unique identifiers,
lookups answered from the database (simulator.refdata)."""

from __future__ import annotations

import csv
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from simulator.refdata import ReferenceNetwork, ensure_network, generate_network, parse_departments
from simulator.refdata import generator as gen
from simulator.refdata.model import CODE_SPACE, Codes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def big() -> ReferenceNetwork:
    return generate_network("COVA", "CV", seed=5, size=3000)


def _fresh(folder: Path, size: int = 400, seed: int = 3, network: str = "COVA") -> ReferenceNetwork:
    return ensure_network(folder, network, "CV", seed, size, reuse=False)  # drawn, not copied


# -- the communes fixture ----------------------------------------------------------------------------------


def test_communes_fixture_covers_france_and_states_its_source() -> None:
    with (ROOT / "simulator/refdata/communes.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert len(rows) > 34_000
    assert set(rows[0]) == {"insee", "postcode", "commune", "departement", "population"}
    assert len({r["insee"] for r in rows}) == len(rows)
    assert all(re.fullmatch(r"\d{5}", r["postcode"]) for r in rows)
    departments = {r["departement"] for r in rows}
    assert {"01", "2A", "2B", "60", "75", "971", "974"} <= departments
    readme = (ROOT / "fixtures/refdata/README.md").read_text(encoding="utf-8")
    for fact in ("@etalab/decoupage-administratif", "6.0.0", "MIT", "Licence Ouverte", "extract_communes.py"):
        assert fact in readme
    script = (ROOT / "fixtures/refdata/extract_communes.py").read_text(encoding="utf-8")
    assert 'VERSION = "6.0.0"' in script


def test_extract_script_keeps_current_communes_only() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("extract", ROOT / "fixtures/refdata/extract_communes.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.rows([
        {"code": "60057", "nom": "Beauvais", "type": "commune-actuelle", "departement": "60",
         "codesPostaux": ["60155", "60000"], "population": 56000},
        {"code": "60001", "nom": "Ancienne", "type": "commune-deleguee", "departement": "60",
         "codesPostaux": ["60100"]},
        {"code": "75101", "nom": "Paris 1er", "type": "arrondissement-municipal", "departement": "75",
         "codesPostaux": ["75001"]},
    ])
    assert rows == [("60057", "60000", "Beauvais", "60", "56000")]


@pytest.mark.parametrize(("setting", "expected"), [
    (None, ("02", "60", "80")), ("", ("02", "60", "80")), ("60", ("60",)), ("80, 2a;1", ("01", "2A", "80")),
    (["974", "60"], ("60", "974")),
])
def test_departments_setting(setting, expected) -> None:
    assert parse_departments(setting) == expected


def test_network_is_drawn_in_the_chosen_departments() -> None:
    corsica = generate_network("COVA", "CV", seed=1, size=500, departments=("2A", "2B"))
    insees = {a.insee for a in corsica.addresses}
    assert insees and all(i.startswith(("2A", "2B")) for i in insees)
    with pytest.raises(ValueError, match="no commune"):
        generate_network("COVA", "CV", seed=1, size=10, departments=("99",))


def test_big_network_spreads_over_many_communes(big: ReferenceNetwork) -> None:
    per_pm = Counter(a.pm for a in big.addresses)
    assert len(per_pm) >= 3000 // 60
    assert len({a.insee for a in big.addresses}) >= len(per_pm) // gen.PMS_PER_COMMUNE


# -- determinism -------------------------------------------------------------------------------------------


def test_same_seed_same_network_in_memory_and_on_disk(tmp_path: Path) -> None:
    memory = generate_network("COVA", "CV", seed=3, size=400)
    disk = _fresh(tmp_path / "a")
    again = _fresh(tmp_path / "b")
    assert list(disk.ipe_rows()) == list(again.ipe_rows()) == list(memory.ipe_rows())
    assert disk.addresses == memory.addresses  # lines and routes included
    assert disk.pbos == memory.pbos and disk.pms == memory.pms
    assert disk.nro_links() == memory.nro_links()
    assert list(_fresh(tmp_path / "c", seed=4).ipe_rows()) != list(disk.ipe_rows())


def test_ipe_rows_match_ipe_record(big: ReferenceNetwork) -> None:
    rows = list(big.ipe_rows())
    assert len(rows) == 3000
    for address, row in zip(big.iter_addresses(), rows, strict=True):
        assert tuple(big.ipe_record(address).values()) == row


# -- uniqueness --------------------------------------------------------------------------------------------


def test_identifiers_are_unique(big: ReferenceNetwork) -> None:
    addresses = big.addresses
    ids = [a.identifiant_immeuble for a in addresses]
    assert len(set(ids)) == len(ids)
    # Several buildings may share a street address, never a street's code; the two kinds never meet.
    hexacles = {a.hexacle for a in addresses}
    streets = {a.hexacle_voie for a in addresses}
    assert not hexacles & streets
    assert all(re.fullmatch(r"CV[A-Z0-9]{8}", h) for h in hexacles | streets)
    by_hexacle = {}
    for a in addresses:
        assert by_hexacle.setdefault(a.hexacle, (a.insee, a.rivoli, a.numero, a.complement)) == (
            a.insee, a.rivoli, a.numero, a.complement)
    lines = [line.reference_prise for a in addresses for line in a.lines]
    assert len(lines) == big.total_lines and len(set(lines)) == len(lines)
    pbos = [p.reference for p in big.pbos]
    assert len(set(pbos)) == len(pbos)


def test_codes_are_bijections() -> None:
    codes = Codes(hex_mul=7 * 11 * 13 * 17 + 36 * 5, hex_add=123, line_mul=5 ** 9, line_add=CODE_SPACE - 1,
                  occupied_salt=99)
    refs = [codes.line_reference("CV", n) for n in range(20_000)]
    assert len(set(refs)) == len(refs)
    assert [codes.line_number(r[3:].replace("-", "")) for r in refs[:500]] == list(range(500))
    assert 0.15 < sum(codes.occupied(n) for n in range(20_000)) / 20_000 < 0.25


# -- lookups from the database -----------------------------------------------------------------------------


def test_every_line_is_found_by_its_reference(big: ReferenceNetwork) -> None:
    for address in big.deployed(limit=200):
        for line in address.lines:
            assert big.line(line.reference_prise) == line
    assert big.line("CV-0000-0000") is None or big.line("CV-0000-0000").reference_prise == "CV-0000-0000"
    assert big.line("XX-AAAA-BBBB") is None
    assert big.line("not a reference") is None


def test_deployed_pages(big: ReferenceNetwork) -> None:
    everything = big.deployed()
    assert len(everything) == big.count(deployed_only=True) < big.count()
    assert big.deployed(10, offset=20) == everything[20:30]
    assert big.deployed(10, offset=len(everything)) == []


def test_pm_line_counts(big: ReferenceNetwork) -> None:
    expected = Counter()
    for address in big.addresses:
        expected[address.pm] += len(address.lines)
    assert big.pm_line_counts() == dict(expected)


def test_pm_nro_links(big: ReferenceNetwork) -> None:
    links = big.nro_links()
    pms = {pm.reference: pm for pm in big.pms}
    assert sorted(link["ReferencePM"] for link in links) == sorted(pms)
    for link in links:
        assert link["CodeNRO"] == pms[link["ReferencePM"]].code_nro
        assert link["CapaciteLienNROPM"] in {"12", "24", "48"}
        assert link["DateMiseADispositionLien"] == pms[link["ReferencePM"]].date_installation


def test_network_is_shared_between_threads(big: ReferenceNetwork, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    disk = _fresh(tmp_path)
    for network in (big, disk):
        sample = network.deployed(limit=50)
        with ThreadPoolExecutor(8) as pool:
            found = list(pool.map(lambda a, n=network: n.address_by_id(a.identifiant_immeuble), sample * 4))
        assert found == sample * 4


# -- written once per data dir ------------------------------------------------------------------------------


def test_written_once_then_opened(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = _fresh(tmp_path)
    path = tmp_path / "COVA.sqlite3"
    stat = path.stat()
    assert not list(tmp_path.glob("*.part"))
    again = ensure_network(tmp_path, "COVA", "CV", 3, 400)
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    assert again.addresses == first.addresses
    # Other arguments (here the size) make another network, in the same file.
    bigger = ensure_network(tmp_path, "COVA", "CV", 3, 500)
    assert bigger.count() == 500 and path.stat().st_ino != stat.st_ino
    assert "network COVA: generated anew" in caplog.text and "size 400 -> 500" in caplog.text


def test_broken_file_is_generated_anew(tmp_path: Path) -> None:
    (tmp_path / "COVA.sqlite3").write_bytes(b"not a database")
    network = _fresh(tmp_path)
    assert network.count() == 400
    db = sqlite3.connect(tmp_path / "COVA.sqlite3")
    assert db.execute("SELECT count(*) FROM building").fetchone()[0] == 400
    db.close()


def test_a_copy_of_an_identical_network_is_reused(tmp_path: Path) -> None:
    original = _fresh(tmp_path / "one")
    copy = ensure_network(tmp_path / "two", "COVA", "CV", 3, 400)
    assert (tmp_path / "two" / "COVA.sqlite3").read_bytes() == (tmp_path / "one" / "COVA.sqlite3").read_bytes()
    assert list(copy.ipe_rows()) == list(original.ipe_rows())


# -- the machine's cache of generated networks -------------------------------------------------------------


def test_a_fresh_data_dir_copies_the_network_the_machine_has_kept(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSIM_CACHE_DIR", str(tmp_path / "cache"))
    gen._WRITTEN.clear()  # as in a new process
    drawn = ensure_network(tmp_path / "one", "COVA", "CV", 3, 450)
    kept = list((tmp_path / "cache" / "networks").glob("*.sqlite3"))
    assert len(kept) == 1 and "COVA-CV-3-450" in kept[0].name
    gen._WRITTEN.clear()

    def no_drawing(*args: object, **kwargs: object) -> None:
        raise AssertionError("drawn again instead of copied from the cache")

    monkeypatch.setattr(gen, "write_network", no_drawing)
    copied = ensure_network(tmp_path / "two", "COVA", "CV", 3, 450)
    assert (tmp_path / "two" / "COVA.sqlite3").read_bytes() == (tmp_path / "one" / "COVA.sqlite3").read_bytes()
    assert list(copied.ipe_rows()) == list(drawn.ipe_rows())
    # Other arguments are another network: never served from this file.
    with pytest.raises(AssertionError, match="drawn again"):
        ensure_network(tmp_path / "three", "COVA", "CV", 4, 450)


def test_a_damaged_cache_file_is_drawn_again_and_no_cache_is_no_error(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSIM_CACHE_DIR", str(tmp_path / "cache"))
    gen._WRITTEN.clear()
    drawn = ensure_network(tmp_path / "one", "COVA", "CV", 3, 420)
    [kept] = (tmp_path / "cache" / "networks").glob("*.sqlite3")
    kept.write_bytes(b"not a database")
    gen._WRITTEN.clear()
    again = ensure_network(tmp_path / "two", "COVA", "CV", 3, 420)
    assert list(again.ipe_rows()) == list(drawn.ipe_rows())
    assert not list((tmp_path / "two").glob("*.part"))
    assert kept.read_bytes() == (tmp_path / "one" / "COVA.sqlite3").read_bytes()  # the damaged copy replaced
    # A cache that cannot be written (a file where its folder should be) is no cache, never an error.
    monkeypatch.setenv("OPSIM_CACHE_DIR", str(kept))
    gen._WRITTEN.clear()
    assert ensure_network(tmp_path / "three", "COVA", "CV", 3, 420).count() == 420
    monkeypatch.setenv("OPSIM_CACHE_DIR", "")  # empty: no cache at all
    assert gen.cache_dir() is None
