"""Operator variations (`opsim conformance run --fuzz N`): Hypothesis draws unusual but valid behaviour of the
operator and lives a whole order through the OC's adapter under it; a failure is shrunk to a minimal case.

What is drawn (each is something a real OI does, within Protocole Accès 1.2):
    mode            STOC, OI or OC
    orders          1 to 3 orders dropped at the same moment: their CRs (and Cmd_STOC) come as several
                    answers in one file
    on_holiday      the OC orders on a French public holiday: its AR is dated that day
    free_text       the operator's free-text columns as written, empty, or at their maximum length with
                    accents, commas and double quotes (answer style, PUT /api/answer-style)
    informational   the informational columns (LocalisationPm, LocalisationPBO, TypePBO) as written or empty
    reprov_after_cr the operator reprovisions the first order right after its CR: a Notif_Reprov waits in OUT
                    beside the CR

Each variation gets a tenant, an adapter and a state dir of its own. After every synchronisation the OC must
know each order's state, prestation and route (the Notif_Reprov's route when there is one); at the end the
checks of docs/checks.md run on everything it sent and read. The minimal failing variation is the scenario's
error in the report, with the seed that replays it.

The scenario is features/fuzz/test_operator_variations.py, which asks for the `operator_variations` fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import Any

import holidays
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from conformance.plugin import HARNESS, ScenarioRecord, new_tenant, open_oc_scenario, record_of
from simulator.operators.covage.harness import checks_on_the_oc
from simulator.operators.covage.harness.reference import ROUTE_COLUMNS
from simulator.operators.covage.harness.steps.access import AccessWorld, access_world_of, synchronises

FEATURE = "Operator variations (fuzz)"
#: The answer styles the sandbox offers (its OpenAPI document lists them: AnswerStyle).
FREE_TEXT = ("as_is", "empty", "max")
INFORMATIONAL = ("as_is", "empty")
#: After the CR, where each mode's order stands until the CR MAD.
AFTER_CR = {"STOC": "stoc_requested", "OI": "confirmed", "OC": "confirmed"}

variations = st.fixed_dictionaries({
    "mode": st.sampled_from(["STOC", "OI", "OC"]),
    "orders": st.integers(min_value=1, max_value=3),
    "on_holiday": st.booleans(),
    "free_text": st.sampled_from(FREE_TEXT),
    "informational": st.sampled_from(INFORMATIONAL),
    "reprov_after_cr": st.booleans(),
})


def next_public_holiday(day: date) -> date:
    """The next French public holiday after `day` (the sandbox's calendar uses the same `holidays` package)."""
    days = holidays.country_holidays("FR", years=[day.year, day.year + 1])
    return min(d for d in days if d > day)


def move_to_holiday(world: AccessWorld) -> None:
    now = world.admin.now()
    holiday = next_public_holiday(now.date())
    target = datetime.combine(holiday, now.time(), tzinfo=now.tzinfo)
    world.admin.post("/clock/advance", {"seconds": (target - now).total_seconds()})
    assert world.admin.get("/clock")["holiday"], f"{holiday} is not a holiday for the sandbox"


def expected_route(world: AccessWorld, ref: str) -> dict[str, str | None]:
    """The CR's route, then each Notif_Reprov's (the operator emitted them in that order)."""
    route: dict[str, str | None] = {}
    for flow in ("CR_Cmd_Acces", "Notif_Reprov"):
        for line in world.answer_lines(flow):
            if line.get("ReferenceCommandePriseInterneOC") == ref:
                route.update({c: line.get(c) or None for c in ROUTE_COLUMNS})
    return route


def check_oc_knows(world: AccessWorld, ref: str, state: str, reprovisioned: bool, with_route: bool) -> None:
    status = world.status(ref)
    assert status["state"] == state, f"[ACCES-STATE] the OC says {ref} is {status['state']!r}, expected {state!r}"
    [ar] = [line for line in world.answer_lines("AR_Cmd_Acces") if line["ReferenceCommandePriseInterneOC"] == ref]
    assert status.get("prestation") == ar["ReferencePrestationPrise"], (
        f"[ACCES-PRESTATION] the OC holds prestation {status.get('prestation')!r} for {ref}, the AR gave "
        f"{ar['ReferencePrestationPrise']!r}")
    if with_route:
        route = status.get("route") or {}
        wrong = {c: (route.get(c), v) for c, v in expected_route(world, ref).items() if route.get(c) != v}
        check = "ACCES-REPROV-ROUTE" if reprovisioned else "ACCES-ROUTE"
        assert not wrong, f"[{check}] the OC's route of {ref} differs (column: (OC's, expected)): {wrong}"


def live(world: AccessWorld, plan: dict[str, Any]) -> None:
    """One order life (or two or three side by side) under the drawn variation."""
    admin, tenant, mode = world.admin, world.tenant, plan["mode"]
    admin.put("/answer-style", {"free_text": plan["free_text"], "informational": plan["informational"]},
              tenant=tenant)
    if plan["on_holiday"]:
        move_to_holiday(world)
    refs = [world.order(mode, None) for _ in range(plan["orders"])]
    synchronises(world)
    for ref in refs:
        check_oc_knows(world, ref, "acknowledged", False, with_route=False)
    admin.advance(working_days=1)
    reprovisioned = refs[0] if plan["reprov_after_cr"] else None
    if reprovisioned:
        admin.reprovision(reprovisioned, tenant, "Travaux programmés")
    synchronises(world)
    for ref in refs:
        check_oc_knows(world, ref, AFTER_CR[mode], ref == reprovisioned, with_route=True)
    if mode == "STOC":
        for ref in refs:
            world.oc.driver.call("complete_stoc", {"ref": ref, "outcome": "OK", "motif": ""})
            world.settle("CR_STOC", "complete_stoc")
    else:
        admin.advance(working_days=5 if mode == "OI" else 1)
    synchronises(world)
    for ref in refs:
        check_oc_knows(world, ref, "available", ref == reprovisioned, with_route=True)
        world.oc.driver.call("report_in_service", {"ref": ref})
        world.settle("CR_MES_Ligne", "report_in_service")
        check_oc_knows(world, ref, "in_service", ref == reprovisioned, with_route=False)


@pytest.fixture
def operator_variations(request: pytest.FixtureRequest, conformance_target: Any, conformance_adapter_factory: Any,
                        tmp_path_factory: pytest.TempPathFactory) -> Callable[[], None]:
    """Plays the variations for the test that asks for it (features/fuzz/): the scenario is that test."""
    return partial(play_variations, request, conformance_target, conformance_adapter_factory, tmp_path_factory)


def play_variations(request: pytest.FixtureRequest, conformance_target: Any, conformance_adapter_factory: Any,
                    tmp_path_factory: pytest.TempPathFactory) -> None:
    harness = request.config.stash[HARNESS]
    record = record_of(request.node)
    record.result.feature = FEATURE
    record.result.scenario = f"the OC takes {harness.fuzz} variations of the operator's answers"
    failures: list[tuple[dict[str, Any], str]] = []

    @seed(harness.seed)
    @settings(max_examples=harness.fuzz, deadline=None, database=None, derandomize=False,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(plan=variations)
    def play(plan: dict[str, Any]) -> None:
        tenant = new_tenant(conformance_target)
        example = ScenarioRecord(record.result)
        with open_oc_scenario(conformance_target, tenant, conformance_adapter_factory, example,
                              tmp_path_factory.mktemp("oc-state") / "state") as scenario, \
                access_world_of(scenario) as world:
            record.tenant, record.admin = tenant.code, conformance_target.admin
            try:
                live(world, plan)
                findings = checks_on_the_oc(example)
                assert not findings, "findings against the OC: " + "; ".join(
                    f"[{f.check}] {f.message}" for f in findings)
            except Exception as e:  # a check that failed, or the OC failing an action
                failures.append((plan, f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e)))
                raise
            finally:
                record.evidence = example.evidence  # the report shows the exchanges of the last variation

    try:
        play()
    except Exception:
        plan, error = failures[-1]  # Hypothesis replays the minimal failing variation last
        record.result.step = "minimal failing variation: " + ", ".join(f"{k}={v}" for k, v in plan.items())
        record.result.error = f"{error} (replay with --seed {harness.seed} --fuzz {harness.fuzz})"
        raise

