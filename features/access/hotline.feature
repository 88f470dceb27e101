Feature: Hotline orders (an existing socket whose ReferencePrise the OC does not know)
  The OC orders with PriseExistante=O and no ReferencePrise: the CR says Hotline=O without a route, and
  a Notif_Reprov (MotifReprov "Commande HOTLINE") follows with the socket found and its route.

  Background:
    Given the OC is connected to the sandbox over FTP
    And an apartment building with free sockets

  Scenario: Hotline: an existing socket the OC cannot name gets its reference and route by Notif_Reprov
    When the OC orders an existing socket without its ReferencePrise in "OI" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise      | OK    |
      | ReferencePrestationPrise | (set) |
    When 1 working day has passed
    Then a CR_Cmd_Acces file arrives for the order with
      | EtatCrCommandePrise | OK           |
      | Hotline             | O            |
      | ReferencePrise      | (empty)      |
      | ReferencePm         | (as ordered) |
    And it carries no route optique
    When 1 working day has passed
    Then a Notif_Reprov file arrives for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | MotifReprov              | Commande HOTLINE     |
      | DateNotifReprov          | 20261126100000       |
      | NumeroDecharge           | (set)                |
      | ReferencePm              | (as ordered)         |
    And its ReferencePrise is a free socket of the ordered staircase and floor
    And it carries a route optique for the OC
    # The OI connects once it knows the route: 5 working days after the Notif_Reprov, not after the CR.
    When 4 working days have passed
    Then no file has arrived
    When 1 working day has passed
    Then a CR_MAD_Ligne file arrives for the order with
      | EtatCrMadPrise | OK                   |
      | ReferencePrise | (as in Notif_Reprov) |

  Scenario: the Notif_Reprov of a Hotline names the PBO of the socket it found
    Given a free socket on the building's last staircase
    When the OC orders an existing socket without its ReferencePrise in "OI" mode
    And 2 working days have passed
    Then a Notif_Reprov file arrives for the order with
      | MotifReprov    | Commande HOTLINE |
      | ReferencePrise | (set)            |
    And its ReferencePBO is the PBO of the socket it names

  Scenario: two Hotline orders on one floor are not given the same socket
    When the OC orders 2 existing sockets without their ReferencePrise in "OI" mode in one file
    And 2 working days have passed
    Then each order gets a Notif_Reprov with a ReferencePrise of its own

  Scenario: in STOC mode the Cmd_STOC of a Hotline order waits for the socket and route of the Notif_Reprov
    When the OC orders an existing socket without its ReferencePrise in "STOC" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    Then a CR_Cmd_Acces file arrives for the order with
      | Hotline | O |
    And no file has arrived
    When 1 working day has passed
    Then a Notif_Reprov file arrives for the order with
      | MotifReprov | Commande HOTLINE |
    And a Cmd_STOC file arrives for the order with
      | ReferencePrise | (as in Notif_Reprov) |
      | ReferencePBO   | (as in Notif_Reprov) |
