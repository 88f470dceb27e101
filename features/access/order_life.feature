Feature: Life of an access order (Protocole Accès 1.2, from Cmd_Acces to CR MES)
  The OC under test is driven through its adapter: it orders, synchronises (reads and deletes what the OI
  left in OUT/COVA/CV/), its technician connects, its customer's line comes into service. After each step
  the harness asks the OC what it understood, and checks the operator's answers it read.
  Every scenario starts on a working day at 10:00 on a frozen virtual clock that moves only when a step
  says so; the contract's delays are counted in French working days.

  Background:
    Given the OC is a client of the operator

  Scenario: STOC mode: AR at once, CR after one working day, Cmd_STOC, CR_STOC, CR MAD, CR MES
    When the OC orders a new socket in "STOC" mode at an address with free sockets
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise      | OK      |
      | MotifKoArCommandePrise   | (empty) |
      | ReferencePrestationPrise | (set)   |
      | DateArCommandePrise      | (now)   |
    And the OC knows the order is acknowledged
    And the operator holds the order in state "AR_OK"
    When 23 hours have passed
    And the OC synchronises
    Then the OC read no CR_Cmd_Acces
    And the OC knows the order is acknowledged
    When 1 more hour has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | EtatCrCommandePrise      | OK                   |
      | MotifKoCrCommandePrise   | (empty)              |
      | DateCrCommandePrise      | (now)                |
      | TypeCommandeRetenu       | LOCA                 |
      | Hotline                  | N                    |
      | ReferencePrise           | (set)                |
      | ReferencePm              | (as ordered)         |
      | ReferencePBO             | (set)                |
    And it carries a route optique for the OC
    And the OC read a Cmd_STOC for the order with
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
      | DateLimiteRaccordement          | (set)                |
    And its route optique is the one of the CR_Cmd_Acces
    And the OC knows the order is stoc requested with the route of the CR
    And the operator holds the order in state "STOC_COMMANDE"
    When its technician completes the connection
    Then the OC knows the order is connected with the route of the CR
    When the OC synchronises
    Then the OC read a CR_MAD_Ligne for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | ReferencePrise           | (as in CR_Cmd_Acces) |
      | EtatCrMadPrise           | OK                   |
      | MotifKoCrMadPrise        | (empty)              |
      | DateMadPrise             | (today)              |
      | TypeCommandeRetenu       | LOCA                 |
      | ReferencePm              | (as ordered)         |
    And the OC knows the order is available
    And the operator holds the order in state "MAD"
    When the customer's line is in service
    Then the OC knows the order is in service
    And the operator holds the order in state "MES"
    When the OC synchronises
    Then the OC read nothing

  Scenario: OI mode: no Cmd_STOC, the CR MAD comes 5 working days after the CR
    When the OC orders a new socket in "OI" mode at an address with free sockets
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise      | OK    |
      | ReferencePrestationPrise | (set) |
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise | OK    |
      | DateCrCommandePrise | (now) |
      | Hotline             | N     |
      | ReferencePrise      | (set) |
    And it carries a route optique for the OC
    And the OC read no Cmd_STOC
    And the OC knows the order is confirmed with the route of the CR
    And the operator holds the order in state "CR_OK"
    When 4 working days have passed
    And the OC synchronises
    Then the OC read no CR_MAD_Ligne
    When 1 more working day has passed
    And the OC synchronises
    Then the OC read a CR_MAD_Ligne for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | ReferencePrise           | (as in CR_Cmd_Acces) |
      | EtatCrMadPrise           | OK                   |
      | DateMadPrise             | (today)              |
    And the OC knows the order is available with the route of the CR
    When the customer's line is in service
    Then the OC knows the order is in service
    And the operator holds the order in state "MES"

  Scenario: the route optique of a new socket reaches the PBO that the CR names
    Given an apartment building served by several PBOs
    When the OC orders a new socket in "OI" mode
    And the OC synchronises
    Then the OC knows the order is acknowledged
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise | OK    |
      | ReferencePBO        | (set) |
    And its ReferencePBO is one of the PBOs serving the building
    And its route optique reaches the PBO it names
    And the OC knows the order is confirmed with the route of the CR

  Scenario: the OC reports the line in service before the CR MAD: its CR MES waits for the CR MAD
    When the OC orders a new socket in "OC" mode at an address with free sockets
    And the OC synchronises
    And 1 working day has passed
    And the OC synchronises
    Then the OC knows the order is confirmed with the route of the CR
    When the customer's line is in service
    Then the operator holds the order in state "CR_OK"
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_MAD_Ligne for the order with
      | EtatCrMadPrise | OK |
    And the OC knows the order is in service
    And the operator holds the order in state "MES"

  Scenario: ordering an existing socket: the CR carries the ReferencePrise the OC gave
    Given an apartment building with free sockets
    When the OC orders the free socket in "OC" mode by its ReferencePrise
    And the OC synchronises
    Then the OC read an AR_Cmd_Acces for the order with
      | EtatArCommandePrise      | OK    |
      | ReferencePrestationPrise | (set) |
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_Cmd_Acces for the order with
      | EtatCrCommandePrise | OK           |
      | Hotline             | N            |
      | ReferencePrise      | (as ordered) |
      | ReferencePm         | (as ordered) |
    And its ReferencePBO is the PBO of the ordered socket
    And it carries a route optique for the OC
    And the OC knows the order is confirmed with the route of the CR
    When 1 working day has passed
    And the OC synchronises
    Then the OC read a CR_MAD_Ligne for the order with
      | EtatCrMadPrise | OK           |
      | ReferencePrise | (as ordered) |
      | DateMadPrise   | (today)      |
    And the OC knows the order is available

  Scenario: reprovisioning during STOC: a new route by Notif_Reprov, the CR_STOC is still accepted
    Given the OC has ordered a new socket in "STOC" mode and got its AR OK
    And the order has received its CR and its Cmd_STOC
    When the operator reprovisions the order for motif "Fibre HS"
    And the OC synchronises
    Then the OC read a Notif_Reprov for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | ReferencePrise           | (as in CR_Cmd_Acces) |
      | MotifReprov              | Fibre HS             |
      | DateNotifReprov          | (now)                |
      | NumeroDecharge           | (set)                |
    And it carries a route optique for the OC
    And its route optique differs from the one of the CR_Cmd_Acces
    And the OC knows the order is stoc requested with the route of the Notif_Reprov
    And the operator holds the order in state "STOC_COMMANDE"
    When its technician completes the connection
    And the OC synchronises
    Then the OC read a CR_MAD_Ligne for the order with
      | EtatCrMadPrise | OK                   |
      | ReferencePrise | (as in CR_Cmd_Acces) |
    And the OC knows the order is available with the route of the Notif_Reprov
    And the operator holds the order in state "MAD"

  Scenario: the OC's technician could not connect: CR_STOC KO, then Notif_Racc_Ko and no CR MAD
    Given the OC has ordered a new socket in "STOC" mode and got its AR OK
    And the order has received its CR and its Cmd_STOC
    When its technician cannot connect the customer for motif "FCLI07"
    And the OC synchronises
    Then the OC read a Notif_Racc_Ko for the order with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | MotifKoRaccordement      | FCLI07               |
      | DateRaccoKo              | (now)                |
    And the OC knows the connection failed for motif "FCLI07"
    And the operator holds the order in state "RACCO_KO"
    When 10 working days have passed
    And the OC synchronises
    Then the OC read nothing
    And the OC knows the connection failed for motif "FCLI07"
    And the operator holds the order in state "RACCO_KO"
