Feature: Connection appointments (IdRdv) booked with the operator's booking service
  The OC books a slot (J+8 to J+26 working days, seed 004's e-RDV) for an address with the operator's
  booking service, an HTTP endpoint beside the admin API, and puts the IdRdv in its Cmd_Acces. The operator
  checks it at the CR with the FRDV codes of Annexe 5f. The OC under test is driven through its adapter.

  Background:
    Given the OC is a client of the operator
    And an apartment building with free sockets

  Scenario: an appointment booked, then used by the order
    When the OC books a connection appointment at the address
    And the OC orders a new socket in "OI" mode with that appointment
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise    | OK      |
      | MotifKoCrCommandePrise | (empty) |
    And the operator holds the appointment as used by the order
    And the OC knows the order is confirmed with the route of the CR

  Scenario Outline: a bad IdRdv gets a CR KO with its FRDV code
    When <order>
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise    | KO     |
      | MotifKoCrCommandePrise | <code> |
    And the OC knows the order is rejected for motif "<code>"
    And the operator holds the order in state "CR_KO"

    Examples:
      | code   | order                                                                              |
      | FRDV03 | the OC orders a new socket in "OI" mode with an IdRdv never booked                  |
      | FRDV02 | the OC orders a new socket in "OI" mode with an appointment since cancelled         |
      | FRDV06 | the OC orders a new socket in "OI" mode with an appointment booked at another address |
