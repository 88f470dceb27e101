"""Evolution of a reference network over virtual time, as an overlay on its immutable database.

The generated network file never changes (it is written once and may hold a million buildings). What
changes as the virtual clock runs lives in the sandbox store, in overlay tables: a building's new
EtatImmeuble (CIBLE -> SIGNE -> EN COURS DE DEPLOIEMENT -> DEPLOYE, or ABANDONNE and gone some months
later), the PBOs a newly deployed building gets, a PM's opening. `ReferenceNetwork.attach_overlay` makes
every lookup of the network read through these tables, so the IPE, the CR_MAD_Pm, the access orders and
the admin API see one evolved network. The tables' schema and the lifecycle of a building live in
model.py, which reads them (no import cycle); this module writes them.

A weekly `step` draws the changes with hashed draws (seed, network, day, building), in SQL on the
store's writer connection (set-based: one statement per kind of change, fast at a million buildings),
inside the caller's transaction. No transport, no scheduling here: the operator's capability decides when.
"""

from __future__ import annotations

import calendar
import zlib
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from .model import OVERLAY_SCHEMA as SCHEMA
from .model import Lifecycle, ReferenceNetwork

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["SCHEMA", "Lifecycle", "Rates", "StepResult", "attach", "ensure_schema", "open_planned", "open_pm",
           "replan_pm", "set_building", "step"]

#: Meta keys of a network file that identify it: an overlay made on another network is thrown away.
_SIGNATURE_KEYS = ("arcep", "seed", "size", "departments", "schema")


@dataclass(frozen=True)
class Rates:
    """Weekly shares: `advance[i]` of the buildings in state i move to state i + 1; `abandon` of the
    buildings not yet deployed are abandoned; `pm_open` of the PMs not yet open open. An abandoned building
    is gone from the network `gone_after_months` later."""

    advance: tuple[float, ...] = (0.10, 0.10, 0.15)
    abandon: float = 0.005
    pm_open: float = 0.25
    gone_after_months: int = 3


@dataclass
class StepResult:
    """What one step (or one action) changed."""

    day: str
    changed: dict[str, int] = field(default_factory=dict)  # new EtatImmeuble -> buildings moved to it
    gone: int = 0
    opened_pms: list[str] = field(default_factory=list)
    deployed_pms: set[str] = field(default_factory=set)  # PMs behind which a building became deployed
    planned_pms: dict[str, str] = field(default_factory=dict)  # PM -> the day its opening was re-planned to

    def as_json(self) -> dict[str, object]:
        return {"day": self.day, "changed": dict(sorted(self.changed.items())), "gone": self.gone,
                "opened_pms": sorted(self.opened_pms), "deployed_pms": sorted(self.deployed_pms)}


def _fmt(day: date) -> str:
    return day.strftime("%Y%m%d")


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has no such day)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def ensure_schema(store: Store) -> None:
    """Create the overlay tables (at start-up: a script commits whatever is open)."""
    store.ensure_schema(SCHEMA)


def _alias(network: ReferenceNetwork) -> str:
    return f"nw_{network.network}"  # the interop code is 4 upper-case alphanumerics (generator._check)


def attach(store: Store, network: ReferenceNetwork) -> None:
    """Make the network file readable from the store's writer connection (a step joins the two), and
    drop an overlay that was made on another network (regenerated with other arguments since).

    At start-up only: SQLite refuses ATTACH inside a transaction.
    """
    if network.path is None:
        raise ValueError(f"{network!r} has no file: a network in memory cannot evolve")
    alias = _alias(network)
    attached = {row[1] for row in store.execute("PRAGMA database_list").fetchall()}
    if alias not in attached:
        store.attach_readonly(alias, network.path)
    signature = ";".join(network.meta.get(k, "") for k in _SIGNATURE_KEYS)
    rows = store.query("SELECT signature FROM net_state WHERE network = ?", (network.network,))
    if rows and rows[0][0] == signature:
        return
    with store.transaction():
        for table in ("net_building", "net_pm", "net_pbo", "net_state"):
            store.execute(f"DELETE FROM {table} WHERE network = ?", (network.network,))
        store.execute("INSERT INTO net_state (network, signature) VALUES (?, ?)", (network.network, signature))


def version(store: Store, network: str) -> int:
    """The overlay's version as the store's writer connection sees it (uncommitted changes included)."""
    rows = store.query("SELECT version FROM net_state WHERE network = ?", (network,))
    return int(rows[0][0]) if rows else 0


def last_step(store: Store, network: str) -> str:
    rows = store.query("SELECT last_step FROM net_state WHERE network = ?", (network,))
    return str(rows[0][0]) if rows else ""


