Feature: The network changes under the OC's PM orders (CR_MAD_Pm MAJ)
  When the operator deploys a building behind a PM an OC has had a CR_MAD_Pm for, it sends that OC a CR_MAD_Pm
  MAJ (its latest order's reference, the first MAD date kept) with every deployed address now behind the PM, on
  the channel of that order. The OC answers it with an AR MAD and holds the new lines.

  Scenario Outline: a building deployed behind a PM the OC has brings a CR_MAD_Pm MAJ over <channel>
    Given the OC is a PM client of the operator
    When the Monday IPE has gone out
    And the OC reads its PM flows
    And the OC orders a PM with a building still under construction over <channel>
    And 1 working day passes for the PM
    And the OC reads its PM flows
    And the operator deploys that building
    And the OC reads its PM flows
    Then the OC knows the PM order is available with every address of its CR_MAD_Pm, nature "MAJ"
    And the operator received an AR MAD for the PM order over <channel>

    Examples:
      | channel |
      | ftp     |
      | mail    |
