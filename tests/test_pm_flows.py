"""Protocole PM 2.2 per-PM flows over real FTP (ftplib) against a started sandbox, the clock moved through the
admin API: Cmd_Info_Pm -> AR Cmd PM -> CR_MAD_Pm -> AR MAD; Notif_Interv_Prev -> CR_InfoSyndic;
Notif_Adduction (+ photo and technical sheet beside it) -> CR_NotifAdduction. Each test has a tenant of its
own, so the PM folder holds only its files (and the operator's broadcasts, which are told apart by name)."""

from __future__ import annotations

import ftplib
import secrets
from datetime import datetime

import pytest

from conformance.waiting import poll_until, wait_until
from simulator.config import Config
from simulator.refdata.model import Pm
from simulator.specs.codec import load_pack
from tests.helpers import Api, download, ftp_login, upload

SIZE = 300
PACK = load_pack("pm-2.2")
IN = "IN/COVA/CV/PM"
OUT = "OUT/COVA/CV/PM"
TODAY = "20261124"  # the sandbox's clock starts on Tuesday 2026-11-24 10:00


@pytest.fixture
def opsim_config(opsim_config: Config) -> Config:
    opsim_config.operators["covage"] = opsim_config.operators["covage"].with_overrides({"network_size": SIZE})
    return opsim_config


@pytest.fixture
def tenant(api: Api) -> str:
    code = "PM" + secrets.token_hex(3).upper()
    api.post("/tenants", {"code": code, "password": "pw"})
    return code


@pytest.fixture
def ftp(opsim_sandbox, tenant: str):
    client = ftp_login(opsim_sandbox.ftp_address, tenant, "pw")
    yield client
    client.quit()


@pytest.fixture
def pm(opsim_sandbox) -> Pm:
    """An open PM of network COVA with deployed addresses behind it."""
    network = opsim_sandbox.operators["covage"].capabilities["pm"].networks["COVA"]
    for candidate in network.iter_pms():
        if network.deployed_behind(candidate.reference):
            return candidate
    raise AssertionError("no PM with a deployed address")


def name(tenant: str, flow: str, pm: str, seq: int = 1, date: str = TODAY) -> str:
    f = PACK.flow(flow)
    return PACK.render_filename(f, "COVA", tenant, date, seq, pm=pm)


def send(ftp: ftplib.FTP, tenant: str, flow: str, pm: str, records: list[dict[str, str]], seq: int = 1,
         date: str = TODAY) -> str:
    filename = name(tenant, flow, pm, seq, date)
    upload(ftp, IN, filename, PACK.flow(flow).write(records))
    return filename


def receive(ftp: ftplib.FTP, flow: str, count: int = 1, timeout: float = 5) -> list[tuple[str, list[dict]]]:
    """The files of `flow` in OUT (waiting for `count` of them), each with its parsed lines; read, then deleted."""
    code = f"_{PACK.flow(flow).code}_"
    def listed() -> list[str]:
        return sorted(n.rsplit("/", 1)[-1] for n in ftp.nlst(OUT) if code in n and n.endswith(".csv"))

    def enough() -> list[str] | None:
        found = listed()
        return found if len(found) >= count else None

    names = poll_until(enough, timeout, 0.02) or listed()
    files = []
    for n in names:
        parsed = PACK.flow(flow).parse(download(ftp, f"{OUT}/{n}"))
        assert parsed.warnings == []
        files.append((n, [r.values for r in parsed.records]))
        ftp.delete(f"{OUT}/{n}")
    return files


def cmd(ref: str, pm: str, **overrides: str) -> dict[str, str]:
    return {"ReferenceCommandePMInterneOC": ref, "ReferencePM": pm, "TypeCommandePM": "UNIT",
            "ChoixTechniqueOC": "P", "DateCommandePM": TODAY, "ReferenceContrat": "CTR-1", "Commentaire": "",
            **overrides}


def journal(api: Api, tenant: str) -> list[dict]:
    return api.get(f"/journal?tenant={tenant}&limit=500")


def order_and_mad(api: Api, opsim_sandbox, ftp: ftplib.FTP, tenant: str, pm: Pm, ref: str = "CPM1",
                  seq: int = 1) -> list[dict]:
    send(ftp, tenant, "Cmd_Info_Pm", pm.reference, [cmd(ref, pm.reference)], seq=seq)
    [(_, [ar])] = receive(ftp, "AR_Cmd_Pm")
    assert ar["EtatArCommandePM"] == "OK", ar
    api.post("/clock/advance", {"working_days": 1})
    [(_, lines)] = receive(ftp, "CR_MAD_Pm")
    return lines


