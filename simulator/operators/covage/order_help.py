"""The order help service ("outil d'aide à la prise de commande", WS 2.0 and 3.0) as pure queries.

Before ordering, an OC asks which communes, streets, numbers, buildings, staircases, floors and sockets
exist at an address. Answers come from the operator's reference networks (public query methods only)
and from the store's orders: a socket held by a live order shows as taken, so an order dropped over FTP
changes the next answer. No SOAP here: `ws/order_help_ws.py` is the wire format.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from ...capability import Capability, OperatorContext, WebService
from ...refdata import Address, ReferenceNetwork
from ...refdata.model import DEPLOYE, IPE_COLUMNS
from ...specs.codec import load_yaml
from .access import AFTER_MAD, BEFORE_MAD

SPEC = Path(__file__).parents[2] / "specs" / "webservices" / "order-help.yaml"
#: States of an access order that hold its socket.
LIVE_STATES = tuple(sorted(s.value for s in BEFORE_MAD | AFTER_MAD))


class OrderHelpError(Exception):
    """A question that cannot be answered; `kind` is a key of the spec's `errors` (unknown_address...)."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def load_spec(path: Path = SPEC) -> dict[str, Any]:
    return load_yaml(path)


@dataclass(frozen=True)
class AddressQuery:
    """One way of giving an address; exactly one field group is set (the request says which)."""

    hexacle: str = ""
    insee: str = ""
    rivoli: str = ""
    numero: str = ""
    complement: str = ""
    hexacle_voie: str = ""
    projection: str = ""
    x: str = ""
    y: str = ""
    identifiant_immeuble: str = ""

    def ways(self) -> list[str]:
        given = []
        if self.hexacle:
            given.append("referenceHexacle")
        if self.rivoli or self.insee:
            given.append("referenceRivoli")
        if self.hexacle_voie:
            given.append("referenceHexacleVoie")
        if self.x or self.y:
            given.append("referenceGeographique")
        if self.identifiant_immeuble:
            given.append("identifiantImmeuble")
        return given


#: A deployed building's number in its street and its hexaclé (the address's own key): (numero, complement,
#: hexacle); a located one: (projection, x, y, hexacle). Plain tuples: 17,000 objects are made at a time.
_Number = tuple[str, str, str]
_Located = tuple[str, str, str, str]


@dataclass
class _Index:
    """Listings of one network's deployed buildings, read from its IPE lines (no building object is made:
    that cost a second on the first call), rebuilt when the network evolves (`version`)."""

    version: int
    communes: dict[str, dict[str, str]] = field(default_factory=dict)  # insee -> commune
    streets: dict[str, dict[tuple[str, str], dict[str, str]]] = field(default_factory=dict)  # insee -> voies
    by_street: dict[tuple[str, str], list[_Number]] = field(default_factory=dict)  # (insee, rivoli)
    by_hexacle_voie: dict[str, list[_Number]] = field(default_factory=dict)
    located: list[_Located] = field(default_factory=list)


# Where an IPE line (IPE_COLUMNS order) holds what the listings need.
(_ETAT, _HEXACLE, _HEXACLE_VOIE, _INSEE, _POSTCODE, _COMMUNE, _RIVOLI, _TYPE_VOIE, _NOM_VOIE, _NUMERO, _COMPLEMENT,
 _PROJECTION, _X, _Y) = (IPE_COLUMNS.index(c) for c in (
    "EtatImmeuble", "CodeAdresseImmeuble", "CodeHexacleVoie", "CodeInseeImmeuble", "CodePostalImmeuble",
    "CommuneImmeuble", "CodeVoieRivoliImmeuble", "TypeVoieImmeuble", "NomVoieImmeuble", "NumeroVoieImmeuble",
    "ComplementNumeroVoieImmeuble", "TypeProjection", "CoordonneeImmeubleX", "CoordonneeImmeubleY"))


def _build_index(network: ReferenceNetwork, version: int) -> _Index:
    index = _Index(version)
    for v in network.ipe_rows():
        if v[_ETAT] != DEPLOYE:
            continue
        insee, rivoli, hexacle_voie = v[_INSEE], v[_RIVOLI], v[_HEXACLE_VOIE]
        index.communes.setdefault(insee, {"codeInsee": insee, "codePostal": v[_POSTCODE],
                                          "libelleCommune": v[_COMMUNE]})
        index.streets.setdefault(insee, {}).setdefault((rivoli, hexacle_voie), {
            "codeRivoli": rivoli, "codeHexacleVoie": hexacle_voie, "typeVoie": v[_TYPE_VOIE],
            "libelleVoie": v[_NOM_VOIE]})
        number = (v[_NUMERO], v[_COMPLEMENT], v[_HEXACLE])
        index.by_street.setdefault((insee, rivoli), []).append(number)
        index.by_hexacle_voie.setdefault(hexacle_voie, []).append(number)
        if v[_X] and v[_Y]:
            index.located.append((v[_PROJECTION], v[_X], v[_Y], v[_HEXACLE]))
    return index


