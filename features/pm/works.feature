Feature: Works at the PM, as the OC lives them (Notif_Interv_Prev, Notif_Adduction)
  The OC announces its works at a PM at least 2 working days ahead (Notif_Interv_Prev); the operator answers
  with the building's manager and access information (CR_InfoSyndic), or KO when the notice is too short. After
  the works the OC reports them within 15 working days (Notif_Adduction) with the photo and the technical sheet
  (beside the file over FTP, attached to the mail); the operator answers CR_NotifAdduction, KO when late or
  when a document is missing. Where a scenario makes the OC break a rule on purpose, the check of that rule
  must see it (and it is then no finding against the OC).

  Background:
    Given the OC is a PM client of the operator
    And an open PM with deployed addresses

  Scenario Outline: works announced 2 working days ahead over <channel> get the building's information
    Given the OC has ordered the PM over <channel> and read its CR_MAD_Pm
    When the OC announces works at the PM 2 working days ahead over <channel>
    And the OC reads its PM flows
    Then the OC knows the works notice is accepted
    And the OC knows the building's information

    Examples:
      | channel |
      | ftp     |
      | mail    |

  Scenario Outline: works announced 1 working day ahead over <channel> are refused
    Given the OC has ordered the PM over <channel> and read its CR_MAD_Pm
    When the OC announces works at the PM 1 working day ahead over <channel>
    And the OC reads its PM flows
    Then the OC knows the works notice is refused for motif "short_notice"
    And the check PM-NOTICE reports it

    Examples:
      | channel |
      | ftp     |
      | mail    |

  Scenario Outline: works reported in time over <channel> with both documents are accepted
    Given the OC has ordered the PM over <channel> and read its CR_MAD_Pm
    When the OC reports works done today with the photo and the technical sheet over <channel>
    And the OC reads its PM flows
    Then the OC knows the works report is accepted

    Examples:
      | channel |
      | ftp     |
      | mail    |

  Scenario Outline: works reported over <channel> 16 working days after they were done are refused
    Given the OC has ordered the PM over <channel> and read its CR_MAD_Pm
    When the OC reports works done 16 working days ago with the photo and the technical sheet over <channel>
    And the OC reads its PM flows
    Then the OC knows the works report is refused for motif "late"
    And the check PM-WORKS-LATE reports it

    Examples:
      | channel |
      | ftp     |
      | mail    |

  Scenario Outline: works reported over <channel> without the photo are refused
    Given the OC has ordered the PM over <channel> and read its CR_MAD_Pm
    When the OC reports works done today without the photo over <channel>
    And the OC reads its PM flows
    Then the OC knows the works report is refused for motif "photo_missing"
    And the check PM-WORKS-DOCUMENTS reports it

    Examples:
      | channel |
      | ftp     |
      | mail    |
