"""OC-side records of Protocole Accès 1.2, built from plain data (an address of GET /api/addresses)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def cmd_acces(address: Mapping[str, Any], ref: str, *, type_racco: str = "STOC", existing: str | None = None,
              date: str = "20261124", **overrides: str) -> dict[str, str]:
    """A valid Cmd_Acces line for `address` (an IPE-keyed address of the admin API).

    existing: a ReferencePrise to order an existing socket (PriseExistante=O), "" for an existing socket
    whose reference the OC does not know (Hotline), None to build a new socket (PriseExistante=N).
    """
    escaliers = address.get("Escaliers") or [""]
    etages = address.get("Etages") or [""]
    record = {
        "ReferenceCommandePriseInterneOC": ref,
        "CommuneImmeuble": address["CommuneImmeuble"],
        "CodePostalImmeuble": address["CodePostalImmeuble"],
        "CodeInseeImmeuble": address["CodeInseeImmeuble"],
        "CodeVoieRivoliImmeuble": address["CodeVoieRivoliImmeuble"],
        "NumeroVoieImmeuble": address["NumeroVoieImmeuble"],
        "ComplementNumeroVoieImmeuble": address["ComplementNumeroVoieImmeuble"],
        "TypeVoieImmeuble": address["TypeVoieImmeuble"],
        "LibelleVoieImmeuble": address["NomVoieImmeuble"],
        "CodeAdresseImmeuble": address["CodeAdresseImmeuble"],
        "Batiment": address["BatimentImmeuble"],
        "Escalier": escaliers[0],
        "Etage": etages[-1],
        "TypeRacco": type_racco,
        "NomClient": "DUPONT",
        "PrenomClient": "MARIE",
        "ContactClient1": "0601020304",
        "ReferencePrestationPm": address.get("ReferencePrestationPM", ""),
        "ReferencePm": address["ReferencePM"],
        "ReferencePrise": existing or "",
        "PriseExistante": "N" if existing is None else "O",
        "TypeCommandeDemande": "AUTO",
        "DateCommandePrise": date,
    }
    if existing:
        line = next((ln for ln in address.get("Lignes", []) if ln["ReferencePrise"] == existing), None)
        if line:
            record.update(Batiment=line["Batiment"], Escalier=line["Escalier"], Etage=line["Etage"])
    record.update(overrides)
    return record


def cr_stoc(cmd_stoc: Mapping[str, str], *, ok: bool = True, motif: str = "", when: str = "20261126100000",
            **overrides: str) -> dict[str, str]:
    """The OC's CR_STOC answering a Cmd_STOC line (the OC as the OI's subcontractor)."""
    record = {
        "ReferenceCommandePriseInterneOC": cmd_stoc["ReferenceCommandePriseInterneOC"],
        "ReferencePrestationPrise": cmd_stoc["ReferencePrestationPrise"],
        "ReferenceCommandeSousTraitantOI": cmd_stoc["ReferenceCommandeSousTraitantOI"],
        "CrRaccordementPrise": "OK" if ok else "KO",
        "MotifKoCrRaccordementPrise": "" if ok else (motif or "FCLI07"),
        "ReferencePrise": cmd_stoc["ReferencePrise"],
        "DateRaccordementPrise": when,
        "PrisePosee": "OUI" if ok else "NON",
        "BilanOptique": "-18.5 dBm" if ok else "",
        "Commentaire": "",
        "NotificationReprovisioningHL": "NON",
        "NumeroDecharge": "",
    }
    record.update(overrides)
    return record


def cr_mes(cr_mad: Mapping[str, str], *, ok: bool = True, date: str = "20261127", **overrides: str) -> dict[str, str]:
    """The OC's CR MES after its box is in service."""
    record = {
        "ReferenceCommandePriseInterneOC": cr_mad["ReferenceCommandePriseInterneOC"],
        "ReferencePrestationPrise": cr_mad["ReferencePrestationPrise"],
        "ReferencePrise": cr_mad["ReferencePrise"],
        "EtatMesPrise": "OK" if ok else "KO",
        "DateMesPrise": date,
        "Commentaire": "",
    }
    record.update(overrides)
    return record


def annul_acces(ref: str, prestation: str = "", *, date: str = "20261125", by: str = "CLIENT",
                **overrides: str) -> dict[str, str]:
    record = {"ReferenceCommandePriseInterneOC": ref, "ReferencePrestationPrise": prestation,
              "DateAnnulation": date, "ResponsabiliteAnnulationCommandePrise": by, "Commentaire": ""}
    record.update(overrides)
    return record