def _bump(store: Store, network: str, step_day: str | None = None) -> None:
    if step_day is None:
        store.execute("UPDATE net_state SET version = version + 1 WHERE network = ?", (network,))
    else:
        store.execute("UPDATE net_state SET version = version + 1, last_step = ? WHERE network = ?",
                      (step_day, network))


def _salt(seed: int, network: str, day: str, what: str) -> int:
    """The draw key of one step: stable across processes (crc32, not hash())."""
    return zlib.crc32(f"{seed}:{network}:{day}:{what}".encode())


def _drawn(source: str, columns: str, key: str) -> str:
    """Common table expressions ending in `drawn`: the rows of `source` (a SELECT giving `columns` and the
    integer `key`) with `u`, a uniform draw in [0, 1) made from (key, :salt) by a 32-bit integer hash
    (xor-shift, multiply, xor-shift). SQLite has no xor: a ^ b is (a | b) - (a & b); the products stay
    below 2**63. The seeded key is MATERIALIZED: flattened, each of its four uses in the hash would repeat
    the query's whole expression."""
    def mix(x: str) -> str:
        return f"(({x} | ({x} >> 16)) - ({x} & ({x} >> 16)))"

    hashed = mix(f"({mix('x')} * 73244475 % 4294967296)")
    return (f"h0 AS MATERIALIZED (SELECT {columns}, ({key} * 40503 + :salt) % 4294967296 AS x FROM ({source})), "
            f"drawn AS MATERIALIZED (SELECT {columns}, {hashed} / 4294967296.0 AS u FROM h0)")


def _pbos_sql(arcep: str, table: str = "") -> str:
    """The PBOs of a newly deployed building (columns seq, escaliers, etages of the network's building):
    one per staircase for a block of flats, one street-side for a house; references in their own range
    (PBO<arcep>N<seq><n>) so they never meet the generated ones."""
    p = f"'PBO{arcep}N' || printf('%07d', {table}seq)"
    count = (f"(CASE WHEN {table}etages = '' THEN 1 "
             f"ELSE length({table}escaliers) - length(replace({table}escaliers, '|', '')) + 1 END)")
    return (f"{p} || '0' || CASE WHEN {count} >= 2 THEN '|' || {p} || '1' ELSE '' END "
            f"|| CASE WHEN {count} >= 3 THEN '|' || {p} || '2' ELSE '' END")


def _add_pbos(store: Store, network: ReferenceNetwork, day: str, seq: int | None = None) -> None:
    """The overlay PBO rows of the buildings deployed on `day` (or of building `seq`): the references their
    `pbos` name (one to three, _pbos_sql), in one statement."""
    alias, code = _alias(network), network.network
    ref = f"'PBO{network.arcep}N' || printf('%07d', b.seq) || n.n"
    where = "o.seq = :seq" if seq is not None else "o.modified = :day"
    store.execute(
        f"WITH n (n) AS (VALUES (0), (1), (2)) "
        f"INSERT OR IGNORE INTO net_pbo SELECT :net, {ref}, b.pm, "
        f"CASE WHEN b.etages = '' THEN 'Facade - ' ELSE 'RDC - ' END || b.identifiant, "
        f"CASE WHEN b.etages = '' THEN 'FACADE' ELSE 'IMMEUBLE' END "
        f"FROM net_building o JOIN {alias}.building b ON b.seq = o.seq JOIN n "
        f"WHERE o.network = :net AND {where} AND o.etat = :deployed AND o.pbos IS NOT NULL "
        f"AND instr(o.pbos, {ref}) > 0",
        {"net": code, "day": day, "seq": seq, "deployed": network.lifecycle.deployed})


