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
from ...refdata import ReferenceNetwork, evolution
from ...refdata.ipe import write_ipe
from .pm_flows import PmFlows

SCHEMA = """
CREATE TABLE IF NOT EXISTS pm_broadcasts (
    network TEXT NOT NULL, flow TEXT NOT NULL, next_due TEXT NOT NULL, PRIMARY KEY (network, flow));
CREATE TABLE IF NOT EXISTS pm_opened (
    network TEXT NOT NULL, pm TEXT NOT NULL, announced TEXT NOT NULL, PRIMARY KEY (network, pm));
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
    events = ("ipe", "cpn", "cr_mad_pm", "ar_mad_wait")
    settings = {
        "pm_spec": {"type": "string", "format": "spec-pack",
                    "description": "Protocole PM spec pack: its flows and columns (IPE, CPN...)"},
        "ipe_time": {"type": "string", "format": "time",
                     "description": "the IPE of each network is sent every Monday at this time (virtual clock)"},
    }
    timings = {"cr_mad_pm": "AR Cmd PM OK -> CR_MAD_Pm (Protocole PM 2.2)",
               "ar_mad_wait": "CR_MAD_Pm -> the OC's AR MAD; none by then is a finding against the OC"}

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
        """Schedule the next IPE and the next daily CPN check of each network that has none pending (a restart
        schedules nothing twice). At a network's first start the PMs already open then are taken as announced:
        the IPE tells them; a CPN goes out for each PM opening after that."""
        effects = Effects()
        planned = {(r["network"], r["flow"]) for r in self.store.query("SELECT network, flow FROM pm_broadcasts")}
        for network in self.networks:
            if (network, "IPE") not in planned:
                effects.events.append(self._plan(network, next_weekly(now, MONDAY, self.ipe_time)))
            if (network, "CPN") not in planned:
                today = now.strftime("%Y%m%d")
                for pm in self.networks[network].iter_pms():
                    if pm.date_mes_commerciale and pm.date_mes_commerciale <= today:
                        self.store.execute("INSERT OR IGNORE INTO pm_opened VALUES (?, ?, ?)",
                                           (network, pm.reference, "before start"))
                effects.events.append(self._plan_cpn(network, self._next_daily(now)))
        return effects

    def _next_daily(self, now: datetime) -> datetime:
        moment = datetime.combine(now.date(), self.ipe_time)
        return moment if moment > now else moment + timedelta(days=1)

    def _plan_cpn(self, network: str, due: datetime) -> ScheduledEvent:
        self.store.execute("INSERT INTO pm_broadcasts VALUES (?, 'CPN', ?) ON CONFLICT(network, flow) "
                           "DO UPDATE SET next_due = excluded.next_due", (network, due.isoformat()))
        return ScheduledEvent(due, "cpn", "", network, {"network": network})

    def _cpn(self, code: str, now: datetime) -> Effects:
        """The daily check: a CPN (the PM-NRO links of every PM whose DateMiseEnServiceCommercialePM has come
        and that no CPN announced yet) to every client. A clock jump over several days checks once, at the
        latest day, which announces everything that opened meanwhile."""
        effects = Effects()
        current = self.context.now() if self.context.now else now
        latest = self._next_daily(current - timedelta(days=1))  # the last check time <= current
        if latest > now:
            effects.events.append(self._plan_cpn(code, latest))
            return effects
        network = self.networks.get(code)
        if network is None:
            self.store.execute("DELETE FROM pm_broadcasts WHERE network = ?", (code,))
            return effects
        today = now.strftime("%Y%m%d")
        announced = {r["pm"] for r in self.store.query("SELECT pm FROM pm_opened WHERE network = ?", (code,))}
        opened = [pm.reference for pm in network.iter_pms()
                  if pm.reference not in announced and pm.date_mes_commerciale and pm.date_mes_commerciale <= today]
        if opened:
            assert self.pack is not None  # set in __init__
            columns = self.pack.flow("CPN").column_names
            wanted = set(opened)
            records = [{c: link.get(c, "") for c in columns} for link in network.nro_links()
                       if link["ReferencePM"] in wanted]
            for pm in opened:
                self.store.execute("INSERT OR IGNORE INTO pm_opened VALUES (?, ?, ?)", (code, pm, today))
            for client in self._clients():
                effects.outbound.append(OutboundDocument(client, code, "CPN", list(records), area="pm"))
        effects.events.append(self._plan_cpn(code, self._next_daily(now)))
        return effects

    def _plan(self, network: str, due: datetime) -> ScheduledEvent:
        self.store.execute("INSERT INTO pm_broadcasts VALUES (?, 'IPE', ?) ON CONFLICT(network, flow) "
                           "DO UPDATE SET next_due = excluded.next_due", (network, due.isoformat()))
        return ScheduledEvent(due, "ipe", "", network, {"network": network})

    def _clients(self) -> list[str]:
        operator = self.context.operator
        return [r["code"] for r in self.store.tenants()
                if not r["operators"] or operator in r["operators"].split(",")]

    def _wait_for_evolution(self, kind: str, code: str, payload: dict[str, Any], now: datetime) -> Effects | None:
        """The same event again at the same time when the network changed in this very transaction (an
        evolution step due just before, fired in the same batch): the network's readers see only committed
        changes, and the engine fires the event again once this batch is committed. Once only."""
        network = self.networks.get(code)
        if network is None or payload.get("waited") or \
                evolution.version(self.store, code) == network.overlay_version():
            return None
        effects = Effects()
        effects.events.append(ScheduledEvent(now, kind, "", code, {"network": code, "waited": True}))
        return effects

    def on_event(self, kind: str, tenant: str, ref: str, payload: dict[str, Any], now: datetime) -> Effects:
        if kind == "cr_mad_pm":
            return self.flows.cr_mad(tenant, ref, payload, now)
        if kind == "ar_mad_wait":
            return self.flows.ar_mad_wait(tenant, ref, payload, now)
        waiting = self._wait_for_evolution(kind, payload.get("network", ref), payload, now)
        if waiting is not None:
            return waiting
        if kind == "cpn":
            return self._cpn(payload.get("network", ref), now)
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
        assert self.pack is not None
        flow = self.pack.flow("IPE")
        out = io.BytesIO()
        lines = write_ipe(network, flow, out)  # streamed from the network's database, once for every client
        content = out.getvalue()
        for client in self._clients():
            effects.outbound.append(OutboundDocument(client, code, flow.name, [], area="pm", content=content,
                                                     lines=lines))
        effects.events.append(self._plan(code, next_weekly(now, MONDAY, self.ipe_time)))
        return effects
