"""Accès 1.2 scenarios not yet converted to the adapter: they still play the OC with the reference client
against the in-process sandbox (steps: conformance/steps/legacy_access.py, module-level here so they win over
the adapter steps sharing a phrase).
"""

import pytest
from pytest_bdd import scenarios

from conformance.steps.legacy_access import *  # noqa: F403 - step definitions are fixtures: they must be here

# They test the sandbox, not the OC: `opsim conformance run` leaves them out (our own suite runs them).
pytestmark = pytest.mark.sandbox_only

scenarios("access/hotline_legacy.feature", "access/rejects.feature")
