"""The whole life of an order against `opsim up`, from a plain FTP client (ftplib) and plain HTTP only."""

from __future__ import annotations

import csv
import ftplib
import io
import json
import urllib.request

from tests.helpers import OpsimProcess, download, ftp_login, upload, wait_for_files

IN, OUT = "IN/COVA/CV", "OUT/COVA/CV"


def csv_file(header: list[str], row: dict[str, str]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows([header, [row.get(h, "") for h in header]])
    return out.getvalue().encode("iso-8859-1")


def fetch(ftp: ftplib.FTP, flow_code: str) -> dict[str, str]:
    """Wait for the next file of a flow, read its only line, delete it (the OC empties OUT)."""
    for _ in range(3):
        names = [n for n in wait_for_files(ftp, OUT, timeout=5) if f"_{flow_code}_V12_" in n]
        if names:
            content = download(ftp, f"{OUT}/{names[0]}").decode("iso-8859-1")
            ftp.delete(f"{OUT}/{names[0]}")
            rows = list(csv.DictReader(io.StringIO(content), delimiter=";"))
            assert len(rows) == 1, content
            return rows[0]
    raise AssertionError(f"no {flow_code} file in {OUT}: {ftp.nlst(OUT)}")


def advance(opsim_process: OpsimProcess, days: int) -> None:
    body = json.dumps({"working_days": days}).encode()
    req = urllib.request.Request(f"{opsim_process.api.base}/clock/advance", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).close()


def test_stoc_order_from_cmd_to_cr_mes_with_ftplib(opsim_process: OpsimProcess):
    address = opsim_process.api.get("/addresses?network=COVA&limit=1")[0]
    cmd_header = """
        ReferenceCommandePriseInterneOC CommuneImmeuble CodePostalImmeuble CodeInseeImmeuble
        CodeVoieRivoliImmeuble NumeroVoieImmeuble ComplementNumeroVoieImmeuble TypeVoieImmeuble
        LibelleVoieImmeuble CodeAdresseImmeuble Batiment Escalier Etage TypeRacco DateInstall
        NomClient PrenomClient ContactClient1 ContactClient2 IdRdv ReferencePrestationPm
        ReferencePm ReferencePrise PriseExistante TypeCommandeDemande DateCommandePrise
        CommentaireCmdAcces
    """.split()
    cmd_header += [f"InfoCmdAcces{i}" for i in range(1, 9)]
    order = {"ReferenceCommandePriseInterneOC": "E2E-1", "CommuneImmeuble": address["CommuneImmeuble"],
             "CodePostalImmeuble": address["CodePostalImmeuble"], "CodeInseeImmeuble": address["CodeInseeImmeuble"],
             "CodeAdresseImmeuble": address["CodeAdresseImmeuble"], "Batiment": address["BatimentImmeuble"],
             # FADR03/FADR04: a building with several staircases or floors needs them
             "Escalier": address["Escaliers"][0], "Etage": address["Etages"][-1],
             "TypeRacco": "STOC", "NomClient": "MARTIN", "ReferencePm": address["ReferencePM"],
             "PriseExistante": "N", "TypeCommandeDemande": "AUTO", "DateCommandePrise": "20261124"}
    ftp = ftp_login(("127.0.0.1", opsim_process.ftp_port))
    upload(ftp, IN, "COVA_DEMO_CMD_ACCES_V12_20261124_1.csv", csv_file(cmd_header, order))

    ar = fetch(ftp, "ARCMD_ACCES")
    assert (ar["ReferenceCommandePriseInterneOC"], ar["EtatArCommandePrise"]) == ("E2E-1", "OK")
    assert wait_for_files(ftp, OUT, timeout=0.3) == []  # the CR waits for its working day

    advance(opsim_process, 1)
    cr = fetch(ftp, "CrCMD_ACCES")
    assert cr["EtatCrCommandePrise"] == "OK" and cr["DateCrCommandePrise"] == "20261125100000"
    assert cr["OC1"] == "DEMO" and cr["NomModulePm1"] and cr["ConnecteurPriseNumero1"] and cr["ReferencePrise"]
    stoc = fetch(ftp, "CMDSTOC")
    assert stoc["ReferencePrise"] == cr["ReferencePrise"] and stoc["ReferenceCommandeSousTraitantOI"]

    cr_stoc_header = """
        ReferenceCommandePriseInterneOC ReferencePrestationPrise ReferenceCommandeSousTraitantOI
        CrRaccordementPrise MotifKoCrRaccordementPrise ReferencePrise DateRaccordementPrise
        PrisePosee BilanOptique Commentaire NotificationReprovisioningHL NumeroDecharge
    """.split()
    upload(ftp, IN, "COVA_DEMO_CrSTOC_V12_20261125_1.csv", csv_file(cr_stoc_header, {
        "ReferenceCommandePriseInterneOC": "E2E-1", "ReferencePrestationPrise": ar["ReferencePrestationPrise"],
        "ReferenceCommandeSousTraitantOI": stoc["ReferenceCommandeSousTraitantOI"], "CrRaccordementPrise": "OK",
        "ReferencePrise": cr["ReferencePrise"], "DateRaccordementPrise": "20261125140000", "PrisePosee": "OUI",
        "NotificationReprovisioningHL": "NON"}))
    mad = fetch(ftp, "CrMADL")
    assert (mad["EtatCrMadPrise"], mad["DateMadPrise"], mad["ReferencePrise"]) == ("OK", "20261125",
                                                                                   cr["ReferencePrise"])

    mes_header = """
        ReferenceCommandePriseInterneOC ReferencePrestationPrise ReferencePrise EtatMesPrise
        DateMesPrise Commentaire
    """.split()
    upload(ftp, IN, "COVA_DEMO_CrMESL_V12_20261125_1.csv", csv_file(mes_header, {
        "ReferenceCommandePriseInterneOC": "E2E-1", "ReferencePrestationPrise": ar["ReferencePrestationPrise"],
        "ReferencePrise": cr["ReferencePrise"], "EtatMesPrise": "OK", "DateMesPrise": "20261125"}))
    for _ in range(100):
        if opsim_process.api.get("/orders/E2E-1?tenant=DEMO")["state"] == "MES":
            break
    order_state = opsim_process.api.get("/orders/E2E-1?tenant=DEMO")
    assert order_state["state"] == "MES"
    assert [h["step"] for h in order_state["history"]] == ["AR OK", "CR OK", "Cmd STOC", "CR STOC OK", "CR MAD OK",
                                                           "CR MES OK"]
    ftp.close()
