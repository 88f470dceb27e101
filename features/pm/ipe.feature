Feature: The weekly IPE, as the OC ingests it (Protocole PM 2.2)
  Every Monday morning the operator drops the IPE of each network in the OC's OUT/<OI>/<ARCEP>/PM folder: every
  building of the network, its state, its dwellings and its PM. The OC reads it (and deletes it), and what its
  system then holds of a PM or a building (ipe_summary) is what that IPE says.

  Scenario: the IPE of Monday is ingested
    Given the OC is a PM client of the operator
    When the Monday IPE has gone out
    And the OC reads its PM flows
    Then the OC's summary of a PM matches the IPE
    And the OC's summary of a building matches the IPE

  Scenario: a building the operator deploys during the week is deployed in the OC's system after the next IPE
    Given the OC is a PM client of the operator
    When the Monday IPE has gone out
    And the OC reads its PM flows
    And the operator deploys a building still under construction
    And the Monday IPE has gone out
    And the OC reads its PM flows
    Then the OC's summary of the changed building says "DEPLOYE" as the new IPE does

  Scenario: the files the operator leaves in the PM folder are read within a day
    Given the OC is a PM client of the operator
    When the Monday IPE has gone out
    And 1 working day passes for the PM
    And the OC reads its PM flows
    Then nothing is left in the OC's PM folder
