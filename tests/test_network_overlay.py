"""The evolution overlay at unit level (simulator/refdata/evolution.py): a network file that never changes,
changes in the store's tables, and every ReferenceNetwork query reading the network with them applied."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from simulator.refdata import ReferenceNetwork, ensure_network, evolution, generate_network
from simulator.refdata.ipe import write_ipe
from simulator.specs.codec import load_pack
from simulator.store import Store

IPE = load_pack("pm-2.2").flow("IPE")
SIZE = 400
SEED = 7
MONDAY = date(2026, 11, 30)


def _open(folder: Path, seed: int = SEED) -> tuple[Store, ReferenceNetwork]:
    """A network file and a store with the overlay, wired as the sandbox wires them (capability.py)."""
    network = ensure_network(folder / "network", "COVA", "CV", seed, SIZE)
    store = Store(folder / "opsim.sqlite3")
    evolution.ensure_schema(store)
    evolution.attach(store, network)
    network.attach_overlay(store.path)
    return store, network


def _ipe(network: ReferenceNetwork) -> list[dict[str, str]]:
    out = io.BytesIO()
    write_ipe(network, IPE, out)
    parsed = IPE.parse(out.getvalue())
    assert [r.errors for r in parsed.records if r.errors] == []
    return [r.values for r in parsed.records]


def _not_deployed(network: ReferenceNetwork, etat: str) -> str:
    return next(a.identifiant_immeuble for a in network.iter_addresses() if a.etat_immeuble == etat)


@pytest.fixture
def net(tmp_path: Path) -> tuple[Store, ReferenceNetwork]:
    return _open(tmp_path)


def test_an_empty_overlay_changes_nothing(net: tuple[Store, ReferenceNetwork]) -> None:
    _, network = net
    same = generate_network("COVA", "CV", SEED, SIZE)  # in memory, no store
    a, b = io.BytesIO(), io.BytesIO()
    write_ipe(network, IPE, a)
    write_ipe(same, IPE, b)
    assert a.getvalue() == b.getvalue()
    assert network.count() == same.count() == SIZE
    assert network.count(deployed_only=True) == same.count(deployed_only=True)
    assert network.overlay_version() == 0


def test_a_building_deployed_is_seen_by_every_query(net: tuple[Store, ReferenceNetwork]) -> None:
    store, network = net
    building = _not_deployed(network, "EN COURS DE DEPLOIEMENT")
    before = network.address_by_id(building)
    assert before is not None and not before.pbos and before.etat_immeuble == "EN COURS DE DEPLOIEMENT"
    deployed_before = network.count(deployed_only=True)
    with store.transaction():
        was, result = evolution.set_building(store, network, building, "DEPLOYE", MONDAY, 3)
    assert was == "EN COURS DE DEPLOIEMENT" and result.deployed_pms == {before.pm}
    after = network.address_by_id(building)
    assert after is not None and after.deployed
    assert after.date_cablage == after.date_derniere_modification == "20261130"
    # It got PBOs of its own (one per staircase), which the PBO lookup knows, and routes for new sockets.
    assert len(after.pbos) == len(after.escaliers) and all(network.pbo(p) for p in after.pbos)
    assert network.new_route(after, 0).reference_cable_pbo == f"CBR-{after.pbos[0]}"
    assert building in {a.identifiant_immeuble for a in network.deployed_behind(before.pm)}
    assert building in {a.identifiant_immeuble for a in network.deployed()}
    assert [a.identifiant_immeuble for a in network.addresses_by_hexacle(before.hexacle)].count(building) == 1
    assert network.count(deployed_only=True) == deployed_before + 1
    line = next(r for r in _ipe(network) if r["IdentifiantImmeuble"] == building)
    assert (line["EtatImmeuble"], line["DateCablageAdresse"], line["DateDerniereModification"]) == \
        ("DEPLOYE", "20261130", "20261130")
    assert network.ipe_record(after) == line


def test_states_only_move_forward(net: tuple[Store, ReferenceNetwork]) -> None:
    store, network = net
    building = _not_deployed(network, "SIGNE")
    with store.transaction():
        evolution.set_building(store, network, building, "EN COURS DE DEPLOIEMENT", MONDAY, 3)
    for etat in ("CIBLE", "SIGNE", "EN COURS DE DEPLOIEMENT", "EN SERVICE"):
        with pytest.raises(ValueError), store.transaction():
            evolution.set_building(store, network, building, etat, MONDAY, 3)
    address = network.address_by_id(building)
    assert address is not None and address.etat_immeuble == "EN COURS DE DEPLOIEMENT"


def test_abandoned_then_gone_three_months_later(net: tuple[Store, ReferenceNetwork]) -> None:
    store, network = net
    building = _not_deployed(network, "CIBLE")
    hexacle = network.address_by_id(building).hexacle  # type: ignore[union-attr]
    with store.transaction():
        evolution.set_building(store, network, building, "ABANDONNE", MONDAY, 3)
    assert next(r for r in _ipe(network) if r["IdentifiantImmeuble"] == building)["EtatImmeuble"] == "ABANDONNE"
    still = evolution.Rates(advance=(0, 0, 0), abandon=0, pm_open=0)
    with store.transaction():
        evolution.step(store, network, date(2027, 2, 22), SEED, still)  # the Monday before 2027-02-28
    assert network.address_by_id(building) is not None
    with store.transaction():
        result = evolution.step(store, network, date(2027, 3, 1), SEED, still)
    assert result.gone == 1
    assert network.address_by_id(building) is None
    assert building not in {a.identifiant_immeuble for a in network.addresses_by_hexacle(hexacle)}
    assert building not in {r["IdentifiantImmeuble"] for r in _ipe(network)}
    assert network.count() == SIZE - 1 and len(_ipe(network)) == SIZE - 1


def test_a_pm_opened_shows_in_its_buildings_ipe_lines(tmp_path: Path) -> None:
    store, network = _open(tmp_path)
    pm = next(p for p in network.iter_pms() if p.date_mes_commerciale > "20160101")
    day = date(2016, 1, 11)
    with store.transaction():
        evolution.open_pm(store, network, pm.reference, day)
    opened = network.pm(pm.reference)
    assert opened is not None and opened.date_mes_commerciale == "20160111"
    assert opened.date_installation == min(pm.date_installation, "20160111")
    lines = [r for r in _ipe(network) if r["ReferencePM"] == pm.reference]
    assert lines and {(r["EtatPM"], r["DateMiseEnServiceCommercialePM"]) for r in lines} == {("DEPLOYE", "20160111")}
    with pytest.raises(ValueError, match="open since"), store.transaction():
        evolution.open_pm(store, network, pm.reference, date(2016, 1, 12))


def test_step_is_deterministic_forward_only_and_made_once_a_day(tmp_path: Path) -> None:
    rates = evolution.Rates(advance=(0.3, 0.3, 0.3), abandon=0.05, pm_open=0.5)
    runs = []
    for name, seed in (("a", SEED), ("b", SEED), ("c", SEED + 1)):
        store, network = _open(tmp_path / name, seed=SEED)  # the same network; `seed` keys the draws
        results = []
        for week in range(4):
            with store.transaction():
                results.append(evolution.step(store, network, date.fromordinal(MONDAY.toordinal() + 7 * week),
                                              seed, rates).as_json())
        runs.append((results, _ipe(network)))
    assert runs[0] == runs[1]
    assert runs[0][1] != runs[2][1]  # other draws
    assert sum(sum(r["changed"].values()) for r in runs[0][0]) > 0
    store, network = _open(tmp_path / "a")
    with store.transaction():
        again = evolution.step(store, network, MONDAY, SEED, rates)
    assert again.changed == {} and again.opened_pms == []  # that Monday's step is made already
    original = {a.identifiant_immeuble: a.etat_immeuble for a in generate_network("COVA", "CV", SEED, SIZE).addresses}
    life = evolution.Lifecycle()
    for line in runs[0][1]:
        assert life.rank(line["EtatImmeuble"]) >= life.rank(original[line["IdentifiantImmeuble"]])


def test_readers_see_a_step_once_it_is_committed(net: tuple[Store, ReferenceNetwork]) -> None:
    store, network = net
    rates = evolution.Rates(advance=(1.0, 1.0, 1.0), abandon=0, pm_open=0)
    before = network.count(deployed_only=True)
    with store.transaction():
        evolution.step(store, network, MONDAY, SEED, rates)
        assert evolution.version(store, "COVA") == 1 and network.overlay_version() == 0
        assert network.count(deployed_only=True) == before
    assert network.overlay_version() == 1
    assert network.count(deployed_only=True) > before


def test_an_overlay_made_on_another_network_is_dropped(tmp_path: Path) -> None:
    store, network = _open(tmp_path)
    with store.transaction():
        evolution.set_building(store, network, _not_deployed(network, "CIBLE"), "SIGNE", MONDAY, 3)
    store.close()
    (tmp_path / "network" / "COVA.sqlite3").unlink()
    store, network = _open(tmp_path, seed=SEED + 1)  # generated anew with another seed
    assert store.query("SELECT count(*) FROM net_building")[0][0] == 0
    assert network.overlay_version() == 0
