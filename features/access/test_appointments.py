"""Connection appointments driven through the OC's adapter (steps: operators/covage/harness/steps/access.py)."""

from pytest_bdd import scenarios

scenarios("access/appointments.feature")
