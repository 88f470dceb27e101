"""SQLite persistence in the data directory: tenants, orders and history, scheduled events, the
outbox of emitted files, the inbox of processed files, the journal and sequences.

One writer connection belongs to the engine thread; other threads read through their own
connections (WAL lets them read while the engine writes).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson


#: Order data is JSON text in the store: orjson reads and writes it about five times faster than the standard
#: library (it is most of an event's cost in an advance: docs/performance.md); text, not bytes, so that SQLite's
#: json functions read it as JSON and never as a JSONB blob.
def _encode(value: Any) -> str:
    return orjson.dumps(value).decode()


_ENCODE = _encode
_DECODE = orjson.loads
_ORDER_COLUMNS = "tenant, ref, prestation, network, state, data, created, updated"
#: The order field kept in its own column, `socket`, indexed: the queries on a socket (is it held? by whom?) find
#: their orders there. An index on json_extract(data, ...) made SQLite parse each order's JSON twice at every
#: write (the old and the new row's key), about half the cost of an UPDATE.
SOCKET_FIELD = "ReferencePrise"
#: Orders kept decoded from one unit of work to the next within `keeping_orders` (the due events of an advance
#: read each order two or three times, a few batches apart), at most this many; then it starts again.
KEEP_LIMIT = 20_000
#: The bytes of an inbound file: in inbox_content, or in the inbox row itself (data dirs written before).
_INBOUND_BYTES = "coalesce((SELECT c.content FROM inbox_content c WHERE c.inbox_id = inbox.id), inbox.content)"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
    code TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, password TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, api_token TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS orders (
    tenant TEXT NOT NULL, ref TEXT NOT NULL, prestation TEXT NOT NULL UNIQUE, network TEXT NOT NULL,
    state TEXT NOT NULL, data TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
    socket TEXT NOT NULL DEFAULT '', PRIMARY KEY (tenant, ref));
-- The API's listing walks this index in its order (no sort of every order of the tenant); the queries on a
-- socket use orders_prise (created in Store._migrate: older data dirs get the column first).
CREATE INDEX IF NOT EXISTS orders_listing ON orders (tenant, created, ref);
CREATE TABLE IF NOT EXISTS order_history (
    id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, ref TEXT NOT NULL, at_virtual TEXT NOT NULL,
    at_real REAL NOT NULL, step TEXT NOT NULL, state TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS order_history_ref ON order_history (tenant, ref);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, due REAL NOT NULL, kind TEXT NOT NULL, tenant TEXT NOT NULL,
    ref TEXT NOT NULL, payload TEXT NOT NULL DEFAULT '{}', done INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS events_due ON events (done, due);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, channel TEXT NOT NULL, location TEXT NOT NULL,
    filename TEXT NOT NULL, flow TEXT NOT NULL, content BLOB NOT NULL, lines INTEGER NOT NULL,
    at_virtual TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant, location, filename));
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered);
CREATE TABLE IF NOT EXISTS shared_content (sha256 TEXT PRIMARY KEY, content BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, location TEXT NOT NULL, filename TEXT NOT NULL,
    sha256 TEXT NOT NULL, at_real REAL NOT NULL, removed INTEGER NOT NULL DEFAULT 0,
    content BLOB, at_virtual TEXT NOT NULL DEFAULT '', channel TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS inbox_file ON inbox (tenant, location, filename, sha256);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY, at_virtual TEXT NOT NULL, at_real REAL NOT NULL, tenant TEXT NOT NULL,
    channel TEXT NOT NULL, direction TEXT NOT NULL, flow TEXT NOT NULL, filename TEXT NOT NULL,
    outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS sequences (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inbox_content (inbox_id INTEGER PRIMARY KEY, content BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS inbox_progress (
    inbox_id INTEGER PRIMARY KEY, network TEXT NOT NULL, area TEXT NOT NULL, lines INTEGER NOT NULL,
    carry TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbox_parts (
    id INTEGER PRIMARY KEY, inbox_id INTEGER NOT NULL, tenant TEXT NOT NULL, network TEXT NOT NULL,
    flow TEXT NOT NULL, area TEXT NOT NULL, channel TEXT NOT NULL, pm TEXT NOT NULL, body BLOB NOT NULL,
    lines INTEGER NOT NULL, ok INTEGER NOT NULL, ko INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_parts_file ON inbox_parts (inbox_id);
CREATE TABLE IF NOT EXISTS inbox_events (
    id INTEGER PRIMARY KEY, inbox_id INTEGER NOT NULL, due REAL NOT NULL, kind TEXT NOT NULL, tenant TEXT NOT NULL,
    ref TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_events_file ON inbox_events (inbox_id);
"""


@dataclass
class Order:
    """An access order as stored: its keys, state, and the data of its flows (Cmd, route...)."""

    tenant: str
    ref: str
    prestation: str
    network: str
    state: str
    data: dict[str, Any]
    created: str
    updated: str
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "ReferenceCommandePriseInterneOC": self.ref,
                "ReferencePrestationPrise": self.prestation, "network": self.network,
                "state": self.state, "created": self.created, "updated": self.updated,
                "data": self.data, "history": self.history}