# -- Cmd_Info_Pm -> AR Cmd PM -> CR_MAD_Pm -> AR MAD ----------------------------------------------------------


def test_order_gets_ar_at_once_then_cr_mad_on_the_clock_listing_every_deployed_address(
        opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str, pm: Pm) -> None:
    send(ftp, tenant, "Cmd_Info_Pm", pm.reference, [cmd("CPM1", pm.reference)])
    [(ar_name, [ar])] = receive(ftp, "AR_Cmd_Pm")
    assert ar_name == f"COVAGE_ZMD_COVA_{tenant}_PM_{pm.reference}_ARCMD_V22_{TODAY}_000001.csv"
    assert ar == {"ReferenceCommandePMInterneOC": "CPM1", "ReferencePM": pm.reference, "EtatArCommandePM": "OK",
                  "MotifKoArCommandePM": "", "DateArCommandePM": TODAY}
    opsim_sandbox.engine.idle()
    assert receive(ftp, "CR_MAD_Pm", timeout=0.2) == []  # not before the cr_mad_pm timing (1 working day)
    api.post("/clock/advance", {"working_days": 1})
    [(cr_name, lines)] = receive(ftp, "CR_MAD_Pm")
    assert cr_name == f"COVAGE_ZMD_COVA_{tenant}_PM_{pm.reference}_CRMAD_V22_20261125_000001.csv"
    network = opsim_sandbox.operators["covage"].capabilities["pm"].networks["COVA"]
    deployed = network.deployed_behind(pm.reference)
    assert [line["IdentifiantImmeuble"] for line in lines] == [a.identifiant_immeuble for a in deployed]
    assert all(a.deployed and a.pm == pm.reference for a in deployed)
    assert {line["CodeAdresseImmeuble"] for line in lines} == {a.hexacle for a in deployed}
    first = lines[0]
    assert first["NatureCR"] == "INITIAL" and first["DatePremiereMADPM"] == "20261125"
    assert first["ReferencePrestationPM"] == pm.reference_prestation and first["EtatCrCommandePM"] == "OK"
    assert first["ReferenceCommandePMInterneOC"] == "CPM1" and first["OC"] == tenant
    assert [line["NombreLogementsMADPM"] for line in lines] == [str(a.nb_logements) for a in deployed]
    assert list(lines[0]) == PACK.flow("CR_MAD_Pm").column_names


def test_later_cr_is_maj_and_keeps_the_first_mad_date(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str,
                                                      pm: Pm) -> None:
    first = order_and_mad(api, opsim_sandbox, ftp, tenant, pm, "CPM1")
    assert {line["NatureCR"] for line in first} == {"INITIAL"}
    api.post("/clock/advance", {"working_days": 3})  # Monday 2026-11-30 (an IPE comes too: told apart by name)
    opsim_sandbox.engine.idle()
    # Monday's network evolution step may deploy a building behind the PM: CPM1's CR again, as a MAJ
    # (tests/test_network_evolution.py); it is not the CR of the order below.
    for _, lines in receive(ftp, "CR_MAD_Pm", count=0, timeout=0):
        assert {(line["ReferenceCommandePMInterneOC"], line["NatureCR"]) for line in lines} == {("CPM1", "MAJ")}
    second = order_and_mad(api, opsim_sandbox, ftp, tenant, pm, "CPM2", seq=2)
    assert {line["NatureCR"] for line in second} == {"MAJ"}
    assert {line["DatePremiereMADPM"] for line in second} == {"20261125"}  # fixed once set
    assert {line["DateCrCommandePM"] for line in second} == {"20261201"}
    assert {line["ReferenceCommandePMInterneOC"] for line in second} == {"CPM2"}
    # Every PM of the network opened before the sandbox first started: no CPN over these days (the IPE tells).
    assert receive(ftp, "CPN", timeout=0) == []


