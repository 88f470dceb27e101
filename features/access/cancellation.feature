Feature: Cancelling an access order (Annul_Acces)
  The OI answers every Annul_Acces line with a CR_Annulation_Acces: an ANNUL before the CR MAD,
  a RESIL (termination) after it. A cancelled order gets nothing more. The OC under test is driven through
  its adapter and must know what became of its order.

  Background:
    Given the OC is a client of the operator

  Scenario: cancelling before the CR MAD is an ANNUL, and no CR comes afterwards
    Given the OC has ordered a new socket in "STOC" mode and got its AR OK
    When the OC cancels the order
    And the OC synchronises
    Then the OC read a CR_Annulation_Acces for the order with
      | ReferencePrestationPrise     | (as in AR_Cmd_Acces) |
      | TypeOperation                | ANNUL                |
      | EtatCrAnnResCommandePrise    | OK                   |
      | MotifKoCrAnnResCommandePrise | (empty)              |
      | DateCrCommandeAnnulPrise     | (now)                |
    And the OC knows the order is cancelled
    And the operator holds the order in state "ANNULE"
    When 10 working days have passed
    And the OC synchronises
    Then the OC read nothing
    And the OC knows the order is cancelled
    And the operator holds the order in state "ANNULE"
    When the OC cancels the order again
    And the OC synchronises
    Then the OC read a CR_Annulation_Acces for the order with
      | TypeOperation                | ANNUL  |
      | EtatCrAnnResCommandePrise    | KO     |
      | MotifKoCrAnnResCommandePrise | FIMP16 |
    And the OC knows the order is cancelled

  Scenario: cancelling after the CR MAD is a RESIL
    Given the OC has ordered a new socket in "OI" mode and got its AR OK
    And the order has received its CR MAD
    When the OC cancels the order
    And the OC synchronises
    Then the OC read a CR_Annulation_Acces for the order with
      | ReferencePrestationPrise     | (as in AR_Cmd_Acces) |
      | TypeOperation                | RESIL                |
      | EtatCrAnnResCommandePrise    | OK                   |
      | MotifKoCrAnnResCommandePrise | (empty)              |
      | DateCrCommandeAnnulPrise     | (now)                |
    And the OC knows the order is terminated
    And the operator holds the order in state "RESILIE"

  Scenario: cancelling after the CR and the Cmd_STOC, before the CR MAD, is still an ANNUL
    Given the OC has ordered a new socket in "STOC" mode and got its AR OK
    And the order has received its CR and its Cmd_STOC
    When the OC cancels the order
    And the OC synchronises
    Then the OC read a CR_Annulation_Acces for the order with
      | TypeOperation             | ANNUL |
      | EtatCrAnnResCommandePrise | OK    |
    And the OC knows the order is cancelled
    And the operator holds the order in state "ANNULE"
    # No CR MAD comes for a cancelled order (a CR_STOC for it would be a finding: no flow answers it).
    When 1 working day has passed
    And the OC synchronises
    Then the OC read no CR_MAD_Ligne
    And the OC knows the order is cancelled
    And the operator holds the order in state "ANNULE"