_OrderKey = tuple[str, str]  # (tenant, ref)


@dataclass
class _UnitOfWork:
    """The orders and sequence numbers of one batch of work (the due events of a transaction), kept in memory
    and written in one round when the batch ends: an event reads its order from here, and its save is staged.

    Owned by the thread that opened it (the engine's); other threads never see it."""

    thread: int
    #: Every order read or saved in the scope, by key; None: no such order. The same key gives the same object.
    orders: dict[_OrderKey, Order | None] = field(default_factory=dict)
    #: Orders saved since the last flush (their row is written from the object as it is then).
    changed: dict[_OrderKey, Order] = field(default_factory=dict)
    #: History lines staged, in the order of the saves (their ids keep that order).
    history: list[tuple[str, str, str, float, str, str, str]] = field(default_factory=list)
    #: The last number taken of each sequence read in the scope, and those that moved.
    sequences: dict[str, int] = field(default_factory=dict)
    sequences_changed: set[str] = field(default_factory=set)
    #: The socket column of each order as stored, when read: an UPDATE that leaves it out costs its index nothing.
    sockets: dict[_OrderKey, str] = field(default_factory=dict)


def _socket(order: Order) -> str:
    return str(order.data.get(SOCKET_FIELD) or "")


class Event(NamedTuple):
    """A due event as stored (a tuple: thousands are read for each batch of an advance)."""

    id: int
    due: float
    kind: str
    tenant: str
    ref: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outbound:
    id: int
    tenant: str
    channel: str
    location: str
    filename: str
    flow: str
    content: bytes
    operator: str = ""
    #: The sha256 of content shared by several answer files (a broadcast: the same IPE to every OC), stored once
    #: in `shared_content`; '' for a file of its own.
    shared: str = ""