def step(store: Store, network: ReferenceNetwork, day: date, seed: int, rates: Rates) -> StepResult:
    """One weekly evolution step of `network` on `day`, in the caller's transaction (store writer).

    In order: abandoned buildings whose time has come are gone; PMs not yet open open (DateMiseEnService-
    CommercialePM = `day`); buildings not yet deployed nor abandoned are abandoned or move one state on.
    A step already made for `day` (or a later day) is not made again.
    """
    code, today = network.network, _fmt(day)
    result = StepResult(today)
    if last_step(store, code) >= today:
        return result
    life, alias = network.lifecycle, _alias(network)
    result.gone = store.execute(
        "UPDATE net_building SET gone = 1 WHERE network = ? AND gone = 0 AND gone_on != '' AND gone_on <= ?",
        (code, today)).rowcount
    # PMs: those whose commercial opening is still to come, but those the operator re-planned (replan_pm:
    # an overlay row with its day still to come), which open on that day (open_planned), not by a draw.
    pms = _drawn(f"SELECT m.rowid AS rid, m.reference AS reference, "
                 f"COALESCE(p.date_installation, m.date_installation) AS inst FROM {alias}.pm m "
                 f"LEFT JOIN net_pm p ON p.network = :net AND p.reference = m.reference "
                 f"WHERE COALESCE(p.date_mes, m.date_mes_commerciale) > :today AND p.reference IS NULL",
                 "rid, reference, inst", "rid")
    opened = store.execute(
        f"WITH {pms} INSERT INTO net_pm SELECT :net, reference, :deployed, min(inst, :today), :today FROM drawn "
        f"WHERE u < :rate ON CONFLICT (network, reference) DO UPDATE SET etat = excluded.etat, "
        f"date_installation = excluded.date_installation, date_mes = excluded.date_mes RETURNING reference",
        {"net": code, "today": today, "deployed": life.deployed, "rate": rates.pm_open,
         "salt": _salt(seed, code, today, "pm")}).fetchall()
    result.opened_pms = sorted(r[0] for r in opened)
    # Buildings: the candidates are those not deployed in the file (an index range) and not deployed nor
    # abandoned in the overlay.
    moving = life.states[:-1]
    marks = ", ".join(f":s{i}" for i in range(len(moving)))
    params: dict[str, object] = {f"s{i}": s for i, s in enumerate(moving)}
    advance = " ".join(f"WHEN etat = :s{i} AND u < :abandon + :r{i} THEN :s{i + 1}" if i + 1 < len(moving)
                       else f"WHEN etat = :s{i} AND u < :abandon + :r{i} THEN :deployed"
                       for i in range(len(moving)))
    params.update({f"r{i}": rates.advance[i] if i < len(rates.advance) else 0.0 for i in range(len(moving))})
    # Only (seq, state) go through the draw (the file's index (etat, seq) covers them); the other columns
    # are read for the buildings that move.
    buildings = _drawn(f"SELECT b.seq AS seq, COALESCE(o.etat, b.etat) AS etat FROM {alias}.building b "
                       f"LEFT JOIN net_building o ON o.network = :net AND o.seq = b.seq "
                       f"WHERE b.etat IN ({marks}) AND COALESCE(o.etat, b.etat) IN ({marks})", "seq, etat", "seq")
    moved = (f"moved AS MATERIALIZED (SELECT seq, CASE WHEN u < :abandon THEN :abandoned {advance} END AS new "
             f"FROM drawn)")
    rows = store.execute(
        f"WITH {buildings}, {moved} INSERT INTO net_building SELECT :net, b.seq, b.identifiant, b.pm, m.new, :today, "
        f"CASE WHEN m.new = :deployed THEN :today END, "
        f"CASE WHEN m.new = :deployed THEN {_pbos_sql(network.arcep, 'b.')} END, "
        f"CASE WHEN m.new = :abandoned THEN :gone_on ELSE '' END, 0 "
        f"FROM moved m JOIN {alias}.building b ON b.seq = m.seq WHERE m.new IS NOT NULL "
        f"ON CONFLICT (network, seq) DO UPDATE SET etat = excluded.etat, modified = excluded.modified, "
        f"cabled = excluded.cabled, pbos = excluded.pbos, gone_on = excluded.gone_on RETURNING etat, pm",
        {**params, "net": code, "today": today, "deployed": life.deployed, "abandoned": life.abandoned,
         "abandon": rates.abandon, "gone_on": _fmt(add_months(day, rates.gone_after_months)),
         "salt": _salt(seed, code, today, "building")}).fetchall()
    for etat, pm in rows:
        result.changed[etat] = result.changed.get(etat, 0) + 1
        if etat == life.deployed:
            result.deployed_pms.add(pm)
    if result.changed.get(life.deployed):
        _add_pbos(store, network, today)
    _bump(store, code, today)
    return result


