"""Scenarios that test the sandbox itself with our own OC client: how the operator answers files an OC's
adapter would never be asked to write (bad header, another OC's name, unknown order type, a reused
reference, several orders in one file...). They are Gherkin for readability, but they are not conformance
scenarios: they live here, beside the other tests of the sandbox, and `opsim conformance run` never plays
them. Steps: tests/sandbox_scenarios/steps.py, imported here so that they are this module's fixtures.
"""

from pathlib import Path

from pytest_bdd import scenarios

from tests.sandbox_scenarios.steps import *  # noqa: F403 - step definitions are fixtures: they must be here

HERE = Path(__file__).parent / "sandbox_scenarios"

scenarios(str(HERE / "hotline.feature"), str(HERE / "rejects.feature"))
