Feature: Hotline orders (an existing socket whose ReferencePrise the OC does not know)
  The OC orders with PriseExistante=O and no ReferencePrise: the CR says Hotline=O with the route of an
  existing socket there. In STOC mode the Cmd_STOC follows and the OC's technician on site calls the
  operator's hotline with the socket found: the operator reprovisions it hot, answers a décharge number and
  sends a Notif_Reprov (MotifReprov "Commande HOTLINE"); the CR_STOC carries that décharge (seed 002's
  diagram). In OI mode the operator's own technician does it before the CR MAD. The OC under test is
  driven through its adapter and must hold the socket and route of the Notif_Reprov.

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
    And it carries a route optique for the OC
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

  Scenario: in STOC mode, seed 002's order: CR, Cmd_STOC, hotline call, Notif_Reprov with décharge, CR_STOC with it, CR MAD
    When the OC orders an existing socket without its ReferencePrise in "STOC" mode
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise | OK      |
      | Hotline             | O       |
      | ReferencePrise      | (empty) |
    And it carries a route optique for the OC
    And the OC read a Cmd_STOC for the order with
      | ReferencePrise | (empty)              |
      | ReferencePBO   | (as in CR_Cmd_Acces) |
    And the OC read no Notif_Reprov
    And the OC knows the order is stoc requested with the route of the CR
    When its technician calls the hotline with the socket found on site
    And the OC synchronises
    Then the OC read a Notif_Reprov for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces)      |
      | MotifReprov              | Commande HOTLINE          |
      | NumeroDecharge           | (as given by the hotline) |
      | DateNotifReprov          | (now)                     |
    And its ReferencePrise is the socket found on site
    And it carries a route optique for the OC
    And the OC knows the order is stoc requested with the route of the Notif_Reprov
    When its technician completes the connection
    And the OC synchronises
    Then the OC read a CR_MAD_Ligne for the order with
      | EtatCrMadPrise | OK                   |
      | ReferencePrise | (as in Notif_Reprov) |
    And the OC knows the order is available with the route of the Notif_Reprov
    And the operator holds the order in state "MAD"

  Scenario: the OC's technician finds the fibre occupied: a hot reprovisioning asked to the hotline, its décharge in the CR_STOC
    Given the OC has ordered a new socket in "STOC" mode and got its AR OK
    And the order has received its CR and its Cmd_STOC
    When its technician asks the hotline a hot reprovisioning for motif "Fibre occupée"
    And the OC synchronises
    Then the OC read a Notif_Reprov for the order with
      | MotifReprov    | Fibre occupée             |
      | NumeroDecharge | (as given by the hotline) |
      | ReferencePrise | (as in CR_Cmd_Acces)      |
    And its route optique differs from the one of the CR_Cmd_Acces
    And the OC knows the order is stoc requested with the route of the Notif_Reprov
    When its technician completes the connection
    And the OC synchronises
    Then the OC read a CR_MAD_Ligne for the order with
      | EtatCrMadPrise | OK |
    And the OC knows the order is available with the route of the Notif_Reprov

  Scenario: scheduled works in the building: the operator reprovisions the OC's order on its own
    Given the OC has ordered a new socket in "OI" mode and got its AR OK
    When 1 working day has passed
    And the OC synchronises
    Then the OC knows the order is confirmed with the route of the CR
    When the operator reprovisions the building for scheduled works
    And the OC synchronises
    Then the OC read a Notif_Reprov for the order with
      | MotifReprov    | Travaux programmés |
      | NumeroDecharge | (set)              |
    And it carries a route optique for the OC
    And the OC knows the order is confirmed with the route of the Notif_Reprov

  Scenario: a Hotline order on a floor with no free existing socket gets a CR KO, never a socket made for it
    Given a floor of an apartment building whose sockets are all taken
    When the OC orders an existing socket without its ReferencePrise in "OI" mode
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise    | KO      |
      | MotifKoCrCommandePrise | FIMP17  |
      | ReferencePrise         | (empty) |
    And the OC knows the order is rejected for motif "FIMP17"
    And the operator holds the order in state "CR_KO"
