"""Operator variations (`opsim conformance run --fuzz N`): Hypothesis draws unusual but valid behaviour of the
operator and lives a whole order through the OC's adapter under it; a failure is shrunk to a minimal case. What is
drawn, and how each variation is judged, is Covage's harness's: simulator/operators/covage/harness/fuzz.py.
"""

import pytest

pytestmark = pytest.mark.fuzz


def test_the_oc_takes_every_valid_variation_of_the_operator(operator_variations) -> None:  # type: ignore[no-untyped-def]
    operator_variations()
