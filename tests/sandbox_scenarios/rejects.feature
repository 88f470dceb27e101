Feature: Refused orders (Annexe 5f reject codes)
  Every line of an inbound file gets exactly one answer line; a file that cannot be read at all gets
  one KO line with motif FIMP16. Each reject case is reachable from real data. These are files no OC's
  adapter is asked to write; the refusals an OC meets in its business (FADR01-04, FIMP02, FIMP07, FIMP08) are
  played through its adapter in features/access/rejects_oc.feature.

  Background:
    Given the OC is connected to the sandbox over FTP
    And an apartment building with free sockets

  Scenario Outline: <case> is refused with <code>
    When the OC sends <case>
    Then an <answer> file arrives with one KO line for motif "<code>"
    And the operator has <orders> orders of the OC

    Examples:
      | case                                                          | answer              | code   | orders |
      | an order reusing the reference of an acknowledged order       | AR_Cmd_Acces        | FIMP13 | 1      |
      | an order without NomClient                                    | AR_Cmd_Acces        | FIMP15 | 0      |
      | an order with TypeRacco "XX"                                  | AR_Cmd_Acces        | FIMP16 | 0      |
      | an order with TypeCommandeDemande "XXXX"                      | AR_Cmd_Acces        | FIMP12 | 0      |
      | a cancellation of an unknown order                            | CR_Annulation_Acces | FIMP14 | 0      |
      | an order file with a bad header                               | AR_Cmd_Acces        | FIMP16 | 0      |
      | an order file named for another OC                            | AR_Cmd_Acces        | FIMP16 | 0      |

  Scenario: several orders in one file get one AR line each, in the file's order
    When the OC sends one Cmd_Acces file with the orders
      | ReferenceCommandePriseInterneOC | order                                    |
      | MULTI-1                         | a valid order                            |
      | MULTI-2                         | an order at an unknown hexaclé           |
      | MULTI-3                         | a valid order                            |
      | MULTI-4                         | an order with TypeCommandeDemande "XXXX" |
      | MULTI-1                         | a valid order                            |
    Then an AR_Cmd_Acces file arrives with the lines
      | ReferenceCommandePriseInterneOC | EtatArCommandePrise | MotifKoArCommandePrise | ReferencePrestationPrise |
      | MULTI-1                         | OK                  |                        | (set)                    |
      | MULTI-2                         | KO                  | FADR01                 |                          |
      | MULTI-3                         | OK                  |                        | (set)                    |
      | MULTI-4                         | KO                  | FIMP12                 |                          |
      | MULTI-1                         | KO                  | FIMP13                 |                          |
    And the operator has 2 orders of the OC
    When 1 working day has passed
    Then a CR_Cmd_Acces file arrives for order "MULTI-3" with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | EtatCrCommandePrise      | OK                   |
    And a CR_Cmd_Acces file arrives for order "MULTI-1" with
      | ReferencePrestationPrise | (as in AR_Cmd_Acces) |
      | EtatCrCommandePrise      | OK                   |
    And no CR_Cmd_Acces file has arrived
