"""Deterministic, streaming generation of a reference network from (network, arcep, seed, size, departments).

The network is drawn one PM area at a time (a PM, its streets, buildings and PBOs, all in one commune) and
each area's rows go straight to SQLite: memory stays flat whatever the size. All randomness comes from one
`random.Random` derived without `hash()` (which is salted per process) plus a seeded Faker used for street
names only; unique codes come from seeded bijections (`model.Codes`), not from sets of codes issued.

`ensure_network` writes a network once per data dir (to a temporary file, renamed when complete) and opens
it read-only afterwards; `generate_network` builds one in memory, for tests.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import logging
import math
import os
import random
import re
import shutil
import sqlite3
import unicodedata
import zlib
from bisect import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache
from itertools import accumulate
from pathlib import Path

from .model import (
    BUILDING_COLUMNS,
    CODE_SPACE,
    DEPLOYE,
    INDEXES,
    IPE_SEP,
    LIST_SEP,
    PM_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    Codes,
    ReferenceNetwork,
    base36,
)


def _cum(weights: tuple[int, ...]) -> tuple[int, ...]:
    """Cumulative weights, for FastRandom.pick."""
    return tuple(accumulate(weights))


log = logging.getLogger(__name__)

COMMUNES_CSV = Path(__file__).with_name("communes.csv")

#: Fixed "today" so that dates never depend on the wall clock.
REFERENCE_DATE = date(2024, 6, 30)

#: Departments drawn from when a profile names none (Aisne, Oise, Somme).
DEFAULT_DEPARTMENTS: tuple[str, ...] = ("02", "60", "80")

MAX_COMMUNES = 8  # small networks: at most this many communes
PMS_PER_COMMUNE = 4  # big networks: about one commune per this many PMs (up to every commune available)
PM_MIN_BUILDINGS, PM_MAX_BUILDINGS = 20, 60
DEPLOYED_RATE = 0.85
#: TypeZone by commune population (zone 1: very dense areas; 2: less dense, private; 3: public networks).
ZONE_1_POPULATION, ZONE_2_POPULATION = 50_000, 5_000

_NETWORK_RE = re.compile(r"^[A-Z0-9]{4}$")
_ARCEP_RE = re.compile(r"^[A-Z0-9]{2}$")

TYPES_VOIE = ("RUE", "AVENUE", "BOULEVARD", "CHEMIN", "PLACE", "ALLEE", "IMPASSE", "ROUTE")
TYPES_VOIE_WEIGHTS = _cum((45, 10, 5, 10, 4, 10, 11, 5))
ETATS_NON_DEPLOYES = ("EN COURS DE DEPLOIEMENT", "CIBLE", "SIGNE")
ETATS_NON_DEPLOYES_WEIGHTS = _cum((5, 3, 2))
# Free text of the operator's own, accents kept (ISO-8859-1 carries them): the IPE an OC reads is not pure ASCII,
# as a real one is not. The address columns stay upper case without accents, as the national referentials
# (FANTOIR, Hexaclé) and the web services write them.
TYPES_EMPLACEMENT = ("PME-Armoire de rue équipée", "PME-Shelter béton préfabriqué")
TYPES_INGENIERIE = ("MONO", "BI", "QUADRI")
TYPES_PBO_EXTERIEUR = ("FACADE", "POTEAU", "CHAMBRE")
TYPES_PBO_EXTERIEUR_WEIGHTS = _cum((5, 3, 2))
COMPLEMENTS, COMPLEMENTS_WEIGHTS = ("", "B", "T"), _cum((93, 5, 2))
TYPES_EMPLACEMENT_WEIGHTS = _cum((9, 1))
TYPES_INGENIERIE_WEIGHTS = _cum((7, 2, 1))
NRO_PM_LINK_CAPACITIES = (12, 24, 48)

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
    departement: str
    population: int
    lat: float
    lon: float

    @property
    def zone(self) -> str:
        if self.population >= ZONE_1_POPULATION:
            return "1"
        return "2" if self.population >= ZONE_2_POPULATION else "3"


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
    """Per-commune uniqueness of street names and RIVOLI codes, and the commune's NRO."""

    commune: Commune
    nro: str
    names: set[tuple[str, str]] = field(default_factory=set)
    rivolis: set[str] = field(default_factory=set)
    nro_written: bool = False


