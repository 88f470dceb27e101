"""The Protocole PM 2.2 verbs of our own OC (docs/adapters.md "The verbs of Protocole PM 2.2"): the reference
OC mixes them in. Built on the PM client (client/pm.py), over FTP or by mail as each verb asks:

    order_pm {pm, type, choice, channel}            -> {ref}   a Cmd_Info_Pm
    announce_works {pm, date, prestation?, channel} -> {ref}   a Notif_Interv_Prev (its ReferenceNotifInterneOC)
    report_works {pm, date, photo, sheet, channel}  -> {ref}   a Notif_Adduction, the documents beside it
    pm_status {ref} / works_status {ref}                       what it understood of the answers
    ipe_summary {network?, pm | building}                      what it holds of the latest IPE it ingested
    pm_opening {network?, pm}                                  whether the PM is open: its CPN, else the IPE

`sync_pm` (called by the reference OC's `sync`) reads OUT/.../PM and the PM answer mails: the IPE, the CPN
(the PMs that open, with their PM-NRO links), AR_Cmd_Pm, CR_MAD_Pm (answered at once with an AR MAD, on the
channel of the order), CR_InfoSyndic and CR_NotifAdduction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from conformance.adapters import Context
from conformance.client.admin import SandboxAdmin
from conformance.client.ftp import FtpSession
from simulator.operators.covage.harness.client.oc import ReceivedFile
from simulator.operators.covage.harness.client.pm import MailAccount, OcPmClient
from simulator.operators.covage.harness.verbs import VerbMixin

#: Within one synchronisation the answers are handled in the protocol's order, whatever their names' order.
PM_FLOW_RANK = {flow: rank for rank, flow in enumerate((
    "IPE", "CPN", "AR_Cmd_Pm", "CR_MAD_Pm", "CR_InfoSyndic", "CR_NotifAdduction"))}
#: A stand-in for the technician's photo and technical sheet (their bytes do not matter to the protocol).
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF a photo of the works at the PM"
SHEET = b"%PDF-1.4 technical sheet of the works at the PM"


def motif_code(motif: str) -> str | None:
    """The motif of a KO without its detail: the operator writes "<motif>: <why>" (pm-2.2 pack, motifs)."""
    return motif.split(": ", 1)[0].strip() or None


@dataclass
class PmOrder:
    ref: str
    pm: str
    channel: str
    state: str = "sent"  # sent | acknowledged | rejected | available
    reject_code: str | None = None
    prestation: str | None = None
    addresses: int = 0
    nature: str | None = None
    first_mad: str | None = None
    ar_mad_sent: int = 0  # AR MADs it sent (one per CR_MAD_Pm)


@dataclass
class Works:
    """A works notice (Notif_Interv_Prev) or report (Notif_Adduction) and what the operator answered."""

    ref: str
    kind: str  # notice | report
    pm: str
    prestation: str
    day: str
    channel: str
    state: str = "sent"  # sent | accepted | refused
    reject_code: str | None = None
    comment: str = ""
    info: dict[str, str] = field(default_factory=dict)  # CR_InfoSyndic: manager, access code...


class PmVerbs(VerbMixin):
    SYNC = "sync_pm"  # the PM folder and the PM answer mails
    CLOSE = "close_pm"
    context: Context
    _pm: OcPmClient | None = None

    # ------------------------------------------------------------------ plumbing
    def _pm_client(self) -> OcPmClient:
        if self._pm is None:
            ctx = self.context
            extra = ctx.extra
            smtp = extra.get("smtp") or None
            mailbox = (extra.get("mailboxes") or {}).get("pm", "")
            mail = None
            if smtp and mailbox and extra.get("email"):
                mail = MailAccount(str(smtp["host"]), int(smtp["port"]), str(extra["email"]), str(mailbox),
                                   SandboxAdmin(str(extra["http"])), ctx.tenant)
            self._pm = self._new_pm_client(FtpSession(ctx.ftp.host, ctx.ftp.port, ctx.ftp.user, ctx.ftp.password),
                                           mail)
        return self._pm

    @property
    def pm_orders(self) -> dict[str, PmOrder]:
        return self.__dict__.setdefault("_pm_orders", {})

    @property
    def works(self) -> dict[str, Works]:
        return self.__dict__.setdefault("_works", {})

    @property
    def ipe(self) -> dict[str, ReceivedFile]:
        """network -> the latest IPE read (its bytes; its lines once parsed: see `_ipe_lines`)."""
        return self.__dict__.setdefault("_ipe", {})

    @property
    def cpn(self) -> dict[tuple[str, str], tuple[str, list[dict[str, str]]]]:
        """(network, ReferencePM) -> (the AAAAMMJJ of the CPN that announced it open, its PM-NRO links)."""
        return self.__dict__.setdefault("_cpn", {})

    def _ipe_lines(self, network: str) -> list[dict[str, str]]:
        """The lines of the latest IPE of `network`, parsed at the first question (10,000 lines: an OC that
        never asks pays only the download)."""
        file = self.ipe.get(network)
        if file is None:
            return []
        if not file.records and file.content:
            file = self.ipe[network] = self._pm_client().parse(file.name, file.content)
        return file.records

    def close_pm(self) -> None:
        if self._pm is not None:
            self._pm.session.close()

    def _next_ref(self, kind: str) -> str:
        counter = self.__dict__.get("_pm_counter", 0) + 1
        self.__dict__["_pm_counter"] = counter
        return f"{self.context.oc_code}-{kind}-{self.context.today.replace('-', '')}-{counter:04d}"

    def _prestation_of(self, pm: str) -> str:
        """The ReferencePrestationPM of a PM, as the operator's CR_MAD_Pm gave it."""
        found = [o.prestation for o in self.pm_orders.values() if o.pm == pm and o.prestation]
        if not found:
            raise RuntimeError(f"no CR_MAD_Pm of PM {pm} read yet: its ReferencePrestationPM is unknown")
        return str(found[-1])

    # ------------------------------------------------------------------ verbs
    def order_pm(self, args: Mapping[str, Any]) -> dict[str, Any]:
        pm = str(args["pm"]).upper()
        channel = str(args.get("channel") or "ftp")
        ref = self._next_ref("PM")
        self._pm_client().send("Cmd_Info_Pm", [{
            "ReferenceCommandePMInterneOC": ref, "ReferencePM": pm, "TypeCommandePM": str(args.get("type") or "UNIT"),
            "ChoixTechniqueOC": str(args.get("choice") or "P"), "DateCommandePM": self.context.today.replace("-", ""),
            "ReferenceContrat": f"CTR-{self.context.oc_code}", "Commentaire": ""}], pm=pm, channel=channel)
        self.pm_orders[ref] = PmOrder(ref, pm, channel)
        return {"ref": ref}

    def announce_works(self, args: Mapping[str, Any]) -> dict[str, Any]:
        pm = str(args["pm"]).upper()
        channel = str(args.get("channel") or "ftp")
        prestation = str(args.get("prestation") or self._prestation_of(pm))
        day = str(args["date"]).replace("-", "")
        ref = self._next_ref("NI")
        self._pm_client().send("Notif_Interv_Prev", [{
            "ReferencePM": pm, "ReferencePrestationPM": prestation, "DatePrevisionnelleAdduction": day,
            "ReferenceNotifInterneOC": ref, "ContactIntervention": str(args.get("contact") or "TECHNICIEN 0600000000"),
            "Commentaire": ""}], pm=pm, channel=channel)
        self.works[ref] = Works(ref, "notice", pm, prestation, day, channel)
        return {"ref": ref}

    def report_works(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """The technician's report: the photo and the technical sheet go with it when he gave them (`photo`,
        `sheet`); one he did not give is not named (the operator refuses the report, as it should)."""
        pm = str(args["pm"]).upper()
        channel = str(args.get("channel") or "ftp")
        prestation = str(args.get("prestation") or self._prestation_of(pm))
        day = str(args["date"]).replace("-", "")
        ref = self._next_ref("AD")
        documents = self._documents(pm, day, bool(args.get("photo", True)), bool(args.get("sheet", True)))
        names = list(documents)
        self._pm_client().send("Notif_Adduction", [{
            "ReferencePM": pm, "ReferencePrestationPM": prestation, "DateAdduction": day, "EtatAdduction": "OK",
            "NomFichierPhoto": next((n for n in names if n.startswith("PHOTO")), ""),
            "NomFichierFicheTechnique": next((n for n in names if n.startswith("FICHE")), ""),
            "ResultatMesures": "0.35 DB", "Commentaire": ""}], pm=pm, channel=channel,
            attachments=self._attached(documents))
        self.works[ref] = Works(ref, "report", pm, prestation, day, channel)
        return {"ref": ref}

    def _documents(self, pm: str, day: str, photo: bool, sheet: bool) -> dict[str, bytes]:
        stamp = f"{pm}_{day}_{self.__dict__.get('_pm_counter', 0):04d}"
        documents = {}
        if photo:
            documents[f"PHOTO_{stamp}.jpg"] = PHOTO
        if sheet:
            documents[f"FICHE_{stamp}.pdf"] = SHEET
        return documents

    def _attached(self, documents: dict[str, bytes]) -> dict[str, bytes]:
        """The documents that travel with the report: every one it names."""
        return documents

    def _new_pm_client(self, session: FtpSession, mail: MailAccount | None) -> OcPmClient:
        ctx = self.context
        return OcPmClient(session, ctx.oc_code, ctx.oi, ctx.arcep, pack=str(ctx.extra.get("pm_spec_pack") or "pm-2.2"),
                          today=lambda: date.fromisoformat(self.context.today), mail=mail,
                          folders=ctx.folders.get("pm"))

    def pm_status(self, args: Mapping[str, Any]) -> dict[str, Any]:
        order = self.pm_orders.get(str(args["ref"]))
        if order is None:
            raise KeyError(f"no PM order {args['ref']} was sent by this OC")
        return {"state": order.state, "reject_code": order.reject_code, "prestation": order.prestation,
                "addresses": order.addresses, "nature": order.nature, "first_mad": order.first_mad,
                "ar_mad_sent": order.ar_mad_sent}

    def works_status(self, args: Mapping[str, Any]) -> dict[str, Any]:
        works = self.works.get(str(args["ref"]))
        if works is None:
            raise KeyError(f"no works notice or report {args['ref']} was sent by this OC")
        return {"state": works.state, "reject_code": works.reject_code, "comment": works.comment,
                "kind": works.kind, "info": dict(works.info)}

    def ipe_summary(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """{network?, pm} -> {found, addresses, buildings, dwellings, etat (EtatPM), emplacement (TypeEmplacementPM)};
        {network?, building} -> {found, addresses, dwellings, etat (EtatImmeuble), pm}."""
        network = str(args.get("network") or self.context.oi)
        lines = self._ipe_lines(network)
        if args.get("pm"):
            mine = [x for x in lines if x["ReferencePM"] == str(args["pm"]).upper()]
            if not mine:
                return {"found": False}
            return {"found": True, "addresses": len(mine),
                    "buildings": len({x["IdentifiantImmeuble"] for x in mine}),
                    "dwellings": sum(int(x["NombreLogementsAdresseIPE"] or 0) for x in mine),
                    "etat": mine[0]["EtatPM"], "emplacement": mine[0]["TypeEmplacementPM"]}
        mine = [x for x in lines if x["IdentifiantImmeuble"] == str(args["building"])]
        if not mine:
            return {"found": False}
        return {"found": True, "addresses": len(mine),
                "dwellings": sum(int(x["NombreLogementsAdresseIPE"] or 0) for x in mine),
                "etat": mine[0]["EtatImmeuble"], "pm": mine[0]["ReferencePM"]}

    def pm_opening(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """{network?, pm} -> {open, nro (CodeNRO), links (ReferenceLienNROPM)}: the newest word on the PM's opening,
        its CPN (when as new as the latest IPE) or the latest IPE's EtatPM and DateMiseEnServiceCommercialePM."""
        network = str(args.get("network") or self.context.oi)
        pm = str(args["pm"]).upper()
        day, links = self.cpn.get((network, pm), ("", []))
        announced = {"open": True, "nro": links[0].get("CodeNRO") or None,
                     "links": sorted(x.get("ReferenceLienNROPM", "") for x in links)} if links else None
        ipe = self.ipe.get(network)
        if announced and (ipe is None or day >= self._day_of(ipe.name)):
            return announced
        mine = [x for x in self._ipe_lines(network) if x["ReferencePM"] == pm]
        if not mine:
            return announced or {"open": False, "nro": None, "links": None}
        opened = mine[0]["DateMiseEnServiceCommercialePM"]
        if mine[0]["EtatPM"] != "DEPLOYE" or not opened or opened > self.context.today.replace("-", ""):
            return {"open": False, "nro": None, "links": None}
        return announced or {"open": True, "nro": None, "links": None}

    def _day_of(self, name: str) -> str:
        return self._pm_client().flow_of(name)[1][:8]

    # ------------------------------------------------------------------ answers
    def sync_pm(self) -> None:
        files = self._pm_client().receive_all(unparsed=frozenset({"IPE"}))
        files.sort(key=lambda f: (self._pm_client().flow_of(f.name)[1][:8], PM_FLOW_RANK.get(f.flow_name or "", 99)))
        for file in files:
            self._handle_pm(file)

    def _handle_pm(self, file: ReceivedFile) -> None:
        flow = file.flow_name
        if flow == "IPE":
            self.ipe[self._network_of(file.name)] = file  # the newest IPE replaces the last
        elif flow == "CPN":
            network, day = self._network_of(file.name), self._day_of(file.name)
            by_pm: dict[str, list[dict[str, str]]] = defaultdict(list)
            for line in file.records:
                by_pm[line.get("ReferencePM", "")].append(line)
            for pm, links in by_pm.items():
                self.cpn[(network, pm)] = (day, links)
        elif flow == "AR_Cmd_Pm":
            for line in file.records:
                order = self.pm_orders.get(line.get("ReferenceCommandePMInterneOC", ""))
                if order is None:
                    continue
                if line.get("EtatArCommandePM") == "OK":
                    order.state = "acknowledged"
                else:
                    order.state = "rejected"
                    order.reject_code = motif_code(line.get("MotifKoArCommandePM", ""))
        elif flow == "CR_MAD_Pm":
            by_order: dict[str, list[dict[str, str]]] = defaultdict(list)
            for line in file.records:
                by_order[line.get("ReferenceCommandePMInterneOC", "")].append(line)
            for ref, lines in by_order.items():
                self._cr_mad(ref, lines)
        elif flow in ("CR_InfoSyndic", "CR_NotifAdduction"):
            for line in file.records:
                self._works_answer(flow, line)

    def _network_of(self, name: str) -> str:
        return next((t for t in name.split("_") if t == self.context.oi), self.context.oi)

    def _cr_mad(self, ref: str, lines: list[dict[str, str]]) -> None:
        order = self.pm_orders.get(ref)
        if order is None:
            return
        head = lines[0]
        if head.get("EtatCrCommandePM") == "OK":
            order.state = "available"
        else:
            order.state, order.reject_code = "rejected", motif_code(head.get("MotifKoCrCommandePM", ""))
        order.prestation = head.get("ReferencePrestationPM") or order.prestation
        order.addresses, order.nature = len(lines), head.get("NatureCR") or None
        order.first_mad = head.get("DatePremiereMADPM") or None
        self._send_ar_mad(order, head)

    def _send_ar_mad(self, order: PmOrder, head: Mapping[str, str]) -> None:
        """Every CR_MAD_Pm is acknowledged at once, on the channel of its order."""
        self._pm_client().send("AR_MAD", [{
            "ReferenceCommandePMInterneOC": order.ref, "ReferencePM": head.get("ReferencePM", order.pm),
            "ReferencePrestationPM": head.get("ReferencePrestationPM", ""), "EtatArMAD": "OK", "MotifKoArMAD": "",
            "DateArMAD": self.context.today.replace("-", "")}], pm=order.pm, channel=order.channel)
        order.ar_mad_sent += 1

    def _works_answer(self, flow: str, line: Mapping[str, str]) -> None:
        if flow == "CR_InfoSyndic":
            works = self.works.get(line.get("ReferenceNotifInterneOC", ""))
            state, motif = line.get("EtatCrInfoSyndic"), line.get("MotifKoCrInfoSyndic")
        else:  # keyed by the prestation: the oldest report of that prestation and day still unanswered
            works = next((w for w in self.works.values() if w.kind == "report" and w.state == "sent"
                          and w.prestation == line.get("ReferencePrestationPM") and w.day == line.get("DateAdduction")),
                         None)
            state, motif = line.get("EtatCrNotifAdduction"), line.get("MotifKoCrNotifAdduction")
        if works is None:
            return
        works.state = "accepted" if state == "OK" else "refused"
        works.reject_code = motif_code(motif or "") if state != "OK" else None
        works.comment = line.get("Commentaire", "")
        if flow == "CR_InfoSyndic":
            works.info = {k: v for k, v in line.items() if k in (
                "GestionnaireImmeuble", "ContactsSyndic", "CodeAccesImmeuble", "InfoObtentionCle", "PMAccessible")}
