"""Deterministic generation of a ReferenceNetwork from (network, arcep, seed, size).

Generation is split into small steps (communes, PM areas, streets, buildings, sockets) so that it
can later grow into a full national reference network.  All randomness comes from one
`random.Random` derived without `hash()` (which is salted per process) plus a seeded Faker used
for street names only.
"""

from __future__ import annotations

import csv
import math
import random
import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from faker import Faker

from .model import DEPLOYE, Address, Line, Pbo, Pm, ReferenceNetwork, build_route

COMMUNES_CSV = Path(__file__).with_name("communes.csv")

#: Fixed "today" so that dates never depend on the wall clock.
REFERENCE_DATE = date(2024, 6, 30)

MAX_COMMUNES = 8
PM_MIN_BUILDINGS, PM_MAX_BUILDINGS = 20, 60
OCCUPIED_RATE = 0.20

ALNUM = string.ascii_uppercase + string.digits
_NETWORK_RE = re.compile(r"^[A-Z0-9]{4}$")
_ARCEP_RE = re.compile(r"^[A-Z0-9]{2}$")

TYPES_VOIE = ("RUE", "AVENUE", "BOULEVARD", "CHEMIN", "PLACE", "ALLEE", "IMPASSE", "ROUTE")
TYPES_VOIE_WEIGHTS = (45, 10, 5, 10, 4, 10, 11, 5)
ETATS_NON_DEPLOYES = ("EN COURS DE DEPLOIEMENT", "CIBLE", "SIGNE")
ETATS_NON_DEPLOYES_WEIGHTS = (5, 3, 2)
TYPES_EMPLACEMENT = ("PME-Armoire de rue", "PME-Shelter")
TYPES_INGENIERIE = ("MONO", "BI", "QUADRI")
TYPES_PBO_EXTERIEUR = ("FACADE", "POTEAU", "CHAMBRE")

#: Common French street names, mixed with Faker-made ones ("VICTOR DUPONT").
COMMON_STREET_NAMES = (
    "DE LA GARE", "DE L EGLISE", "DES LILAS", "DU MOULIN", "DE LA MAIRIE", "DES ECOLES", "VICTOR HUGO",
    "JEAN JAURES", "PASTEUR", "DU GENERAL DE GAULLE", "DE LA REPUBLIQUE", "DES TILLEULS", "DU STADE",
    "DES ROSES", "DU CHATEAU", "DE PARIS", "DES ACACIAS", "DU MARECHAL FOCH", "GAMBETTA",
    "DE LA LIBERATION", "DES PEUPLIERS", "DU 8 MAI 1945", "DU 11 NOVEMBRE", "DE VERDUN", "DES VIGNES",
    "DES JARDINS", "DE LA FONTAINE", "DU BOIS", "DES CHAMPS", "DU PONT", "DES CERISIERS", "DU PARC",
)


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str
    postcode: str
    name: str  # upper case, no accents
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Street:
    hexacle_voie: str
    rivoli: str
    type_voie: str
    nom_voie: str
    lat: float
    lon: float


@dataclass(slots=True)
class _CommuneState:
    """Per-commune uniqueness of street names and RIVOLI codes, shared by the PMs of the commune."""

    commune: Commune
    nro: str
    names: set[tuple[str, str]] = field(default_factory=set)
    rivolis: set[str] = field(default_factory=set)


class _Context:
    """Mutable state of one generation run: RNG, Faker and allocators of unique references."""

    def __init__(self, network: str, arcep: str, seed: int) -> None:
        self.network = network
        self.arcep = arcep
        self.rng = random.Random(derive_seed(seed, network))
        self.faker = Faker("fr_FR")
        self.faker.seed_instance(self.rng.getrandbits(64))
        self._codes: set[str] = set()
        self._buildings = 0
        self._pbos = 0

    def unique_code(self, make: Callable[[], str]) -> str:
        """Draw codes with `make()` until one was never issued in this network."""
        while True:
            code = make()
            if code not in self._codes:
                self._codes.add(code)
                return code

    def random_chars(self, k: int) -> str:
        return "".join(self.rng.choices(ALNUM, k=k))

    def hexacle(self) -> str:
        # The arcep prefix keeps codes of different networks disjoint.
        return self.unique_code(lambda: self.arcep + self.random_chars(8))

    def line_reference(self) -> str:
        return self.unique_code(lambda: f"{self.arcep}-{self.random_chars(4)}-{self.random_chars(4)}")

    def building_id(self, insee: str) -> str:
        self._buildings += 1
        return f"IMB/{insee}/X/{self.arcep}{_base36(self._buildings, 4)}"

    def pbo_reference(self) -> str:
        self._pbos += 1
        return f"PBO{self.arcep}{self._pbos:06d}"


