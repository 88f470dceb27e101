"""Faults on demand at each stage of an access order (simulator/faults.py): the tenant's fault rules and the
magic values in the order's own comments make the operator refuse (any catalogue code at AR, CR, RACCO or
ANNUL), delay (the CR or the CR MAD, by working days) or reprovision (a Notif_Reprov right after the CR).

Each function takes the desk (the AccessDesk, through the Desk protocol) and journals what fired."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from ...documents import Effects, Finding, ScheduledEvent
from ...faults import Fired, Stages, magic_fault
from ...specs.codec import SpecPack
from ...store import Order
from .states import Desk

#: The free-text columns an OC may put a magic value in (`OPSIM:<code>` or `OPSIM:<code>@<stage>`).
MAGIC_COLUMNS = ("CommentaireCmdAcces", "Commentaire")


@lru_cache(maxsize=8)
def stages_of(pack: SpecPack) -> Stages:
    """The pack's stages, read once (a magic value is looked for at every stage of every order)."""
    return Stages.of([(pack.sections, pack.rejects)])


def fault(desk: Desk, tenant: str, stage: str, ref: str, address: str, texts: list[str], effects: Effects,
          channel: str = "ftp", actions: tuple[str, ...] = ("reject",)) -> Fired | None:
    """What fires for this order at this stage: a magic value of its own first, then the tenant's rules."""
    fired = None
    if "reject" in actions:
        for text in texts:
            fired = magic_fault(text, desk.pack.rejects, stages_of(desk.pack), stage)
            if fired:
                break
    if fired is None:
        fired = desk.context.faults.take(tenant, stage, ref, address, actions)
    if fired is not None:
        effects.findings.append(Finding(tenant, channel, "out", "", "", "fault applied",
                                        f"order {ref}: {fired.describe()}"))
    return fired


def texts_of(data: dict[str, Any]) -> list[str]:
    return [str(data.get(column, "")) for column in MAGIC_COLUMNS if data.get(column)]


def for_order(desk: Desk, order: Order, stage: str, effects: Effects,
              actions: tuple[str, ...] = ("reject",)) -> Fired | None:
    return fault(desk, order.tenant, stage, order.ref, order.data.get("CodeAdresseImmeuble", ""),
                 texts_of(order.data), effects, order.data.get("channel", "ftp"), actions)


def delayed(desk: Desk, order: Order, kind: str, stage: str, payload: dict[str, Any], now: datetime,
            effects: Effects) -> bool:
    """A delay rule at this stage: the event comes back `working_days` later (once), and nothing else happens now."""
    if payload.get("delayed"):
        return False
    fired = for_order(desk, order, stage, effects, actions=("delay",))
    if fired is None:
        return False
    due = desk.calendar.add_working_days(now, fired.rule.working_days)
    effects.events.append(ScheduledEvent(due, kind, order.tenant, order.ref, {**payload, "delayed": True}))
    return True
