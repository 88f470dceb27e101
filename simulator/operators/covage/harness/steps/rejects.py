"""Steps of features/rejects/: every code of the reject catalogue, arranged by a fault rule through the admin
API (POST /api/faults) and lived by the OC through its adapter. The other steps are those of the Accès
scenarios (simulator/operators/covage/harness/steps/access.py)."""

from __future__ import annotations

from pytest_bdd import given, parsers, when

from simulator.operators.covage.harness.steps.access import AccessWorld, cancel, synchronises


@given(parsers.parse('the operator will refuse the OC\'s next order with "{code}" at the {stage}'))
def refuse_next_order(access_world: AccessWorld, code: str, stage: str) -> None:
    rule = access_world.admin.post("/faults", {"code": code, "stage": stage}, tenant=access_world.tenant)
    assert (rule["code"], rule["stage"]) == (code, stage), rule


@when(parsers.parse("the OC lives an order up to the {stage}"))
def live_up_to(access_world: AccessWorld, stage: str) -> None:
    """AR: it orders; CR: a working day later; RACCO: up to the OI's connection (OI mode); ANNUL: it cancels."""
    world = access_world
    world.order("OI" if stage == "RACCO" else "STOC", None)
    synchronises(world)
    if stage == "ANNUL":
        cancel(world)
        synchronises(world)
    elif stage in ("CR", "RACCO"):
        world.admin.advance(working_days=1)
        synchronises(world)
        if stage == "RACCO":
            world.admin.advance(working_days=5)
            synchronises(world)
