"""Connection appointments (spec decisions "Appointments"; seed 004's e-RDV): the operator's booking service.

An OC lists the free slots for an address from J+8 to J+26 working days, books one (an IdRdv), may cancel
it, and puts the IdRdv in its Cmd_Acces. At the CR the operator checks it with the FRDV codes of Annexe 5f
(the spec pack's `appointments` section maps each case to its code): unknown (or another OC's), cancelled
(the slot is gone), expired (its day has passed), already used by another order, or booked for another
address. The service is served over HTTP beside the admin API (docs/api.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from ...capability import ActionRefused, Route, Schema
from ...documents import Effects
from ...store import Order
from .states import Desk

SCHEMA = """
CREATE TABLE IF NOT EXISTS appointments (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    network TEXT NOT NULL,
    hexacle TEXT NOT NULL,
    day TEXT NOT NULL,          -- AAAAMMJJ
    half TEXT NOT NULL,         -- AM | PM
    state TEXT NOT NULL,        -- BOOKED | CANCELLED | USED
    ref TEXT NOT NULL DEFAULT '',  -- the order that used it
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS appointments_slot ON appointments (network, day, half, state);
"""


_TEXT = {"type": "string", "maxLength": 256}
_APPOINTMENT = {"type": "object", "properties": {
    "IdRdv": {"type": "string", "description": "what the order carries in IdRdv"},
    "slot": {"type": "string"}, "date": {"type": "string", "format": "date"}, "address": {"type": "string"},
    "network": {"type": "string"}, "state": {"type": "string", "enum": ["BOOKED", "CANCELLED"]}}}
_HOURS = {"type": "string", "pattern": "[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]"}
#: The booking service's settings in the operator's profile (its slots, seed 004's e-RDV).
SETTINGS: dict[str, Schema] = {
    "appointment_first_working_day": {"type": "integer", "minimum": 0,
                                      "description": "the booking service's first slot: J+N working days"},
    "appointment_last_working_day": {"type": "integer", "minimum": 0, "description": "its last slot"},
    "appointment_slot_capacity": {"type": "integer", "minimum": 1,
                                  "description": "appointments a half-day slot takes per network"},
    "appointment_am": {**_HOURS, "description": "hours of the morning slot"},
    "appointment_pm": {**_HOURS, "description": "hours of the afternoon slot"},
}
#: The booking service (seed 004's e-RDV) on the admin API: /api/operators/<operator>/appointments.
ROUTES = (
    Route("GET", "appointments", "appointment_slots",
          "appointment_slots: the booking service's free connection slots for an address, from J+8 to J+26 "
          "working days (seed 004's e-RDV)",
          query={"address": {**_TEXT, "description": "CodeAdresseImmeuble (hexaclé)"},
                 "network": {**_TEXT, "description": "the network's Interop code (default: the first)"}},
          required=("address",),
          answer={"type": "object", "properties": {
              "network": {"type": "string"}, "address": {"type": "string", "description": "the hexaclé"},
              "slots": {"type": "array", "items": {"type": "object", "properties": {
                  "slot": {"type": "string", "description": "AAAAMMJJ-AM or AAAAMMJJ-PM: what a booking names"},
                  "date": {"type": "string", "format": "date"}, "start": {"type": "string"},
                  "end": {"type": "string"}}}}}},
          refused="unknown network or address"),
    Route("POST", "appointments", "book_appointment",
          "book_appointment: book a free slot; the IdRdv answered goes in the order (checked at the CR with the "
          "FRDV codes)",
          body={"network": {**_TEXT, "description": "the OI network's Interop code (default: the first)"},
                "address": {**_TEXT, "minLength": 1, "description": "CodeAdresseImmeuble (hexaclé)"},
                "slot": {**_TEXT, "minLength": 1, "description": "a free slot of GET .../appointments"}},
          required=("address", "slot"), answer=_APPOINTMENT, refused="not a free slot of that address"),
    Route("DELETE", "appointments/{IdRdv}", "cancel_appointment",
          "cancel_appointment: release a booked slot (an order naming it then gets a CR KO FRDV02)",
          answer=_APPOINTMENT, refused="no such appointment of the tenant, or not booked any more"),
)


def setting(desk: Desk, name: str, default: Any) -> Any:
    """A profile setting of the booking service (appointment_<name>)."""
    return desk.profile.settings.get(f"appointment_{name}", default)


def ensure(desk: Desk) -> None:
    """The capability's own table, made when the desk is built (never inside a transaction)."""
    desk.store.ensure_schema(SCHEMA)


def _hexacle(desk: Desk, network: str, hexacle: str) -> str:
    if network not in desk.networks:
        raise ActionRefused(f"network {network[:10]!r} is not one of {', '.join(desk.networks)}")
    hexacle = hexacle.upper()
    if not desk.networks[network].addresses_by_hexacle(hexacle):
        raise ActionRefused(f"address {hexacle[:20]} unknown on {network}")
    return hexacle


def slots(desk: Desk, args: Mapping[str, Any], now: datetime) -> Effects:
    """`appointment_slots` {network, address (hexaclé)}: the free slots from J+8 to J+26 working days."""
    network = str(args.get("network") or next(iter(desk.networks)))
    hexacle = _hexacle(desk, network, str(args.get("address", "")))
    first, last = int(setting(desk, "first_working_day", 8)), int(setting(desk, "last_working_day", 26))
    capacity = int(setting(desk, "slot_capacity", 4))
    halves = {"AM": str(setting(desk, "am", "08:00-12:00")), "PM": str(setting(desk, "pm", "13:00-17:00"))}
    start = desk.calendar.add_working_days(now, first).date()
    end = desk.calendar.add_working_days(now, last).date()
    taken = {(r["day"], r["half"]): r["n"] for r in desk.store.query(
        "SELECT day, half, count(*) AS n FROM appointments WHERE network = ? AND state != 'CANCELLED' "
        "AND day BETWEEN ? AND ? GROUP BY day, half", (network, f"{start:%Y%m%d}", f"{end:%Y%m%d}"))}
    free = []
    day = start
    while day <= end:
        if desk.calendar.is_working_day(day):
            for half, hours in halves.items():
                if taken.get((f"{day:%Y%m%d}", half), 0) < capacity:
                    begin, _, finish = hours.partition("-")
                    free.append({"slot": f"{day:%Y%m%d}-{half}", "date": day.isoformat(), "start": begin,
                                 "end": finish})
        day += timedelta(days=1)
    effects = Effects()
    effects.reply = {"network": network, "address": hexacle, "slots": free}
    return effects


def book(desk: Desk, tenant: str, args: Mapping[str, Any], now: datetime) -> Effects:
    """`book_appointment` {network, address, slot}: the IdRdv of a free slot."""
    offered = slots(desk, args, now).reply
    slot = str(args.get("slot", ""))
    if slot not in {s["slot"] for s in offered["slots"]}:
        raise ActionRefused(f"slot {slot[:20]!r} is not a free slot of {offered['address']} (list them first)")
    network = offered["network"]
    day, half = slot.split("-", 1)
    arcep = next((n.arcep for n in desk.profile.networks if n.interop == network), network)
    rdv = f"RDV{arcep}{desk.store.next_sequence('appointment'):08d}"
    desk.store.execute("INSERT INTO appointments (id, tenant, network, hexacle, day, half, state, created) "
                       "VALUES (?, ?, ?, ?, ?, ?, 'BOOKED', ?)",
                       (rdv, tenant, network, offered["address"], day, half, now.isoformat(timespec="seconds")))
    effects = Effects()
    effects.reply = {"IdRdv": rdv, "slot": slot, "date": date(int(day[:4]), int(day[4:6]), int(day[6:])).isoformat(),
                     "address": offered["address"], "network": network, "state": "BOOKED"}
    return effects


def cancel(desk: Desk, tenant: str, args: Mapping[str, Any]) -> Effects:
    """`cancel_appointment` {IdRdv}: the slot is released."""
    rdv = str(args.get("IdRdv", ""))
    rows = desk.store.query("SELECT state FROM appointments WHERE id = ? AND tenant = ?", (rdv, tenant))
    if not rows:
        raise ActionRefused(f"no appointment {rdv[:30]} for {tenant}")
    if rows[0]["state"] != "BOOKED":
        raise ActionRefused(f"appointment {rdv} is {rows[0]['state']}: only a booked one can be cancelled")
    desk.store.execute("UPDATE appointments SET state = 'CANCELLED' WHERE id = ?", (rdv,))
    effects = Effects()
    effects.reply = {"IdRdv": rdv, "state": "CANCELLED"}
    return effects


def check(desk: Desk, order: Order, hexacle: str, now: datetime) -> tuple[str, str]:
    """The FRDV code and reason refusing the order's IdRdv at the CR, or ("", "") when it holds (it is then
    used by this order)."""
    rdv = order.data.get("IdRdv", "")
    if not rdv:
        return "", ""
    codes: Mapping[str, str] = desk.pack.sections.get("appointments", {}).get("codes", {})
    rows = desk.store.query("SELECT * FROM appointments WHERE id = ? AND tenant = ?", (rdv, order.tenant))
    if not rows:
        return codes.get("unknown", "FRDV03"), f"IdRdv {rdv} was never booked by {order.tenant}"
    row = rows[0]
    if row["state"] == "CANCELLED":
        return codes.get("cancelled", "FRDV02"), f"IdRdv {rdv} was cancelled: its slot is gone"
    if row["state"] == "USED" and row["ref"] != order.ref:
        return codes.get("used", "FRDV04"), f"IdRdv {rdv} is already used by order {row['ref']}"
    if row["day"] < f"{now:%Y%m%d}":
        return codes.get("expired", "FRDV04"), f"IdRdv {rdv} was for {row['day']}, a day gone"
    if row["hexacle"] != hexacle or row["network"] != order.network:
        return codes.get("address", "FRDV06"), f"IdRdv {rdv} was booked for {row['hexacle']}, not {hexacle}"
    desk.store.execute("UPDATE appointments SET state = 'USED', ref = ? WHERE id = ?", (order.ref, rdv))
    order.data["RdvSlot"] = f"{row['day']}-{row['half']}"
    return "", ""