def set_building(store: Store, network: ReferenceNetwork, identifiant: str, etat: str, day: date,
                 gone_after_months: int) -> tuple[str, StepResult]:
    """Move one building to `etat` at once (an operator action); its previous state and the change.

    States only move forward; ABANDONNE may follow any state but itself. ValueError says why not.
    """
    life, code, today = network.lifecycle, network.network, _fmt(day)
    if etat not in life.states and etat != life.abandoned:
        raise ValueError(f"EtatImmeuble {etat!r} is none of {', '.join((*life.states, life.abandoned))}")
    address = network.address_by_id(identifiant)
    if address is None:
        raise ValueError(f"no building {identifiant} in network {code}")
    was = address.etat_immeuble
    if life.rank(etat) <= life.rank(was):
        raise ValueError(f"{identifiant} is {was}: a building's state only moves forward "
                         f"({' -> '.join(life.states)}, or {life.abandoned})")
    seq = network.seq_of(identifiant)
    deployed = etat == life.deployed
    pbos = None
    if deployed:
        pbos = store.query(f"SELECT {_pbos_sql(network.arcep)} FROM {_alias(network)}.building WHERE seq = ?",
                           (seq,))[0][0] if not address.pbos else "|".join(address.pbos)
    store.execute(
        "INSERT INTO net_building VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (network, seq) DO UPDATE SET "
        "etat = excluded.etat, modified = excluded.modified, cabled = COALESCE(excluded.cabled, cabled), "
        "pbos = COALESCE(excluded.pbos, pbos), gone_on = excluded.gone_on",
        (code, seq, identifiant, address.pm, etat, today, today if deployed else None, pbos,
         _fmt(add_months(day, gone_after_months)) if etat == life.abandoned else ""))
    result = StepResult(today, {etat: 1})
    if deployed:
        result.deployed_pms.add(address.pm)
        _add_pbos(store, network, today, seq)
    _bump(store, code)
    return was, result


def open_pm(store: Store, network: ReferenceNetwork, reference: str, day: date) -> StepResult:
    """Open a PM at once (an operator action): DEPLOYE, DateMiseEnServiceCommercialePM `day`, installed by
    then. ValueError when there is no such PM or it is open already."""
    today = _fmt(day)
    pm = network.pm(reference)
    if pm is None:
        raise ValueError(f"no PM {reference} in network {network.network}")
    if pm.etat == network.lifecycle.deployed and pm.date_mes_commerciale and pm.date_mes_commerciale <= today:
        raise ValueError(f"PM {reference} is open since {pm.date_mes_commerciale}")
    store.execute("INSERT INTO net_pm VALUES (?, ?, ?, ?, ?) ON CONFLICT (network, reference) DO UPDATE SET "
                  "etat = excluded.etat, date_installation = excluded.date_installation, date_mes = excluded.date_mes",
                  (network.network, pm.reference, network.lifecycle.deployed, min(pm.date_installation, today), today))
    _bump(store, network.network)
    return StepResult(today, opened_pms=[pm.reference])


def waiting_state(network: ReferenceNetwork) -> str:
    """The EtatPM of a PM whose re-planned opening is still to come: the lifecycle's state before DEPLOYE."""
    life = network.lifecycle
    return life.states[life.states.index(life.deployed) - 1]


def replan_pm(store: Store, network: ReferenceNetwork, reference: str, opens: date, day: date) -> StepResult:
    """Re-plan a PM's commercial opening to `opens`, a day after `day` (an operator action): until then the PM
    is not open (EtatPM `waiting_state`, DateMiseEnServiceCommercialePM `opens`, installed by then at the
    latest) and no weekly step opens it; `open_planned` makes it DEPLOYE on that day. The caller sees to the
    orders behind it and to its CPN. ValueError when there is no such PM or `opens` is not after `day`."""
    if opens <= day:
        raise ValueError(f"opens {opens:%Y-%m-%d} is not after today ({day:%Y-%m-%d}): "
                         'to open a PM today give {"network", "pm", "open": true}')
    pm = network.pm(reference)
    if pm is None:
        raise ValueError(f"no PM {reference} in network {network.network}")
    planned = _fmt(opens)
    store.execute("INSERT INTO net_pm VALUES (?, ?, ?, ?, ?) ON CONFLICT (network, reference) DO UPDATE SET "
                  "etat = excluded.etat, date_installation = excluded.date_installation, date_mes = excluded.date_mes",
                  (network.network, pm.reference, waiting_state(network), min(pm.date_installation, planned),
                   planned))
    _bump(store, network.network)
    return StepResult(_fmt(day), planned_pms={pm.reference: planned})


def open_planned(store: Store, network: ReferenceNetwork, reference: str, opens: str) -> bool:
    """On the day a re-planned opening comes (`opens`, AAAAMMJJ): the PM becomes DEPLOYE, if that is still its
    plan (re-planned again since, or opened at once: nothing). Whether it opened."""
    opened = store.execute("UPDATE net_pm SET etat = ? WHERE network = ? AND reference = ? AND date_mes = ? "
                           "AND etat != ?", (network.lifecycle.deployed, network.network, reference, opens,
                                             network.lifecycle.deployed)).rowcount
    if opened:
        _bump(store, network.network)
    return bool(opened)
