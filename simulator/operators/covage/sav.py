"""After-sales (SAV WS 2.1, OSS/J Trouble Ticket 1.2) as a capability: trouble tickets and their states.

An OC opens a ticket on one of its lines in service (its order had a CR MES), or reports damage seen on
the network (a PBO or a PM). The operator works it on the virtual clock: QUEUED, OPENACTIVE when taken,
CLEARED with a comment after the repair delay, CLOSED when the OC closes it or after a delay. The OC may
reopen a CLEARED ticket (setTroubleTicketByValue to OPENACTIVE) or cancel an open one. The operator's
notices of scheduled works in a building reach, as tickets of type TRAVAUX, the OCs with lines there.
A fault on a line of a building with works scheduled is DEFERRED until the works are done (the repair would
be undone by them), then worked again; the operator can also defer a ticket itself (action `defer_ticket`:
no access to the site, the end customer away) until a date.
Tickets live in their own tables (Store.ensure_schema); no SOAP here (`ws/sav_ws.py` is the wire format).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from ...capability import ActionRefused, Capability, OperatorContext, WebService
from ...documents import Effects, Finding, ScheduledEvent
from ...specs.codec import load_yaml
from .access import State as OrderState

SPEC = Path(__file__).parents[2] / "specs" / "webservices" / "sav-2.1.yaml"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sav_tickets (
    key TEXT PRIMARY KEY, tenant TEXT NOT NULL, network TEXT NOT NULL DEFAULT '', order_ref TEXT NOT NULL DEFAULT '',
    prestation TEXT NOT NULL DEFAULT '', reference_prise TEXT NOT NULL DEFAULT '',
    suspect_object TEXT NOT NULL DEFAULT '', trouble_type TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    customer_trouble_num TEXT NOT NULL DEFAULT '', detection_time TEXT NOT NULL DEFAULT '',
    originator TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, status TEXT NOT NULL DEFAULT '',
    close_out_narr TEXT NOT NULL DEFAULT '', dialog TEXT NOT NULL DEFAULT '[]', generation INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sav_tickets_tenant ON sav_tickets (tenant, state);
CREATE TABLE IF NOT EXISTS sav_ticket_history (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL, at_virtual TEXT NOT NULL, state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '');
"""


class TroubleState(StrEnum):
    QUEUED = "QUEUED"
    OPENACTIVE = "OPENACTIVE"
    DEFERRED = "DEFERRED"
    CLEARED = "CLEARED"
    CLOSED = "CLOSED"


#: The OSS/J TT transitions (reference implementation's isValidStateTransition).
TRANSITIONS: dict[TroubleState, frozenset[TroubleState]] = {
    TroubleState.QUEUED: frozenset({TroubleState.OPENACTIVE, TroubleState.CLOSED}),
    TroubleState.OPENACTIVE: frozenset({TroubleState.CLEARED, TroubleState.DEFERRED, TroubleState.CLOSED}),
    TroubleState.DEFERRED: frozenset({TroubleState.OPENACTIVE, TroubleState.CLOSED}),
    TroubleState.CLEARED: frozenset({TroubleState.OPENACTIVE, TroubleState.CLOSED}),
    TroubleState.CLOSED: frozenset(),
}

LINE_TYPES = ("PANNE",)  # on a line in service
DAMAGE = "DOMMAGE"  # damage seen on the network: on a PBO or a PM
WORKS = "TRAVAUX"  # the operator's notice of scheduled works (never opened by an OC)
WORKDAY_START = time(8)  # a deferred ticket is worked again from this hour of its next working day


