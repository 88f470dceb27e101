"""Protocole PM 2.2 scenarios driven through the OC's adapter (steps: operators/covage/harness/steps/pm.py)."""

from pytest_bdd import scenarios

scenarios("pm/orders.feature")
