Feature: PM orders, as the OC lives them (Cmd_Info_Pm, AR_Cmd_Pm, CR_MAD_Pm, AR MAD)
  The OC orders the information of a PM (Cmd_Info_Pm) over FTP or by mail; the operator acknowledges it
  (AR_Cmd_Pm OK, or KO with its motif) and a working day later makes the PM available (CR_MAD_Pm: one line per
  deployed address behind it). The OC answers every CR_MAD_Pm with an AR MAD, on the same channel. A second
  order of the same PM gets a CR_MAD_Pm MAJ with the DatePremiereMADPM of the first.

  Background:
    Given the OC is a PM client of the operator
    And an open PM with deployed addresses

  Scenario Outline: a PM ordered over <channel> is made available and the OC acknowledges it with an AR MAD
    When the OC orders the PM over <channel>
    And the OC reads its PM flows
    Then the OC knows the PM order is acknowledged
    When 1 working day passes for the PM
    And the OC reads its PM flows
    Then the OC knows the PM order is available with every address of its CR_MAD_Pm, nature "INITIAL"
    And the operator received an AR MAD for the PM order over <channel>

    Examples:
      | channel |
      | ftp     |
      | mail    |

  Scenario Outline: a second order of the same PM over <channel> gets a CR_MAD_Pm MAJ with the first MAD date
    Given the OC has ordered the PM over <channel> and read its CR_MAD_Pm
    When the OC orders the PM again over <channel>
    And 1 working day passes for the PM
    And the OC reads its PM flows
    Then the OC knows the PM order is available with every address of its CR_MAD_Pm, nature "MAJ"
    And the OC gives the same first MAD date for both orders
    And the operator received an AR MAD for the PM order over <channel>

    Examples:
      | channel |
      | ftp     |
      | mail    |

  # Every PM of the sandbox's network is open by its 2026 clock: a PM the network does not have stands for a
  # PM that cannot be ordered (the AR KO path is the same; "PM NON OUVERT" is tests/test_pm_not_open.py's).
  Scenario Outline: a PM the operator does not know, ordered over <channel>, is refused with its motif
    When the OC orders a PM the operator does not know over <channel>
    And the OC reads its PM flows
    Then the OC knows the PM order is rejected for motif "unknown_pm"

    Examples:
      | channel |
      | ftp     |
      | mail    |