def _base36(value: int, width: int) -> str:
    digits = ""
    while value:
        value, rem = divmod(value, 36)
        digits = (string.digits + string.ascii_uppercase)[rem] + digits
    return digits.rjust(width, "0")


def _fmt(day: date) -> str:
    return day.strftime("%Y%m%d")


def derive_seed(seed: int, network: str) -> int:
    """Hash-free combination of seed and network code (stable across processes)."""
    mix = 0
    for char in network:
        mix = mix * 131 + ord(char)
    return seed * 1_000_003 + mix


def normalize(text: str) -> str:
    """Upper case without accents, apostrophes or repeated blanks ("Crépy l'Ève" -> "CREPY L EVE")."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.replace("'", " ").replace("\u2019", " ").upper().split())


@cache
def load_communes(path: Path = COMMUNES_CSV) -> tuple[Commune, ...]:
    """Communes of the csv file, names normalized."""
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Commune(
                insee=row["insee"].strip(),
                postcode=row["postcode"].strip(),
                name=normalize(row["commune"]),
                lat=float(row["lat"]),
                lon=float(row["lon"]),
            )
            for row in csv.DictReader(handle, delimiter=";")
        )


# -- steps ---------------------------------------------------------------------------------------------


def split_into_pms(rng: random.Random, size: int) -> list[int]:
    """Building counts per PM: each 20-60, except a single PM when size < 20."""
    counts: list[int] = []
    remaining = size
    while remaining > 0:
        if remaining <= PM_MAX_BUILDINGS:
            count = remaining
        else:
            # Leave at least PM_MIN_BUILDINGS for the next PM.
            count = rng.randint(PM_MIN_BUILDINGS, min(PM_MAX_BUILDINGS, remaining - PM_MIN_BUILDINGS))
        counts.append(count)
        remaining -= count
    return counts


def pick_communes(rng: random.Random, count: int) -> list[Commune]:
    communes = load_communes()
    return rng.sample(communes, min(count, MAX_COMMUNES, len(communes)))


def make_rivoli(ctx: _Context, state: _CommuneState) -> str:
    """4-char RIVOLI, unique in the commune: digits for streets, a letter first for lieux-dits."""
    rng = ctx.rng

    def draw() -> str:
        if rng.random() < 0.9:
            return f"{rng.randint(1, 9999):04d}"
        return rng.choice("ABCDEFGH") + f"{rng.randint(1, 999):03d}"

    while True:
        rivoli = draw()
        if rivoli not in state.rivolis:
            state.rivolis.add(rivoli)
            return rivoli


def make_street(ctx: _Context, state: _CommuneState) -> Street:
    rng = ctx.rng
    while True:
        type_voie = rng.choices(TYPES_VOIE, TYPES_VOIE_WEIGHTS)[0]
        if rng.random() < 0.4:
            nom = rng.choice(COMMON_STREET_NAMES)
        elif rng.random() < 0.5:
            nom = normalize(f"{ctx.faker.first_name()} {ctx.faker.last_name()}")
        else:
            nom = normalize(ctx.faker.last_name())
        if (type_voie, nom) not in state.names:
            state.names.add((type_voie, nom))
            break
    return Street(
        hexacle_voie=ctx.hexacle(),
        rivoli=make_rivoli(ctx, state),
        type_voie=type_voie,
        nom_voie=nom,
        lat=state.commune.lat + rng.uniform(-0.015, 0.015),
        lon=state.commune.lon + rng.uniform(-0.015, 0.015),
    )


def make_pm(
    ctx: _Context, index: int, state: _CommuneState, first: Address, logements: int,
    installed: date, mes: date,
) -> Pm:
    rng = ctx.rng
    number = f"{ctx.arcep}{index + 1:04d}"
    # Room for the existing homes plus growth, in whole 72-port (3-module) steps.
    capacity = max(288, math.ceil(logements * 1.3 / 72) * 72)
    return Pm(
        reference=f"PM{number}",
        reference_technique=f"PMT{number}",
        reference_prestation=f"PRPM{number}",
        etat=DEPLOYE,
        localisation=(
            f"Face au {first.numero} {first.type_voie} {first.nom_voie} {first.postcode} {first.commune}"
        ),
        date_installation=_fmt(installed),
        date_mes_commerciale=_fmt(mes),
        type_emplacement=rng.choices(TYPES_EMPLACEMENT, (9, 1))[0],
        capacite_max=capacity,
        type_ingenierie=rng.choices(TYPES_INGENIERIE, (7, 2, 1))[0],
        code_nro=state.nro,
    )


def _building_dates(mes: date, rng: random.Random, deployed: bool) -> tuple[str, str]:
    """(date_cablage, date_derniere_modification) for a building."""
    if not deployed:
        return "", _fmt(REFERENCE_DATE - timedelta(days=rng.randint(0, 700)))
    cabled = min(REFERENCE_DATE, mes + timedelta(days=rng.randint(0, 900)))
    modified = min(REFERENCE_DATE, cabled + timedelta(days=rng.randint(0, 400)))
    return _fmt(cabled), _fmt(modified)


@dataclass(slots=True)
class _PmArea:
    """Mutable accumulator while generating the buildings of one PM."""

    reference: str
    mes: date  # commercial opening: buildings are cabled after it
    fibres: int = 0  # PM positions already used by existing lines
    pbo_fibres: dict[str, int] = field(default_factory=dict)
    house_pbo: str = ""
    house_pbo_left: int = 0
    pbos: list[Pbo] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)


def _new_pbo(ctx: _Context, area: _PmArea, type_pbo: str, localisation: str) -> str:
    reference = ctx.pbo_reference()
    area.pbos.append(Pbo(reference=reference, localisation=localisation, type_pbo=type_pbo))
    area.pbo_fibres[reference] = 0
    return reference


def _building_shape(rng: random.Random, immeuble: bool) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
    """(nb_logements, escaliers, etages) of a building."""
    if not immeuble:
        return 1, ("",), ("",)
    logements = rng.randint(4, 40)
    escaliers: tuple[str, ...] = ("",)
    if logements >= 12 and rng.random() < 0.5:
        escaliers = tuple(str(n) for n in range(1, rng.randint(2, 3) + 1))
    # About 4 homes per landing and staircase, at least one floor above the ground floor.
    floors = max(1, min(8, logements // (4 * len(escaliers))))
    return logements, escaliers, ("RDC",) + tuple(str(n) for n in range(1, floors + 1))


def make_lines(
    ctx: _Context, area: _PmArea, hexacle: str, batiment: str,
    logements: int, escaliers: tuple[str, ...], etages: tuple[str, ...], pbo_by_escalier: dict[str, str],
) -> tuple[Line, ...]:
    """Existing sockets of a deployed building: between half and all of its homes, at least one."""
    rng = ctx.rng
    count = rng.randint(max(1, logements // 2), logements)
    lines = []
    for i in range(count):
        escalier = escaliers[i % len(escaliers)]
        etage = etages[(i // len(escaliers)) % len(etages)]
        pbo = pbo_by_escalier[escalier]
        route = build_route(area.reference, pbo, area.fibres, area.pbo_fibres[pbo])
        area.fibres += 1
        area.pbo_fibres[pbo] += 1
        lines.append(Line(
            reference_prise=ctx.line_reference(),
            hexacle=hexacle,
            batiment=batiment,
            escalier=escalier,
            etage=etage,
            pbo=pbo,
            route=route,
            occupied=rng.random() < OCCUPIED_RATE,
        ))
    return tuple(lines)


def make_building(
    ctx: _Context, area: _PmArea, state: _CommuneState, street: Street,
    numero: str, complement: str, hexacle: str, batiment: str, immeuble: bool,
) -> Address:
    rng = ctx.rng
    commune = state.commune
    deployed = rng.random() < 0.85
    etat = DEPLOYE if deployed else rng.choices(ETATS_NON_DEPLOYES, ETATS_NON_DEPLOYES_WEIGHTS)[0]
    logements, escaliers, etages = _building_shape(rng, immeuble)
    label = f"{numero}{' ' + complement if complement else ''} {street.type_voie} {street.nom_voie}"
    pbo_by_escalier: dict[str, str] = {}
    if deployed and immeuble:
        for escalier in escaliers:
            where = " ".join(p for p in (f"Bat {batiment}" if batiment else "",
                                         f"Esc {escalier}" if escalier else "") if p)
            pbo_by_escalier[escalier] = _new_pbo(
                ctx, area, "IMMEUBLE", f"{where + ' ' if where else ''}RDC - {label} {commune.name}"
            )
    elif deployed:
        # Neighbouring houses share one street-side PBO.
        if area.house_pbo_left <= 0:
            type_pbo = rng.choices(TYPES_PBO_EXTERIEUR, (5, 3, 2))[0]
            localisation = f"{type_pbo.title()} face au {label} {commune.name}"
            area.house_pbo = _new_pbo(ctx, area, type_pbo, localisation)
            area.house_pbo_left = rng.randint(2, 6)
        area.house_pbo_left -= 1
        pbo_by_escalier[""] = area.house_pbo
    lines = (make_lines(ctx, area, hexacle, batiment, logements, escaliers, etages, pbo_by_escalier)
             if deployed else ())
    cabled, modified = _building_dates(area.mes, rng, deployed)
    return Address(
        identifiant_immeuble=ctx.building_id(commune.insee),
        etat_immeuble=etat,
        hexacle=hexacle,
        hexacle_voie=street.hexacle_voie,
        insee=commune.insee,
        postcode=commune.postcode,
        commune=commune.name,
        rivoli=street.rivoli,
        type_voie=street.type_voie,
        nom_voie=street.nom_voie,
        numero=numero,
        complement=complement,
        batiment=batiment,
        nb_logements=logements,
        type_immeuble="IMMEUBLE" if immeuble else "PAVILLON",
        type_projection="WGS84",
        x=f"{street.lon + rng.uniform(-0.002, 0.002):.6f}",
        y=f"{street.lat + rng.uniform(-0.002, 0.002):.6f}",
        date_cablage=cabled,
        date_derniere_modification=modified,
        accord_gestionnaire="O" if immeuble and rng.random() < 0.9 else "N",
        pm=area.reference,
        type_zone="3",
        escaliers=escaliers,
        etages=etages,
        pbos=tuple(dict.fromkeys(pbo_by_escalier.values())),
        lines=lines,
    )


def make_street_addresses(
    ctx: _Context, area: _PmArea, state: _CommuneState, street: Street, budget: int
) -> None:
    """Buildings along one street, at most `budget` of them."""
    rng = ctx.rng
    area.house_pbo_left = 0  # street-side PBOs never span two streets
    numero = rng.randint(1, 4)
    for _ in range(rng.randint(3, 12)):
        if budget <= 0:
            return
        complement = rng.choices(("", "B", "T"), (93, 5, 2))[0]
        hexacle = ctx.hexacle()
        immeuble = rng.random() < 0.3
        # A quarter of the residences hold several buildings at the same address.
        buildings = min(budget, rng.randint(2, 3)) if immeuble and rng.random() < 0.25 else 1
        for b in range(buildings):
            batiment = "ABC"[b] if buildings > 1 else ""
            area.addresses.append(make_building(
                ctx, area, state, street, str(numero), complement, hexacle, batiment, immeuble
            ))
        budget -= buildings
        numero += rng.randint(1, 4)


def make_pm_area(ctx: _Context, index: int, state: _CommuneState, buildings: int) -> tuple[Pm, _PmArea]:
    """One PM and the `buildings` buildings it serves, all in one commune."""
    installed = date(2016, 1, 1) + timedelta(days=ctx.rng.randint(0, 6 * 365))
    mes = installed + timedelta(days=ctx.rng.randint(90, 180))
    # The Pm itself (localisation, capacity) is only known once its buildings exist.
    area = _PmArea(reference=f"PM{ctx.arcep}{index + 1:04d}", mes=mes)
    while len(area.addresses) < buildings:
        street = make_street(ctx, state)
        make_street_addresses(ctx, area, state, street, buildings - len(area.addresses))
    logements = sum(a.nb_logements for a in area.addresses)
    pm = make_pm(ctx, index, state, area.addresses[0], logements, installed, mes)
    return pm, area


def generate_network(network: str, arcep: str, seed: int, size: int = 300) -> ReferenceNetwork:
    """Generate the reference network of `network` (Interop code) whose ARCEP code is `arcep`.

    `size` is the number of buildings (IPE lines).  Same arguments give an equal network.
    """
    if not _NETWORK_RE.match(network):
        raise ValueError(f"network must be 4 upper-case alphanumerics, got {network!r}")
    if not _ARCEP_RE.match(arcep):
        raise ValueError(f"arcep must be 2 upper-case alphanumerics, got {arcep!r}")
    if size < 1:
        raise ValueError("size must be >= 1")
    ctx = _Context(network, arcep, seed)
    counts = split_into_pms(ctx.rng, size)
    states = [
        _CommuneState(commune, nro=f"NRO{arcep}{i + 1:03d}")
        for i, commune in enumerate(pick_communes(ctx.rng, len(counts)))
    ]
    pms: list[Pm] = []
    pbos: list[Pbo] = []
    addresses: list[Address] = []
    for index, count in enumerate(counts):
        pm, area = make_pm_area(ctx, index, states[index % len(states)], count)
        pms.append(pm)
        pbos.extend(area.pbos)
        addresses.extend(area.addresses)
    return ReferenceNetwork(
        network=network, arcep=arcep, pms=tuple(pms), addresses=tuple(addresses), pbos=tuple(pbos)
    )
