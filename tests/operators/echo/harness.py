"""The harness half of the echo operator: what conformance/hookspecs.py asks of an operator's harness, and the
steps of its scenario (features/echo.feature). With its OC (oc.py) it proves that the conformance harness plays
a second operator's scenario through the adapter, with the folders it reads from the sandbox:

    opsim conformance run --features tests/operators/echo/features --sandbox-config <file naming its profile>
        --adapter python:tests.operators.echo.oc:EchoOc
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_bdd import parsers, then, when

from conformance.plugin import OcScenario, Target, Tenant
from conformance.verdict import CheckFailed
from conformance.waiting import poll_until

PACK = str(Path(__file__).parent / "echo-1.0")


def pytest_conformance_operator() -> str:
    return "echo"


def pytest_conformance_spec_pack() -> str:
    return PACK


def pytest_conformance_context_extra(target: Target, tenant: Tenant) -> dict[str, Any]:
    return {}


@when(parsers.parse('the OC pings "{text}"'))
def ping(oc_scenario: OcScenario, text: str) -> None:
    oc_scenario.driver.call("ping", {"id": "P1", "text": text})


@when("a working day passes")
def a_working_day(oc_scenario: OcScenario) -> None:
    oc_scenario.admin.advance(working_days=1)


@then(parsers.parse('the OC has read the {flow} "{text}"'))
def has_read(oc_scenario: OcScenario, flow: str, text: str) -> None:
    """The operator answers within milliseconds of real time (the clock is frozen): the OC synchronises until it
    has read the answer, a few seconds at most."""
    received: list[dict[str, Any]] = []

    def read() -> bool:
        received.extend(oc_scenario.driver.call("sync", {})["received"])
        return any(r["flow"] == flow and r["text"] == text for r in received)

    if not poll_until(read, 5):
        raise CheckFailed("ECHO-READ", f"no {flow} {text!r} among what the OC read: {received}")
