"""Protocole PM 2.2, the OI's side (seed 002, shared/spec/README.md "Protocole PM 2.2").

The IPE, broadcast every Monday morning (virtual time), one file per network, into the PM folder of every
OC that is a client of the operator. Its lines are the reference network's buildings, the same network the
access orders and /api/addresses use. The per-PM flows an OC drops in IN/<OI>/<ARCEP>/PM (Cmd_Info_Pm,
AR MAD, Notif_Interv_Prev, Notif_Adduction) are answered by pm_flows.PmFlows.
"""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from typing import Any

from ...capability import Capability, OperatorContext
from ...documents import Effects, Finding, InboundDocument, OutboundDocument, ScheduledEvent
from ...refdata import ReferenceNetwork
from ...refdata.ipe import write_ipe
from .pm_flows import PmFlows

SCHEMA = """
CREATE TABLE IF NOT EXISTS pm_broadcasts (
    network TEXT NOT NULL, flow TEXT NOT NULL, next_due TEXT NOT NULL, PRIMARY KEY (network, flow));
"""

MONDAY = 0


def next_weekly(now: datetime, weekday: int, at: time) -> datetime:
    """The first `weekday` at `at` strictly after `now`."""
    day = now.date() + timedelta(days=(weekday - now.weekday()) % 7)
    moment = datetime.combine(day, at)
    return moment if moment > now else moment + timedelta(days=7)


class PmDesk(Capability):
    """The OI's PM desk: weekly IPE per network, and the per-PM flows of the OCs."""

    name = "pm"
    areas = ("pm",)  # the PM folders of the layout: IN/<OI>/<ARCEP>/PM
    channels = ("ftp", "mail")
    events = ("ipe", "cr_mad_pm", "ar_mad_wait")

    def __init__(self, context: OperatorContext):
        super().__init__(context)
        settings = context.profile.settings
        self.pack = context.pack(settings.get("pm_spec", "pm-2.2"))
        self.networks: dict[str, ReferenceNetwork] = context.reference_networks
        self.store = context.store
        self.ipe_time = time.fromisoformat(str(settings.get("ipe_time", "06:00")))
        self.store.ensure_schema(SCHEMA)
        self.flows = PmFlows(context, self.pack)

    def receive(self, doc: InboundDocument, now: datetime) -> Effects:
        return self.flows.receive(doc, now)

    def on_start(self, now: datetime) -> Effects:
        """Schedule the next IPE of each network that has none pending (a restart schedules nothing twice)."""
        effects = Effects()
        planned = {r["network"] for r in self.store.query("SELECT network FROM pm_broadcasts WHERE flow = 'IPE'")}
        for network in self.networks:
            if network not in planned:
                effects.events.append(self._plan(network, next_weekly(now, MONDAY, self.ipe_time)))
        return effects

    def _plan(self, network: str, due: datetime) -> ScheduledEvent:
        self.store.execute("INSERT INTO pm_broadcasts VALUES (?, 'IPE', ?) ON CONFLICT(network, flow) "
                           "DO UPDATE SET next_due = excluded.next_due", (network, due.isoformat()))
        return ScheduledEvent(due, "ipe", "", network, {"network": network})

    def _clients(self) -> list[str]:
        operator = self.context.operator
        return [r["code"] for r in self.store.tenants()
                if not r["operators"] or operator in r["operators"].split(",")]

    def on_event(self, kind: str, tenant: str, ref: str, payload: dict[str, Any], now: datetime) -> Effects:
        if kind == "cr_mad_pm":
            return self.flows.cr_mad(tenant, ref, payload, now)
        if kind == "ar_mad_wait":
            return self.flows.ar_mad_wait(tenant, ref, payload, now)
        effects = Effects()
        code = payload.get("network", ref)
        current = self.context.now() if self.context.now else now
        latest = next_weekly(current - timedelta(days=7), MONDAY, self.ipe_time)  # the last Monday <= current
        if latest > now:
            # The clock jumped over several Mondays: only the latest one's IPE is sent (an OC ingests the
            # newest IPE; stale ones would only bury it).
            effects.events.append(self._plan(code, latest))
            return effects
        network = self.networks.get(code)
        if network is None:  # a network removed from the profile since: its broadcasts stop
            self.store.execute("DELETE FROM pm_broadcasts WHERE network = ?", (code,))
            effects.findings.append(Finding("", "clock", "out", "IPE", "", "not sent",
                                            f"network {code} is no longer in the profile"))
            return effects
        flow = self.pack.flow("IPE")
        out = io.BytesIO()
        lines = write_ipe(network, flow, out)  # streamed from the network's database, once for every client
        content = out.getvalue()
        for client in self._clients():
            effects.outbound.append(OutboundDocument(client, code, flow.name, [], area="pm", content=content,
                                                     lines=lines))
        effects.events.append(self._plan(code, next_weekly(now, MONDAY, self.ipe_time)))
        return effects
