"""Protocole PM 2.2: a PM's commercial opening and its CPN (steps: operators/covage/harness/steps/pm.py)."""

from pytest_bdd import scenarios

scenarios("pm/opening.feature")
