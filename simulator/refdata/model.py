"""Reference network of an FTTH delegation: PMs, PBOs, buildings (IPE lines) and sockets, kept in SQLite.

The generator (generator.py) writes a network once into its own SQLite database; `ReferenceNetwork`
answers every lookup from there, so nothing is held whole in memory and a restart rebuilds nothing.
Existing sockets (lines) are not rows: a building stores its first line number and its count, and each
line's reference, floor, staircase, PBO and route are derived from that number (see `Codes`).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: Column names of an IPE line, in file order.
IPE_COLUMNS: tuple[str, ...] = (
    "IdentifiantImmeuble",
    "EtatImmeuble",
    "CodeAdresseImmeuble",
    "CodeHexacleVoie",
    "CodeInseeImmeuble",
    "CodePostalImmeuble",
    "CommuneImmeuble",
    "CodeVoieRivoliImmeuble",
    "TypeVoieImmeuble",
    "NomVoieImmeuble",
    "NumeroVoieImmeuble",
    "ComplementNumeroVoieImmeuble",
    "BatimentImmeuble",
    "NombreLogementsAdresseIPE",
    "TypeImmeuble",
    "TypeProjection",
    "CoordonneeImmeubleX",
    "CoordonneeImmeubleY",
    "DateCablageAdresse",
    "DateDerniereModification",
    "AccordGestionnaireImmeubleNecessaire",
    "ReferencePM",
    "EtatPM",
    "DateInstallationPM",
    "DateMiseEnServiceCommercialePM",
    "TypeEmplacementPM",
    "CapaciteMaxPM",
    "TypeIngenierie",
    "TypeZone",
)

DEPLOYE = "DEPLOYE"

#: FOTAG colour code, used for tubes, fibres and socket connectors.
FOTAG_COLOURS: tuple[str, ...] = (
    "ROUGE", "BLEU", "VERT", "JAUNE", "VIOLET", "BLANC",
    "ORANGE", "GRIS", "MARRON", "NOIR", "TURQUOISE", "ROSE",
)

#: Positions per PM module (one 24-fibre distribution cable per module).
MODULE_POSITIONS = 24


@dataclass(frozen=True, slots=True)
class Pm:
    """Point de Mutualisation."""

    reference: str
    reference_technique: str
    reference_prestation: str
    etat: str
    localisation: str
    date_installation: str
    date_mes_commerciale: str
    type_emplacement: str
    capacite_max: int
    type_ingenierie: str
    code_nro: str
    type_zone: str = "3"


@dataclass(frozen=True, slots=True)
class Pbo:
    """Point de Branchement Optique."""

    reference: str
    localisation: str
    type_pbo: str


@dataclass(frozen=True, slots=True)
class Route:
    """Optical route from a PM module position to a socket connector."""

    nom_module_pm: str
    position_module_pm: str
    reference_cable_module_pm: str
    information_tube_module_pm: str
    information_fibre_module_pm: str
    reference_cable_pbo: str
    information_tube_pbo: str
    information_fibre_pbo: str
    connecteur_prise_numero: str
    connecteur_prise_couleur: str


@dataclass(frozen=True, slots=True)
class Line:
    """An existing socket (PTO)."""

    reference_prise: str
    hexacle: str
    batiment: str
    escalier: str
    etage: str
    pbo: str
    route: Route
    occupied: bool


@dataclass(frozen=True, slots=True)
class Address:
    """One IPE line: one building at one street address."""

    identifiant_immeuble: str
    etat_immeuble: str
    hexacle: str
    hexacle_voie: str
    insee: str
    postcode: str
    commune: str
    rivoli: str
    type_voie: str
    nom_voie: str
    numero: str
    complement: str
    batiment: str
    nb_logements: int
    type_immeuble: str
    type_projection: str
    x: str
    y: str
    date_cablage: str
    date_derniere_modification: str
    accord_gestionnaire: str
    pm: str
    type_zone: str
    escaliers: tuple[str, ...]
    etages: tuple[str, ...]
    pbos: tuple[str, ...]
    lines: Lines  # each line is built when it is read, not with the address

    @property
    def deployed(self) -> bool:
        return self.etat_immeuble == DEPLOYE


def build_route(pm_reference: str, pbo_reference: str, pm_slot: int, pbo_slot: int) -> Route:
    """Route using fibre number `pm_slot` at the PM and `pbo_slot` at the PBO (both 0-based).

    Distinct `pm_slot` values always give distinct (module, position) pairs.
    """
    module, position = divmod(pm_slot, MODULE_POSITIONS)
    tube_pm, fibre_pm = divmod(position, 12)
    tube_pbo, fibre_pbo = divmod(pbo_slot, 12)
    return Route(
        nom_module_pm=f"MOD{module + 1:02d}",
        position_module_pm=str(position + 1),
        reference_cable_module_pm=f"CDI-{pm_reference}-{module + 1:02d}",
        information_tube_module_pm=f"T{tube_pm + 1}-{FOTAG_COLOURS[tube_pm % 12]}",
        information_fibre_module_pm=f"F{fibre_pm + 1}-{FOTAG_COLOURS[fibre_pm]}",
        reference_cable_pbo=f"CBR-{pbo_reference}",
        information_tube_pbo=f"T{tube_pbo + 1}-{FOTAG_COLOURS[tube_pbo % 12]}",
        information_fibre_pbo=f"F{fibre_pbo + 1}-{FOTAG_COLOURS[fibre_pbo]}",
        # A new PTO is always patched on its first connector.
        connecteur_prise_numero="1",
        connecteur_prise_couleur=FOTAG_COLOURS[0],
    )


class Lines(Sequence[Line]):
    """The existing sockets of a building, each derived from its number when it is read (and kept): an
    order needs one line of a building, and building them all cost as much as the building had lines.

    Line `i`, as the generator laid it: staircases in turn, then floors; one PBO per staircase (a building's
    houses share one); fibres numbered on from the building's first ones."""

    __slots__ = ("_network", "_hexacle", "_batiment", "_pm", "_escaliers", "_etages", "_pbos", "_first", "_count",
                 "_pm_slot", "_pbo_slot", "_built")

    def __init__(self, network: ReferenceNetwork, hexacle: str, batiment: str, pm: str, escaliers: tuple[str, ...],
                 etages: tuple[str, ...], pbos: tuple[str, ...], first_line: int, count: int, pm_slot: int,
                 pbo_slot: int):
        self._network, self._hexacle, self._batiment, self._pm = network, hexacle, batiment, pm
        self._escaliers, self._etages, self._pbos = escaliers, etages, pbos
        self._first, self._count, self._pm_slot, self._pbo_slot = first_line, count, pm_slot, pbo_slot
        self._built: dict[int, Line] = {}

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):  # int -> Line, slice -> list
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        line = self._built.get(index)
        if line is None:
            line = self._built[index] = self._line(index)
        return line

    def __iter__(self) -> Iterator[Line]:
        return (self[i] for i in range(self._count))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == self._count and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._network.network, self._first, self._count, self._pbos))

    def __repr__(self) -> str:
        return f"Lines({self._count} from {self._first})"

    def pbo_of(self, index: int) -> str:
        """The PBO of line `index`, without building the line."""
        return self._pbos[(index % len(self._escaliers)) % len(self._pbos)]

    def staircases(self) -> Iterator[tuple[str, str]]:
        """(staircase, PBO) of the first line of each staircase, in line order: every later line repeats one."""
        for i in range(min(self._count, len(self._escaliers))):
            yield self._escaliers[i], self.pbo_of(i)

    def through(self, pbo: str) -> tuple[int, int]:
        """(lines, occupied lines) through `pbo`, without building the lines."""
        occupied, first = self._network.codes.occupied, self._first
        mine = [i for i in range(self._count) if self.pbo_of(i) == pbo]
        return len(mine), sum(occupied(first + i) for i in mine)

    def _line(self, i: int) -> Line:
        per_floor = len(self._escaliers)
        number = self._first + i
        pbo = self.pbo_of(i)
        codes, arcep = self._network.codes, self._network.arcep
        return Line(
            reference_prise=codes.line_reference(arcep, number),
            hexacle=self._hexacle,
            batiment=self._batiment,
            escalier=self._escaliers[i % per_floor],
            etage=self._etages[(i // per_floor) % len(self._etages)],
            pbo=pbo,
            route=build_route(self._pm, pbo, self._pm_slot + i, self._pbo_slot + i // per_floor),
            occupied=codes.occupied(number),
        )




# -- codes ---------------------------------------------------------------------------------------------

BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CODE_SPACE = 36 ** 8  # 8 base-36 characters


_PAIRS = tuple(a + b for a in BASE36 for b in BASE36)  # two base-36 digits at a time: half the divisions


def _code8(value: int) -> str:
    """base36(value, 8) for 0 <= value < 36**8, in four table lookups."""
    high, low = divmod(value, 1679616)  # 36**4
    return _PAIRS[high // 1296] + _PAIRS[high % 1296] + _PAIRS[low // 1296] + _PAIRS[low % 1296]


def base36(value: int, width: int) -> str:
    digits = ""
    while value:
        value, rem = divmod(value, 1296)
        digits = _PAIRS[rem] + digits
    return digits.lstrip("0").rjust(width, "0") if len(digits) > width else digits.rjust(width, "0")


@dataclass(frozen=True, slots=True)
class Codes:
    """Seeded bijections from counters to 8-character codes: unique by construction, so the generator
    needs no set of every code issued, and a line reference decodes back to its line number.

    `x -> (x * mul + add) mod 36**8` is a bijection when `mul` is prime to 36 (odd, not a multiple of 3).
    """

    hex_mul: int
    hex_add: int
    line_mul: int
    line_add: int
    occupied_salt: int

    def hexacle(self, arcep: str, counter: int) -> str:
        # The arcep prefix keeps the codes of different networks disjoint.
        return arcep + _code8((counter * self.hex_mul + self.hex_add) % CODE_SPACE)

    def line_reference(self, arcep: str, counter: int) -> str:
        code = _code8((counter * self.line_mul + self.line_add) % CODE_SPACE)
        return f"{arcep}-{code[:4]}-{code[4:]}"

    def line_number(self, code8: str) -> int:
        value = int(code8, 36)
        return ((value - self.line_add) * pow(self.line_mul, -1, CODE_SPACE)) % CODE_SPACE

    def occupied(self, counter: int) -> bool:
        # Fibonacci hashing: about OCCUPIED_PERCENT of the lines, spread evenly, no RNG draw per line.
        return (((counter * 2654435761 + self.occupied_salt) % 2**32) * 100) >> 32 < OCCUPIED_PERCENT


OCCUPIED_PERCENT = 20

# -- storage -------------------------------------------------------------------------------------------

#: Generator version stored with a network: a data dir written by another version is generated anew.
SCHEMA_VERSION = "3"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE nro (code TEXT PRIMARY KEY, insee TEXT NOT NULL, commune TEXT NOT NULL, x TEXT NOT NULL,
                  y TEXT NOT NULL);
CREATE TABLE pm (reference TEXT PRIMARY KEY, reference_technique TEXT NOT NULL,
                 reference_prestation TEXT NOT NULL, etat TEXT NOT NULL, localisation TEXT NOT NULL,
                 date_installation TEXT NOT NULL, date_mes_commerciale TEXT NOT NULL,
                 type_emplacement TEXT NOT NULL, capacite_max INTEGER NOT NULL, type_ingenierie TEXT NOT NULL,
                 code_nro TEXT NOT NULL, type_zone TEXT NOT NULL, fibres INTEGER NOT NULL);
CREATE TABLE lien_nro_pm (reference TEXT PRIMARY KEY, pm TEXT NOT NULL, nro TEXT NOT NULL,
                          capacite INTEGER NOT NULL, date_mise_a_disposition TEXT NOT NULL, etat TEXT NOT NULL);
CREATE TABLE pbo (reference TEXT PRIMARY KEY, pm TEXT NOT NULL, localisation TEXT NOT NULL,
                  type_pbo TEXT NOT NULL, fibres INTEGER NOT NULL);
CREATE TABLE street (hexacle_voie TEXT PRIMARY KEY, insee TEXT NOT NULL, rivoli TEXT NOT NULL,
                     type_voie TEXT NOT NULL, nom_voie TEXT NOT NULL);
CREATE TABLE building (
    seq INTEGER PRIMARY KEY, identifiant TEXT NOT NULL, etat TEXT NOT NULL, hexacle TEXT NOT NULL,
    insee TEXT NOT NULL, rivoli TEXT NOT NULL, numero_key TEXT NOT NULL, complement TEXT NOT NULL,
    pm TEXT NOT NULL, escaliers TEXT NOT NULL, etages TEXT NOT NULL, pbos TEXT NOT NULL,
    first_line INTEGER NOT NULL, n_lines INTEGER NOT NULL, pm_slot INTEGER NOT NULL, pbo_slot INTEGER NOT NULL,
    ipe TEXT NOT NULL);
"""

#: Built once the rows are in: faster than maintaining them row by row.
INDEXES = """
CREATE UNIQUE INDEX building_id ON building (identifiant);
CREATE INDEX building_hexacle ON building (hexacle);
CREATE INDEX building_rivoli ON building (insee, rivoli, numero_key, complement);
CREATE INDEX building_lines ON building (first_line) WHERE n_lines > 0;
CREATE INDEX building_deployed ON building (etat, seq);
CREATE UNIQUE INDEX pm_prestation ON pm (reference_prestation);
"""

#: The overlay of evolution.py, in the store. `seq` is the building's row in the network file (its generation order).
OVERLAY_SCHEMA = """
CREATE TABLE IF NOT EXISTS net_state (
    network TEXT PRIMARY KEY, signature TEXT NOT NULL, last_step TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS net_building (
    network TEXT NOT NULL, seq INTEGER NOT NULL, identifiant TEXT NOT NULL, pm TEXT NOT NULL,
    etat TEXT NOT NULL, modified TEXT NOT NULL, cabled TEXT, pbos TEXT, gone_on TEXT NOT NULL DEFAULT '',
    gone INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (network, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS net_building_modified ON net_building (network, modified);
CREATE TABLE IF NOT EXISTS net_pm (
    network TEXT NOT NULL, reference TEXT NOT NULL, etat TEXT NOT NULL, date_installation TEXT NOT NULL,
    date_mes TEXT NOT NULL, PRIMARY KEY (network, reference)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS net_pbo (
    network TEXT NOT NULL, reference TEXT NOT NULL, pm TEXT NOT NULL, localisation TEXT NOT NULL,
    type_pbo TEXT NOT NULL, PRIMARY KEY (network, reference)) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Lifecycle:
    """EtatImmeuble values in the order a building goes through them, and the state of an abandoned one
    (the IPE spec pack's values: CIBLE, SIGNE, EN COURS DE DEPLOIEMENT, DEPLOYE, ABANDONNE)."""

    states: tuple[str, ...] = ("CIBLE", "SIGNE", "EN COURS DE DEPLOIEMENT", "DEPLOYE")
    abandoned: str = "ABANDONNE"

    @classmethod
    def from_values(cls, values: Sequence[str]) -> Lifecycle:
        """From a spec pack column's values: the last one is the abandoned state, the others in order."""
        if len(values) < 3:
            raise ValueError(f"EtatImmeuble needs at least 3 values (states then the abandoned one): {values}")
        return cls(tuple(values[:-1]), values[-1])

    @property
    def deployed(self) -> str:
        return self.states[-1]

    def rank(self, etat: str) -> int:
        """Position in the lifecycle; the abandoned state is past every other (nothing follows it)."""
        return len(self.states) if etat == self.abandoned else self.states.index(etat)


#: A building row: the columns looked up, the layout of its lines, and its whole IPE line (`ipe`: the
#: values of IPE_COLUMNS joined by IPE_SEP, PM fields included), so that writing an IPE is reading one string
#: per building rather than thirty.
BUILDING_COLUMNS: tuple[str, ...] = (
    "seq", "identifiant", "etat", "hexacle", "insee", "rivoli", "numero_key", "complement", "pm", "escaliers",
    "etages", "pbos", "first_line", "n_lines", "pm_slot", "pbo_slot", "ipe",
)
IPE_SEP = ";"  # never in a generated value (normalize() removes it)
PM_COLUMNS: tuple[str, ...] = (
    "reference", "reference_technique", "reference_prestation", "etat", "localisation", "date_installation",
    "date_mes_commerciale", "type_emplacement", "capacite_max", "type_ingenierie", "code_nro", "type_zone",
)
#: Staircases, floors and PBOs of a building are stored joined by this (it never occurs in them).
LIST_SEP = "|"

#: What the overlay (evolution.py) changes of a building, read beside its stored columns.
OVERLAY_COLUMNS: tuple[str, ...] = ("ov_modified", "ov_cabled")
_SELECT_BUILDING = f"SELECT {', '.join(BUILDING_COLUMNS + OVERLAY_COLUMNS)} FROM building"
_SELECT_PM = f"SELECT {', '.join(PM_COLUMNS)} FROM pm"


# Indexes of the IPE fields the overlay changes.
_ETAT, _CABLAGE, _MODIF = (IPE_COLUMNS.index(c) for c in ("EtatImmeuble", "DateCablageAdresse",
                                                          "DateDerniereModification"))
_PM_ETAT, _PM_INST, _PM_MES = (IPE_COLUMNS.index(c) for c in ("EtatPM", "DateInstallationPM",
                                                              "DateMiseEnServiceCommercialePM"))


def _overlay_views(network: str) -> str:
    """Temporary views named like the file's tables, which they shadow (SQLite resolves an unqualified name
    in `temp` first): every query of ReferenceNetwork reads the network with the overlay (schema `ov`,
    evolution.py) applied, and an indexed lookup stays indexed (the views flatten into the query).
    `network` is an interop code (4 upper-case alphanumerics), safe as a literal."""
    b = ", ".join(f"b.{c} AS {c}" for c in BUILDING_COLUMNS if c not in ("etat", "pbos"))
    return f"""
CREATE TEMP VIEW building AS SELECT {b}, COALESCE(o.etat, b.etat) AS etat, COALESCE(o.pbos, b.pbos) AS pbos,
    o.modified AS ov_modified, o.cabled AS ov_cabled
  FROM main.building b LEFT JOIN ov.net_building o ON o.network = '{network}' AND o.seq = b.seq
  WHERE o.gone IS NOT 1;
CREATE TEMP VIEW pm AS SELECT m.reference AS reference, m.reference_technique AS reference_technique,
    m.reference_prestation AS reference_prestation, COALESCE(p.etat, m.etat) AS etat, m.localisation AS localisation,
    COALESCE(p.date_installation, m.date_installation) AS date_installation,
    COALESCE(p.date_mes, m.date_mes_commerciale) AS date_mes_commerciale, m.type_emplacement AS type_emplacement,
    m.capacite_max AS capacite_max, m.type_ingenierie AS type_ingenierie, m.code_nro AS code_nro,
    m.type_zone AS type_zone, m.fibres AS fibres
  FROM main.pm m LEFT JOIN ov.net_pm p ON p.network = '{network}' AND p.reference = m.reference;
CREATE TEMP VIEW pbo AS SELECT reference, pm, localisation, type_pbo, fibres FROM main.pbo
  UNION ALL SELECT reference, pm, localisation, type_pbo, 0 FROM ov.net_pbo WHERE network = '{network}';
"""


def _patched(ipe: str, building: tuple | None, pm: tuple | None) -> str:
    """A stored IPE line with the overlay's values: (etat, modified, cabled) of the building, (etat,
    installed, opened) of its PM."""
    v = ipe.split(IPE_SEP)
    if building is not None:
        etat, modified, cabled = building
        v[_ETAT], v[_MODIF] = etat, modified
        if cabled is not None:
            v[_CABLAGE] = cabled
    if pm is not None:
        v[_PM_ETAT], v[_PM_INST], v[_PM_MES] = pm
    return IPE_SEP.join(v)


def _norm(value: str) -> str:
    return value.strip().upper()


def norm_numero(numero: str) -> str:
    """"007" and "7" designate the same street number."""
    value = numero.strip()
    return str(int(value)) if value.isdigit() else value.upper()


def _split(value: str) -> tuple[str, ...]:
    return tuple(value.split(LIST_SEP))


class ReferenceNetwork:
    """A generated delegation network, read from its SQLite database (never changed once written), with
    the changes of its evolution over virtual time applied (evolution.py: overlay tables in the store,
    attached by `attach_overlay`; none attached, an empty overlay in memory).

    Every lookup is an indexed query; objects are built on demand. Safe to share between threads: each
    thread reads through its own connection (a database in memory, for tests, shares one under a lock).
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], shared: bool = False, path: Path | None = None):
        self._connect = connect
        self.path = path  # the network's file (None: in memory)
        #: EtatImmeuble values in lifecycle order (the capability sets the spec pack's).
        self.lifecycle = Lifecycle()
        self._overlay: Path | None = None
        self._overlay_generation = 0
        self._local = threading.local()
        # One connection for every thread (a database in memory): reads take turns.
        self._shared_lock: threading.Lock | None = threading.Lock() if shared else None
        meta = dict(self._rows("SELECT key, value FROM meta"))
        self.network: str = meta["network"]
        self.arcep: str = meta["arcep"]
        self.meta: dict[str, str] = meta
        self.size = int(meta["size"])
        self.total_lines = int(meta["total_lines"])
        self.codes = Codes(int(meta["hex_mul"]), int(meta["hex_add"]), int(meta["line_mul"]),
                           int(meta["line_add"]), int(meta["occupied_salt"]))
        self._line_re = re.compile(rf"^{re.escape(self.arcep)}-([A-Z0-9]{{4}})-([A-Z0-9]{{4}})$")

    @classmethod
    def open(cls, path: Path) -> ReferenceNetwork:
        """A network written by the generator to `path` (opened read-only)."""
        uri = f"file:{path}?mode=ro&immutable=1"
        return cls(lambda: sqlite3.connect(uri, uri=True, check_same_thread=False), path=Path(path))

    @classmethod
    def in_memory(cls, db: sqlite3.Connection) -> ReferenceNetwork:
        """A network written into a database in memory: one connection, shared under a lock."""
        return cls(lambda: db, shared=True)

    def __repr__(self) -> str:
        return f"ReferenceNetwork({self.network}/{self.arcep}, {self.size} buildings)"

    # -- database ----------------------------------------------------------------------------------------

    def attach_overlay(self, store_path: Path) -> None:
        """Read the network through the overlay tables of the store at `store_path` (evolution.SCHEMA must
        exist there). At start-up, before the network is shared: connections made before are set up again."""
        self._overlay = Path(store_path)
        self._overlay_generation += 1

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
            self._local.generation = -1
        if self._local.generation != self._overlay_generation:
            self._set_up(db)
            self._local.generation = self._overlay_generation
        return db

    def _set_up(self, db: sqlite3.Connection) -> None:
        attached = {row[1] for row in db.execute("PRAGMA database_list")}
        if "ov" in attached:
            db.execute("DETACH DATABASE ov")  # drops the temporary views that use it too
        for view in ("building", "pm", "pbo"):
            db.execute(f"DROP VIEW IF EXISTS temp.{view}")
        if self._overlay is None:
            db.execute("ATTACH DATABASE ':memory:' AS ov")
            db.executescript(OVERLAY_SCHEMA.replace("IF NOT EXISTS ", "IF NOT EXISTS ov."))
        elif self.path is not None:  # opened with URI names: the store read-only (WAL lets it be read live)
            db.execute("ATTACH DATABASE ? AS ov", (f"file:{self._overlay}?mode=ro",))
        else:
            db.execute("ATTACH DATABASE ? AS ov", (str(self._overlay),))
        db.executescript(_overlay_views(self.meta_network(db)))

    @staticmethod
    def meta_network(db: sqlite3.Connection) -> str:
        return str(db.execute("SELECT value FROM main.meta WHERE key = 'network'").fetchone()[0])

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self._shared_lock is None:
            return self._db().execute(sql, params).fetchall()
        with self._shared_lock:
            return self._db().execute(sql, params).fetchall()

    def _stream(self, columns: str, table: str = "building", chunk: int = 5000) -> Iterator[tuple]:
        """(seq, *columns) of every building in order, `chunk` at a time, never all in memory."""
        if self._shared_lock is None:  # this thread's own connection: one cursor
            cursor = self._db().execute(f"SELECT seq, {columns} FROM {table} ORDER BY seq")
            while rows := cursor.fetchmany(chunk):
                yield from rows
            return
        last = -1
        while True:  # one shared connection: a query per chunk, under the lock
            rows = self._rows(f"SELECT seq, {columns} FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?",
                              (last, chunk))
            yield from rows
            if len(rows) < chunk:
                return
            last = rows[-1][0]

    # -- building objects --------------------------------------------------------------------------------

    def _address(self, row: tuple) -> Address:
        *_, escaliers_s, etages_s, pbos_s, first_line, n_lines, pm_slot, pbo_slot, ipe = row[:len(BUILDING_COLUMNS)]
        modified, cabled = row[len(BUILDING_COLUMNS):]
        v = ipe.split(IPE_SEP)  # IPE_COLUMNS order
        v[_ETAT] = row[2]  # the overlay's state, if any
        if modified is not None:
            v[_MODIF] = modified
            if cabled is not None:
                v[_CABLAGE] = cabled
        escaliers, etages = _split(escaliers_s), _split(etages_s)
        pbos = _split(pbos_s) if pbos_s else ()
        hexacle, batiment, pm = v[2], v[12], v[21]
        lines = Lines(self, hexacle, batiment, pm, escaliers, etages, pbos, first_line, n_lines, pm_slot, pbo_slot)
        return Address(v[0], v[1], hexacle, v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], batiment,
                       int(v[13]), v[14], v[15], v[16], v[17], v[18], v[19], v[20], pm, v[28], escaliers, etages,
                       pbos, lines)

    def _buildings(self, where: str, params: tuple = ()) -> list[Address]:
        return [self._address(r) for r in self._rows(f"{_SELECT_BUILDING} WHERE {where} ORDER BY seq", params)]

    # -- the index: what was read, kept within a scope -------------------------------------------------------

    #: Entries an index keeps at most (then it starts again): a 100,000-order file must not hold every building.
    INDEX_LIMIT = 20_000

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A scope (one inbound file, the due events of one moment) in which every lookup is answered from
        this thread's index of what was already read: an order, a CR or a Cmd_STOC asks for the same building,
        PM and PBO several times, and 10,000 orders of a file or of an advance share a few hundred buildings.

        The index is kept from one scope to the next while the overlay's version (evolution.py) stays the
        same, and dropped when it changes; it is read once, on entering the scope: within one engine
        transaction nothing the network's readers see can change (they see committed changes only, and the
        engine is the only writer). Scopes nest; outside any, lookups read the database."""
        local = self._local
        if getattr(local, "scoped", False):
            yield
            return
        version = self.overlay_version()
        if getattr(local, "index_version", None) != version or getattr(local, "index", None) is None:
            local.index, local.index_version = {}, version
        local.scoped = True
        try:
            yield
        finally:
            local.scoped = False

    def _kept(self, key: tuple, compute: Callable[[], T]) -> T:
        """compute(), or what it gave for `key` earlier in a scope of `reading`."""
        local = self._local
        if not getattr(local, "scoped", False):
            return compute()
        index = local.index
        try:
            return index[key]
        except KeyError:
            pass
        if len(index) >= self.INDEX_LIMIT:
            index.clear()
        value = index[key] = compute()
        return value

    # -- lookups -------------------------------------------------------------------------------------------

    def addresses_by_hexacle(self, hexacle: str) -> list[Address]:
        """All buildings at that street address ([] if unknown)."""
        key = _norm(hexacle)
        return list(self._kept(("hexacle", key), lambda: tuple(self._buildings("hexacle = ?", (key,)))))

    def addresses_by_rivoli(
        self, insee: str, rivoli: str, numero: str, complement: str = ""
    ) -> list[Address]:
        """All buildings at that INSEE/RIVOLI/number; an empty complement means "no complement"."""
        key = (_norm(insee), _norm(rivoli), norm_numero(numero), _norm(complement))
        return list(self._kept(("rivoli", key), lambda: tuple(self._buildings(
            "insee = ? AND rivoli = ? AND numero_key = ? AND complement = ?", key))))

    def address_by_id(self, identifiant_immeuble: str) -> Address | None:
        def read() -> Address | None:
            found = self._buildings("identifiant = ?", (identifiant_immeuble,))
            return found[0] if found else None
        return self._kept(("id", identifiant_immeuble), read)

    def pm(self, reference: str) -> Pm | None:
        def read() -> Pm | None:
            rows = self._rows(f"{_SELECT_PM} WHERE reference = ?", (reference,))
            return Pm(*rows[0]) if rows else None
        return self._kept(("pm", reference), read)

    def pm_by_prestation(self, reference_prestation: str) -> Pm | None:
        def read() -> Pm | None:
            rows = self._rows(f"{_SELECT_PM} WHERE reference_prestation = ?", (reference_prestation,))
            return Pm(*rows[0]) if rows else None
        return self._kept(("pm_prestation", reference_prestation), read)

    def pm_of(self, address: Address) -> Pm:
        """The PM serving `address` (KeyError if the address is not from this network)."""
        pm = self.pm(address.pm) if self.address_by_id(address.identifiant_immeuble) else None
        if pm is None:
            raise KeyError(address.pm)
        return pm

    def pbo(self, reference: str) -> Pbo | None:
        def read() -> Pbo | None:
            rows = self._rows("SELECT reference, localisation, type_pbo FROM pbo WHERE reference = ?", (reference,))
            return Pbo(*rows[0]) if rows else None
        return self._kept(("pbo", reference), read)

    def line(self, reference_prise: str) -> Line | None:
        match = self._line_re.match(reference_prise)
        if not match:
            return None
        number = self.codes.line_number(match[1] + match[2])
        if number >= self.total_lines:
            return None

        def read() -> Line | None:
            rows = self._rows(f"{_SELECT_BUILDING} WHERE first_line <= ? AND n_lines > 0 "
                              "ORDER BY first_line DESC LIMIT 1", (number,))
            if not rows:
                return None
            address = self._address(rows[0])
            index = number - rows[0][BUILDING_COLUMNS.index("first_line")]
            return address.lines[index] if index < len(address.lines) else None
        return self._kept(("line", number), read)

    def pbo_lines(self, address: Address, pbo: str) -> tuple[int, int]:
        """(lines, occupied lines) through `pbo` among the existing sockets at the street address of `address`
        (all its buildings): what saturation asks, counted once per scope of `reading`."""
        def count() -> tuple[int, int]:
            found = [building.lines.through(pbo) for building in self.addresses_by_hexacle(address.hexacle)]
            return sum(total for total, _ in found), sum(occupied for _, occupied in found)
        return self._kept(("pbo_lines", address.hexacle, pbo), count)

    def _fibres(self, table: str, reference: str) -> int:
        """Fibres the network file gives a PM or a PBO (new routes use the positions after them)."""
        return self._kept((f"{table}_fibres", reference), lambda: int(self._rows(
            f"SELECT fibres FROM {table} WHERE reference = ?", (reference,))[0][0]))

    def lines_at(
        self, address: Address, batiment: str = "", escalier: str = "", etage: str = ""
    ) -> list[Line]:
        """Existing sockets at the street address of `address` (all its buildings), filtered.

        Empty filter values match anything; comparison ignores case and surrounding blanks.
        """
        wanted = [(attr, _norm(value)) for attr, value in
                  (("batiment", batiment), ("escalier", escalier), ("etage", etage)) if _norm(value)]
        return [
            line
            for building in (self.addresses_by_hexacle(address.hexacle) or [address])
            for line in building.lines
            if all(_norm(getattr(line, attr)) == value for attr, value in wanted)
        ]

    def deployed(self, limit: int | None = None, offset: int = 0) -> list[Address]:
        """Buildings whose EtatImmeuble is DEPLOYE, in generation order (`offset` of them skipped)."""
        return [self._address(r) for r in self._rows(
            f"{_SELECT_BUILDING} WHERE etat = ? ORDER BY seq LIMIT ? OFFSET ?",
            (DEPLOYE, -1 if limit is None else limit, offset))]

    def deployed_behind(self, pm: str) -> list[Address]:
        """The DEPLOYE buildings a PM serves, in generation order (the lines of its CR_MAD_Pm)."""
        return self._buildings("pm = ? AND etat = ?", (pm, DEPLOYE))

    def count(self, deployed_only: bool = False) -> int:
        if deployed_only:
            return int(self._rows("SELECT count(*) FROM building WHERE etat = ?", (DEPLOYE,))[0][0])
        gone = self._rows("SELECT count(*) FROM ov.net_building WHERE network = ? AND gone = 1", (self.network,))
        return self.size - int(gone[0][0])

    def new_route(self, address: Address, index: int, pbo: str | None = None) -> Route:
        """A deterministic route for a NEW socket at `address`; `index` is the caller's counter.

        The route uses PM positions after those of the existing lines, so it never clashes
        with them, and different `index` values give different PM positions. `pbo` forces the
        PBO the fibre goes through (one of the building's), e.g. the one serving the staircase.
        Raises ValueError for a building without PBO (not deployed) or a PBO not in it.
        """
        if not address.pbos:
            raise ValueError(
                f"{address.identifiant_immeuble} has no PBO (EtatImmeuble {address.etat_immeuble})"
            )
        if index < 0:
            raise ValueError("index must be >= 0")
        pm = self.pm_of(address)
        if pbo is not None and pbo not in address.pbos:
            raise ValueError(f"{pbo} does not serve {address.identifiant_immeuble}")
        pbo_reference = pbo or address.pbos[index % len(address.pbos)]
        pm_used = self._fibres("pm", pm.reference)
        pbo_used = self._fibres("pbo", pbo_reference)
        pbo_slot = pbo_used + (index if pbo else index // len(address.pbos))
        return build_route(pm.reference, pbo_reference, pm_used + index, pbo_slot)

    def ipe_record(self, address: Address) -> dict[str, str]:
        """The building as an IPE line keyed by IPE_COLUMNS."""
        pm = self.pm_of(address)
        values = (
            address.identifiant_immeuble, address.etat_immeuble, address.hexacle, address.hexacle_voie,
            address.insee, address.postcode, address.commune, address.rivoli, address.type_voie,
            address.nom_voie, address.numero, address.complement, address.batiment, str(address.nb_logements),
            address.type_immeuble, address.type_projection, address.x, address.y, address.date_cablage,
            address.date_derniere_modification, address.accord_gestionnaire, pm.reference, pm.etat,
            pm.date_installation, pm.date_mes_commerciale, pm.type_emplacement, str(pm.capacite_max),
            pm.type_ingenierie, address.type_zone,
        )
        return dict(zip(IPE_COLUMNS, values, strict=True))

    # -- whole network, streamed -------------------------------------------------------------------------

    def ipe_rows(self) -> Iterator[tuple[str, ...]]:
        """Every building as an IPE line (values in IPE_COLUMNS order), in generation order, streamed."""
        for line in self.ipe_texts():
            yield tuple(line.split(IPE_SEP))

    def ipe_texts(self) -> Iterator[str]:
        """Every building's IPE line: IPE_COLUMNS values joined by IPE_SEP, streamed. The stored lines are
        read from the file's own table, not through the overlay's view (a join for each of a million lines
        would cost more), and the few the overlay changes are patched, by row number, from a map in memory."""
        patches = self._ipe_patches()
        if not patches:
            for _, line in self._stream("ipe", "main.building"):
                yield line
            return
        get = patches.get
        for seq, line in self._stream("ipe", "main.building"):
            patch = get(seq)
            if patch is None:
                yield line
            elif patch:  # () for a building gone
                yield _patched(line, *patch)

    def _ipe_patches(self) -> dict[int, tuple]:
        """Row number -> (building values, PM values) to patch its IPE line with, () when gone."""
        code = self.network
        patches: dict[int, tuple] = {}
        pms = {ref: (etat, inst, mes) for ref, etat, inst, mes in self._rows(
            "SELECT reference, etat, date_installation, date_mes FROM ov.net_pm WHERE network = ?", (code,))}
        if pms:
            refs = list(pms)
            for start in range(0, len(refs), 500):
                chunk = refs[start:start + 500]
                marks = ", ".join("?" * len(chunk))
                for seq, pm in self._rows(f"SELECT seq, pm FROM main.building WHERE pm IN ({marks})", tuple(chunk)):
                    patches[seq] = (None, pms[pm])
        for seq, pm, etat, modified, cabled, gone in self._rows(
                "SELECT seq, pm, etat, modified, cabled, gone FROM ov.net_building WHERE network = ?", (code,)):
            patches[seq] = () if gone else ((etat, modified, cabled), pms.get(pm))
        return patches

    def overlay_version(self) -> int:
        """The overlay's version as this network's readers see it (committed changes only)."""
        rows = self._rows("SELECT version FROM ov.net_state WHERE network = ?", (self.network,))
        return int(rows[0][0]) if rows else 0

    def seq_of(self, identifiant_immeuble: str) -> int | None:
        """A building's row number in the network file (its generation order), gone or not."""
        rows = self._rows("SELECT seq FROM main.building WHERE identifiant = ?", (identifiant_immeuble,))
        return int(rows[0][0]) if rows else None

    def iter_addresses(self) -> Iterator[Address]:
        """Every building, in generation order, streamed."""
        last = -1
        while True:
            rows = self._rows(f"{_SELECT_BUILDING} WHERE seq > ? ORDER BY seq LIMIT 1000", (last,))
            yield from (self._address(r) for r in rows)
            if len(rows) < 1000:
                return
            last = rows[-1][0]

    def iter_pms(self) -> Iterator[Pm]:
        return (Pm(*r) for r in self._rows(f"{_SELECT_PM} ORDER BY reference"))

    def iter_pbos(self) -> Iterator[Pbo]:
        return (Pbo(*r) for r in self._rows("SELECT reference, localisation, type_pbo FROM pbo ORDER BY reference"))

    def pm_line_counts(self) -> dict[str, int]:
        """The existing lines behind each PM (one query: no address is loaded)."""
        return {reference: int(fibres) for reference, fibres in self._rows("SELECT reference, fibres FROM pm")}

    def nro_links(self) -> list[dict[str, str]]:
        """The PM-NRO links (CPN columns) of every PM."""
        return [dict(zip(("ReferencePM", "CodeNRO", "ReferenceLienNROPM", "CapaciteLienNROPM",
                          "DateMiseADispositionLien", "EtatLien"), map(str, r), strict=True))
                for r in self._rows("SELECT pm, nro, reference, capacite, date_mise_a_disposition, etat "
                                    "FROM lien_nro_pm ORDER BY pm")]

    # Whole tuples: for small networks and tests only (they load everything).
    @property
    def addresses(self) -> tuple[Address, ...]:
        return tuple(self.iter_addresses())

    @property
    def pms(self) -> tuple[Pm, ...]:
        return tuple(self.iter_pms())

    @property
    def pbos(self) -> tuple[Pbo, ...]:
        return tuple(self.iter_pbos())