@pytest.mark.parametrize("make, motif", [
    (lambda pm: cmd("K1", "PMCV9999"), "PM INCONNU"),
    (lambda pm: cmd("K2", pm.reference, TypeCommandePM="LOUE"), "CHAMP INVALIDE"),
    (lambda pm: cmd("K3", pm.reference, DateCommandePM="20261331"), "CHAMP INVALIDE"),
    (lambda pm: cmd("", pm.reference), "CHAMP INVALIDE"),
])
def test_order_ko_with_its_reason(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str, pm: Pm, make,
                                  motif: str) -> None:
    record = make(pm)
    send(ftp, tenant, "Cmd_Info_Pm", record["ReferencePM"], [record])
    [(_, [ar])] = receive(ftp, "AR_Cmd_Pm")
    assert ar["EtatArCommandePM"] == "KO" and ar["MotifKoArCommandePM"].startswith(motif + ": "), ar
    api.post("/clock/advance", {"working_days": 2})
    assert receive(ftp, "CR_MAD_Pm", timeout=0.3) == []  # no CR after a KO


def test_reused_reference_is_refused(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str, pm: Pm) -> None:
    send(ftp, tenant, "Cmd_Info_Pm", pm.reference, [cmd("SAME", pm.reference), cmd("SAME", pm.reference)])
    [(_, [ok, ko])] = receive(ftp, "AR_Cmd_Pm")
    assert ok["EtatArCommandePM"] == "OK"
    assert ko["EtatArCommandePM"] == "KO" and "REFERENCE DEJA UTILISEE" in ko["MotifKoArCommandePM"]
    send(ftp, tenant, "Cmd_Info_Pm", pm.reference, [cmd("SAME", pm.reference)], seq=2)
    [(_, [again])] = receive(ftp, "AR_Cmd_Pm")
    assert again["EtatArCommandePM"] == "KO" and "SAME was already used" in again["MotifKoArCommandePM"]


def test_a_line_for_another_pm_than_the_file_name_is_refused(opsim_sandbox, ftp: ftplib.FTP, tenant: str,
                                                             pm: Pm) -> None:
    send(ftp, tenant, "Cmd_Info_Pm", "PMCV0999", [cmd("X1", pm.reference)])
    [(answer_name, [ar])] = receive(ftp, "AR_Cmd_Pm")
    assert "_PM_PMCV0999_ARCMD_" in answer_name
    assert ar["EtatArCommandePM"] == "KO" and "not the PM of the file name" in ar["MotifKoArCommandePM"]


def test_unreadable_file_gets_one_ko_line(opsim_sandbox, ftp: ftplib.FTP, tenant: str, pm: Pm) -> None:
    filename = name(tenant, "Cmd_Info_Pm", pm.reference)
    upload(ftp, IN, filename, b"NotTheHeader;Nope\r\nA;B\r\nC;D\r\n")
    [(_, [ar])] = receive(ftp, "AR_Cmd_Pm")
    assert ar["EtatArCommandePM"] == "KO" and ar["MotifKoArCommandePM"].startswith("FIMP16 " + filename), ar


def ar_mad(ref: str, pm: Pm, state: str = "OK", **overrides: str) -> dict[str, str]:
    return {"ReferenceCommandePMInterneOC": ref, "ReferencePM": pm.reference,
            "ReferencePrestationPM": pm.reference_prestation, "EtatArMAD": state, "MotifKoArMAD": "",
            "DateArMAD": "20261125", **overrides}


def test_ar_mad_in_time_raises_no_finding(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str, pm: Pm) -> None:
    order_and_mad(api, opsim_sandbox, ftp, tenant, pm)
    send(ftp, tenant, "AR_MAD", pm.reference, [ar_mad("CPM1", pm)])
    opsim_sandbox.engine.idle()
    api.post("/clock/advance", {"working_days": 3})
    opsim_sandbox.engine.idle()
    lines = journal(api, tenant)
    assert [j for j in lines if j["flow"] == "AR_MAD" and j["outcome"] == "1 lines: 1 OK, 0 KO"]
    assert not [j for j in lines if j["flow"] == "AR_MAD" and j["outcome"] in ("missing", "line rejected")]
    assert receive(ftp, "AR_Cmd_Pm", timeout=0.2) == []  # AR MAD has no answer flow


def test_no_ar_mad_is_a_finding(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str, pm: Pm) -> None:
    order_and_mad(api, opsim_sandbox, ftp, tenant, pm)
    api.post("/clock/advance", {"working_days": 1})
    opsim_sandbox.engine.idle()
    assert not [j for j in journal(api, tenant) if j["outcome"] == "missing"]
    api.post("/clock/advance", {"working_days": 1})
    opsim_sandbox.engine.idle()
    [missing] = [j for j in journal(api, tenant) if j["flow"] == "AR_MAD" and j["outcome"] == "missing"]
    assert "CPM1" in missing["detail"] and pm.reference in missing["detail"]