class Store:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._connect()
        self._db.executescript(SCHEMA)
        self._migrate()
        self._local = threading.local()
        self._unit: _UnitOfWork | None = None
        #: Orders as written by the last units of work of `keeping_orders` (thread, orders), or None.
        self._kept: tuple[int, dict[_OrderKey, Order]] | None = None

    def _migrate(self) -> None:
        """Bring a data dir written by an older version up to this schema (columns added since)."""
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(tenants)")}
        if "api_token" not in columns:  # salted hash of the tenant's admin API token, '' = none
            self._db.execute("ALTER TABLE tenants ADD COLUMN api_token TEXT NOT NULL DEFAULT ''")
        if "operators" not in columns:  # the operators a tenant is a client of, comma-separated; '' = all
            self._db.execute("ALTER TABLE tenants ADD COLUMN operators TEXT NOT NULL DEFAULT ''")
        # Files of data dirs written before operators were composed have no operator ('': `adopt_legacy` says
        # whose they are).
        for table in ("outbox", "inbox"):
            if "operator" not in {r["name"] for r in self._db.execute(f"PRAGMA table_info({table})")}:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN operator TEXT NOT NULL DEFAULT ''")
        # Inbound files keep their bytes, virtual time and channel since the conformance checks read them
        # (GET /api/inbound): older rows have none (content NULL, empty time and channel).
        inbox = {r["name"] for r in self._db.execute("PRAGMA table_info(inbox)")}
        for column, decl in (("content", "BLOB"), ("at_virtual", "TEXT NOT NULL DEFAULT ''"),
                             ("channel", "TEXT NOT NULL DEFAULT ''")):
            if column not in inbox:
                self._db.execute(f"ALTER TABLE inbox ADD COLUMN {column} {decl}")
        # ...and the real time of each answer file: with a frozen clock an OC's file and the answers around
        # it share one virtual time, and only the real one orders them (0 for older rows).
        outbox = {r["name"] for r in self._db.execute("PRAGMA table_info(outbox)")}
        if "at_real" not in outbox:
            self._db.execute("ALTER TABLE outbox ADD COLUMN at_real REAL NOT NULL DEFAULT 0")
        if "shared" not in outbox:  # the sha256 of a broadcast's content, kept once in shared_content
            self._db.execute("ALTER TABLE outbox ADD COLUMN shared TEXT NOT NULL DEFAULT ''")
        # The socket of each order in its own column (SOCKET_FIELD), indexed, instead of an index on the JSON.
        if "socket" not in {r["name"] for r in self._db.execute("PRAGMA table_info(orders)")}:
            self._db.execute("ALTER TABLE orders ADD COLUMN socket TEXT NOT NULL DEFAULT ''")
            self._db.execute(f"UPDATE orders SET socket = coalesce(json_extract(data, '$.{SOCKET_FIELD}'), '')")
        self._db.execute("DROP INDEX IF EXISTS orders_socket")
        self._db.execute("CREATE INDEX IF NOT EXISTS orders_prise ON orders (socket)")

    def adopt_legacy(self, operator: str, capability: str) -> None:
        """Data dirs written before operators were composed knew one operator and one capability: their files are
        `operator`'s and their pending events `capability`'s (the operator whose profile names it
        `legacy_capability`)."""
        for table in ("outbox", "inbox"):
            self._db.execute(f"UPDATE {table} SET operator = ? WHERE operator = ''", (operator,))
        self._db.execute("UPDATE events SET kind = ? || ':' || ? || ':' || kind WHERE instr(kind, ':') = 0",
                         (operator, capability))

    def _connect(self) -> sqlite3.Connection:
        # URI names, so that databases attached to it can be read-only (`attach_readonly`).
        db = sqlite3.connect(self.path.absolute().as_uri(), uri=True, check_same_thread=False, isolation_level=None,
                             timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process kill (only an OS crash may lose the last commits).
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def close(self) -> None:
        self._db.close()

    def attach_readonly(self, alias: str, path: Path) -> None:
        """Attach the database at `path` to the writer connection as `alias`, read-only (at start-up: SQLite
        refuses ATTACH inside a transaction). Read-only matters for every commit: `BEGIN IMMEDIATE` takes a write
        lock on each database attached writable, and a commit with two or more of them in rollback-journal mode
        (the networks' files) goes through a super-journal, a file created, fsynced and deleted each time:
        0.5 ms of CPU and up to 10 ms of wall time per commit (docs/performance.md)."""
        self._db.execute(f"ATTACH DATABASE ? AS {alias}", (f"{Path(path).absolute().as_uri()}?mode=ro",))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes of one inbound file or one event commit together, or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._forget_kept()
            raise
        try:
            self._db.execute("COMMIT")
        except BaseException:
            self._forget_kept()
            raise

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: what the block writes is undone alone if it raises (one file of several answered
        in one transaction), the rest of the transaction going on."""
        self._db.execute("SAVEPOINT part")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO part")
            self._db.execute("RELEASE part")
            raise
        self._db.execute("RELEASE part")

    @contextmanager
    def unit_of_work(self, prefetch: Sequence[_OrderKey] = ()) -> Iterator[None]:
        """Inside a transaction: the orders and sequence numbers of a batch of work stay in memory and are
        written in one round (`executemany`) when the scope ends, before the transaction commits. `prefetch`:
        the orders the batch will read, read in a few queries instead of one each.

        Within the scope `get_order` gives the same object for the same key and sees what was saved;
        `save_order` stages the row and its history line; `next_sequence` counts in memory, giving the same
        numbers as outside a scope. SQL of the caller's own (`execute`, `query`, and the store's queries over
        orders) first writes what is staged, so it reads what the batch did. An exception drops what is staged
        (the transaction rolls back anyway). A scope opened inside another joins it."""
        if self._unit is not None and self._unit.thread == threading.get_ident():
            self.prefetch_orders(prefetch)
            yield
            return
        self._unit = _UnitOfWork(threading.get_ident())
        try:
            self.prefetch_orders(prefetch)
            yield
            self._flush_orders()
            self._flush_sequences()
        except BaseException:
            self._forget_kept()  # what was kept may be what the rolled back transaction wrote
            raise
        finally:
            self._unit = None

    @contextmanager
    def keeping_orders(self) -> Iterator[None]:
        """Units of work opened in this scope (by this thread) keep the orders they wrote, decoded, for the next
        ones: the due events of an advance read each order two or three times, a few transactions apart. Only
        orders saved in a unit are kept (the object is then exactly what its flush wrote), at most KEEP_LIMIT; a
        unit that fails drops them all. Nothing else may write orders within the scope (the engine runs one
        batch of due events after another in it)."""
        if self._kept is not None:
            yield
            return
        self._kept = (threading.get_ident(), {})
        try:
            yield
        finally:
            self._kept = None

    def _forget_kept(self) -> None:
        kept = self._kept_orders()
        if kept is not None:
            kept.clear()

    def _kept_orders(self) -> dict[_OrderKey, Order] | None:
        kept = self._kept
        return kept[1] if kept is not None and kept[0] == threading.get_ident() else None

    def _active_unit(self) -> _UnitOfWork | None:
        """The unit of work of the calling thread, if it opened one."""
        unit = self._unit
        return unit if unit is not None and unit.thread == threading.get_ident() else None

    def prefetch_orders(self, keys: Iterable[_OrderKey]) -> None:
        """Read the orders of `keys` not yet in the unit of work, a few hundred per query (no scope: nothing)."""
        unit = self._active_unit()
        if unit is None:
            return
        by_tenant: dict[str, list[str]] = {}
        kept = self._kept_orders() or {}
        for key in dict.fromkeys(keys):
            if key not in unit.orders:
                order = kept.pop(key, None)  # back in the kept ones only if this unit saves it
                if order is not None:
                    unit.orders[key] = order
                    unit.sockets[key] = _socket(order)  # a kept order is as its last flush wrote it
                else:
                    by_tenant.setdefault(key[0], []).append(key[1])
        for tenant, refs in by_tenant.items():
            for start in range(0, len(refs), 500):  # SQLite caps the number of parameters
                chunk = refs[start:start + 500]
                for ref in chunk:
                    unit.orders[(tenant, ref)] = None
                rows = self._db.execute(
                    f"SELECT {_ORDER_COLUMNS}, socket FROM orders WHERE tenant = ? "
                    f"AND ref IN ({','.join('?' * len(chunk))})", (tenant, *chunk))
                rows.row_factory = None  # plain tuples: thousands of rows
                for t, ref, prestation, network, state, data, created, updated, socket in rows:
                    unit.orders[(tenant, ref)] = Order(t, ref, prestation, network, state, _DECODE(data), created,
                                                       updated)
                    unit.sockets[(tenant, ref)] = socket

    def _flush_orders(self) -> None:
        """Write the orders saved in the unit of work and their history lines."""
        unit = self._active_unit()
        if unit is None:
            return
        if unit.changed:
            moved, same = [], []  # orders whose socket changed, and the others (most: their index entry stays)
            for key, o in unit.changed.items():
                socket = _socket(o)
                if unit.sockets.get(key) == socket:
                    same.append((o.state, _ENCODE(o.data), o.updated, o.tenant, o.ref))
                else:
                    moved.append((o.state, _ENCODE(o.data), o.updated, socket, o.tenant, o.ref))
                    unit.sockets[key] = socket
            if moved:
                self._db.executemany("UPDATE orders SET state = ?, data = ?, updated = ?, socket = ? "
                                     "WHERE tenant = ? AND ref = ?", moved)
            if same:
                self._db.executemany("UPDATE orders SET state = ?, data = ?, updated = ? WHERE tenant = ? AND ref = ?",
                                     same)
            kept = self._kept_orders()
            if kept is not None:
                if len(kept) + len(unit.changed) > KEEP_LIMIT:
                    kept.clear()
                kept.update(unit.changed)
            unit.changed.clear()
        if unit.history:
            self._db.executemany(
                "INSERT INTO order_history (tenant, ref, at_virtual, at_real, step, state, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", unit.history)
            unit.history.clear()

    def _flush_sequences(self) -> None:
        unit = self._active_unit()
        if unit is None or not unit.sequences_changed:
            return
        self._db.executemany(
            "INSERT INTO sequences VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(key, unit.sequences[key]) for key in unit.sequences_changed])
        unit.sequences_changed.clear()

    def reader(self) -> sqlite3.Connection:
        """A connection for the calling thread's reads (API handlers)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
        return db

    # --- tables of the capabilities
    def ensure_schema(self, ddl: str) -> None:
        """Create the tables a capability keeps (tickets, appointments, faults...) if they are missing.

        Each capability owns its tables and their queries in its own module (`CREATE TABLE IF NOT EXISTS`
        only), so the core schema above stays the engine's: orders, events, outbox, inbox, journal.
        Call it at start-up, never inside a transaction: a script commits whatever is open.
        """
        self._db.executescript(ddl)

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """A write (or a read that must see this thread's uncommitted writes) on the writer connection.
        Orders are written by `save_order` and `add_orders` only: SQL here may read them, never change them."""
        self._flush_orders()
        return self._db.execute(sql, params)

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = (), reader: bool = False) -> list[sqlite3.Row]:
        """Rows of a read; `reader=True` from an API thread (its own connection, never the writer's)."""
        if reader:
            return self.reader().execute(sql, params).fetchall()
        self._flush_orders()
        return self._db.execute(sql, params).fetchall()

    # --- meta and sequences
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                         (key, value))

    def reserve_sequence(self, key: str, count: int) -> int:
        """Reserve `count` numbers at once; returns the first."""
        unit = self._active_unit()
        if unit is not None:
            return self._take_sequence(unit, key, count) - count + 1
        row = self._db.execute(
            "INSERT INTO sequences VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value "
            "RETURNING value", (key, count)).fetchone()
        return int(row[0]) - count + 1

    def next_sequence(self, key: str) -> int:
        unit = self._active_unit()
        if unit is not None:
            return self._take_sequence(unit, key, 1)
        row = self._db.execute(
            "INSERT INTO sequences VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET value = value + 1 "
            "RETURNING value", (key,)).fetchone()
        return int(row[0])

    def _take_sequence(self, unit: _UnitOfWork, key: str, count: int) -> int:
        """Take `count` numbers of `key` in the unit of work; returns the last (written when the scope ends)."""
        last = unit.sequences.get(key)
        if last is None:
            row = self._db.execute("SELECT value FROM sequences WHERE key = ?", (key,)).fetchone()
            last = int(row[0]) if row else 0
        last += count
        unit.sequences[key] = last
        unit.sequences_changed.add(key)
        return last

    # --- answer styles (specs/variations.py): how the operator varies a tenant's answer files
    def answer_style(self, tenant: str, reader: bool = False) -> dict[str, str]:
        db = self.reader() if reader else self._db
        row = db.execute("SELECT value FROM meta WHERE key = ?", (f"answer-style:{tenant}",)).fetchone()
        return json.loads(row[0]) if row else {}

    def set_answer_style(self, tenant: str, style: dict[str, str]) -> None:
        self.set_meta(f"answer-style:{tenant}", json.dumps(style, sort_keys=True))

    # --- tenants
    def upsert_tenant(self, code: str, login: str, password_hash: str, email: str = "",
                      api_token_hash: str = "", operators: tuple[str, ...] = ()) -> None:
        """Create or update a tenant; an empty `api_token_hash` keeps the token it may already have;
        `operators` are those it is a client of (empty: every one)."""
        self._db.execute(
            "INSERT INTO tenants (code, login, password, email, created_at, api_token, operators) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(code) DO UPDATE SET login = excluded.login, password = excluded.password, "
            "email = excluded.email, api_token = CASE WHEN excluded.api_token = '' THEN tenants.api_token "
            "ELSE excluded.api_token END, operators = excluded.operators",
            (code, login, password_hash, email, time.time(), api_token_hash, ",".join(operators)))

    def replace_hashes(self, code: str, password_hash: str = "", api_token_hash: str = "") -> None:
        """Store a tenant's secrets hashed anew (the same secrets, a newer form); '' keeps the one stored."""
        self._db.execute("UPDATE tenants SET password = CASE WHEN ? = '' THEN password ELSE ? END, "
                         "api_token = CASE WHEN ? = '' THEN api_token ELSE ? END WHERE code = ?",
                         (password_hash, password_hash, api_token_hash, api_token_hash, code))

    def tenants(self, reader: bool = False) -> list[sqlite3.Row]:
        db = self.reader() if reader else self._db
        return db.execute("SELECT code, login, password, email, api_token, operators FROM tenants "
                          "ORDER BY code").fetchall()

    # --- orders
    def get_order(self, tenant: str, ref: str, reader: bool = False) -> Order | None:
        """The order (tenant, ref); in a unit of work, the same object each time (staged changes included)."""
        unit = None if reader else self._active_unit()
        if unit is not None:
            key = (tenant, ref)
            if key in unit.orders:
                return unit.orders[key]
        db = self.reader() if reader else self._db
        row = db.execute("SELECT * FROM orders WHERE tenant = ? AND ref = ?", (tenant, ref)).fetchone()
        order = _order(row) if row else None
        if unit is not None:
            unit.orders[(tenant, ref)] = order
            if row:
                unit.sockets[(tenant, ref)] = row["socket"]
        return order

    def save_order(self, order: Order, step: str, detail: str = "", new: bool = False) -> None:
        """Write the order and a history line; in a unit of work an update is staged (its row is written from
        the object as it is when the scope flushes)."""
        unit = self._active_unit()
        if unit is not None:
            key = (order.tenant, order.ref)
            unit.orders[key] = order
            if not new:
                unit.changed[key] = order
                unit.history.append((order.tenant, order.ref, order.updated, time.time(), step, order.state,
                                     detail))
                return
            self._flush_orders()  # a new order is inserted at once: a duplicate fails here, as outside a scope
        data = _ENCODE(order.data)
        if new:
            self._db.execute(f"INSERT INTO orders ({_ORDER_COLUMNS}, socket) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (order.tenant, order.ref, order.prestation, order.network, order.state, data,
                              order.created, order.updated, _socket(order)))
        else:
            self._db.execute("UPDATE orders SET state = ?, data = ?, updated = ?, socket = ? "
                             "WHERE tenant = ? AND ref = ?",
                             (order.state, data, order.updated, _socket(order), order.tenant, order.ref))
        self._db.execute(
            "INSERT INTO order_history (tenant, ref, at_virtual, at_real, step, state, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (order.tenant, order.ref, order.updated, time.time(), step, order.state, detail))

    def add_orders(self, orders: list[Order], step: str, detail: str = "") -> None:
        """Insert new orders and their first history line in one round (large files)."""
        if not orders:
            return
        unit = self._active_unit()
        if unit is not None:
            self._flush_orders()  # the history lines keep the order of the saves
            for o in orders:
                unit.orders.pop((o.tenant, o.ref), None)
        now = time.time()
        self._db.executemany(f"INSERT INTO orders ({_ORDER_COLUMNS}, socket) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (o.tenant, o.ref, o.prestation, o.network, o.state, _ENCODE(o.data), o.created, o.updated, _socket(o))
            for o in orders])
        self._db.executemany(
            "INSERT INTO order_history (tenant, ref, at_virtual, at_real, step, state, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", [(o.tenant, o.ref, o.updated, now, step, o.state, detail) for o in orders])

    def existing_refs(self, tenant: str, refs: list[str]) -> set[str]:
        found: set[str] = set()
        self._flush_orders()
        for start in range(0, len(refs), 500):  # SQLite caps the number of parameters
            chunk = refs[start:start + 500]
            rows = self._db.execute(
                f"SELECT ref FROM orders WHERE tenant = ? AND ref IN ({','.join('?' * len(chunk))})", (tenant, *chunk))
            found.update(r[0] for r in rows)
        return found

    def orders_on_socket(self, tenant: str | None, reference: str, states: list[str]) -> list[str]:
        """Orders (of `tenant`, or of anyone) in one of `states` that use socket `reference`."""
        self._flush_orders()
        rows = self._db.execute(
            f"SELECT ref FROM orders WHERE (? IS NULL OR tenant = ?) AND socket = ? "
            f"AND state IN ({','.join('?' * len(states))})", (tenant, tenant, reference, *states))
        return [r[0] for r in rows]

    def orders(self, tenant: str | None = None, limit: int = 1000,
               after: tuple[str, str] | None = None) -> list[Order]:
        """Orders by (created, ref); `after` is the (created, ref) of the last one of the previous page."""
        sql, args = "SELECT * FROM orders WHERE 1", []
        if tenant:
            sql += " AND tenant = ?"
            args.append(tenant)
        if after is not None:
            sql += " AND (created, ref) > (?, ?)"
            args.extend(after)
        rows = self.reader().execute(sql + " ORDER BY created, ref LIMIT ?", (*args, limit))
        return [_order(r) for r in rows]

    def orders_json(self, tenant: str, limit: int = 1000,
                    after: tuple[str, str] | None = None) -> list[tuple[str, str, str]]:
        """The tenant's orders as `orders` gives them, each as (created, ref, its JSON object): the object of
        Order.as_json (with no history), written by SQLite from the stored data, which Python never decodes."""
        sql, args = _ORDER_JSON + " WHERE tenant = ?", [tenant]
        if after is not None:
            sql += " AND (created, ref) > (?, ?)"
            args.extend(after)
        rows = self.reader().execute(sql + " ORDER BY created, ref LIMIT ?", (*args, limit))
        return [(r[0], r[1], r[2]) for r in rows]

    def order_history(self, tenant: str, ref: str) -> list[dict[str, Any]]:
        rows = self.reader().execute(
            "SELECT at_virtual, step, state, detail FROM order_history WHERE tenant = ? AND ref = ? "
            "ORDER BY id", (tenant, ref))
        return [dict(r) for r in rows]

    # --- scheduled events
    def schedule(self, events: list[tuple[float, str, str, str, dict[str, Any]]]) -> None:
        """Insert (due, kind, tenant, ref, payload) events."""
        self._db.executemany("INSERT INTO events (due, kind, tenant, ref, payload) VALUES (?, ?, ?, ?, ?)",
                             [(due, kind, tenant, ref, _ENCODE(payload) if payload else "{}")
                              for due, kind, tenant, ref, payload in events])

    def due_events(self, now: float, limit: int = 500) -> list[Event]:
        rows = self._db.execute(
            "SELECT id, due, kind, tenant, ref, payload FROM events WHERE done = 0 AND due <= ? "
            "ORDER BY due, id LIMIT ?", (now, limit))
        rows.row_factory = None  # plain tuples
        return [Event(i, due, kind, tenant, ref, {} if payload == "{}" else _DECODE(payload))
                for i, due, kind, tenant, ref, payload in rows]

    def due_count(self, now: float, reader: bool = False) -> int:
        """Events due at `now` and not yet run."""
        db = self.reader() if reader else self._db
        return int(db.execute("SELECT count(*) FROM events WHERE done = 0 AND due <= ?", (now,)).fetchone()[0])

    def undelivered_count(self) -> int:
        """Answer files committed and not yet delivered (a reader's count: any thread)."""
        return int(self.reader().execute("SELECT count(*) FROM outbox WHERE delivered = 0").fetchone()[0])

    def next_due(self) -> float | None:
        row = self._db.execute("SELECT MIN(due) FROM events WHERE done = 0").fetchone()
        return row[0]

    def mark_event_done(self, event_id: int) -> None:
        self._db.execute("UPDATE events SET done = 1 WHERE id = ?", (event_id,))

    def mark_events_done(self, event_ids: list[int]) -> None:
        self._db.executemany("UPDATE events SET done = 1 WHERE id = ?", [(i,) for i in event_ids])

    def pending_events(self, tenant: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, due, kind, tenant, ref FROM events WHERE done = 0"
        rows = self.reader().execute(sql + (" AND tenant = ?" if tenant else "") + " ORDER BY due",
                                     (tenant,) if tenant else ())
        return [dict(r) for r in rows]

    # --- outbox
    def add_outbound(self, tenant: str, channel: str, location: str, filename: str, flow: str,
                     content: bytes, lines: int, at_virtual: str, operator: str, shared: str = "") -> None:
        """One answer file. `shared`: the sha256 of `content` when the same bytes go to many tenants (a
        broadcast): they are stored once, whatever the number of files."""
        if shared:
            self._db.execute("INSERT OR IGNORE INTO shared_content (sha256, content) VALUES (?, ?)", (shared, content))
        self._db.execute(
            "INSERT INTO outbox (tenant, channel, location, filename, flow, content, lines, at_virtual, operator, "
            "at_real, shared) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (tenant, channel, location, filename, flow, b"" if shared else content, lines, at_virtual, operator,
             time.time(), shared))

    def add_outbound_pieces(self, tenant: str, channel: str, location: str, filename: str, flow: str,
                            pieces: Callable[[], Iterator[bytes]], size: int, lines: int, at_virtual: str,
                            operator: str) -> None:
        """One answer file of `size` bytes written from its pieces into its row in place, never joined in
        memory (a 100,000-line AR): bound as one value, SQLite would hold it twice more."""
        cur = self._db.execute(
            "INSERT INTO outbox (tenant, channel, location, filename, flow, content, lines, at_virtual, operator, "
            "at_real) VALUES (?, ?, ?, ?, ?, zeroblob(?), ?, ?, ?, ?)",
            (tenant, channel, location, filename, flow, size, lines, at_virtual, operator, time.time()))
        with self._db.blobopen("outbox", "content", int(cur.lastrowid or 0)) as blob:
            for piece in pieces():
                blob.write(piece)

    def undelivered(self) -> list[Outbound]:
        rows = self._db.execute("SELECT * FROM outbox WHERE delivered = 0 ORDER BY id").fetchall()
        shared: dict[str, bytes] = {}  # read once: every file of a broadcast holds the same bytes object
        for sha in {r["shared"] for r in rows if r["shared"]}:
            shared[sha] = bytes(self._db.execute("SELECT content FROM shared_content WHERE sha256 = ?",
                                                 (sha,)).fetchone()[0])
        return [Outbound(r["id"], r["tenant"], r["channel"], r["location"], r["filename"], r["flow"],
                         shared[r["shared"]] if r["shared"] else r["content"], r["operator"], r["shared"])
                for r in rows]

    def mark_delivered(self, outbound_ids: list[int]) -> None:
        self._db.executemany("UPDATE outbox SET delivered = 1 WHERE id = ?", [(i,) for i in outbound_ids])

    def emitted(self, tenant: str | None = None, limit: int = -1, after_id: int = 0) -> list[dict[str, Any]]:
        """Answer files by id, from the one after `after_id`; `limit` -1 means all."""
        sql = ("SELECT id, tenant, channel, location, filename, flow, lines, at_virtual, at_real, delivered "
               "FROM outbox WHERE id > ?")
        args: list[Any] = [after_id]
        if tenant:
            sql += " AND tenant = ?"
            args.append(tenant)
        rows = self.reader().execute(sql + " ORDER BY id LIMIT ?", (*args, limit))
        return [dict(r) for r in rows]

    # --- inbox (processed inbound files, so a crash between commit and removal replays nothing)
    def record_inbound(self, tenant: str, location: str, filename: str, sha256: str, operator: str,
                       content: bytes | None = None, at_virtual: str = "", channel: str = "") -> int:
        cur = self._db.execute(
            "INSERT INTO inbox (tenant, location, filename, sha256, at_real, operator, at_virtual, channel) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (tenant, location, filename, sha256, time.time(), operator, at_virtual,
                                                channel))
        inbound_id = int(cur.lastrowid or 0)
        if content is not None:
            # Its own table, the bytes last in their row and written in place: in the inbox row (a column before
            # others) or bound as a parameter, SQLite would hold a large file twice more in memory.
            self._db.execute("INSERT INTO inbox_content VALUES (?, zeroblob(?))", (inbound_id, len(content)))
            if content:
                with self._db.blobopen("inbox_content", "content", inbound_id) as blob:
                    blob.write(content)
        return inbound_id

    # --- an inbound file answered slice by slice: where it stands, and its answer lines and events held until
    # its last slice (one answer file, and no CR before the AR)
    def save_progress(self, inbound_id: int, network: str, area: str, lines: int, carry: dict[str, Any]) -> None:
        self._db.execute("INSERT OR REPLACE INTO inbox_progress VALUES (?, ?, ?, ?, ?)",
                         (inbound_id, network, area, lines, _ENCODE(carry)))

    def unfinished_inbound(self) -> list[dict[str, Any]]:
        """Inbound files a stop cut between two slices: their row, network, area and progress."""
        rows = self._db.execute(
            "SELECT i.id, i.tenant, i.location, i.filename, i.operator, i.channel, i.at_virtual, p.network, p.area, "
            "p.lines, p.carry FROM inbox_progress p JOIN inbox i ON i.id = p.inbox_id ORDER BY i.id").fetchall()
        return [{**dict(r), "carry": json.loads(r["carry"])} for r in rows]

    def in_progress(self, inbound_id: int) -> dict[str, Any] | None:
        return next((r for r in self.unfinished_inbound() if r["id"] == inbound_id), None)

    def inbound_bytes(self, inbound_id: int) -> bytes:
        row = self._db.execute(f"SELECT {_INBOUND_BYTES} FROM inbox WHERE id = ?", (inbound_id,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else b""

    def add_part(self, inbound_id: int, tenant: str, network: str, flow: str, area: str, channel: str, pm: str,
                 body: bytes, lines: int, ok: int, ko: int) -> None:
        """One slice's lines of an answer file (encoded, without the header)."""
        self._db.execute("INSERT INTO inbox_parts (inbox_id, tenant, network, flow, area, channel, pm, body, lines, "
                         "ok, ko) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (inbound_id, tenant, network, flow, area, channel, pm, body, lines, ok, ko))

    def parts(self, inbound_id: int) -> list[sqlite3.Row]:
        """The answer files of an inbound file: one row per destination and flow, in the order of their first
        lines, with their line counts."""
        return self._db.execute(
            "SELECT tenant, network, flow, area, channel, pm, MIN(id) AS first, SUM(lines) AS lines, SUM(ok) AS ok, "
            "SUM(ko) AS ko, SUM(length(body)) AS size FROM inbox_parts WHERE inbox_id = ? "
            "GROUP BY tenant, network, flow, area, channel, pm "
            "ORDER BY first", (inbound_id,)).fetchall()

    def part_bodies(self, inbound_id: int, part: sqlite3.Row) -> Iterator[bytes]:
        for row in self._db.execute(
                "SELECT body FROM inbox_parts WHERE inbox_id = ? AND tenant = ? AND network = ? AND flow = ? "
                "AND area = ? AND channel = ? AND pm = ? ORDER BY id",
                (inbound_id, part["tenant"], part["network"], part["flow"], part["area"], part["channel"], part["pm"])):
            yield bytes(row[0])

    def hold_events(self, inbound_id: int, events: list[tuple[float, str, str, str, dict[str, Any]]]) -> None:
        self._db.executemany("INSERT INTO inbox_events (inbox_id, due, kind, tenant, ref, payload) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             [(inbound_id, due, kind, tenant, ref, _ENCODE(payload) if payload else "{}")
                              for due, kind, tenant, ref, payload in events])

    def close_inbound(self, inbound_id: int) -> None:
        """The file's last slice: its held events go on the clock, its parts and progress are dropped."""
        self._db.execute("INSERT INTO events (due, kind, tenant, ref, payload) SELECT due, kind, tenant, ref, payload "
                         "FROM inbox_events WHERE inbox_id = ? ORDER BY id", (inbound_id,))
        for table in ("inbox_events", "inbox_parts", "inbox_progress"):
            self._db.execute(f"DELETE FROM {table} WHERE inbox_id = ?", (inbound_id,))  # noqa: S608 - fixed names

    def received(self, tenant: str, limit: int = -1, after_id: int = 0) -> list[dict[str, Any]]:
        """Inbound files of `tenant` by id, from the one after `after_id`, with what the journal said of
        each (its lines for that file name, oldest first); `limit` -1 means all."""
        rows = self.reader().execute(
            "SELECT id, tenant, operator, channel, location, filename, at_virtual, at_real, sha256, "
            f"length({_INBOUND_BYTES}) AS size, "
            "(SELECT json_group_array(outcome) FROM (SELECT outcome FROM journal j WHERE j.tenant = inbox.tenant "
            "AND j.direction = 'in' AND j.filename = inbox.filename ORDER BY j.id)) AS outcomes "
            "FROM inbox WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?", (tenant, after_id, limit))
        return [{**dict(r), "outcomes": json.loads(r["outcomes"] or "[]")} for r in rows]

    def inbound_content(self, tenant: str, inbound_id: int) -> bytes | None:
        """The bytes of one inbound file of `tenant`; None if there is none (or it predates kept content)."""
        row = self.reader().execute(f"SELECT {_INBOUND_BYTES} FROM inbox WHERE tenant = ? AND id = ?",
                                    (tenant, inbound_id)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def outbound_content(self, tenant: str, outbound_id: int) -> bytes | None:
        row = self.reader().execute(
            "SELECT coalesce(s.content, o.content) FROM outbox o LEFT JOIN shared_content s "
            "ON o.shared != '' AND s.sha256 = o.shared WHERE o.tenant = ? AND o.id = ?",
            (tenant, outbound_id)).fetchone()
        return None if row is None else bytes(row[0])

    def unremoved_inbound(self, tenant: str, location: str, filename: str, sha256: str,
                          operator: str) -> int | None:
        row = self._db.execute(
            "SELECT id FROM inbox WHERE tenant = ? AND location = ? AND filename = ? AND sha256 = ? "
            "AND operator = ? AND removed = 0", (tenant, location, filename, sha256, operator)).fetchone()
        return row[0] if row else None

    def mark_inbound_removed(self, inbound_ids: list[int]) -> None:
        self._db.executemany("UPDATE inbox SET removed = 1 WHERE id = ?", [(i,) for i in inbound_ids])

    # --- journal
    def add_journal(self, at_virtual: str, tenant: str, channel: str, direction: str, flow: str,
                    filename: str, outcome: str, detail: str = "", db: sqlite3.Connection | None = None) -> None:
        (db or self._db).execute(
            "INSERT INTO journal (at_virtual, at_real, tenant, channel, direction, flow, filename, outcome, "
            "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (at_virtual, time.time(), tenant, channel, direction, flow, filename, outcome, detail))

    def journal(self, tenant: str | None = None, limit: int = 200, since_id: int = 0,
                before_id: int | None = None) -> list[dict[str, Any]]:
        """The latest `limit` lines with since_id < id (< before_id, to page back), oldest first."""
        sql = "SELECT * FROM journal WHERE id > ?"
        args: list[Any] = [since_id]
        if before_id is not None:
            sql += " AND id < ?"
            args.append(before_id)
        if tenant:
            sql += " AND tenant = ?"
            args.append(tenant)
        rows = self.reader().execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
        return [dict(r) for r in rows][::-1]


#: Order.as_json's object, keys in its order, made by SQLite (json(data): the stored JSON, minified, as is).
_ORDER_JSON = (
    "SELECT created, ref, json_object('tenant', tenant, 'ReferenceCommandePriseInterneOC', ref, "
    "'ReferencePrestationPrise', prestation, 'network', network, 'state', state, 'created', created, "
    "'updated', updated, 'data', json(data), 'history', json_array()) FROM orders")


def _order(row: sqlite3.Row) -> Order:
    return Order(row["tenant"], row["ref"], row["prestation"], row["network"], row["state"],
                 _DECODE(row["data"]), row["created"], row["updated"])
