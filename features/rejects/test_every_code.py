"""Every reject code of the catalogue, driven through the OC's adapter (steps: Covage harness, rejects.py)."""

from pytest_bdd import scenarios

scenarios("rejects/every_code.feature")
