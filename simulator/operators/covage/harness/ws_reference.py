"""The web-service verbs of our own OC (docs/adapters.md): lookup_address, open_ticket, ticket_status,
close_ticket, through the OC's SOAP client (client/soap.py). The reference OC mixes them in."""

from __future__ import annotations

from typing import Any

from conformance.adapters import Context
from simulator.operators.covage.harness.client.soap import OcSoapClient, WsFault
from simulator.operators.covage.harness.verbs import VerbMixin


class WsVerbs(VerbMixin):
    CLOSE = "close_ws"
    context: Context
    orders: dict[str, Any]
    _ws: OcSoapClient | None = None

    def _soap(self) -> OcSoapClient:
        if self._ws is None:
            self._ws = OcSoapClient(self.context.extra["http"], self.context.oc_code, self.context.ftp.user,
                                    self.context.ftp.password)
        return self._ws

    def close_ws(self) -> None:
        if self._ws is not None:
            self._ws.close()

    def lookup_address(self, args: dict[str, Any]) -> dict[str, Any]:
        """{hexacle} -> {found, buildings: [{identifiant_immeuble, batiment, staircases: [{escalier, floors:
        [{etage, sockets: [{reference, free}]}]}]}], free_sockets: [...]} or {found: false, error: code}."""
        try:
            answer = self._soap().structure(str(args["hexacle"]))
        except WsFault as f:  # a fault is an answer: the OC says what it understood
            return {"found": False, "error": f.code, "message": f.message}
        buildings = [{
            "identifiant_immeuble": b["identifiantImmeuble"], "batiment": b["batiment"] or "",
            "staircases": [{"escalier": s["escalier"] or "", "floors": [{
                "etage": f["etage"] or "",
                "sockets": [{"reference": ln["referencePrise"], "free": ln["etatLigne"] == "LIBRE"}
                            for ln in f["ligne"] or []]} for f in s["etage"] or []]} for s in b["escalier"] or []],
        } for b in answer["batiment"] or []]
        free = [sk["reference"] for b in buildings for s in b["staircases"] for f in s["floors"]
                for sk in f["sockets"] if sk["free"]]
        return {"found": True, "buildings": buildings, "free_sockets": free}

    def open_ticket(self, args: dict[str, Any]) -> dict[str, Any]:
        """{ref, description?} -> {ticket} on one of its orders in service; {ticket: null, refused} otherwise
        (the OC knows its line is not in service: it does not ask)."""
        order = self.orders.get(str(args.get("ref")))
        if order is None or order.state != "in_service" or not order.prestation:
            return {"ticket": None, "refused": f"order {args.get('ref')} is not in service"}
        try:
            key = self._soap().open_ticket(order.prestation, str(args.get("description") or "Plus de service"))
        except WsFault as f:
            return {"ticket": None, "refused": f"{f.code}: {f.message}"}
        return {"ticket": key}

    def ticket_status(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            value = self._soap().ticket(str(args["ticket"]))
        except WsFault as f:
            return {"state": None, "error": f.code}
        return {"state": value["troubleState"], "comment": value.get("closeOutNarr") or ""}

    def close_ticket(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            self._soap().close_ticket(str(args["ticket"]), str(args.get("comment") or "Service retabli"))
        except WsFault as f:
            return {"closed": False, "error": f.code}
        return {"closed": True}
