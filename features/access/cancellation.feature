Feature: Cancelling an access order (Annul_Acces)
  The OI answers every Annul_Acces line with a CR_Annulation_Acces: an ANNUL before the CR MAD,
  a RESIL (termination) after it. A cancelled order gets nothing more.

  Background:
    Given the OC is connected to the sandbox over FTP
    And an apartment building with free sockets

  Scenario: cancelling before the CR MAD is an ANNUL, and no CR comes afterwards
    Given the OC has ordered a new socket in "STOC" mode and got its AR OK
    When the OC cancels the order
    Then a CR_Annulation_Acces file arrives for the order with
      | ReferencePrestationPrise     | (as in AR_Cmd_Acces) |
      | TypeOperation                | ANNUL                |
      | EtatCrAnnResCommandePrise    | OK                   |
      | MotifKoCrAnnResCommandePrise | (empty)              |
      | DateCrCommandeAnnulPrise     | 20261124100000       |
    And the order is in state "ANNULE"
    When 10 working days have passed
    Then no file has arrived
    And the order is still in state "ANNULE"
    When the OC cancels the order again
    Then a CR_Annulation_Acces file arrives for the order with
      | TypeOperation                | ANNUL |
      | EtatCrAnnResCommandePrise    | KO    |
      | MotifKoCrAnnResCommandePrise | FIMP16 |

  Scenario: cancelling after the CR MAD is a RESIL
    Given the OC has ordered a new socket in "OI" mode and got its AR OK
    And the order has received its CR MAD
    When the OC cancels the order
    Then a CR_Annulation_Acces file arrives for the order with
      | ReferencePrestationPrise     | (as in AR_Cmd_Acces) |
      | TypeOperation                | RESIL                |
      | EtatCrAnnResCommandePrise    | OK                   |
      | MotifKoCrAnnResCommandePrise | (empty)              |
      | DateCrCommandeAnnulPrise     | (now)                |
    And the order is in state "RESILIE"

  Scenario: cancelling after the CR and the Cmd_STOC, before the CR MAD, is still an ANNUL
    Given the OC has ordered a new socket in "STOC" mode and got its AR OK
    And 1 working day has passed
    Then a Cmd_STOC file arrives for the order with
      | ReferenceCommandeSousTraitantOI | (set) |
    When the OC cancels the order
    Then a CR_Annulation_Acces file arrives for the order with
      | TypeOperation             | ANNUL |
      | EtatCrAnnResCommandePrise | OK    |
    And the order is in state "ANNULE"
    When the OC answers the Cmd_STOC with a CR_STOC OK
    Then a CR_MAD_Ligne file arrives for the order with
      | EtatCrMadPrise    | KO     |
      | MotifKoCrMadPrise | FIMP16 |
      | DateMadPrise      | (empty) |
    And the order is still in state "ANNULE"
