"""Protocole Accès 1.2 scenarios driven through the OC's adapter (steps: operators/covage/harness/steps/access.py)."""

from pytest_bdd import scenarios

scenarios("access/order_life.feature", "access/cancellation.feature", "access/hotline.feature")
