"""Tests of the seeded reference network (simulator.refdata)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.refdata import IPE_COLUMNS, Address, ReferenceNetwork, generate_network

LINE_REF_RE = re.compile(r"^[A-Z0-9]{2}-[A-Z0-9]{4}-[A-Z0-9]{4}$")
CODE10_RE = re.compile(r"^[A-Z0-9]{10}$")
INSEE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
RIVOLI_RE = re.compile(r"^[A-Z0-9]{4}$")
UPPER_ASCII_RE = re.compile(r"^[A-Z0-9 \-]+$")
COORD_RE = re.compile(r"^-?\d{1,3}\.\d{6}$")
DATE_RE = re.compile(r"^20\d{6}$")
NON_DEPLOYED = {"EN COURS DE DEPLOIEMENT", "CIBLE", "SIGNE"}


@pytest.fixture(scope="module")
def net() -> ReferenceNetwork:
    return generate_network("COVA", "CV", seed=42)


@pytest.fixture(scope="module")
def other() -> ReferenceNetwork:
    return generate_network("ALTI", "AL", seed=42)


def _all_lines(network: ReferenceNetwork) -> list:
    return [line for address in network.addresses for line in address.lines]


def _identifiers(network: ReferenceNetwork) -> dict[str, set[str]]:
    return {
        "hexacle": {a.hexacle for a in network.addresses},
        "hexacle_voie": {a.hexacle_voie for a in network.addresses},
        "immeuble": {a.identifiant_immeuble for a in network.addresses},
        "pm": {pm.reference for pm in network.pms},
        "pm_prestation": {pm.reference_prestation for pm in network.pms},
        "pbo": {pbo.reference for pbo in network.pbos},
        "line": {line.reference_prise for line in _all_lines(network)},
    }


def check_invariants(network: ReferenceNetwork) -> None:
    """Structural invariants that must hold for any (network, arcep, seed, size)."""
    lines = _all_lines(network)
    assert len({line.reference_prise for line in lines}) == len(lines)
    assert len({a.identifiant_immeuble for a in network.addresses}) == len(network.addresses)
    pbo_refs = {pbo.reference for pbo in network.pbos}
    assert len(pbo_refs) == len(network.pbos)
    for address in network.addresses:
        assert network.pm(address.pm) is not None
        assert set(address.pbos) <= pbo_refs
        if address.etat_immeuble == "DEPLOYE":
            assert 1 <= len(address.lines) <= address.nb_logements
            assert address.pbos
            assert DATE_RE.match(address.date_cablage)
        else:
            assert address.etat_immeuble in NON_DEPLOYED
            assert address.lines == ()
            assert address.date_cablage == ""
        for line in address.lines:
            assert LINE_REF_RE.match(line.reference_prise)
            assert line.reference_prise.startswith(network.arcep + "-")
            assert line.hexacle == address.hexacle
            assert line.batiment == address.batiment
            assert line.escalier in address.escaliers
            assert line.etage in address.etages
            assert line.pbo in address.pbos
    # Two existing lines of a PM never share a module position.
    positions = Counter(
        (a.pm, line.route.nom_module_pm, line.route.position_module_pm)
        for a in network.addresses for line in a.lines
    )
    assert not [key for key, count in positions.items() if count > 1]


# -- determinism ---------------------------------------------------------------------------------------


def test_same_arguments_give_identical_network(net: ReferenceNetwork) -> None:
    again = generate_network("COVA", "CV", seed=42)
    assert (again.addresses, again.pms, again.pbos) == (net.addresses, net.pms, net.pbos)
    assert [again.ipe_record(a) for a in again.addresses] == [net.ipe_record(a) for a in net.addresses]


def test_other_seed_gives_other_network(net: ReferenceNetwork) -> None:
    assert generate_network("COVA", "CV", seed=43).addresses != net.addresses


def test_other_network_code_gives_other_draw() -> None:
    # Same arcep code and seed: only the network code differs, the streets must too.
    a = generate_network("COVA", "CV", seed=7, size=60)
    b = generate_network("COVB", "CV", seed=7, size=60)
    assert [x.nom_voie for x in a.addresses] != [x.nom_voie for x in b.addresses]


# -- identifiers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("twin", [False, True])
def test_no_identifier_shared_between_networks(
    net: ReferenceNetwork, other: ReferenceNetwork, twin: bool
) -> None:
    # The twin draws the very same communes, streets and counters as `net` (same network code and seed):
    # only the arcep prefix can keep its identifiers apart.
    second = generate_network("COVA", "TW", seed=42) if twin else other
    mine, theirs = _identifiers(net), _identifiers(second)
    for kind, values in mine.items():
        assert values, kind
        assert not values & theirs[kind], kind


def test_invariants_of_default_network(net: ReferenceNetwork) -> None:
    check_invariants(net)


def test_line_references_follow_arcep_format(net: ReferenceNetwork) -> None:
    lines = _all_lines(net)
    assert lines
    bad = [line.reference_prise for line in lines
           if not LINE_REF_RE.match(line.reference_prise) or not line.reference_prise.startswith("CV-")]
    assert bad == []


def test_address_field_formats(net: ReferenceNetwork) -> None:
    for a in net.addresses:
        assert CODE10_RE.match(a.hexacle), a.hexacle
        assert CODE10_RE.match(a.hexacle_voie), a.hexacle_voie
        assert INSEE_RE.match(a.insee), a.insee
        assert re.fullmatch(r"\d{5}", a.postcode), a.postcode
        assert RIVOLI_RE.match(a.rivoli), a.rivoli
        assert a.identifiant_immeuble.startswith(f"IMB/{a.insee}/") and len(a.identifiant_immeuble) <= 30
        assert UPPER_ASCII_RE.match(a.commune), a.commune
        assert UPPER_ASCII_RE.match(a.nom_voie), a.nom_voie
        assert not a.nom_voie.startswith(a.type_voie + " ")
        assert a.type_voie in {"RUE", "AVENUE", "BOULEVARD", "CHEMIN", "PLACE", "ALLEE", "IMPASSE", "ROUTE"}
        assert a.numero.isdigit() and a.complement in {"", "B", "T"}
        assert COORD_RE.match(a.x) and COORD_RE.match(a.y)
        assert a.type_projection == "WGS84" and a.type_zone in {"1", "2", "3"}
        assert a.accord_gestionnaire in {"O", "N"}
        if a.type_immeuble == "PAVILLON":
            assert (a.nb_logements, a.escaliers, a.etages, a.batiment) == (1, ("",), ("",), "")
        else:
            assert a.type_immeuble == "IMMEUBLE" and 4 <= a.nb_logements <= 40
            assert a.etages[0] == "RDC"


def test_pm_fields(net: ReferenceNetwork) -> None:
    for pm in net.pms:
        assert len(pm.reference) <= 20 and pm.reference.startswith("PMCV")
        assert pm.reference_prestation.startswith("PRPMCV")
        assert pm.etat == "DEPLOYE"
        assert DATE_RE.match(pm.date_installation) and pm.date_installation <= pm.date_mes_commerciale
        assert pm.type_ingenierie in {"MONO", "BI", "QUADRI"}
        assert pm.capacite_max >= sum(a.nb_logements for a in net.addresses if a.pm == pm.reference)


def test_street_codes_consistent(net: ReferenceNetwork) -> None:
    # One hexacle_voie per street, one rivoli per street within a commune.
    streets = {(a.insee, a.type_voie, a.nom_voie): (a.hexacle_voie, a.rivoli) for a in net.addresses}
    for a in net.addresses:
        assert streets[(a.insee, a.type_voie, a.nom_voie)] == (a.hexacle_voie, a.rivoli)
    rivolis = Counter((insee, rivoli) for (insee, _, _), (_, rivoli) in streets.items())
    assert max(rivolis.values()) == 1


# -- distribution ----------------------------------------------------------------------------------------


def test_size_and_pm_areas(net: ReferenceNetwork) -> None:
    assert len(net.addresses) == 300
    per_pm = Counter(a.pm for a in net.addresses)
    assert set(per_pm) == {pm.reference for pm in net.pms}
    assert all(20 <= count <= 60 for count in per_pm.values()), per_pm
    for pm in net.pms:
        assert len({a.insee for a in net.addresses if a.pm == pm.reference}) == 1
    assert 5 <= len({a.insee for a in net.addresses}) <= 8


def test_state_mix(net: ReferenceNetwork) -> None:
    states = Counter(a.etat_immeuble for a in net.addresses)
    assert 0.75 <= states["DEPLOYE"] / len(net.addresses) <= 0.95
    lines = _all_lines(net)
    assert 0.10 <= sum(line.occupied for line in lines) / len(lines) <= 0.30


def test_multi_building_addresses_exist(net: ReferenceNetwork) -> None:
    groups = [net.addresses_by_hexacle(h) for h in {a.hexacle for a in net.addresses}]
    multi = [g for g in groups if len(g) > 1]
    assert multi
    for group in multi:
        assert [a.batiment for a in group] == ["A", "B", "C"][: len(group)]
        assert len({(a.numero, a.complement, a.rivoli, a.insee) for a in group}) == 1
    assert any(a.escaliers != ("",) for a in net.addresses)


# -- lookups ---------------------------------------------------------------------------------------------


def test_lookups_return_generated_objects(net: ReferenceNetwork) -> None:
    for a in net.addresses:
        assert net.address_by_id(a.identifiant_immeuble) == a
        assert a in net.addresses_by_hexacle(a.hexacle)
        assert all(x.hexacle == a.hexacle for x in net.addresses_by_hexacle(a.hexacle))
        assert a in net.addresses_by_rivoli(a.insee, a.rivoli, a.numero, a.complement)
        assert net.pm_of(a).reference == a.pm
        for line in a.lines:
            assert net.line(line.reference_prise) == line
            assert net.pbo(line.pbo) is not None
    for pm in net.pms:
        assert net.pm(pm.reference) == pm
        assert net.pm_by_prestation(pm.reference_prestation) == pm


def test_unknown_lookups(net: ReferenceNetwork, other: ReferenceNetwork) -> None:
    stranger = other.addresses[0]
    assert net.addresses_by_hexacle(stranger.hexacle) == []
    assert net.address_by_id(stranger.identifiant_immeuble) is None
    assert net.pm(other.pms[0].reference) is None
    assert net.pm_by_prestation(other.pms[0].reference_prestation) is None
    assert net.pbo(other.pbos[0].reference) is None
    assert net.line(_all_lines(other)[0].reference_prise) is None
    with pytest.raises(KeyError):
        net.pm_of(stranger)


def test_rivoli_lookup_distinguishes_complement(net: ReferenceNetwork) -> None:
    a = net.addresses[0]
    assert net.addresses_by_rivoli(a.insee, a.rivoli, a.numero.zfill(4), a.complement)  # "0002" == "2"
    wrong = "Q" if a.complement != "Q" else "Z"
    assert net.addresses_by_rivoli(a.insee, a.rivoli, a.numero, wrong) == []


def test_lines_at_filters(net: ReferenceNetwork) -> None:
    building = next(a for a in net.deployed() if len(a.escaliers) > 1 and len(a.lines) > 2)
    everything = net.lines_at(building)
    assert set(building.lines) <= set(everything)
    escalier, etage = building.lines[0].escalier, building.lines[0].etage
    filtered = net.lines_at(building, escalier=escalier, etage=etage.lower())
    assert filtered and building.lines[0] in filtered
    assert all(line.escalier == escalier and line.etage == etage for line in filtered)
    assert len(filtered) < len(everything)
    assert net.lines_at(building, etage="99") == []


def test_lines_at_covers_all_buildings_of_address(net: ReferenceNetwork) -> None:
    group = next(g for g in (net.addresses_by_hexacle(a.hexacle) for a in net.addresses)
                 if len(g) > 1 and all(b.lines for b in g))
    assert len(net.lines_at(group[0])) == sum(len(b.lines) for b in group)
    assert net.lines_at(group[0], batiment="B") == list(group[1].lines)


def test_deployed(net: ReferenceNetwork) -> None:
    deployed = net.deployed()
    assert deployed and len(deployed) < len(net.addresses)
    assert all(a.etat_immeuble == "DEPLOYE" for a in deployed)
    assert deployed == [a for a in net.addresses if a.etat_immeuble == "DEPLOYE"]
    assert net.deployed(limit=5) == deployed[:5]


def test_ipe_record(net: ReferenceNetwork) -> None:
    for a in net.addresses:
        record = net.ipe_record(a)
        assert tuple(record) == IPE_COLUMNS
        assert all(isinstance(value, str) for value in record.values())
    a = net.addresses[0]
    record = net.ipe_record(a)
    pm = net.pm_of(a)
    assert record["IdentifiantImmeuble"] == a.identifiant_immeuble
    assert record["CodeAdresseImmeuble"] == a.hexacle
    assert record["NombreLogementsAdresseIPE"] == str(a.nb_logements)
    assert record["ReferencePM"] == pm.reference
    assert record["CapaciteMaxPM"] == str(pm.capacite_max)


# -- new sockets -----------------------------------------------------------------------------------------


def test_new_route(net: ReferenceNetwork) -> None:
    address = net.deployed()[0]
    first, second = net.new_route(address, 0), net.new_route(address, 1)
    assert first == net.new_route(address, 0)
    assert first != second
    assert (first.nom_module_pm, first.position_module_pm) != (
        second.nom_module_pm,
        second.position_module_pm,
    )
    assert first.reference_cable_module_pm.startswith("CDI-" + address.pm)
    assert first.reference_cable_pbo.removeprefix("CBR-") in address.pbos
    used = {(line.route.nom_module_pm, line.route.position_module_pm)
            for a in net.addresses if a.pm == address.pm for line in a.lines}
    assert (first.nom_module_pm, first.position_module_pm) not in used


def test_new_route_needs_a_deployed_building(net: ReferenceNetwork) -> None:
    address = next(a for a in net.addresses if a.etat_immeuble != "DEPLOYE")
    with pytest.raises(ValueError):
        net.new_route(address, 0)


# -- arguments and properties ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "arcep", "size"), [("COV", "CV", 10), ("COVA", "cv", 10), ("COVA", "CV", 0)]
)
def test_invalid_arguments(network: str, arcep: str, size: int) -> None:
    with pytest.raises(ValueError):
        generate_network(network, arcep, seed=1, size=size)


def test_dataclasses_are_frozen(net: ReferenceNetwork) -> None:
    address: Address = net.addresses[0]
    with pytest.raises(AttributeError):
        address.etat_immeuble = "CIBLE"  # type: ignore[misc]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**40),
    size=st.integers(min_value=1, max_value=150),
    network=st.sampled_from([("COVA", "CV"), ("ALTI", "AL"), ("X9Z1", "9Z")]),
)
def test_any_network_is_consistent(seed: int, size: int, network: tuple[str, str]) -> None:
    code, arcep = network
    generated = generate_network(code, arcep, seed=seed, size=size)
    assert len(generated.addresses) == size
    assert generated.network == code and generated.arcep == arcep
    check_invariants(generated)
    for a in generated.addresses:
        assert a.hexacle.startswith(arcep)
