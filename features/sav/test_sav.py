"""SAV WS 2.1 scenarios driven through the OC's adapter (steps: operators/covage/harness/steps/eligibility.py)."""

from pytest_bdd import scenarios

scenarios("sav/tickets.feature")
