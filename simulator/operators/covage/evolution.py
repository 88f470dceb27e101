"""The operator's side of the network's evolution over virtual time (refdata/evolution.py is the domain).

- Every Monday at `evolution_time` (before the IPE at `ipe_time`), one evolution step per network: buildings
  move CIBLE -> SIGNE -> EN COURS DE DEPLOIEMENT -> DEPLOYE or are abandoned (gone `evolution_gone_after`
  later), PMs not yet open open (the PM desk's daily CPN check announces them). A clock jump over several
  Mondays makes each missed step, in order, in one transaction.
- The `network_change` action: one building to a state, or one PM opened, at once; or a PM's commercial
  opening re-planned to a later day (`opens`): not open until then, opened that day at `evolution_time` (a
  `pm_opens` event), and announced by the PM desk's CPN check that morning, as a PM that never opened.
- When a building behind a PM becomes DEPLOYE, every OC that has had a CR_MAD_Pm for that PM gets a
  CR_MAD_Pm MAJ (pm_flows.PmFlows.cr_mad, as for an order), right after the change is committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from typing import Any

from ...capability import ActionRefused, Capability, OperatorContext
from ...documents import Effects, Finding, ScheduledEvent
from ...refdata import ReferenceNetwork, evolution
from .order_help import LIVE_STATES
from .pm import MONDAY, next_weekly
from .pm import SCHEMA as PM_SCHEMA
from .pm_flows import PmFlows, order_channel

SCHEMA = """
CREATE TABLE IF NOT EXISTS evolution_plan (network TEXT PRIMARY KEY, next_due TEXT NOT NULL);
"""


def _months(text: str) -> int:
    """ "3 months" (or "3") -> 3."""
    words = str(text).split()
    if not words or not words[0].isdigit() or (len(words) > 1 and not words[1].startswith("month")):
        raise ValueError(f"evolution_gone_after must be a number of months, e.g. \"3 months\": {text!r}")
    return int(words[0])


class EvolutionDesk(Capability):
    """Weekly evolution of each network, the `network_change` action, and the CR_MAD_Pm MAJ they cause."""

    name = "evolution"
    channels = ()  # it takes no file
    events = ("evolution", "cr_mad_pm", "ar_mad_wait", "pm_opens")
    actions = ("network_change",)
    _SHARE = {"type": "string", "format": "share"}
    settings = {
        "pm_spec": {"type": "string", "format": "spec-pack", "description": "the spec pack of the CR_MAD_Pm MAJ"},
        "evolution_time": {"type": "string", "format": "time", "description": "every Monday at this time, "
                           "before the IPE, each network evolves one step"},
        "evolution_cible_signe": {**_SHARE, "description": "weekly share of CIBLE buildings that become SIGNE"},
        "evolution_signe_en_cours": {**_SHARE, "description": "weekly share of SIGNE buildings that become EN "
                                     "COURS DE DEPLOIEMENT"},
        "evolution_en_cours_deploye": {**_SHARE, "description": "weekly share of EN COURS DE DEPLOIEMENT "
                                       "buildings that become DEPLOYE"},
        "evolution_abandon": {**_SHARE, "description": "weekly share of the buildings not yet deployed that are "
                              "ABANDONNE"},
        "evolution_gone_after": {"type": "string", "pattern": "[0-9]+ months?", "description": "an ABANDONNE "
                                 "building is gone from the IPE and the addresses this later"},
        "evolution_pm_open": {**_SHARE, "description": "weekly share of the PMs not yet open that open "
                              "(DateMiseEnServiceCommercialePM)"},
    }

    def __init__(self, context: OperatorContext):
        super().__init__(context)
        settings = context.profile.settings
        # Its CR_MAD_Pm MAJ are PM 2.2 files: written with the PM desk's pack.
        self.pack = context.pack(settings.get("pm_spec", "pm-2.2"))
        self.store = context.store
        self.networks: dict[str, ReferenceNetwork] = context.reference_networks
        etat = next(c for c in self.pack.flow("IPE").columns if c.name == "EtatImmeuble")
        lifecycle = evolution.Lifecycle.from_values(etat.values)
        for network in self.networks.values():
            network.lifecycle = lifecycle
        self.time = time.fromisoformat(str(settings.get("evolution_time", "05:00")))
        def share(key: str, default: str) -> float:
            value = float(str(settings.get(key, default)))
            if not 0 <= value <= 1:
                raise ValueError(f"{key} must be a share from 0 to 1: {value}")
            return value

        self.rates = evolution.Rates(
            advance=tuple(share(key, default) for key, default in (
                ("evolution_cible_signe", "0.10"), ("evolution_signe_en_cours", "0.10"),
                ("evolution_en_cours_deploye", "0.15"))),
            abandon=share("evolution_abandon", "0.005"),
            pm_open=share("evolution_pm_open", "0.25"),
            gone_after_months=_months(settings.get("evolution_gone_after", "3 months")),
        )
        self.store.ensure_schema(SCHEMA)
        self.store.ensure_schema(PM_SCHEMA)  # pm_opened: a re-planned PM is announced again when it opens
        self.flows = PmFlows(context, self.pack)

    # ------------------------------------------------------------------ the weekly step
    def on_start(self, now: datetime) -> Effects:
        """The next step of each network that has none planned (a restart plans nothing twice)."""
        effects = Effects()
        planned = {r["network"] for r in self.store.query("SELECT network FROM evolution_plan")}
        for code in self.networks:
            if code not in planned:
                effects.events.append(self._plan(code, next_weekly(now, MONDAY, self.time)))
        return effects

    def _plan(self, code: str, due: datetime) -> ScheduledEvent:
        self.store.execute("INSERT INTO evolution_plan VALUES (?, ?) ON CONFLICT(network) "
                           "DO UPDATE SET next_due = excluded.next_due", (code, due.isoformat()))
        return ScheduledEvent(due, "evolution", "", code, {"network": code})

    def on_event(self, kind: str, tenant: str, ref: str, payload: dict[str, Any], now: datetime) -> Effects:
        if kind == "cr_mad_pm":
            return self.flows.cr_mad(tenant, ref, payload, now)
        if kind == "ar_mad_wait":
            return self.flows.ar_mad_wait(tenant, ref, payload, now)
        if kind == "pm_opens":
            return self._opens(payload, now)
        return self._steps(payload.get("network", ref), now)

    def _opens(self, payload: dict[str, Any], now: datetime) -> Effects:
        """The day of a re-planned opening: the PM becomes DEPLOYE (its CPN goes at the PM desk's check)."""
        effects = Effects()
        code, pm, day = str(payload.get("network", "")), str(payload.get("pm", "")), str(payload.get("opens", ""))
        network = self.networks.get(code)
        if network is not None and evolution.open_planned(self.store, network, pm, day):
            effects.findings.append(Finding("", "clock", "out", "network", code, "PM opened",
                                            f"{day}: PM {pm} opens as re-planned"))
        return effects

    def _steps(self, code: str, now: datetime) -> Effects:
        """Every step due from `now` to the clock's current time, in order (the clock may have jumped over
        several Mondays), then the next one planned."""
        effects = Effects()
        network = self.networks.get(code)
        if network is None:  # a network removed from the profile since: its evolution stops
            self.store.execute("DELETE FROM evolution_plan WHERE network = ?", (code,))
            return effects
        current = max(self.context.now() if self.context.now else now, now)
        moment, last = now, now
        deployed: set[str] = set()
        while moment <= current:
            result = evolution.step(self.store, network, moment.date(), self.context.seed, self.rates)
            effects.findings.append(Finding("", "clock", "out", "network", code, "evolution step",
                                            _summary(result)))
            deployed |= result.deployed_pms
            last, moment = moment, next_weekly(moment, MONDAY, self.time)
        # One CR_MAD_Pm MAJ per OC and PM for all the steps made (a clock jump makes several).
        self._mad_updates(effects, network, deployed, last)
        effects.events.append(self._plan(code, moment))
        return effects

    def _mad_updates(self, effects: Effects, network: ReferenceNetwork, pms: Iterable[str], at: datetime) -> list[str]:
        """A CR_MAD_Pm (MAJ) for each OC that has had one for these PMs: its latest order's, re-sent once the
        change is committed (the event fires in the engine's next batch, which reads the evolved network)."""
        wanted = sorted(set(pms))
        tenants: list[str] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.store.query(
                f"SELECT tenant, pm, ref, data FROM pm_orders o WHERE network = ? AND pm IN ({marks}) AND cr_sent > 0 "
                f"AND received = (SELECT max(received) FROM pm_orders p WHERE p.tenant = o.tenant "
                f"AND p.network = o.network AND p.pm = o.pm AND p.cr_sent > 0) ORDER BY tenant, pm, ref",
                (network.network, *chunk))
            seen: set[tuple[str, str]] = set()
            for row in rows:
                if (row["tenant"], row["pm"]) in seen:
                    continue  # two orders received at the same second: one MAJ
                seen.add((row["tenant"], row["pm"]))
                effects.events.append(ScheduledEvent(at, "cr_mad_pm", row["tenant"], row["ref"],
                                                     {"channel": order_channel(row)}))
                tenants.append(row["tenant"])
        return tenants

    # ------------------------------------------------------------------ the action
    def act(self, action: str, tenant: str, args: Mapping[str, Any], now: datetime) -> Effects:
        """`network_change` {network, building, etat}, {network, pm, open: true} or {network, pm, opens:
        "AAAA-MM-JJ"}: the change at once (`tenant` is ignored: the network is everyone's)."""
        code = str(args.get("network", "")).strip().upper()
        network = self.networks.get(code)
        if network is None:
            raise ActionRefused(f"network must be one of {', '.join(self.networks)}: {code!r}")
        effects = Effects()
        day: date = now.date()
        try:
            if args.get("building"):
                building = str(args["building"]).strip()
                etat = str(args.get("etat", "")).strip().upper()
                was, result = evolution.set_building(self.store, network, building, etat, day,
                                                     self.rates.gone_after_months)
                effects.reply = {"network": code, "building": building, "was": was, "etat": etat}
            elif args.get("pm") and args.get("opens") is not None:
                result = self._replan(effects, network, str(args["pm"]).strip().upper(), args["opens"], now)
            elif args.get("pm") and args.get("open") is True:
                result = evolution.open_pm(self.store, network, str(args["pm"]).strip().upper(), day)
                effects.reply = {"network": code, "pm": result.opened_pms[0],
                                 "DateMiseEnServiceCommercialePM": result.day}
            else:
                raise ActionRefused('give {"network", "building", "etat"}, {"network", "pm", "open": true} or '
                                    '{"network", "pm", "opens": "AAAA-MM-JJ"}')
        except ValueError as e:
            raise ActionRefused(str(e)) from None
        effects.reply["cr_mad_pm"] = self._mad_updates(effects, network, result.deployed_pms, now)
        effects.findings.append(Finding("", "admin", "out", "network", code, "network change", _summary(result)))
        return effects


    def _replan(self, effects: Effects, network: ReferenceNetwork, reference: str, opens: Any,
                now: datetime) -> evolution.StepResult:
        """A PM's commercial opening re-planned to `opens` (AAAA-MM-JJ or AAAAMMJJ, after today): refused while
        an order stands behind it; it leaves the PMs a CPN announced, and opens that day at `evolution_time`."""
        text = str(opens).strip()
        try:
            day = datetime.strptime(text, "%Y%m%d" if text.isdigit() else "%Y-%m-%d").date()
        except ValueError:
            raise ActionRefused(f"opens must be a day, AAAA-MM-JJ: {text!r}") from None
        behind = self._orders_behind(network.network, reference)
        if behind:
            raise ActionRefused(f"PM {reference} has orders behind it ({', '.join(behind)}): its opening cannot be "
                                "re-planned")
        pm = network.pm(reference)
        result = evolution.replan_pm(self.store, network, reference, day, now.date())
        self.store.execute("DELETE FROM pm_opened WHERE network = ? AND pm = ?", (network.network, reference))
        planned = result.planned_pms[reference]
        effects.events.append(ScheduledEvent(datetime.combine(day, self.time), "pm_opens", "", reference,
                                             {"network": network.network, "pm": reference, "opens": planned}))
        effects.reply = {"network": network.network, "pm": reference, "EtatPM": evolution.waiting_state(network),
                         "DateMiseEnServiceCommercialePM": planned,
                         "was": pm.date_mes_commerciale if pm is not None else ""}
        return result

    def _orders_behind(self, network: str, pm: str) -> list[str]:
        """The orders that stand behind a PM (at most 3 named): any OC's PM order (Cmd_Info_Pm taken), any live
        access order (Cmd_Acces) naming it."""
        marks = ", ".join("?" * len(LIVE_STATES))
        rows = self.store.query(
            "SELECT 'PM order ' || ref || ' of ' || tenant FROM pm_orders WHERE network = ? AND pm = ? "
            f"UNION ALL SELECT 'access order ' || ref || ' of ' || tenant FROM orders WHERE network = ? "
            f"AND json_extract(data, '$.ReferencePm') = ? AND state IN ({marks}) LIMIT 3",
            (network, pm, network, pm, *LIVE_STATES))
        return [r[0] for r in rows]


def _summary(result: evolution.StepResult) -> str:
    moved = ", ".join(f"{count} {etat}" for etat, count in sorted(result.changed.items())) or "no building moved"
    opened = f"; PMs opened: {', '.join(result.opened_pms)}" if result.opened_pms else ""
    planned = "".join(f"; PM {pm} re-planned to open on {day}" for pm, day in sorted(result.planned_pms.items()))
    return f"{result.day}: {moved}; {result.gone} gone{opened}{planned}"[:4000]
