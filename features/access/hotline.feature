Feature: Hotline orders (an existing socket whose ReferencePrise the OC does not know)
  The OC orders with PriseExistante=O and no ReferencePrise: the CR says Hotline=O without a route, and
  a Notif_Reprov (MotifReprov "Commande HOTLINE") follows with the socket found and its route. The OC under
  test is driven through its adapter and must hold the socket and route of the Notif_Reprov.

  Background:
    Given the OC is a client of the operator
    And an apartment building with free sockets

  Scenario: Hotline: an existing socket the OC cannot name gets its reference and route by Notif_Reprov
    When the OC orders an existing socket without its ReferencePrise in "OI" mode
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise      | OK    |
      | ReferencePrestationPrise | (set) |
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise | OK           |
      | Hotline             | O            |
      | ReferencePrise      | (empty)      |
      | ReferencePm         | (as ordered) |
    And it carries no route optique
    And the OC knows the order is confirmed with the route of the CR
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a Notif_Reprov for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | MotifReprov              | Commande HOTLINE     |
      | DateNotifReprov          | (now)                |
      | NumeroDecharge           | (set)                |
      | ReferencePm              | (as ordered)         |
    And its ReferencePrise is a free socket of the ordered staircase and floor
    And it carries a route optique for the OC
    And the OC knows the order is confirmed with the route of the Notif_Reprov
    # The OI connects once it knows the route: 5 working days after the Notif_Reprov, not after the CR.
    When 4 working days have passed
    And the OC synchronises
    Then the OC read nothing
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_MAD_Ligne for the order with
      | EtatCrMadPrise | OK                   |
      | ReferencePrise | (as in Notif_Reprov) |
    And the OC knows the order is available with the route of the Notif_Reprov

  Scenario: in STOC mode the Cmd_STOC of a Hotline order waits for the socket and route of the Notif_Reprov
    When the OC orders an existing socket without its ReferencePrise in "STOC" mode
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | Hotline | O |
    And the OC read no Cmd_STOC
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a Notif_Reprov for the order with
      | MotifReprov | Commande HOTLINE |
    And the OC read a Cmd_STOC for the order with
      | ReferencePrise | (as in Notif_Reprov) |
      | ReferencePBO   | (as in Notif_Reprov) |
    And the OC knows the order is stoc requested with the route of the Notif_Reprov
    When its technician completes the connection
    And the OC synchronises
    Then the OC read a CR_MAD_Ligne for the order with
      | EtatCrMadPrise | OK                   |
      | ReferencePrise | (as in Notif_Reprov) |
    And the OC knows the order is available with the route of the Notif_Reprov
