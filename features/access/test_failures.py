"""The operator's failures driven through the OC's adapter (steps: conformance/steps/access.py)."""

from pytest_bdd import scenarios

scenarios("access/failures.feature")
