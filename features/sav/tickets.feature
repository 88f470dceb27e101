Feature: SAV WS 2.1: the OC opens and follows trouble tickets on its lines in service
  The OC under test is driven through its adapter (open_ticket, ticket_status, close_ticket) after an order
  taken to service with the Accès verbs. The operator works a ticket on the virtual clock: QUEUED, OPENACTIVE
  after 1 hour, CLEARED 4 hours later; the OC closes it.

  Background:
    Given the OC is a client of the operator

  Scenario: A ticket on a line in service is worked by the operator and closed by the OC
    When the OC orders a new socket in "OI" mode at an address with free sockets
    And the OC synchronises
    And 6 working days have passed
    And the OC synchronises
    And the customer's line is in service
    And the OC opens a trouble ticket on the order
    Then the OC knows the ticket is "QUEUED"
    When 1 hour has passed
    Then the OC knows the ticket is "OPENACTIVE"
    When 4 more hours have passed
    Then the OC knows the ticket is "CLEARED"
    When the OC closes the ticket
    Then the OC knows the ticket is "CLOSED"

  Scenario: No ticket on a line that is not in service
    When the OC orders a new socket in "OI" mode at an address with free sockets
    And the OC synchronises
    And the OC is asked to open a trouble ticket on the order
    Then the OC opened no ticket