@pytest.mark.parametrize("record, says", [
    (lambda pm: ar_mad("NOPE", pm), "no CR_MAD_Pm was sent for ReferenceCommandePMInterneOC NOPE"),
    (lambda pm: ar_mad("CPM1", pm, ReferencePrestationPM="PRPMXX0001"), "ReferencePrestationPM PRPMXX0001"),
    (lambda pm: ar_mad("CPM1", pm, EtatArMAD="PEUTETRE"), "EtatArMAD"),
    (lambda pm: ar_mad("CPM1", pm, "KO", MotifKoArMAD="ADRESSES MANQUANTES"), "ADRESSES MANQUANTES"),
])
def test_wrong_ar_mad_is_a_finding(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str, pm: Pm, record,
                                   says: str) -> None:
    order_and_mad(api, opsim_sandbox, ftp, tenant, pm)
    filename = send(ftp, tenant, "AR_MAD", pm.reference, [record(pm)])
    opsim_sandbox.engine.idle()
    found = [j for j in journal(api, tenant) if j["flow"] == "AR_MAD" and j["filename"] == filename
             and j["outcome"] in ("line rejected", "AR MAD KO")]
    assert len(found) == 1 and says in found[0]["detail"], found
    assert receive(ftp, "AR_Cmd_Pm", timeout=0.2) == []  # never answered with another flow's file


def test_unreadable_ar_mad_is_a_finding_not_a_file(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str,
                                                   pm: Pm) -> None:
    filename = name(tenant, "AR_MAD", pm.reference)
    upload(ftp, IN, filename, b"Bad;Header\r\n1;2\r\n")
    opsim_sandbox.engine.idle()
    assert [j for j in journal(api, tenant) if j["filename"] == filename and j["outcome"] == "file rejected"]
    assert receive(ftp, "AR_Cmd_Pm", timeout=0.2) == []


# -- Notif_Interv_Prev -> CR_InfoSyndic ---------------------------------------------------------------------


def notice(ref: str, pm: Pm, day: str, **overrides: str) -> dict[str, str]:
    return {"ReferencePM": pm.reference, "ReferencePrestationPM": pm.reference_prestation,
            "DatePrevisionnelleAdduction": day, "ReferenceNotifInterneOC": ref,
            "ContactIntervention": "J. DUPONT 0600000000", "Commentaire": "", **overrides}


def test_notice_of_two_working_days_is_accepted_and_one_is_refused(opsim_sandbox, api: Api, ftp: ftplib.FTP,
                                                                   tenant: str, pm: Pm) -> None:
    order_and_mad(api, opsim_sandbox, ftp, tenant, pm)  # now Wednesday 2026-11-25
    # Friday 27 is 2 working days ahead: enough; Thursday 26 is 1: too short. Monday 30 over a week-end: enough.
    send(ftp, tenant, "Notif_Interv_Prev", pm.reference,
         [notice("N1", pm, "20261127"), notice("N2", pm, "20261126"), notice("N3", pm, "20261130")],
         date="20261125")
    [(cr_name, [n1, n2, n3])] = receive(ftp, "CR_InfoSyndic")
    assert cr_name == f"COVAGE_ZMD_COVA_{tenant}_PM_{pm.reference}_INFOSY_V22_20261125_000001.csv"
    assert n1["EtatCrInfoSyndic"] == "OK" and n1["ReferenceNotifInterneOC"] == "N1"
    assert n1["GestionnaireImmeuble"] and n1["CodeAccesImmeuble"].isdigit() and n1["PMAccessible"] == "O"
    assert n1["DateCrInfoSyndic"] == "20261125" and n1["DatePrevisionnelleAdduction"] == "20261127"
    assert n2["EtatCrInfoSyndic"] == "KO" and n2["MotifKoCrInfoSyndic"] == "DELAI DE PREVENANCE INSUFFISANT"
    assert "less than 2 working days" in n2["Commentaire"] and "20261127 at the earliest" in n2["Commentaire"]
    assert n2["GestionnaireImmeuble"] == ""
    assert n3["EtatCrInfoSyndic"] == "OK"


