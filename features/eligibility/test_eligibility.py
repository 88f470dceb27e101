"""Order help WS 3.0 scenarios driven through the OC's adapter (steps: Covage harness, eligibility.py)."""

from pytest_bdd import scenarios

scenarios("eligibility/lookup.feature")
