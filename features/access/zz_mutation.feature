Feature: mutations (temporary)
  Background:
    Given the OC is connected to the sandbox over FTP
    And an apartment building with free sockets

  Scenario: m1 wrong AR value
    When the OC orders a new socket in "STOC" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise | KO |

  Scenario: m2 wrong state
    When the OC orders a new socket in "STOC" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise | OK |
    And the order is in state "CR_OK"

  Scenario: m3 CR arrives too early claim
    When the OC orders a new socket in "STOC" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    Then no CR_Cmd_Acces file has arrived

  Scenario: m4 wrong reject code
    When the OC sends an order at an unknown hexaclé
    Then an AR_Cmd_Acces file arrives with one KO line for motif "FADR02"

  Scenario: m5 no route claim on a routed CR
    When the OC orders a new socket in "OI" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    Then a CR_Cmd_Acces file arrives for the order with
      | EtatCrCommandePrise | OK |
    And it carries no route optique

  Scenario: m6 route absent claim
    When the OC orders an existing socket without its ReferencePrise in "OI" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    Then a CR_Cmd_Acces file arrives for the order with
      | ReferencePrise | (set) |

  Scenario: m7 orders count
    When the OC sends an order without NomClient
    Then an AR_Cmd_Acces file arrives with one KO line for motif "FIMP15"
    And the operator has 1 order of the OC

  Scenario: m8 MAD waiting
    When the OC orders a new socket in "OI" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    Then a CR_MAD_Ligne file arrives for the order with
      | EtatCrMadPrise | OK |