def test_notice_without_a_mad_or_with_a_wrong_prestation_is_refused(opsim_sandbox, api: Api, ftp: ftplib.FTP,
                                                                    tenant: str, pm: Pm) -> None:
    send(ftp, tenant, "Notif_Interv_Prev", pm.reference, [notice("N1", pm, "20261210")])
    [(_, [before])] = receive(ftp, "CR_InfoSyndic")
    assert before["EtatCrInfoSyndic"] == "KO" and before["MotifKoCrInfoSyndic"] == "REFERENCE PRESTATION INCONNUE"
    assert "order it first" in before["Commentaire"]
    order_and_mad(api, opsim_sandbox, ftp, tenant, pm)
    send(ftp, tenant, "Notif_Interv_Prev", pm.reference,
         [notice("N2", pm, "20261210", ReferencePrestationPM="PRPMZZ0001"), notice("N3", pm, "2026-12-10")],
         seq=2, date="20261125")
    [(_, [wrong, bad])] = receive(ftp, "CR_InfoSyndic")
    assert wrong["MotifKoCrInfoSyndic"] == "REFERENCE PRESTATION INCONNUE"
    assert bad["MotifKoCrInfoSyndic"] == "CHAMP INVALIDE" and "DatePrevisionnelleAdduction" in bad["Commentaire"]


# -- Notif_Adduction (+ photo and sheet) -> CR_NotifAdduction -------------------------------------------------


def adduction(pm: Pm, day: str, photo: str = "photo1.jpg", sheet: str = "fiche1.pdf") -> dict[str, str]:
    return {"ReferencePM": pm.reference, "ReferencePrestationPM": pm.reference_prestation, "DateAdduction": day,
            "EtatAdduction": "OK", "NomFichierPhoto": photo, "NomFichierFicheTechnique": sheet,
            "ResultatMesures": "0.35 DB", "Commentaire": ""}


def test_adduction_with_both_documents_in_time_is_ok(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str,
                                                     pm: Pm) -> None:
    order_and_mad(api, opsim_sandbox, ftp, tenant, pm)
    upload(ftp, IN, "photo1.jpg", b"\xff\xd8\xff\xe0 a photo")
    upload(ftp, IN, "fiche1.pdf", b"%PDF-1.4 a sheet")
    send(ftp, tenant, "Notif_Adduction", pm.reference, [adduction(pm, "20261125")], date="20261125")
    [(cr_name, [cr])] = receive(ftp, "CR_NotifAdduction")
    assert cr_name == f"COVAGE_ZMD_COVA_{tenant}_PM_{pm.reference}_CrADDU_V22_20261125_000001.csv"
    assert cr == {"ReferencePM": pm.reference, "ReferencePrestationPM": pm.reference_prestation,
                  "DateAdduction": "20261125", "EtatCrNotifAdduction": "OK", "MotifKoCrNotifAdduction": "",
                  "DateCrNotifAdduction": "20261125", "Commentaire": ""}


def test_missing_photo_or_sheet_is_refused(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str, pm: Pm) -> None:
    order_and_mad(api, opsim_sandbox, ftp, tenant, pm)
    upload(ftp, IN, "fiche2.pdf", b"%PDF-1.4 a sheet")
    upload(ftp, IN, "photo3.png", b"\x89PNG a photo")
    send(ftp, tenant, "Notif_Adduction", pm.reference, [
        adduction(pm, "20261125", photo="photo2.jpg", sheet="fiche2.pdf"),  # photo never uploaded
        adduction(pm, "20261125", photo="photo3.png", sheet=""),  # no sheet named
        adduction(pm, "20261125", photo="fiche2.pdf.txt", sheet="fiche2.pdf"),  # not a photo
    ], date="20261125")
    [(_, [no_photo, no_sheet, not_photo])] = receive(ftp, "CR_NotifAdduction")
    assert no_photo["EtatCrNotifAdduction"] == "KO" and no_photo["MotifKoCrNotifAdduction"] == "PHOTO MANQUANTE"
    assert "photo2.jpg" in no_photo["Commentaire"] and "not found beside the file" in no_photo["Commentaire"]
    assert no_sheet["MotifKoCrNotifAdduction"] == "FICHE TECHNIQUE MANQUANTE"
    assert "NomFichierFicheTechnique is empty" in no_sheet["Commentaire"]
    assert not_photo["MotifKoCrNotifAdduction"] == "PHOTO MANQUANTE" and "not a photo" in not_photo["Commentaire"]


