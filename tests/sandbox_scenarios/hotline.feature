Feature: Hotline orders, as the sandbox answers them
  Played with our own OC client: the socket of the last staircase, and two Hotline lines in one file (an
  adapter drops one order per file).

  Background:
    Given the OC is connected to the sandbox over FTP
    And an apartment building with free sockets

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
