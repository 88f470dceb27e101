Feature: Écrasement: another OC's order takes a socket the OC holds in service
  When a second OC's order on the same socket is delivered (its CR MAD), the operator ends the first OC's
  line and tells it with a Notif_Ecrasement (spec decisions). Both sides show in the journal and in each
  OC's orders. The OC under test is driven through its adapter; the other OC is played by the harness.

  Background:
    Given the OC is a client of the operator
    And an apartment building with free sockets

  Scenario: a second OC's order on the OC's socket in service: Notif_Ecrasement, the line is overwritten
    Given the OC's line on the free socket is in service
    When another OC orders the same socket and its line is delivered
    And the OC synchronises
    Then the OC read a Notif_Ecrasement for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | ReferencePrise           | (as in CR_MAD_Ligne) |
      | DateEcrasement           | (now)                |
    And the OC knows the order is overwritten
    And the operator holds the order in state "ECRASE"
    And the other OC's order holds the socket with the écrasement in its history
    When 1 working day has passed
    And the OC synchronises
    Then the OC read nothing
    And the OC knows the order is overwritten
