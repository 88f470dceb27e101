Feature: Order help WS 3.0: the OC asks the structure of an address before ordering
  The OC under test is driven through its adapter (lookup_address). It asks the operator's order help web
  service which buildings, staircases, floors and sockets exist at an address, and says what it understood.
  At the end of every scenario the harness checks how it called the service (docs/checks.md, WS-*): never
  above 2 requests per second, a fresh identifiantRequete each time, a well-formed header.

  Background:
    Given the OC is a client of the operator

  Scenario: The OC reads the buildings, staircases, floors and free sockets of an address
    Given an apartment building with free sockets
    When the OC looks up the structure of the address
    Then the OC knows the buildings, staircases and floors of the address
    And the OC knows the free sockets of the address

  Scenario: A socket the OC ordered over FTP is no longer free
    Given an apartment building with free sockets
    When the OC orders the free socket in "OI" mode by its ReferencePrise
    And the OC synchronises
    And the OC looks up the structure of the address
    Then the OC knows the ordered socket is not free

  Scenario: A fault for an unknown hexacle is handled by the OC
    When the OC looks up the structure of an address the operator does not know
    Then the OC knows the address is unknown

  Scenario: Looking up several addresses in a row stays within the flow control
    When the OC looks up the structure of 5 addresses one after the other
    Then the OC knows the structure of each
