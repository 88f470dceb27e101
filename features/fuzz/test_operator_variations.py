"""Operator variations (`opsim conformance run --fuzz N`): Hypothesis draws unusual but valid behaviour of the
operator and lives a whole order through the OC's adapter under it; a failure is shrunk to a minimal case.

What is drawn (each is something a real OI does, within Protocole Accès 1.2):
    mode            STOC, OI or OC
    orders          1 to 3 orders dropped at the same moment: their CRs (and Cmd_STOC) come as several
                    answers in one file
    on_holiday      the OC orders on a French public holiday: its AR is dated that day
    free_text       the operator's free-text columns as written, empty, or at their maximum length with
                    accents, commas and double quotes (answer style, PUT /api/answer-style)
    informational   the informational columns (LocalisationPm, LocalisationPBO, TypePBO) as written or empty
    reprov_after_cr the operator reprovisions the first order right after its CR: a Notif_Reprov waits in OUT
                    beside the CR

Each variation gets a tenant, an adapter and a state dir of its own. After every synchronisation the OC must
know each order's state, prestation and route (the Notif_Reprov's route when there is one); at the end the
checks of docs/checks.md run on everything it sent and read. The minimal failing variation is the scenario's
error in the report, with the seed that replays it. The variations are Covage's harness's
(simulator/operators/covage/harness/fuzz.py).
"""

import pytest

pytestmark = pytest.mark.fuzz


def test_the_oc_takes_every_valid_variation_of_the_operator(operator_variations) -> None:  # type: ignore[no-untyped-def]
    operator_variations()
