Feature: Echo, a second operator the harness plays through the adapter
  The OC pings in the folder the operator's layout gives it, and reads what the operator answers there.

  Scenario: a ping is answered at once, and rings a working day later
    When the OC pings "bonjour"
    Then the OC has read the Pong "BONJOUR"
    When a working day passes
    Then the OC has read the Ring "bonjour"
