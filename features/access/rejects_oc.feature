Feature: A refused order, as the OC lives it (AR_Cmd_Acces KO)
  The operator refuses an order it cannot take with an AR KO and its Annexe 5f motif. The OC under test is
  driven through its adapter: it must know the order is rejected and why, and when the customer insists it
  orders again under a new ReferenceCommandePriseInterneOC (the rejected one stays rejected: FIMP13).

  Background:
    Given the OC is a client of the operator
    And an apartment building with free sockets

  Scenario: an order at an address the operator does not know is rejected FADR01, then ordered again under a new reference
    When the OC orders a new socket in "STOC" mode at an address the operator does not know
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise      | KO      |
      | MotifKoArCommandePrise   | FADR01  |
      | ReferencePrestationPrise | (empty) |
    And the OC knows the order is rejected for motif "FADR01"
    And the operator holds no order of the OC
    When the customer insists and the OC orders again at the right address
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise      | OK    |
      | ReferencePrestationPrise | (set) |
    And the OC knows the order is acknowledged
    And the OC still knows the first order is rejected for motif "FADR01"
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise | OK |
    And the OC read no CR_Cmd_Acces for the first order
    And the OC knows the order is stoc requested with the route of the CR

  Scenario Outline: an order the operator's reference data refuses: the OC knows it is rejected with <code>
    When <order>
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise      | KO      |
      | MotifKoArCommandePrise   | <code>  |
      | ReferencePrestationPrise | (empty) |
    And the OC knows the order is rejected for motif "<code>"
    And the operator holds no order of the OC

    Examples:
      | code   | order                                                                       |
      | FADR02 | the OC orders a new socket in "STOC" mode at an address of several buildings with Batiment "ZZ" |
      | FADR03 | the OC orders a new socket in "STOC" mode with Escalier "ZZ"                 |
      | FADR04 | the OC orders a new socket in "OI" mode with Etage "99"                      |
      | FIMP07 | the OC orders a new socket in "STOC" mode with ReferencePm "PMZZ9999"        |
      | FIMP08 | the OC orders a new socket in "STOC" mode with the ReferencePm of another PM |
      | FIMP02 | the OC orders the existing socket "CV-Z999-9999" in "STOC" mode              |