def test_adduction_later_than_15_working_days_is_refused(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str,
                                                         pm: Pm) -> None:
    order_and_mad(api, opsim_sandbox, ftp, tenant, pm)  # Wednesday 2026-11-25
    upload(ftp, IN, "p.jpg", b"photo")
    upload(ftp, IN, "f.pdf", b"sheet")
    # Works on Tuesday 2026-11-03: 15 working days later (11 November is a holiday) is Wednesday 25: in time.
    # Works on Monday 2026-11-02: the limit was Tuesday 24: late by one day.
    send(ftp, tenant, "Notif_Adduction", pm.reference,
         [adduction(pm, "20261103", "p.jpg", "f.pdf"), adduction(pm, "20261102", "p.jpg", "f.pdf")],
         date="20261125")
    [(_, [in_time, late])] = receive(ftp, "CR_NotifAdduction")
    assert in_time["EtatCrNotifAdduction"] == "OK", in_time
    assert late["EtatCrNotifAdduction"] == "KO" and late["MotifKoCrNotifAdduction"] == "NOTIFICATION HORS DELAI"
    assert "more than 15 working days" in late["Commentaire"] and "by 20261124" in late["Commentaire"]


def test_late_and_missing_photo_gives_every_reason(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str,
                                                   pm: Pm) -> None:
    order_and_mad(api, opsim_sandbox, ftp, tenant, pm)
    upload(ftp, IN, "f.pdf", b"sheet")
    send(ftp, tenant, "Notif_Adduction", pm.reference, [adduction(pm, "20261001", "none.jpg", "f.pdf")],
         date="20261125")
    [(_, [cr])] = receive(ftp, "CR_NotifAdduction")
    assert cr["MotifKoCrNotifAdduction"] == "NOTIFICATION HORS DELAI"
    assert "more than 15 working days" in cr["Commentaire"] and "none.jpg" in cr["Commentaire"]


def test_a_pm_flow_sent_as_the_oi_or_in_the_acces_folder_is_refused(opsim_sandbox, api: Api, ftp: ftplib.FTP,
                                                                    tenant: str, pm: Pm) -> None:
    # A CR_MAD_Pm is the OI's flow: dropping one is answered in AR Cmd PM, KO.
    send(ftp, tenant, "CR_MAD_Pm", pm.reference, [{"ReferencePM": pm.reference}])
    [(_, [ar])] = receive(ftp, "AR_Cmd_Pm")
    assert ar["EtatArCommandePM"] == "KO" and "from the OI to the OC" in ar["MotifKoArCommandePM"]
    # A Cmd_Info_Pm in the Accès folder: the Accès desk cannot name it, the PM desk refuses it in its own flow.
    filename = name(tenant, "Cmd_Info_Pm", pm.reference, seq=2)
    upload(ftp, "IN/COVA/CV", filename, PACK.flow("Cmd_Info_Pm").write([cmd("WRONGDIR", pm.reference)]))
    [(_, [wrong])] = receive(ftp, "AR_Cmd_Pm")
    assert wrong["EtatArCommandePM"] == "KO" and "dropped in the pm folder" in wrong["MotifKoArCommandePM"]
    # An Accès order in the PM folder: refused by the Accès desk, in AR_Cmd_Acces in the Accès folder.
    access = load_pack("acces-1.2")
    order = access.render_filename(access.flow("Cmd_Acces"), "COVA", tenant, TODAY, 1)
    upload(ftp, IN, order, access.flow("Cmd_Acces").write([{"ReferenceCommandePriseInterneOC": "X"}]))
    [answer] = wait_until(lambda: [n for n in ftp.nlst("OUT/COVA/CV") if "ARCMD_ACCES" in n], 5, "the AR in OUT",
                          0.02)
    ko = access.flow("AR_Cmd_Acces").parse(download(ftp, "OUT/COVA/CV/" + answer.rsplit("/", 1)[-1])).records[0]
    assert ko["EtatArCommandePrise"] == "KO" and "dropped in the acces folder" in ko["Commentaire"]


def test_cr_mad_answers_the_day_it_is_due(opsim_sandbox, api: Api, ftp: ftplib.FTP, tenant: str, pm: Pm) -> None:
    """The virtual clock gives the CR its date: a jump of several days still dates it on its due day."""
    send(ftp, tenant, "Cmd_Info_Pm", pm.reference, [cmd("JUMP", pm.reference)])
    receive(ftp, "AR_Cmd_Pm")
    api.post("/clock/advance", {"hours": 24 * 3})
    [(cr_name, lines)] = receive(ftp, "CR_MAD_Pm")
    assert "_CRMAD_V22_20261125_" in cr_name and {line["DatePremiereMADPM"] for line in lines} == {"20261125"}
    assert datetime.strptime(lines[0]["DateCrCommandePM"], "%Y%m%d").date().isoformat() == "2026-11-25"
