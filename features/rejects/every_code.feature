Feature: Every refusal of Annexe 5f, as the OC lives it
  Each code of the operator's reject catalogue (GET /api/rejects, docs/rejects.md), arranged by a fault rule
  (POST /api/faults) and met by the OC through its adapter at the stage that sends it: the AR, the CR, the
  operator's connection (Notif_Racc_Ko, OI mode) or a cancellation (CR_Annulation_Acces KO). The OC must know
  why its order ended (a refused cancellation leaves the order as it was), read and clean what it was sent,
  and never resend a rejected reference. A test fails when a catalogue code has no row here.

  Background:
    Given the OC is a client of the operator
    And an apartment building with free sockets

  Scenario Outline: <code> at the <stage>
    Given the operator will refuse the OC's next order with "<code>" at the <stage>
    When the OC lives an order up to the <stage>
    Then the OC knows <knows>

    Examples:
      | code   | stage | knows                                    |
      | FADR01 | AR    | the order is rejected for motif "FADR01" |
      | FADR02 | AR    | the order is rejected for motif "FADR02" |
      | FADR03 | AR    | the order is rejected for motif "FADR03" |
      | FADR04 | AR    | the order is rejected for motif "FADR04" |
      | FAUT01 | RACCO | the connection failed for motif "FAUT01" |
      | FCLI01 | RACCO | the connection failed for motif "FCLI01" |
      | FCLI02 | RACCO | the connection failed for motif "FCLI02" |
      | FCLI03 | RACCO | the connection failed for motif "FCLI03" |
      | FCLI04 | RACCO | the connection failed for motif "FCLI04" |
      | FCLI05 | RACCO | the connection failed for motif "FCLI05" |
      | FCLI06 | RACCO | the connection failed for motif "FCLI06" |
      | FCLI07 | RACCO | the connection failed for motif "FCLI07" |
      | FIMP01 | AR    | the order is rejected for motif "FIMP01" |
      | FIMP02 | AR    | the order is rejected for motif "FIMP02" |
      | FIMP03 | AR    | the order is rejected for motif "FIMP03" |
      | FIMP04 | AR    | the order is rejected for motif "FIMP04" |
      | FIMP05 | AR    | the order is rejected for motif "FIMP05" |
      | FIMP06 | AR    | the order is rejected for motif "FIMP06" |
      | FIMP07 | AR    | the order is rejected for motif "FIMP07" |
      | FIMP08 | AR    | the order is rejected for motif "FIMP08" |
      | FIMP09 | AR    | the order is rejected for motif "FIMP09" |
      | FIMP10 | AR    | the order is rejected for motif "FIMP10" |
      | FIMP11 | AR    | the order is rejected for motif "FIMP11" |
      | FIMP12 | AR    | the order is rejected for motif "FIMP12" |
      | FIMP13 | AR    | the order is rejected for motif "FIMP13" |
      | FIMP14 | ANNUL | the order is acknowledged                |
      | FIMP15 | AR    | the order is rejected for motif "FIMP15" |
      | FIMP16 | AR    | the order is rejected for motif "FIMP16" |
      | FIMP17 | AR    | the order is rejected for motif "FIMP17" |
      | FIMP18 | AR    | the order is rejected for motif "FIMP18" |
      | FIMP19 | AR    | the order is rejected for motif "FIMP19" |
      | FINT01 | CR    | the order is rejected for motif "FINT01" |
      | FINT02 | CR    | the order is rejected for motif "FINT02" |
      | FINT03 | RACCO | the connection failed for motif "FINT03" |
      | FINT04 | RACCO | the connection failed for motif "FINT04" |
      | FINT05 | RACCO | the connection failed for motif "FINT05" |
      | FINT06 | RACCO | the connection failed for motif "FINT06" |
      | FINT07 | RACCO | the connection failed for motif "FINT07" |
      | FINT08 | RACCO | the connection failed for motif "FINT08" |
      | FINT09 | RACCO | the connection failed for motif "FINT09" |
      | FINT10 | RACCO | the connection failed for motif "FINT10" |
      | FINT11 | CR    | the order is rejected for motif "FINT11" |
      | FINT12 | RACCO | the connection failed for motif "FINT12" |
      | FINT13 | RACCO | the connection failed for motif "FINT13" |
      | FRDV01 | CR    | the order is rejected for motif "FRDV01" |
      | FRDV02 | CR    | the order is rejected for motif "FRDV02" |
      | FRDV03 | CR    | the order is rejected for motif "FRDV03" |
      | FRDV04 | CR    | the order is rejected for motif "FRDV04" |
      | FRDV05 | CR    | the order is rejected for motif "FRDV05" |
      | FRDV06 | CR    | the order is rejected for motif "FRDV06" |
