Feature: A PM opens: the CPN
  The operator re-plans the commercial opening of a PM a few days ahead (its network_change action, docs/api.md):
  until that day the PM is not open, and the Monday IPE shows it (EtatPM EN COURS DE DEPLOIEMENT, its new
  DateMiseEnServiceCommercialePM). On that day the PM opens and the daily CPN gives every client its PM-NRO links,
  in OUT/<OI>/<ARCEP>/PM: the OC reads it and knows the PM is open, with its links, though no IPE has said so yet.

  Scenario: a PM the operator re-plans to open a few days ahead is announced by the CPN on that day
    Given the OC is a PM client of the operator
    When the operator re-plans a PM to open 2 days after the next Monday
    And the Monday IPE has gone out
    And the OC reads its PM flows
    Then the OC knows the PM is not open yet
    When the clock moves past the PM's opening day
    And the OC reads its PM flows
    Then the operator sent the OC a CPN of the PM
    And the OC knows the PM is open with its PM-NRO links
    And nothing is left in the OC's PM folder