class OrderHelp(Capability):
    """Covage's order help: the queries behind WS 3.0 and 2.0, answered as plain dicts."""

    name = "order_help"
    web_services: ClassVar[tuple[WebService, ...]] = (
        WebService("order-help-3.0", "3.0", "simulator.operators.covage.ws.order_help_ws:build"),
        WebService("order-help-2.0", "2.0", "simulator.operators.covage.ws.order_help_ws:build"),
    )

    def __init__(self, context: OperatorContext):
        super().__init__(context)
        self.store = context.store
        self.spec = load_spec()
        self.states: Mapping[str, str] = self.spec["line_states"]
        self._built: dict[str, _Index] = {}
        self._index_lock = threading.Lock()

    @cached_property
    def networks(self) -> dict[str, ReferenceNetwork]:
        return self.context.reference_networks

    @property
    def _indexes(self) -> dict[str, _Index]:
        """Each network's listings, as of its current state (built again once it has evolved)."""
        with self._index_lock:
            for key, network in self.networks.items():
                version = network.overlay_version()
                if key not in self._built or self._built[key].version != version:
                    self._built[key] = _build_index(network, version)
            return dict(self._built)

    # ------------------------------------------------------------------ listings
    def communes(self, postcode: str = "", insee: str = "") -> list[dict[str, str]]:
        postcode, insee = postcode.strip(), insee.strip()
        found = {c["codeInsee"]: c for index in self._indexes.values() for c in index.communes.values()
                 if (not postcode or c["codePostal"] == postcode) and (not insee or c["codeInsee"] == insee)}
        if not found:
            raise OrderHelpError("unknown_address", f"no commune for codePostal {postcode!r} codeInsee {insee!r}")
        return [found[k] for k in sorted(found)]

    def streets(self, insee: str) -> list[dict[str, str]]:
        if not insee.strip():
            raise OrderHelpError("malformed", "codeInsee is mandatory")
        found = {k: v for index in self._indexes.values() for k, v in index.streets.get(insee.strip(), {}).items()}
        if not found:
            raise OrderHelpError("unknown_address", f"no street in commune {insee}")
        return [found[k] for k in sorted(found)]

    def numbers(self, insee: str = "", rivoli: str = "", hexacle_voie: str = "") -> list[dict[str, str]]:
        if hexacle_voie.strip():
            buildings = [a for i in self._indexes.values() for a in i.by_hexacle_voie.get(hexacle_voie.strip(), [])]
        elif insee.strip() and rivoli.strip():
            key = (insee.strip(), rivoli.strip().upper())
            buildings = [a for i in self._indexes.values() for a in i.by_street.get(key, [])]
        else:
            raise OrderHelpError("malformed", "codeInsee with codeRivoli, or codeHexacleVoie, is mandatory")
        if not buildings:
            raise OrderHelpError("unknown_address", "no number in that street")
        found = {(numero, complement): {"numeroVoie": numero, "complementNumeroVoie": complement,
                                        "codeHexacle": hexacle} for numero, complement, hexacle in buildings}
        return [found[k] for k in sorted(found, key=lambda k: (int(k[0]) if k[0].isdigit() else 0, k))]

    # ------------------------------------------------------------------ one address
    def locate(self, query: AddressQuery) -> tuple[ReferenceNetwork, list[Address]]:
        """The buildings at the address given, on the network that has them."""
        ways = query.ways()
        if len(ways) != 1:
            raise OrderHelpError("malformed", "give the address one way: referenceHexacle, referenceRivoli, "
                                              "referenceHexacleVoie, referenceGeographique or identifiantImmeuble"
                                 + (f" (got {', '.join(ways)})" if ways else " (got none)"))
        for key, network in self.networks.items():
            buildings = self._find(key, network, query)
            if buildings:
                return network, buildings
        raise OrderHelpError("unknown_address", f"{ways[0]} not in the operator's reference network")

    def _find(self, key: str, network: ReferenceNetwork, q: AddressQuery) -> list[Address]:
        if q.hexacle:
            return network.addresses_by_hexacle(q.hexacle)
        if q.identifiant_immeuble:
            found = network.address_by_id(q.identifiant_immeuble.strip())
            return [] if found is None else [found]
        if q.rivoli or q.insee:
            if not (q.insee and q.rivoli and q.numero):
                raise OrderHelpError("malformed", "referenceRivoli needs codeInsee, codeRivoli and numeroVoie")
            return network.addresses_by_rivoli(q.insee, q.rivoli, q.numero, q.complement)
        if q.hexacle_voie:
            if not q.numero:
                raise OrderHelpError("malformed", "referenceHexacleVoie needs numeroVoie")
            hexacles = dict.fromkeys(hexacle for numero, complement, hexacle in self._indexes[key].by_hexacle_voie.get(
                q.hexacle_voie.strip().upper(), []) if _same_number(numero, complement, q.numero, q.complement))
            return [a for h in hexacles for a in self.networks[key].addresses_by_hexacle(h) if a.deployed]
        return self._nearest(key, q)

    def _nearest(self, key: str, q: AddressQuery) -> list[Address]:
        try:
            x, y = float(q.x), float(q.y)
        except ValueError:
            raise OrderHelpError("malformed", "referenceGeographique needs numeric coordonneeX and coordonneeY") \
                from None
        tolerance = float(self.spec["geo_tolerance"])
        best, distance = None, tolerance
        for projection, ax, ay, hexacle in self._indexes[key].located:
            if q.projection and projection != q.projection.strip().upper():
                continue
            d = max(abs(float(ax) - x), abs(float(ay) - y))
            if d <= distance:
                best, distance = hexacle, d
        return [] if best is None else self.networks[key].addresses_by_hexacle(best)

    def buildings(self, query: AddressQuery) -> list[dict[str, Any]]:
        network, buildings = self.locate(query)
        return [{"identifiantImmeuble": a.identifiant_immeuble, "batiment": a.batiment,
                 "etatImmeuble": a.etat_immeuble, "typeImmeuble": a.type_immeuble,
                 "nombreLogements": a.nb_logements, "referencePM": a.pm} for a in buildings]

    def structure(self, query: AddressQuery) -> dict[str, Any]:
        """Address, then building > staircase > floor > line (PTO, state, PBO, PM, PM technique)."""
        with self._reading():
            return self._structure(query)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """The networks' lookups answered from this thread's index of what it already read (a building's
        lines share a few PBOs, and OCs ask about the same buildings again), as long as no network evolves."""
        with ExitStack() as scopes:
            for network in self.networks.values():
                scopes.enter_context(network.reading())
            yield

    def _structure(self, query: AddressQuery) -> dict[str, Any]:
        network, buildings = self.locate(query)
        first = buildings[0]
        taken = self._taken([line.reference_prise for a in buildings for line in a.lines])
        result_buildings = []
        for a in buildings:
            pm = network.pm(a.pm)
            staircases = []
            for escalier in a.escaliers or ("",):
                floors = []
                for etage in a.etages or ("",):
                    lines = [self._line(network, line, pm, taken) for line in a.lines
                             if line.escalier == escalier and line.etage == etage]
                    floors.append({"etage": etage, "ligne": lines})
                staircases.append({"escalier": escalier, "etage": floors})
            result_buildings.append({
                "identifiantImmeuble": a.identifiant_immeuble, "batiment": a.batiment,
                "etatImmeuble": a.etat_immeuble, "typeImmeuble": a.type_immeuble, "nombreLogements": a.nb_logements,
                "referencePM": a.pm, "referencePMTechnique": pm.reference_technique if pm else "",
                "etatPM": pm.etat if pm else "", "escalier": staircases})
        return {"adresse": _address(first, network.network), "batiment": result_buildings}

    def _line(self, network: ReferenceNetwork, line: Any, pm: Any, taken: set[str]) -> dict[str, str]:
        pbo = network.pbo(line.pbo)
        held = line.occupied or line.reference_prise in taken
        return {"referencePrise": line.reference_prise, "etatLigne": self.states["taken" if held else "free"],
                "referencePBO": line.pbo, "localisationPBO": pbo.localisation if pbo else "",
                "typePBO": pbo.type_pbo if pbo else "", "referencePM": pm.reference if pm else "",
                "referencePMTechnique": pm.reference_technique if pm else ""}

    def _taken(self, sockets: list[str]) -> set[str]:
        """Sockets held by a live order of any OC (read on this thread's own connection)."""
        if not sockets:
            return set()
        rows = self.store.query(
            f"SELECT socket FROM orders WHERE socket IN ({','.join('?' * len(sockets))}) "
            f"AND state IN ({','.join('?' * len(LIVE_STATES))})", (*sockets, *LIVE_STATES), reader=True)
        return {r[0] for r in rows}

    def zone(self, reference_pm: str) -> dict[str, Any]:
        """The PM and the deployed buildings behind it (its zone arrière)."""
        for network in self.networks.values():
            pm = network.pm(reference_pm.strip())
            if pm is not None:
                behind = network.deployed_behind(pm.reference)
                return {"referencePM": pm.reference, "referencePMTechnique": pm.reference_technique,
                        "etatPM": pm.etat, "typeEmplacementPM": pm.type_emplacement, "capaciteMaxPM": pm.capacite_max,
                        "adresse": [_address(a, network.network) for a in behind]}
        raise OrderHelpError("unknown_pm", f"referencePM {reference_pm!r} unknown")


def _same_number(building_numero: str, building_complement: str, numero: str, complement: str) -> bool:
    n = numero.strip()
    return (str(int(n)) if n.isdigit() else n.upper()) == building_numero and \
        complement.strip().upper() == building_complement


def _address(a: Address, network: str) -> dict[str, str]:
    return {"codeHexacle": a.hexacle, "codeHexacleVoie": a.hexacle_voie, "codeInsee": a.insee,
            "codePostal": a.postcode, "commune": a.commune, "codeRivoli": a.rivoli, "typeVoie": a.type_voie,
            "libelleVoie": a.nom_voie, "numeroVoie": a.numero, "complementNumeroVoie": a.complement,
            "identifiantImmeuble": a.identifiant_immeuble, "batiment": a.batiment, "reseau": network}
