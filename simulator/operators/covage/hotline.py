"""The operator's hotline and its reprovisioning (seed 002, spec decisions "Hotline, as seed 002 draws it").

A technician on site calls the hotline (an HTTP endpoint of the sandbox, docs/api.md):

- `hotline`: after a CR with Hotline=O, the technician names the socket found; the operator reprovisions it
  hot, gives a décharge number at once and sends a Notif_Reprov (MotifReprov `Commande HOTLINE`). The
  CR_STOC then carries NotificationReprovisioningHL=OUI and that NumeroDecharge.
- `hot` / `cold`: the OC's own reprovisioning request outside Hotline (seed 002 "DEMANDE REPROV": fibre
  occupied or broken on site). Hot: the Notif_Reprov and its décharge at once; cold: the Notif_Reprov comes
  later on the clock (timing `cold_reprov`).

The operator may also reprovision on its own: `building_works` (scheduled works in a building) reprovisions
every order of a tenant at that building that is between CR and CR MAD.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ...capability import ActionRefused, Route
from ...documents import Effects
from ...refdata import Line
from ...store import Order
from .states import AFTER_MAD, BEFORE_MAD, REPROVISIONABLE, Desk, Reject, State

HOTLINE_MOTIF = "Commande HOTLINE"  # MotifReprov of a Hotline's reprovisioning (e-Mutation reasons)
WORKS_MOTIF = "Travaux programmés"  # MotifReprov of the operator's own reprovisioning (opsim choice)
CALL_KINDS = ("hotline", "hot", "cold")


_TEXT = {"type": "string", "maxLength": 256}
#: The hotline on the admin API: POST /api/operators/<operator>/hotline?tenant=... (the OC's technician calls).
ROUTES = (Route(
    "POST", "hotline", "hotline",
    "hotline: the OC's technician on site calls the operator (seed 002): the socket found after a Hotline CR is "
    "reprovisioned hot (Notif_Reprov, MotifReprov Commande HOTLINE) and the décharge number answered; kind hot "
    "or cold asks a reprovisioning outside Hotline",
    body={"ref": {**_TEXT, "description": "the order's ReferenceCommandePriseInterneOC"},
          "socket": {**_TEXT, "description": "ReferencePrise of the socket found on site (required for kind hotline)"},
          "kind": {"type": "string", "enum": ["hotline", "hot", "cold"], "default": "hotline",
                   "description": "hotline: after a Hotline CR; hot / cold: the OC's reprovisioning request"},
          "motif": {**_TEXT, "description": "MotifReprov of a hot or cold request", "default": "Fibre HS"}},
    required=("ref",),
    answer={"type": "object", "properties": {
        "ref": {"type": "string"}, "kind": {"type": "string"},
        "NumeroDecharge": {"type": "string", "description": "the décharge the CR_STOC must carry (empty: cold)"},
        "ReferencePrise": {"type": "string"}, "MotifReprov": {"type": "string"},
        "due": {"type": "string", "description": "cold: when the Notif_Reprov comes (virtual ISO date-time)"}}},
    refused="refused: no such order, wrong state, socket unknown, elsewhere or held"),)


def call_hotline(desk: Desk, tenant: str, args: Mapping[str, Any], now: datetime) -> Effects:
    """One call to the hotline: {ref, socket (found on site), kind (hotline|hot|cold), motif}."""
    ref = str(args.get("ref", ""))
    kind = str(args.get("kind") or "hotline")
    if kind not in CALL_KINDS:
        raise ActionRefused(f"kind {kind[:20]!r} is not one of {'|'.join(CALL_KINDS)}")
    order = desk.store.get_order(tenant, ref)
    if order is None:
        raise ActionRefused(f"no order {ref[:40]} for {tenant}")
    if order.state not in REPROVISIONABLE:
        raise ActionRefused(f"order {ref} is {order.state}: the hotline reprovisions between CR and CR MAD")
    socket = str(args.get("socket") or "")
    if kind == "hotline":
        if order.data.get("Hotline") != "O":
            raise ActionRefused(f"order {ref} had no Hotline CR: ask a hot or cold reprovisioning")
        if order.data.get("HotlineCall"):
            raise ActionRefused(f"order {ref}: the hotline already reprovisioned socket "
                                f"{order.data['ReferencePrise']} (décharge {order.data.get('NumeroDecharge')})")
        if not socket:
            raise ActionRefused("socket: the ReferencePrise of the socket found on site is required")
        if order.data["TypeRacco"] != "STOC":
            raise ActionRefused(f"order {ref} is in {order.data['TypeRacco']} mode: the operator's own technician "
                                "finds the socket and reprovisions it")
        if order.state != State.STOC_ORDERED:
            raise ActionRefused(f"order {ref} is {order.state}: the technician calls once the Cmd_STOC came")
    line = found_socket(desk, order, socket) if socket else None
    motif = HOTLINE_MOTIF if kind == "hotline" else str(args.get("motif") or "Fibre HS")[:100]
    if kind == "cold":
        order.data["ColdReprov"] = {"motif": motif, "socket": socket}
        desk._touch(order, now, "Hotline call", f"cold reprovisioning asked: {motif}")
        effects = Effects()
        desk._later(effects, now, "reprov", order, "cold_reprov", {"motif": motif, "socket": socket})
        effects.reply = {"ref": ref, "kind": kind, "NumeroDecharge": "", "MotifReprov": motif,
                         "due": effects.events[-1].due.isoformat(timespec="seconds")}
        return effects
    if kind == "hotline":
        order.data["HotlineCall"] = True
    try:
        effects = desk.reprovision(order, motif, now, socket=line,
                                   comment="Reprovisioning à chaud sur appel hotline du technicien")
    except Reject as r:
        raise ActionRefused(r.comment) from None
    effects.reply = {"ref": ref, "kind": kind, "NumeroDecharge": order.data["NumeroDecharge"],
                     "ReferencePrise": order.data["ReferencePrise"], "MotifReprov": motif}
    return effects


def found_socket(desk: Desk, order: Order, reference: str) -> Line:
    """The socket the technician names: a socket of the network, at the order's address, free."""
    network = desk.networks[order.network]
    line = network.line(reference)
    address = network.address_by_id(order.data["IdentifiantImmeuble"])
    if line is None:
        raise ActionRefused(f"socket {reference[:40]} unknown on {order.network}")
    if address is None or line.hexacle != address.hexacle or line.batiment != address.batiment:
        raise ActionRefused(f"socket {reference} is not at the address of order {order.ref}")
    held = [r for r in desk.store.orders_on_socket(None, reference, [s.value for s in BEFORE_MAD | AFTER_MAD])
            if r != order.ref]
    if line.occupied or held:
        raise ActionRefused(f"socket {reference} is held by another line: name the socket of this home")
    return line


def building_works(desk: Desk, tenant: str, args: Mapping[str, Any], now: datetime) -> Effects:
    """The operator's own reprovisioning: every order of `tenant` at the building, between CR and CR MAD."""
    building = str(args.get("building", ""))
    motif = str(args.get("motif") or WORKS_MOTIF)[:100]
    effects = Effects()
    done = []
    for order in desk.store.orders(tenant, limit=100_000):
        if order.data.get("IdentifiantImmeuble") == building and order.state in REPROVISIONABLE \
                and order.data.get("ReferencePrise"):
            effects.extend(desk.reprovision(desk.store.get_order(tenant, order.ref) or order, motif, now,
                                            comment="Travaux programmés dans l'immeuble"))
            done.append(order.ref)
    if not done:
        raise ActionRefused(f"no order of {tenant} at building {building[:60]} between CR and CR MAD")
    effects.reply = {"building": building, "MotifReprov": motif, "orders": done}
    return effects