def _fmt(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


@cache
def _fmt_ordinal(ordinal: int) -> str:
    # A few thousand distinct days over a whole network: formatted once each.
    return _fmt(date.fromordinal(ordinal))


class FastRandom(random.Random):
    """random.Random whose integer draws take one C-level random() call: several times faster than the
    standard rejection sampling, with a bias (about 2**-53) of no matter for synthetic data."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def pick(self, values: tuple, cum_weights: tuple[int, ...]):  # noqa: ANN201 - one of `values`
        return values[bisect(cum_weights, self.random() * cum_weights[-1])]


def derive_seed(seed: int, network: str) -> int:
    """Hash-free combination of seed and network code (stable across processes)."""
    mix = 0
    for char in network:
        mix = mix * 131 + ord(char)
    return seed * 1_000_003 + mix


@lru_cache(maxsize=1 << 16)  # street names drawn by Faker come back often
def normalize(text: str) -> str:
    """Upper case without accents, apostrophes or repeated blanks ("Crépy l'Ève" -> "CREPY L EVE")."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = stripped.replace("'", " ").replace("\u2019", " ").replace(";", " ").replace('"', " ")
    return " ".join(cleaned.upper().split())


def _unit(text: str) -> float:
    """A stable number in [0, 1) from a text (crc32: the same in every process)."""
    return zlib.crc32(text.encode()) / 2**32


def _place(departement: str, insee: str) -> tuple[float, float]:
    """Synthetic (lat, lon): a department's communes within about 30 km of a point drawn from its code,
    inside metropolitan France's bounding box (the open data fixture has no coordinates)."""
    lat = 43.0 + 7.5 * _unit("lat" + departement) + 0.5 * (_unit("y" + insee) - 0.5)
    lon = -1.0 + 8.0 * _unit("lon" + departement) + 0.7 * (_unit("x" + insee) - 0.5)
    return lat, lon


@cache
def load_communes(path: Path = COMMUNES_CSV, departments: tuple[str, ...] | None = None) -> tuple[Commune, ...]:
    """The communes of the csv file (fixtures/refdata/README.md), names normalized; of `departments` only when
    given (normalizing every name of France took a fifth of a fresh data dir's start)."""
    wanted = set(departments) if departments is not None else None
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Commune(row["insee"], row["postcode"], normalize(row["commune"]), row["departement"],
                    int(row["population"] or 0), *_place(row["departement"], row["insee"]))
            for row in csv.DictReader(handle, delimiter=";")
            if wanted is None or row["departement"] in wanted
        )