class TicketError(Exception):
    """A request refused; `kind` names the OSS/J exception (illegal_argument, not_found, create, set)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class NewTicket:
    """What an OC gives to open a ticket."""

    trouble_type: str
    description: str
    prestation: str = ""  # ReferencePrestationPrise of the line (or)
    reference_prise: str = ""  # its socket
    suspect_object: str = ""  # a PBO or PM reference (damage)
    customer_trouble_num: str = ""
    detection_time: str = ""
    originator: str = ""


class SavDesk(Capability):
    name = "sav"
    events = ("take", "clear", "auto_close", "resume")
    actions = ("works_notice", "defer_ticket")
    web_services: ClassVar[tuple[WebService, ...]] = (
        WebService("sav-2.1", "2.1", "simulator.operators.covage.ws.sav_ws:build"),
    )
    settings = {"sav_clear_comment": {"type": "string",
                                      "description": "closeOutNarr of a ticket the operator clears"}}
    timings = {"sav_take": "SAV ticket QUEUED -> OPENACTIVE (the operator takes it)",
               "sav_clear": "SAV ticket OPENACTIVE -> CLEARED (repaired, with a comment)",
               "sav_auto_close": "SAV ticket CLEARED -> CLOSED when the OC does not close it"}

    def __init__(self, context: OperatorContext):
        super().__init__(context)
        self.store = context.store
        self.profile = context.profile
        self.calendar = context.calendar
        self.spec = load_yaml(SPEC)
        self.store.ensure_schema(SCHEMA)

    # ------------------------------------------------------------------ the OC's requests (engine thread)
    def create(self, tenant: str, new: NewTicket, now: datetime) -> tuple[str, Effects]:
        effects = Effects()
        kind = new.trouble_type.strip().upper() or LINE_TYPES[0]
        if kind not in self.spec["trouble_types"]:
            raise TicketError("illegal_argument", f"troubleType {new.trouble_type!r} is not one of "
                                                  f"{', '.join(self.spec['trouble_types'])}")
        if not new.description.strip():
            raise TicketError("illegal_argument", "troubleDescription is mandatory")
        network, order_ref, prestation, socket, suspect = "", "", "", "", new.suspect_object.strip()
        if kind == DAMAGE:
            network = self._network_of(suspect)
            if not network:
                raise TicketError("create", f"suspect object {suspect!r} is neither a PBO nor a PM of the operator")
        else:
            order = self._order(tenant, new.prestation.strip(), new.reference_prise.strip())
            if order is None:
                raise TicketError("create", "no order of yours on that line (ReferencePrestationPrise or "
                                            "ReferencePrise unknown)")
            if order["state"] != OrderState.IN_SERVICE:
                raise TicketError("create", f"the line of order {order['ref']} is not in service (state "
                                            f"{order['state']}): a ticket needs a CR MES first")
            network, order_ref, prestation = order["network"], order["ref"], order["prestation"]
            socket = json.loads(order["data"]).get("ReferencePrise", "")
        key = f"TT{self.store.next_sequence('sav:ticket'):010d}"
        at = now.isoformat(timespec="seconds")
        self.store.execute(
            "INSERT INTO sav_tickets (key, tenant, network, order_ref, prestation, reference_prise, suspect_object, "
            "trouble_type, description, customer_trouble_num, detection_time, originator, state, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, tenant, network, order_ref, prestation, socket, suspect, kind, new.description.strip()[:4000],
             new.customer_trouble_num[:100], new.detection_time, new.originator[:200] or tenant,
             TroubleState.QUEUED, at, at))
        self._history(key, at, TroubleState.QUEUED, f"opened by {tenant}")
        self._later(effects, now, "take", tenant, key, 0)
        effects.findings.append(Finding(tenant, "soap", "in", "createTroubleTicketByValue", key, "ticket opened",
                                        f"{kind} {prestation or suspect}"))
        return key, effects

    def close(self, tenant: str, key: str, narrative: str, now: datetime, cancel: bool = False) -> Effects:
        ticket = self.ticket(tenant, key, reader=False)
        state = TroubleState(ticket["troubleState"])
        if TroubleState.CLOSED not in TRANSITIONS[state]:
            raise TicketError("set", f"ticket {key} is {state}: it cannot be closed")
        if cancel and state == TroubleState.CLEARED:
            raise TicketError("set", f"ticket {key} is CLEARED: close it (or reopen it), a repaired fault is "
                                     "not cancelled")
        status = "CANCELLED" if cancel else "CLOSED_BY_CUSTOMER"
        self._move(key, TroubleState.CLOSED, now, status, narrative or ("cancelled" if cancel else "closed"),
                   close_out=narrative)
        return Effects()

    def update(self, tenant: str, key: str, state: str, comment: str, now: datetime) -> Effects:
        """setTroubleTicketByValue: a comment in the dialog, and/or OPENACTIVE to refuse a repair
        (reopen a CLEARED ticket: the operator works it again)."""
        effects = Effects()
        ticket = self.ticket(tenant, key, reader=False)
        current = TroubleState(ticket["troubleState"])
        if comment:
            self._say(key, tenant, comment, now)
        wanted = state.strip().upper()
        if wanted and wanted != current:
            if wanted not in TroubleState.__members__:
                raise TicketError("illegal_argument", f"troubleState {state!r} is not an OSS/J state")
            target = TroubleState(wanted)
            # The OC may only reopen a CLEARED ticket here; closing and cancelling have their operations.
            if not (current == TroubleState.CLEARED and target == TroubleState.OPENACTIVE):
                raise TicketError("set", f"ticket {key}: {current} -> {target} is not the OC's to make "
                                         "(reopen CLEARED -> OPENACTIVE, or use close/cancel)")
            generation = self._move(key, target, now, "REOPENED", comment or "repair refused by the OC")
            self._later(effects, now, "clear", tenant, key, generation)
        elif not comment:
            raise TicketError("illegal_argument", "nothing to change: give troubleState or dialog")
        return effects

    # ------------------------------------------------------------------ reads (any thread)
    def ticket(self, tenant: str, key: str, reader: bool = True) -> dict[str, Any]:
        rows = self.store.query("SELECT * FROM sav_tickets WHERE key = ? AND tenant = ?", (key, tenant),
                                reader=reader)
        if not rows:
            raise TicketError("not_found", f"no ticket {key!r} of {tenant}")
        return _value(rows[0])

    def tickets(self, tenant: str, state: str = "", prestation: str = "", trouble_type: str = "") -> list[dict]:
        sql, args = "SELECT * FROM sav_tickets WHERE tenant = ?", [tenant]
        for column, value in (("state", state), ("prestation", prestation), ("trouble_type", trouble_type)):
            if value.strip():
                sql += f" AND {column} = ?"
                args.append(value.strip().upper() if column != "prestation" else value.strip())
        return [_value(r) for r in self.store.query(sql + " ORDER BY key", tuple(args), reader=True)]

    def history(self, key: str) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT at_virtual, state, detail FROM sav_ticket_history WHERE key = ? ORDER BY id",
                                (key,), reader=True)
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ the operator's work (events)
    def on_event(self, kind: str, tenant: str, ref: str, payload: dict[str, Any], now: datetime) -> Effects:
        effects = Effects()
        row = self._row(ref)
        if row is None or row["generation"] != payload.get("generation", 0):
            return effects  # closed, cancelled or reopened since: this step is stale
        state = TroubleState(row["state"])
        if kind == "take" and state == TroubleState.QUEUED:
            generation = self._move(ref, TroubleState.OPENACTIVE, now, "ASSIGNED", "taken by the operator")
            works = self._works_pending(row, now)
            if works:
                building, day = works
                self._defer(ref, tenant, day, f"works scheduled in building {building} on {day:%Y%m%d}: the "
                                              "repair is made after them", "WAITING_FOR_WORKS", now, effects)
            else:
                self._later(effects, now, "clear", tenant, ref, generation)
        elif kind == "resume" and state == TroubleState.DEFERRED:
            generation = self._move(ref, TroubleState.OPENACTIVE, now, "ASSIGNED", "worked again after deferral")
            self._later(effects, now, "clear", tenant, ref, generation)
        elif kind == "clear" and state == TroubleState.OPENACTIVE:
            narrative = str(self.profile.settings.get("sav_clear_comment", "Intervention realisee, ligne retablie"))
            generation = self._move(ref, TroubleState.CLEARED, now, "REPAIRED", narrative, close_out=narrative)
            self._later(effects, now, "auto_close", tenant, ref, generation)
        elif kind == "auto_close" and state == TroubleState.CLEARED:
            self._move(ref, TroubleState.CLOSED, now, "CLOSED_BY_OPERATOR", "no answer from the OC: closed")
        return effects

    def act(self, action: str, tenant: str, args: Mapping[str, Any], now: datetime) -> Effects:
        if action == "defer_ticket":
            return self._defer_action(tenant, args, now)
        return self._works_notice(args, now)

    def _defer_action(self, tenant: str, args: Mapping[str, Any], now: datetime) -> Effects:
        """`defer_ticket` {key, until (YYYYMMDD or YYYY-MM-DD), reason}: the operator defers an OPENACTIVE
        ticket of `tenant` until that day (it is worked again then)."""
        key, reason = str(args.get("key", "")).strip(), str(args.get("reason", "")).strip()
        try:
            until = _day(str(args.get("until", "")))
        except ValueError:
            raise ActionRefused("until must be a date, YYYYMMDD or YYYY-MM-DD") from None
        if until <= now.date():
            raise ActionRefused(f"until ({until:%Y%m%d}) must be after today ({now:%Y%m%d})")
        try:
            state = self.ticket(tenant, key, reader=False)["troubleState"]
        except TicketError as e:
            raise ActionRefused(e.message) from None
        if state != TroubleState.OPENACTIVE:
            raise ActionRefused(f"ticket {key} is {state}: only an OPENACTIVE ticket is deferred")
        effects = Effects()
        self._defer(key, tenant, until, reason or "deferred by the operator", "DEFERRED_BY_OPERATOR", now, effects)
        return effects

    def _defer(self, key: str, tenant: str, until: date, why: str, status: str, now: datetime,
               effects: Effects) -> None:
        """OPENACTIVE -> DEFERRED, worked again at the start of `until`'s next working day."""
        generation = self._move(key, TroubleState.DEFERRED, now, status, why)
        self._say(key, self.profile.name, why, now)  # the OC reads the reason in the ticket's dialog
        day = until + timedelta(days=1)
        while not self.calendar.is_working_day(day):
            day += timedelta(days=1)
        resume = datetime.combine(day, WORKDAY_START)
        effects.events.append(ScheduledEvent(resume, "resume", tenant, key, {"generation": generation}))
        effects.findings.append(Finding(tenant, "soap", "out", "DEFERRED", key, "ticket deferred",
                                        f"until {until:%Y%m%d}: {why}"))

    def _works_pending(self, row: Any, now: datetime) -> tuple[str, date] | None:
        """(building, day) of works notified in the building of a fault's line, still to come."""
        if row["trouble_type"] not in LINE_TYPES or not row["order_ref"]:
            return None
        found = self.store.query(
            "SELECT json_extract(data, '$.IdentifiantImmeuble') AS building FROM orders WHERE tenant = ? AND ref = ?",
            (row["tenant"], row["order_ref"]))
        building = found[0]["building"] if found else None
        if not building:
            return None
        days = []
        for notice in self.store.query("SELECT detection_time FROM sav_tickets WHERE tenant = ? AND trouble_type = ? "
                                       "AND suspect_object = ? AND state != ?",
                                       (row["tenant"], WORKS, building, TroubleState.CLOSED)):
            try:
                day = _day(notice["detection_time"])
            except ValueError:
                continue
            if day >= now.date():
                days.append(day)
        return (building, max(days)) if days else None

    def _works_notice(self, args: Mapping[str, Any], now: datetime) -> Effects:
        """`works_notice` {identifiant_immeuble, date, comment}: a TRAVAUX ticket for every OC with a line in
        service in that building (`tenant` is ignored: the notice goes to whoever has lines there)."""
        building = str(args.get("identifiant_immeuble", "")).strip()
        if not building:
            raise ActionRefused("identifiant_immeuble is mandatory")
        when, comment = str(args.get("date", "")), str(args.get("comment", "")) or "Travaux programmes"
        rows = self.store.query(
            "SELECT tenant, ref, prestation, network, json_extract(data, '$.ReferencePrise') AS prise FROM orders "
            "WHERE json_extract(data, '$.IdentifiantImmeuble') = ? AND state = ?", (building, OrderState.IN_SERVICE))
        if not rows:
            raise ActionRefused(f"no line in service in building {building}")
        effects = Effects()
        at = now.isoformat(timespec="seconds")
        for row in rows:
            key = f"TT{self.store.next_sequence('sav:ticket'):010d}"
            self.store.execute(
                "INSERT INTO sav_tickets (key, tenant, network, order_ref, prestation, reference_prise, "
                "suspect_object, trouble_type, description, detection_time, originator, state, status, created, "
                "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, row["tenant"], row["network"], row["ref"], row["prestation"], row["prise"] or "", building,
                 WORKS, f"{comment} ({when})" if when else comment, when, self.profile.name,
                 TroubleState.OPENACTIVE, "WORKS_SCHEDULED", at, at))
            self._history(key, at, TroubleState.OPENACTIVE, f"works notice for {building}")
            effects.findings.append(Finding(row["tenant"], "soap", "out", "works_notice", key, "notice sent",
                                            f"{building} {when}"))
        return effects

    # ------------------------------------------------------------------ helpers
    def _move(self, key: str, state: TroubleState, now: datetime, status: str, detail: str,
              close_out: str | None = None) -> int:
        """Change a ticket's state (checked against the OSS/J transitions); its new generation."""
        row = self._row(key)
        assert row is not None
        current = TroubleState(row["state"])
        if state not in TRANSITIONS[current]:
            raise TicketError("set", f"ticket {key}: {current} -> {state} is not an OSS/J transition")
        at = now.isoformat(timespec="seconds")
        generation = row["generation"] + 1
        self.store.execute(
            "UPDATE sav_tickets SET state = ?, status = ?, updated = ?, generation = ?, "
            "close_out_narr = COALESCE(?, close_out_narr) WHERE key = ?",
            (state, status, at, generation, close_out, key))
        self._history(key, at, state, detail)
        return generation

    def _say(self, key: str, by: str, text: str, now: datetime) -> None:
        """A line in the ticket's dialog (the OC's comments and the operator's)."""
        dialog = json.loads(self._row(key)["dialog"])
        dialog.append({"at": now.isoformat(timespec="seconds"), "by": by, "text": text[:2000]})
        self.store.execute("UPDATE sav_tickets SET dialog = ?, updated = ? WHERE key = ?",
                           (json.dumps(dialog, ensure_ascii=False), now.isoformat(timespec="seconds"), key))

    def _history(self, key: str, at: str, state: str, detail: str) -> None:
        self.store.execute("INSERT INTO sav_ticket_history (key, at_virtual, state, detail) VALUES (?, ?, ?, ?)",
                           (key, at, state, detail[:500]))

    def _row(self, key: str) -> Any:
        rows = self.store.query("SELECT * FROM sav_tickets WHERE key = ?", (key,))
        return rows[0] if rows else None

    def _later(self, effects: Effects, now: datetime, kind: str, tenant: str, key: str, generation: int) -> None:
        timing = {"take": "sav_take", "clear": "sav_clear", "auto_close": "sav_auto_close"}[kind]
        due = self.profile.timings[timing].after(now, self.calendar)
        effects.events.append(ScheduledEvent(due, kind, tenant, key, {"generation": generation}))

    def _order(self, tenant: str, prestation: str, socket: str) -> Any:
        if prestation:
            rows = self.store.query("SELECT * FROM orders WHERE tenant = ? AND prestation = ?", (tenant, prestation))
        elif socket:
            rows = self.store.query(
                "SELECT * FROM orders WHERE tenant = ? AND socket = ? "
                "ORDER BY state = ? DESC, updated DESC", (tenant, socket, OrderState.IN_SERVICE))
        else:
            raise TicketError("illegal_argument", "give the line: ReferencePrestationPrise or ReferencePrise")
        return rows[0] if rows else None

    def _network_of(self, reference: str) -> str:
        if not reference:
            return ""
        for key, network in self.context.reference_networks.items():
            if network.pbo(reference) is not None or network.pm(reference) is not None:
                return key
        return ""


def _day(text: str) -> date:
    text = text.strip()
    return datetime.strptime(text, "%Y-%m-%d" if "-" in text else "%Y%m%d").date()


def _value(row: Any) -> dict[str, Any]:
    """A ticket as the OSS/J TroubleTicketValue fields the wire writes."""
    return {
        "key": row["key"], "troubleState": row["state"], "troubleStatus": row["status"],
        "troubleType": row["trouble_type"], "troubleDescription": row["description"],
        "customerTroubleNum": row["customer_trouble_num"], "troubleDetectionTime": row["detection_time"],
        "originator": row["originator"], "closeOutNarr": row["close_out_narr"],
        "referencePrestationPrise": row["prestation"], "referencePrise": row["reference_prise"],
        "suspectObjectId": row["suspect_object"] or row["prestation"], "lastUpdateTime": row["updated"],
        "receivedTime": row["created"],
        "dialog": [f"{d['at']} {d['by']}: {d['text']}" for d in json.loads(row["dialog"])],
    }
