Feature: Life of an access order (Protocole Accès 1.2, from Cmd_Acces to CR MES)
  The OC drops its files in IN/COVA/CV/ over FTP and picks the OI's answers up in OUT/COVA/CV/,
  deleting what it has read. The sandbox's virtual clock starts frozen on Tuesday 2026-11-24 at 10:00
  and moves only when a step says so; the contract's delays are counted in French working days.

  Background:
    Given the OC is connected to the sandbox over FTP
    And an apartment building with free sockets

  Scenario: STOC mode: AR at once, CR after one working day, Cmd_STOC, CR_STOC, CR MAD, CR MES
    When the OC orders a new socket in "STOC" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise      | OK             |
      | MotifKoArCommandePrise   | (empty)        |
      | ReferencePrestationPrise | (set)          |
      | DateArCommandePrise      | 20261124100000 |
    And the order is in state "AR_OK"
    When 23 hours have passed
    Then no CR_Cmd_Acces file has arrived yet
    When 1 more hour has passed
    Then a CR_Cmd_Acces file arrives for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | EtatCrCommandePrise      | OK                   |
      | MotifKoCrCommandePrise   | (empty)              |
      | DateCrCommandePrise      | 20261125100000       |
      | TypeCommandeRetenu       | LOCA                 |
      | Hotline                  | N                    |
      | ReferencePrise           | (set)                |
      | ReferencePm              | (as ordered)         |
      | ReferencePBO             | (set)                |
    And it carries a route optique for the OC
    And a Cmd_STOC file arrives for the order with
      | ReferenceCommandeSousTraitantOI | (set)                |
      | ReferencePrestationPrise        | (as in AR_Cmd_Acces) |
      | ReferencePrise                  | (as in CR_Cmd_Acces) |
      | CodeAdresseImmeuble             | (as ordered)         |
      | Escalier                        | (as ordered)         |
      | Etage                           | (as ordered)         |
      | NomClient                       | (as ordered)         |
      | ContactClient1                  | (as ordered)         |
      | ReferencePm                     | (as ordered)         |
      | ReferencePBO                    | (as in CR_Cmd_Acces) |
      | DateLimiteRaccordement          | 20261209             |
    And its route optique is the one of the CR_Cmd_Acces
    And the order is in state "STOC_COMMANDE"
    When the OC answers the Cmd_STOC with a CR_STOC OK
    Then a CR_MAD_Ligne file arrives for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | ReferencePrise           | (as in CR_Cmd_Acces) |
      | EtatCrMadPrise           | OK                   |
      | MotifKoCrMadPrise        | (empty)              |
      | DateMadPrise             | 20261125             |
      | TypeCommandeRetenu       | LOCA                 |
      | ReferencePm              | (as ordered)         |
    And the order is in state "MAD"
    When the OC sends a CR MES OK for the line
    Then the order is in state "MES"
    And no file has arrived

  Scenario: OI mode: no Cmd_STOC, the CR MAD comes 5 working days after the CR
    When the OC orders a new socket in "OI" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise      | OK    |
      | ReferencePrestationPrise | (set) |
    When 1 working day has passed
    Then a CR_Cmd_Acces file arrives for the order with
      | EtatCrCommandePrise | OK             |
      | DateCrCommandePrise | 20261125100000 |
      | Hotline             | N              |
      | ReferencePrise      | (set)          |
    And it carries a route optique for the OC
    And no Cmd_STOC file has arrived
    And the order is in state "CR_OK"
    When 4 working days have passed
    Then no CR_MAD_Ligne file has arrived yet
    When 1 more working day has passed
    Then a CR_MAD_Ligne file arrives for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | ReferencePrise           | (as in CR_Cmd_Acces) |
      | EtatCrMadPrise           | OK                   |
      | DateMadPrise             | 20261202             |
    And the order is in state "MAD"
    When the OC sends a CR MES OK for the line
    Then the order is in state "MES"

  Scenario: ordering an existing socket: the CR carries the ReferencePrise the OC gave
    When the OC orders the free socket in "OC" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise      | OK    |
      | ReferencePrestationPrise | (set) |
    When 1 working day has passed
    Then a CR_Cmd_Acces file arrives for the order with
      | EtatCrCommandePrise | OK           |
      | Hotline             | N            |
      | ReferencePrise      | (as ordered) |
      | ReferencePm         | (as ordered) |
    And its ReferencePBO is the PBO of the ordered socket
    And it carries a route optique for the OC
    When 1 working day has passed
    Then a CR_MAD_Ligne file arrives for the order with
      | EtatCrMadPrise | OK           |
      | ReferencePrise | (as ordered) |
      | DateMadPrise   | 20261126     |

  Scenario: reprovisioning during STOC: a new route by Notif_Reprov, the CR_STOC is still accepted
    Given the OC has ordered a new socket in "STOC" mode and got its AR OK
    And the order has received its CR and its Cmd_STOC
    When the operator reprovisions the order for motif "Fibre HS"
    Then a Notif_Reprov file arrives for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | ReferencePrise           | (as in CR_Cmd_Acces) |
      | MotifReprov              | Fibre HS             |
      | DateNotifReprov          | (now)                |
      | NumeroDecharge           | (set)                |
    And it carries a route optique for the OC
    And its route optique differs from the one of the CR_Cmd_Acces
    And the order is still in state "STOC_COMMANDE"
    When the OC answers the Cmd_STOC with a CR_STOC OK
    Then a CR_MAD_Ligne file arrives for the order with
      | EtatCrMadPrise | OK                   |
      | ReferencePrise | (as in CR_Cmd_Acces) |
    And the order is in state "MAD"

  Scenario: the OC's technician could not connect: CR_STOC KO, then Notif_Racc_Ko and no CR MAD
    Given the OC has ordered a new socket in "STOC" mode and got its AR OK
    And the order has received its CR and its Cmd_STOC
    When the OC answers the Cmd_STOC with a CR_STOC KO for motif "FCLI07"
    Then a Notif_Racc_Ko file arrives for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | MotifKoRaccordement      | FCLI07               |
      | DateRaccoKo              | (now)                |
    And the order is in state "RACCO_KO"
    When 10 working days have passed
    Then no file has arrived
    And the order is still in state "RACCO_KO"

  Scenario: the route optique of a new socket reaches the PBO that the CR names
    Given an apartment building served by several PBOs
    When the OC orders a new socket in "OI" mode
    Then an AR_Cmd_Acces file arrives for the order with
      | EtatArCommandePrise | OK |
    When 1 working day has passed
    Then a CR_Cmd_Acces file arrives for the order with
      | EtatCrCommandePrise | OK |
    And its route optique reaches the PBO it names