def parse_departments(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Department codes from a setting ("02,60,80" or a list); empty or None: the default set."""
    if value is None:
        return DEFAULT_DEPARTMENTS
    items = value.replace(";", ",").split(",") if isinstance(value, str) else list(value)
    codes = tuple(sorted({item.strip().upper().zfill(2) for item in items if item.strip()}))
    return codes or DEFAULT_DEPARTMENTS


@cache
def communes_of(departments: tuple[str, ...]) -> tuple[Commune, ...]:
    communes = load_communes(COMMUNES_CSV, departments)
    if not communes:
        raise ValueError(f"no commune in departments {', '.join(departments)} (see fixtures/refdata/README.md)")
    return communes


# -- steps ---------------------------------------------------------------------------------------------


def split_into_pms(rng: FastRandom, size: int) -> list[int]:
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


def pick_communes(rng: FastRandom, pms: int, departments: tuple[str, ...]) -> list[Commune]:
    pool = communes_of(departments)
    wanted = max(min(pms, MAX_COMMUNES), pms // PMS_PER_COMMUNE)
    return rng.sample(pool, min(wanted, len(pool)))


def _draw_mul(rng: FastRandom) -> int:
    mul = rng.randrange(CODE_SPACE // 3, CODE_SPACE) | 1  # odd...
    while mul % 3 == 0:  # ...and not a multiple of 3: prime to 36, so a bijection
        mul += 2
    return mul


class _Context:
    """Mutable state of one generation run: RNG, Faker and the counters behind unique references."""

    def __init__(self, network: str, arcep: str, seed: int) -> None:
        self.network = network
        self.arcep = arcep
        self.rng = FastRandom(derive_seed(seed, network))
        from faker import Faker  # here, not at the top: a start on an existing network never generates

        self.faker = Faker("fr_FR")
        self.faker.seed_instance(self.rng.getrandbits(64))
        rng = self.rng
        self.codes = Codes(_draw_mul(rng), rng.randrange(CODE_SPACE), _draw_mul(rng), rng.randrange(CODE_SPACE),
                           rng.getrandbits(32))
        self.hexacles = 0
        self.buildings = 0
        self.lines = 0
        self.pbos = 0

    def hexacle(self) -> str:
        self.hexacles += 1
        return self.codes.hexacle(self.arcep, self.hexacles)

    def building_id(self, insee: str) -> str:
        self.buildings += 1
        return f"IMB/{insee}/X/{self.arcep}{base36(self.buildings, 4)}"

    def pbo_reference(self) -> str:
        self.pbos += 1
        return f"PBO{self.arcep}{self.pbos:06d}"


def make_rivoli(rng: FastRandom, state: _CommuneState) -> str:
    """4-char RIVOLI, unique in the commune: digits for streets, a letter first for lieux-dits."""
    while True:
        if rng.random() < 0.9:
            rivoli = f"{rng.randint(1, 9999):04d}"
        else:
            rivoli = rng.choice("ABCDEFGH") + f"{rng.randint(1, 999):03d}"
        if rivoli not in state.rivolis:
            state.rivolis.add(rivoli)
            return rivoli


def make_street(ctx: _Context, state: _CommuneState) -> Street:
    rng = ctx.rng
    while True:
        type_voie = rng.pick(TYPES_VOIE, TYPES_VOIE_WEIGHTS)
        draw = rng.random()
        if draw < 0.4:
            nom = rng.choice(COMMON_STREET_NAMES)
        elif draw < 0.7:
            nom = normalize(f"{ctx.faker.first_name()} {ctx.faker.last_name()}")
        else:
            nom = normalize(ctx.faker.last_name())
        if (type_voie, nom) not in state.names:
            state.names.add((type_voie, nom))
            break
    return Street(
        hexacle_voie=ctx.hexacle(),
        rivoli=make_rivoli(rng, state),
        type_voie=type_voie,
        nom_voie=nom,
        lat=state.commune.lat + (rng.random() - 0.5) * 0.03,
        lon=state.commune.lon + (rng.random() - 0.5) * 0.03,
    )


@dataclass(slots=True)
class _PmArea:
    """The rows of one PM area while they are drawn; written to the database when it is complete."""

    reference: str
    mes: int  # commercial opening (day ordinal): buildings are cabled after it
    fibres: int = 0  # PM positions used by existing lines
    pbo_fibres: dict[str, int] = field(default_factory=dict)
    pbo_rows: list[list] = field(default_factory=list)
    house_pbo: str = ""
    house_pbo_left: int = 0
    logements: int = 0
    first: str = ""  # the first building's street address: where the PM stands
    buildings: list[list] = field(default_factory=list)
    streets: list[tuple] = field(default_factory=list)


def _new_pbo(ctx: _Context, area: _PmArea, type_pbo: str, localisation: str) -> str:
    reference = ctx.pbo_reference()
    area.pbo_rows.append([reference, area.reference, localisation, type_pbo, 0])
    area.pbo_fibres[reference] = 0
    return reference


def _building_shape(rng: FastRandom, immeuble: bool) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
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


_REFERENCE_DAY = REFERENCE_DATE.toordinal()


def _building_dates(mes: int, rng: FastRandom, deployed: bool) -> tuple[str, str]:
    """(date_cablage, date_derniere_modification) for a building; `mes` is a day ordinal."""
    if not deployed:
        return "", _fmt_ordinal(_REFERENCE_DAY - rng.randint(0, 700))
    cabled = min(_REFERENCE_DAY, mes + rng.randint(0, 900))
    modified = min(_REFERENCE_DAY, cabled + rng.randint(0, 400))
    return _fmt_ordinal(cabled), _fmt_ordinal(modified)


def make_building(
    ctx: _Context, area: _PmArea, state: _CommuneState, street: Street,
    numero: str, complement: str, hexacle: str, batiment: str, immeuble: bool,
) -> tuple:
    """One building's row (model.BUILDING_COLUMNS); its existing lines are a range of line numbers."""
    rng = ctx.rng
    commune = state.commune
    deployed = rng.random() < DEPLOYED_RATE
    etat = DEPLOYE if deployed else rng.pick(ETATS_NON_DEPLOYES, ETATS_NON_DEPLOYES_WEIGHTS)
    logements, escaliers, etages = _building_shape(rng, immeuble)
    pbos: list[str] = []
    pbo_slot = 0
    if deployed:
        label = f"{numero}{' ' + complement if complement else ''} {street.type_voie} {street.nom_voie}"
    if deployed and immeuble:
        for escalier in escaliers:  # one PBO per staircase, on the ground floor
            where = " ".join(p for p in (f"Bat {batiment}" if batiment else "",
                                         f"Esc {escalier}" if escalier else "") if p)
            pbos.append(_new_pbo(ctx, area, "IMMEUBLE", f"{where + ' ' if where else ''}RDC - {label} "
                                                        f"{commune.name}"))
    elif deployed:
        # Neighbouring houses share one street-side PBO.
        if area.house_pbo_left <= 0:
            type_pbo = rng.pick(TYPES_PBO_EXTERIEUR, TYPES_PBO_EXTERIEUR_WEIGHTS)
            area.house_pbo = _new_pbo(ctx, area, type_pbo, f"{type_pbo.title()} face au {label} {commune.name}")
            area.house_pbo_left = rng.randint(2, 6)
        area.house_pbo_left -= 1
        pbos.append(area.house_pbo)
        pbo_slot = area.pbo_fibres[area.house_pbo]
    # Existing sockets of a deployed building: between half and all of its homes, at least one.
    n_lines = rng.randint(max(1, logements // 2), logements) if deployed else 0
    first_line, pm_slot = ctx.lines, area.fibres
    ctx.lines += n_lines
    area.fibres += n_lines
    for e, pbo in enumerate(pbos):  # line i goes through the PBO of staircase i % len(escaliers)
        area.pbo_fibres[pbo] += len(range(e, n_lines, len(escaliers)))
    cabled, modified = _building_dates(area.mes, rng, deployed)
    x = f"{street.lon + (rng.random() - 0.5) * 0.004:.6f}"
    y = f"{street.lat + (rng.random() - 0.5) * 0.004:.6f}"
    accord = "O" if immeuble and rng.random() < 0.9 else "N"
    area.logements += logements
    if not area.first:
        area.first = f"{numero}{' ' + complement if complement else ''} {street.type_voie} {street.nom_voie}"
    identifiant = ctx.building_id(commune.insee)
    # The IPE line up to the PM's fields (model.IPE_COLUMNS), completed when the PM is known.
    ipe = IPE_SEP.join((
        identifiant, etat, hexacle, street.hexacle_voie, commune.insee, commune.postcode, commune.name,
        street.rivoli, street.type_voie, street.nom_voie, numero, complement, batiment, str(logements),
        "IMMEUBLE" if immeuble else "PAVILLON", "WGS84", x, y, cabled, modified, accord))
    return [
        ctx.buildings, identifiant, etat, hexacle, commune.insee, street.rivoli, numero, complement,
        area.reference, _joined(escaliers), _joined(etages), LIST_SEP.join(pbos), first_line, n_lines, pm_slot,
        pbo_slot, ipe,
    ]


@cache
def _joined(values: tuple[str, ...]) -> str:
    return LIST_SEP.join(values)


def make_street_addresses(
    ctx: _Context, area: _PmArea, state: _CommuneState, street: Street, budget: int
) -> None:
    """Buildings along one street, at most `budget` of them."""
    rng = ctx.rng
    area.house_pbo_left = 0  # street-side PBOs never span two streets
    area.streets.append((street.hexacle_voie, state.commune.insee, street.rivoli, street.type_voie,
                         street.nom_voie))
    numero = rng.randint(1, 4)
    for _ in range(rng.randint(3, 12)):
        if budget <= 0:
            return
        complement = rng.pick(COMPLEMENTS, COMPLEMENTS_WEIGHTS)
        hexacle = ctx.hexacle()
        immeuble = rng.random() < 0.3
        # A quarter of the residences hold several buildings at the same address.
        buildings = min(budget, rng.randint(2, 3)) if immeuble and rng.random() < 0.25 else 1
        for b in range(buildings):
            batiment = "ABC"[b] if buildings > 1 else ""
            area.buildings.append(make_building(
                ctx, area, state, street, str(numero), complement, hexacle, batiment, immeuble
            ))
        budget -= buildings
        numero += rng.randint(1, 4)


def make_pm_area(ctx: _Context, index: int, state: _CommuneState, buildings: int) -> tuple[list, _PmArea]:
    """One PM (its row) and the `buildings` buildings it serves, all in one commune."""
    rng = ctx.rng
    installed = date(2016, 1, 1) + timedelta(days=rng.randint(0, 6 * 365))
    mes = installed + timedelta(days=rng.randint(90, 180))
    number = f"{ctx.arcep}{index + 1:04d}"
    area = _PmArea(reference=f"PM{number}", mes=mes.toordinal())
    while len(area.buildings) < buildings:
        street = make_street(ctx, state)
        make_street_addresses(ctx, area, state, street, buildings - len(area.buildings))
    where = area.first
    # Room for the existing homes plus growth, in whole 72-port (3-module) steps.
    capacity = max(288, math.ceil(area.logements * 1.3 / 72) * 72)
    commune = state.commune
    pm = [
        area.reference, f"PMT{number}", f"PRPM{number}", DEPLOYE,
        f"Face au {where} {commune.postcode} {commune.name}", _fmt(installed), _fmt(mes),
        rng.pick(TYPES_EMPLACEMENT, TYPES_EMPLACEMENT_WEIGHTS), capacity,
        rng.pick(TYPES_INGENIERIE, TYPES_INGENIERIE_WEIGHTS),
        state.nro, commune.zone, area.fibres,
    ]
    # Every IPE line of the area gets the PM's fields, then its TypeZone.
    tail = IPE_SEP + IPE_SEP.join((pm[0], pm[3], pm[5], pm[6], pm[7], str(pm[8]), pm[9], commune.zone))
    for row in area.buildings:
        row[-1] += tail
    return pm, area


@dataclass(frozen=True, slots=True)
class AreaRows:
    """Every row of one PM area, ready to insert."""

    pm: list
    link: tuple
    nro: tuple | None
    pbos: list[list]
    streets: list[tuple]
    buildings: list[list]


def _check(network: str, arcep: str, size: int) -> None:
    if not _NETWORK_RE.match(network):
        raise ValueError(f"network must be 4 upper-case alphanumerics, got {network!r}")
    if not _ARCEP_RE.match(arcep):
        raise ValueError(f"arcep must be 2 upper-case alphanumerics, got {arcep!r}")
    if size < 1:
        raise ValueError("size must be >= 1")


def iter_areas(ctx: _Context, size: int, departments: tuple[str, ...]) -> Iterator[AreaRows]:
    """The network, one PM area at a time."""
    counts = split_into_pms(ctx.rng, size)
    states = [_CommuneState(commune, nro=f"NRO{ctx.arcep}{i + 1:03d}")
              for i, commune in enumerate(pick_communes(ctx.rng, len(counts), departments))]
    for index, count in enumerate(counts):
        state = states[index % len(states)]
        pm, area = make_pm_area(ctx, index, state, count)
        for row in area.pbo_rows:
            row[4] = area.pbo_fibres[row[0]]
        link = (f"LNP{pm[0][2:]}", pm[0], state.nro, ctx.rng.choice(NRO_PM_LINK_CAPACITIES), pm[5], "ACTIF")
        nro = None
        if not state.nro_written:
            state.nro_written = True
            c = state.commune
            nro = (state.nro, c.insee, c.name, f"{c.lon:.6f}", f"{c.lat:.6f}")
        yield AreaRows(pm, link, nro, area.pbo_rows, area.streets, area.buildings)


def _insert_areas(db: sqlite3.Connection, ctx: _Context, size: int, departments: tuple[str, ...], batch: int,
                  pending: dict[str, list], sql: dict[str, str]) -> None:
    def flush() -> None:
        for table, rows in pending.items():
            if rows:
                db.executemany(sql[table], rows)
                rows.clear()

    for area in iter_areas(ctx, size, departments):
        pending["pm"].append(area.pm)
        pending["lien_nro_pm"].append(area.link)
        if area.nro:
            pending["nro"].append(area.nro)
        pending["pbo"].extend(area.pbos)
        pending["street"].extend(area.streets)
        pending["building"].extend(area.buildings)
        if len(pending["building"]) >= batch:
            flush()
    flush()


def write_network(db: sqlite3.Connection, network: str, arcep: str, seed: int, size: int,
                  departments: tuple[str, ...] = DEFAULT_DEPARTMENTS, batch: int = 20_000) -> None:
    """Generate the network into the empty database `db`, in batches of about `batch` buildings."""
    _check(network, arcep, size)
    ctx = _Context(network, arcep, seed)
    db.executescript(SCHEMA)
    marks = ", ".join("?" * len(BUILDING_COLUMNS))
    pm_marks = ", ".join("?" * (len(PM_COLUMNS) + 1))
    pending: dict[str, list] = {"pm": [], "lien_nro_pm": [], "nro": [], "pbo": [], "street": [], "building": []}
    sql = {"pm": f"INSERT INTO pm VALUES ({pm_marks})", "lien_nro_pm": "INSERT INTO lien_nro_pm VALUES (?,?,?,?,?,?)",
           "nro": "INSERT INTO nro VALUES (?,?,?,?,?)", "pbo": "INSERT INTO pbo VALUES (?,?,?,?,?)",
           "street": "INSERT INTO street VALUES (?,?,?,?,?)", "building": f"INSERT INTO building VALUES ({marks})"}
    db.execute("BEGIN")
    # Millions of short-lived tuples and no reference cycles: the cyclic GC would only scan them, again
    # and again (about 10 % of the run).
    collecting = gc.isenabled()
    gc.disable()
    try:
        _insert_areas(db, ctx, size, departments, batch, pending, sql)
    finally:
        if collecting:
            gc.enable()
    codes = ctx.codes
    meta = {"network": network, "arcep": arcep, "seed": str(seed), "size": str(size),
            "departments": ",".join(departments), "schema": SCHEMA_VERSION, "total_lines": str(ctx.lines),
            "hex_mul": str(codes.hex_mul), "hex_add": str(codes.hex_add), "line_mul": str(codes.line_mul),
            "line_add": str(codes.line_add), "occupied_salt": str(codes.occupied_salt)}
    db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    db.executescript(INDEXES)  # commits the transaction too
    db.commit()


def generate_network(network: str, arcep: str, seed: int, size: int = 300,
                     departments: tuple[str, ...] = DEFAULT_DEPARTMENTS) -> ReferenceNetwork:
    """Generate the reference network of `network` (Interop code) whose ARCEP code is `arcep`, in memory.

    `size` is the number of buildings (IPE lines). Same arguments give an equal network.
    """
    _check(network, arcep, size)
    db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    write_network(db, network, arcep, seed, size, departments)
    return ReferenceNetwork.in_memory(db)


def network_path(folder: Path, network: str) -> Path:
    return Path(folder) / f"{network}.sqlite3"


def ensure_network(folder: Path, network: str, arcep: str, seed: int, size: int,
                   departments: tuple[str, ...] = DEFAULT_DEPARTMENTS, reuse: bool = True) -> ReferenceNetwork:
    """The network stored in `folder`, generated there first if missing or made with other arguments.

    Generation writes a temporary file renamed when complete: a crash never leaves half a network. With
    `reuse`, an identical network made earlier (by this process, or kept in the machine's cache: see
    `cache_dir`) is copied instead of drawn again.
    """
    _check(network, arcep, size)
    path = network_path(folder, network)
    wanted = {"network": network, "arcep": arcep, "seed": str(seed), "size": str(size),
              "departments": ",".join(departments), "schema": SCHEMA_VERSION}
    if path.exists():
        try:
            existing = ReferenceNetwork.open(path)
            if all(existing.meta.get(k) == v for k, v in wanted.items()):
                return existing
            changed = {k: (existing.meta.get(k), v) for k, v in wanted.items() if existing.meta.get(k) != v}
            log.warning("network %s: generated anew in %s (%s)", network, path,
                        ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items()))
        except (sqlite3.DatabaseError, KeyError):
            log.warning("network %s: %s is unreadable, generated anew", network, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    key = tuple(wanted.values())
    if reuse:
        # Same arguments and the same generator give the same network: a copy of one made earlier is as
        # good (test suites, benchmarks and CI start many sandboxes, each in a new data dir).
        for twin in (_WRITTEN.get(key), _cached(key, size)):
            if twin is not None and twin != path and _copy_network(twin, tmp, path):
                return ReferenceNetwork.open(path)
    db = sqlite3.connect(tmp, isolation_level=None)
    try:
        # A file being written is thrown away on failure: no journal needed, and much faster.
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        write_network(db, network, arcep, seed, size, departments)
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise
    db.close()
    os.replace(tmp, path)
    _WRITTEN[key] = path
    _keep(key, size, path)
    return ReferenceNetwork.open(path)


#: Networks written by this process, by their arguments: ensure_network copies rather than draws again.
_WRITTEN: dict[tuple[str, ...], Path] = {}

#: Networks kept in the machine's cache: up to this many buildings (a 10,000-building network is 5 MB; a
#: million, 500 MB, is not copied around), and this many files (the oldest go first).
CACHE_MAX_SIZE = 200_000
CACHE_MAX_FILES = 8


def cache_dir() -> Path | None:
    """Where generated networks are kept for the next fresh data dir of this machine: $OPSIM_CACHE_DIR
    (empty: no cache), else $XDG_CACHE_HOME/opsim/networks, else ~/.cache/opsim/networks."""
    chosen = os.environ.get("OPSIM_CACHE_DIR")
    if chosen is not None:
        return Path(chosen) / "networks" if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "opsim" / "networks"


@cache
def _generator_fingerprint() -> str:
    """What a network is drawn from besides its arguments: this code, the model's and the communes."""
    digest = hashlib.sha256()
    for source in (Path(__file__), Path(__file__).with_name("model.py"), COMMUNES_CSV):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _cache_path(key: tuple[str, ...], size: int) -> Path | None:
    folder = cache_dir()
    if folder is None or size > CACHE_MAX_SIZE:
        return None
    name = "-".join(part.replace(",", "_") for part in key)
    return folder / f"{name}-{_generator_fingerprint()}.sqlite3"


def _cached(key: tuple[str, ...], size: int) -> Path | None:
    path = _cache_path(key, size)
    return path if path is not None and path.exists() else None


def _copy_network(source: Path, tmp: Path, path: Path) -> bool:
    """Copy a network file into place; False (and nothing in place) if it cannot be read as the same one."""
    try:
        shutil.copyfile(source, tmp)
        if ReferenceNetwork.open(tmp).meta["network"] != path.stem:  # a damaged file is drawn again
            raise KeyError(path.stem)
    except (OSError, sqlite3.DatabaseError, KeyError):
        log.debug("network copy from %s failed", source, exc_info=True)
        tmp.unlink(missing_ok=True)
        return False
    os.replace(tmp, path)
    return True


def _keep(key: tuple[str, ...], size: int, path: Path) -> None:
    """Keep a copy of a network just drawn in the machine's cache (replacing a damaged one); a cache that
    cannot be written is no cache, never an error."""
    target = _cache_path(key, size)
    if target is None:
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f"{target.name}.{os.getpid()}.part")
        shutil.copyfile(path, part)
        os.replace(part, target)  # whole or absent, even with two starts at once
        kept = sorted(target.parent.glob("*.sqlite3"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[CACHE_MAX_FILES:]:
            old.unlink(missing_ok=True)
    except OSError:
        log.debug("cannot keep network %s in %s", path, target.parent, exc_info=True)

