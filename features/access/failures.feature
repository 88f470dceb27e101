Feature: The operator's failures (CR KO, Notif_Racc_Ko, DateLimiteRaccordement)
  Connections fail (spec decisions "Failures happen"): a CR KO FINT01 when the network data says the PBO
  or PM is saturated, other CR KO and OI-mode Notif_Racc_Ko codes from the tenant's failure rates (operator
  action failure_rates, default 0), and a Cmd_STOC with no CR_STOC by its DateLimiteRaccordement ends the
  attempt. The OC under test is driven through its adapter and must understand each.

  Background:
    Given the OC is a client of the operator

  Scenario: a new socket behind a saturated PBO gets a CR KO FINT01
    Given an apartment building whose staircase's PBO is saturated
    When the OC orders a new socket in "STOC" mode on that staircase
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise    | KO     |
      | MotifKoCrCommandePrise | FINT01 |
      | DateCrCommandePrise    | (now)  |
    And the OC read no Cmd_STOC
    And the OC knows the order is rejected for motif "FINT01"
    And the operator holds the order in state "CR_KO"

  Scenario: the tenant's failure rate answers the CR KO with the operator's code
    Given the operator fails every CR of the OC with "FINT11"
    When the OC orders a new socket in "OI" mode at an address with free sockets
    And the OC synchronises
    And 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise    | KO     |
      | MotifKoCrCommandePrise | FINT11 |
    And the OC knows the order is rejected for motif "FINT11"
    And the operator holds the order in state "CR_KO"

  Scenario: OI mode: the operator's own connection fails, a Notif_Racc_Ko with its code and no CR MAD
    Given the operator fails every connection it makes for the OC with "FCLI02"
    When the OC orders a new socket in "OI" mode at an address with free sockets
    And the OC synchronises
    And 1 working day has passed
    And the OC synchronises
    Then the OC knows the order is confirmed with the route of the CR
    When 5 working days have passed
    And the OC synchronises
    Then the OC read a Notif_Racc_Ko for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | MotifKoRaccordement      | FCLI02               |
      | DateRaccoKo              | (now)                |
    And the OC read no CR_MAD_Ligne
    And the OC knows the connection failed for motif "FCLI02"
    And the operator holds the order in state "RACCO_KO"

  Scenario: STOC mode: no CR_STOC by the DateLimiteRaccordement ends the attempt
    Given the OC has ordered a new socket in "STOC" mode and got its AR OK
    And the order has received its CR and its Cmd_STOC
    When 10 working days have passed
    And the OC synchronises
    Then the OC read no Notif_Racc_Ko
    And the OC knows the order is stoc requested
    When 1 more working day has passed
    And the OC synchronises
    Then the OC read a Notif_Racc_Ko for the order with
      | MotifKoRaccordement | FAUT01 |
    And the OC knows the connection failed for motif "FAUT01"
    And the operator holds the order in state "RACCO_KO"
