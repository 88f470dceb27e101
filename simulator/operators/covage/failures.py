"""Failures happen (spec decisions): the operator's own failures of an access order.

- CR KO FINT01 when the network data says the PB or PM is saturated: a PBO whose every socket is occupied
  has no port left for a new socket; a PM whose lines reach its CapaciteMaxPM takes no new one (opsim
  choice: the reference network carries no other capacity).
- Per-tenant failure rates (operator action `failure_rates`, default 0): the share of CRs answered KO and
  of OI-mode connections ending in a Notif_Racc_Ko, with the codes drawn from the `failures` lists of the
  spec pack (operations.yaml), or the one code the action names. Draws are seeded by the sandbox seed, the
  tenant and the order: a run replays the same failures.
- DateLimiteRaccordement: a Cmd_STOC with no CR_STOC by the end of that day ends the attempt with a
  Notif_Racc_Ko (profile setting `stoc_deadline_motif`); a later CR_STOC is refused (journal finding).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

from ...capability import ActionRefused
from ...documents import Effects
from ...refdata import Address, ReferenceNetwork
from ...store import Order
from .states import Desk

KINDS = ("cr_ko", "racc_ko")  # what a failure rate applies to


def saturation(network: ReferenceNetwork, address: Address, pbo: str, pm_used: Mapping[str, int]) -> str:
    """Why a new socket cannot be built through `pbo` at `address` (empty: it can). `pm_used`: the lines
    of each PM in the network data."""
    lines, occupied = network.pbo_lines(address, pbo)
    if lines and occupied == lines:
        return f"PBO {pbo} saturé: ses {lines} prises sont occupées"
    pm = network.pm_of(address)
    if pm_used.get(pm.reference, 0) >= pm.capacite_max:
        return f"PM {pm.reference} saturé ({pm.capacite_max} positions)"
    return ""


def pm_usage(network: ReferenceNetwork) -> dict[str, int]:
    """The lines behind each PM in the network data (computed once per network, by one query)."""
    return network.pm_line_counts()


def _key(tenant: str) -> str:
    return f"failure_rates:{tenant}"


def set_rates(desk: Desk, tenant: str, args: Mapping[str, Any]) -> Effects:
    """`failure_rates` {cr_ko, racc_ko (0..1), cr_ko_code, racc_ko_code}: this tenant's failure rates."""
    rates: dict[str, Any] = {}
    for kind in KINDS:
        value = args.get(kind, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ActionRefused(f"{kind} must be a number from 0 to 1")
        rates[kind] = float(value)
        code = str(args.get(f"{kind}_code") or "")
        if code:
            allowed = desk.pack.sections.get("failures", {}).get(f"{kind}_codes", [])
            if code not in allowed:
                raise ActionRefused(f"{kind}_code {code[:20]!r} is not one of {', '.join(allowed)}")
            rates[f"{kind}_code"] = code
    desk.store.set_meta(_key(tenant), json.dumps(rates))
    desk.failure_rates.pop(tenant, None)
    effects = Effects()
    effects.reply = rates
    return effects


def draw(desk: Desk, order: Order, kind: str) -> str:
    """The code of a failure of `kind` for this order, or "" (no failure)."""
    rates = desk.failure_rates.get(order.tenant)
    if rates is None:  # read once per tenant: only set_rates changes them
        stored = desk.store.get_meta(_key(order.tenant))
        rates = desk.failure_rates[order.tenant] = json.loads(stored) if stored else {}
    rate = float(rates.get(kind, 0))
    if rate <= 0:
        return ""
    rng = random.Random(f"{desk.context.seed}:{order.tenant}:{order.ref}:{kind}")
    if rng.random() >= rate:
        return ""
    codes = desk.pack.sections.get("failures", {}).get(f"{kind}_codes") or ["FAUT01"]
    return str(rates.get(f"{kind}_code") or rng.choice(codes))
