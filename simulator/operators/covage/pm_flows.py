"""Protocole PM 2.2, the per-PM flows an OC sends and the OI's answers (seed 002; docs/files.md "Protocole PM").

- Cmd_Info_Pm -> AR_Cmd_Pm at once (OK, or KO with the reason), then CR_MAD_Pm on the virtual clock (timing
  `cr_mad_pm`): one line per deployed address behind the PM at sending; DatePremiereMADPM is fixed at the
  first CR of an OC for a PM, NatureCR INITIAL for that one and MAJ for every later one. The OC answers
  AR_MAD; none by `ar_mad_wait`, or a wrong one, is a journal finding against the OC (AR_MAD has no answer).
- Notif_Interv_Prev -> CR_InfoSyndic (KO under the notice of the pack's `works` rules, 2 working days).
- Notif_Adduction -> CR_NotifAdduction (KO when later than 15 working days after DateAdduction, or when the
  photo or the technical sheet it names did not come with it: InboundDocument.attachments).

Columns, codes, motifs and the working-day rules are the pm-2.2 pack's (flows.yaml); timings the profile's.
"""

from __future__ import annotations

import json
import re
import sqlite3
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ...capability import OperatorContext
from ...documents import Effects, Finding, InboundDocument, OutboundDocument, ScheduledEvent
from ...intake import read_document
from ...refdata import ReferenceNetwork
from ...refdata.model import DEPLOYE, Pm
from ...specs.codec import BadFileName, FlowSpec, Record, SpecPack, UnreadableFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS pm_orders (
    tenant TEXT NOT NULL, ref TEXT NOT NULL, network TEXT NOT NULL, pm TEXT NOT NULL, data TEXT NOT NULL,
    received TEXT NOT NULL, cr_sent INTEGER NOT NULL DEFAULT 0, cr_at TEXT NOT NULL DEFAULT '',
    ar_mad TEXT NOT NULL DEFAULT '', PRIMARY KEY (tenant, ref));
CREATE TABLE IF NOT EXISTS pm_mad (
    tenant TEXT NOT NULL, network TEXT NOT NULL, pm TEXT NOT NULL, first_mad TEXT NOT NULL,
    crs INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tenant, network, pm));
CREATE TABLE IF NOT EXISTS pm_works (
    tenant TEXT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL, network TEXT NOT NULL, pm TEXT NOT NULL,
    day TEXT NOT NULL, received TEXT NOT NULL, PRIMARY KEY (tenant, kind, ref));
"""

#: Where a file name's ReferencePM is, for answering a file whose name is otherwise wrong.
_PM_IN_NAME = re.compile(r"_PM_([A-Za-z0-9]{1,20})_", re.IGNORECASE)


class LineKo(Exception):
    """A line refused: `motif` is a key of the pack's `motifs`, the message says why."""

    def __init__(self, motif: str, detail: str):
        super().__init__(detail)
        self.motif = motif


@dataclass
class Batch:
    """One inbound file being answered."""

    doc: InboundDocument
    now: datetime
    pm: str  # the ReferencePM of the file name
    effects: Effects = field(default_factory=Effects)
    refs_in_file: set[str] = field(default_factory=set)

    @property
    def today(self) -> str:
        return self.now.strftime("%Y%m%d")


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


class PmFlows:
    """The inbound per-PM flows of one PmDesk and the events that follow them."""

    def __init__(self, context: OperatorContext, pack: SpecPack):
        self.pack = pack
        self.store = context.store
        self.networks: dict[str, ReferenceNetwork] = context.reference_networks
        self.calendar = context.calendar
        self.timings = context.profile.timings
        self.motifs: dict[str, str] = dict(self.pack.sections.get("motifs", {}))
        self.works: dict[str, Any] = dict(self.pack.sections.get("works", {}))
        self.names: dict[str, str] = dict(self.pack.sections.get("names", {}))
        self.store.ensure_schema(SCHEMA)
        self.handlers = {
            "Cmd_Info_Pm": self._order,
            "AR_MAD": self._ar_mad,
            "Notif_Interv_Prev": self._notice,
            "Notif_Adduction": self._adduction,
        }

    # ------------------------------------------------------------------ inbound files
    def receive(self, doc: InboundDocument, now: datetime) -> Effects:
        """Answer every line of a per-PM file; a file that cannot be read gets one KO line (AR_MAD, which has
        no answer flow, a journal finding)."""
        default_flow = self.pack.flow("Cmd_Info_Pm")
        try:
            name = self.pack.check_filename(doc.filename)
        except BadFileName as e:
            return self._file_ko(doc, e.flow or default_flow, now, str(e), self._pm_of_name(doc.filename))
        flow = name.flow
        try:
            parsed = read_document(name, doc, self.handlers)
            if not parsed.records:
                raise UnreadableFile("; ".join(["no data line", *parsed.warnings]))
        except UnreadableFile as e:
            return self._file_ko(doc, flow, now, str(e), name.pm)
        batch = Batch(doc, now, name.pm)
        handler = self.handlers[flow.name]
        replies: list[dict[str, str]] = []
        refused: list[str] = []
        for record in parsed.records:
            reply = handler(record, batch)
            if reply is None:
                continue
            replies.append(reply)
            if reply.get(flow.reply["state"]) == "KO":
                refused.append(f"line {record.line}: {reply.get(flow.reply['comment'], '')}")
        if flow.answer_flow:
            ko = len(refused)
            batch.effects.outbound.append(OutboundDocument(doc.tenant, doc.network, flow.answer_flow, replies,
                                                           area="pm", channel=doc.channel, pm=name.pm))
        else:
            ko = sum(f.outcome == "line rejected" for f in batch.effects.findings)
        detail = "; ".join([*parsed.warnings, *refused])[:4000]
        batch.effects.findings.insert(0, Finding(doc.tenant, doc.channel, "in", flow.name, doc.filename,
                                                 f"{len(parsed.records)} lines: {len(parsed.records) - ko} OK, "
                                                 f"{ko} KO", detail))
        return batch.effects

    def _pm_of_name(self, filename: str) -> str:
        m = _PM_IN_NAME.search(filename)
        return m[1].upper() if m else self.names.get("unknown_pm", "INCONNU")

    def _file_ko(self, doc: InboundDocument, flow: FlowSpec, now: datetime, reason: str, pm: str) -> Effects:
        effects = Effects()
        code = self.pack.validation_codes["invalid"]
        if not flow.answer_flow:
            target = flow if flow.direction.startswith("OC") else self.pack.flow("Cmd_Info_Pm")
            if not target.answer_flow:  # AR_MAD: no answer flow, never answered with another flow's file
                effects.findings.append(Finding(doc.tenant, doc.channel, "in", flow.name, doc.filename,
                                                "file rejected", f"{reason} ({flow.name} has no answer flow, "
                                                                 "nothing is sent back)"))
                return effects
            flow = target
        reply = flow.reply
        record = {reply["state"]: "KO", reply["motif"]: code}
        text = f"{doc.filename}: {reason}"
        record[reply["comment"]] = (f"{code} {text}" if reply["comment"] == reply["motif"] else text)[:255]
        if "date" in reply:
            record[reply["date"]] = now.strftime("%Y%m%d")
        effects.outbound.append(OutboundDocument(doc.tenant, doc.network, reply["flow"], [record], area="pm",
                                                 channel=doc.channel, pm=pm))
        effects.findings.append(Finding(doc.tenant, doc.channel, "in", flow.name, doc.filename,
                                        f"file rejected {code}", reason))
        return effects

    def _answer(self, flow: str, record: Record, batch: Batch, fields: dict[str, str],
                ko: LineKo | None = None) -> dict[str, str]:
        """An answer line: the inbound line's key fields echoed, its state, and the motif of a KO."""
        reply = self.pack.flow(flow).reply
        answer = {c: record[c] for c in self.pack.flow(reply["flow"]).column_names if c in record.values}
        answer.update(fields)
        answer[reply["state"]] = "KO" if ko else "OK"
        if "date" in reply:
            answer[reply["date"]] = batch.today
        if ko:
            label = self.motifs.get(ko.motif, ko.motif)
            if reply["comment"] == reply["motif"]:
                answer[reply["motif"]] = f"{label}: {ko}"[:255]
            else:
                answer[reply["motif"]] = label
                answer[reply["comment"]] = str(ko)[:255]
        return answer

    def _checked(self, record: Record, batch: Batch) -> tuple[ReferenceNetwork, Pm]:
        """The line's fields are valid and its PM is that of the file name and known to the network."""
        if record.errors:
            raise LineKo("bad_fields", "; ".join(map(str, record.errors)))
        reference = record["ReferencePM"]
        if reference.upper() != batch.pm:
            raise LineKo("bad_fields", f"ReferencePM {reference} is not the PM of the file name ({batch.pm})")
        network = self.networks[batch.doc.network]
        pm = network.pm(reference)
        if pm is None:
            raise LineKo("unknown_pm", f"no PM {reference} in network {batch.doc.network}")
        return network, pm

    def _with_prestation(self, record: Record, batch: Batch) -> Pm:
        """A works notice names a PM whose MAD the OC has received (a CR_MAD_Pm), by its prestation."""
        _, pm = self._checked(record, batch)
        prestation = record["ReferencePrestationPM"]
        if prestation.upper() != pm.reference_prestation:
            raise LineKo("unknown_prestation", f"ReferencePrestationPM {prestation} is not that of PM "
                                               f"{pm.reference}")
        mad = self.store.query("SELECT first_mad FROM pm_mad WHERE tenant = ? AND network = ? AND pm = ?",
                               (batch.doc.tenant, batch.doc.network, pm.reference))
        if not mad:
            raise LineKo("unknown_prestation", f"no CR_MAD_Pm of PM {pm.reference} was sent to "
                                               f"{batch.doc.tenant}: order it first (Cmd_Info_Pm)")
        return pm

    # ------------------------------------------------------------------ Cmd_Info_Pm
    def _order(self, record: Record, batch: Batch) -> dict[str, str]:
        ref = record["ReferenceCommandePMInterneOC"]
        try:
            network, pm = self._checked(record, batch)
            if pm.etat != DEPLOYE or pm.date_installation > batch.today:
                raise LineKo("pm_not_open", f"PM {pm.reference} is not open yet (EtatPM {pm.etat}, "
                                            f"DateInstallationPM {pm.date_installation})")
            used = self.store.query("SELECT 1 FROM pm_orders WHERE tenant = ? AND ref = ?", (batch.doc.tenant, ref))
            if used or ref in batch.refs_in_file:
                raise LineKo("reused_reference", f"ReferenceCommandePMInterneOC {ref} was already used")
        except LineKo as ko:
            return self._answer("Cmd_Info_Pm", record, batch, {}, ko)
        batch.refs_in_file.add(ref)
        data = {c: record[c] for c in ("TypeCommandePM", "ChoixTechniqueOC", "ReferenceContrat", "DateCommandePM")}
        data["channel"] = batch.doc.channel  # later CR_MAD_Pm MAJ of this order go back the way it came
        self.store.execute("INSERT INTO pm_orders (tenant, ref, network, pm, data, received) VALUES (?, ?, ?, ?, ?, ?)",
                           (batch.doc.tenant, ref, batch.doc.network, pm.reference, _encode(data),
                            batch.now.isoformat(timespec="seconds")))
        due = self.timings["cr_mad_pm"].after(batch.now, self.calendar)
        batch.effects.events.append(ScheduledEvent(due, "cr_mad_pm", batch.doc.tenant, ref,
                                                   {"channel": batch.doc.channel}))
        return self._answer("Cmd_Info_Pm", record, batch, {"MotifKoArCommandePM": ""})

    def cr_mad(self, tenant: str, ref: str, payload: dict[str, Any], now: datetime) -> Effects:
        """CR_MAD_Pm: every deployed address behind the PM now; the first CR of this OC for this PM fixes
        DatePremiereMADPM and is INITIAL, the later ones MAJ."""
        effects = Effects()
        rows = self.store.query("SELECT * FROM pm_orders WHERE tenant = ? AND ref = ?", (tenant, ref))
        if not rows:
            return effects
        order = rows[0]
        network = self.networks.get(order["network"])
        pm = network.pm(order["pm"]) if network else None
        if network is None or pm is None:
            effects.findings.append(Finding(tenant, "clock", "out", "CR_MAD_Pm", "", "not sent",
                                            f"{ref}: PM {order['pm']} is no longer in network {order['network']}"))
            return effects
        today = now.strftime("%Y%m%d")
        mad = self.store.query("SELECT first_mad, crs FROM pm_mad WHERE tenant = ? AND network = ? AND pm = ?",
                               (tenant, network_key := order["network"], pm.reference))
        first = mad[0]["first_mad"] if mad else today  # fixed once set
        nature = "MAJ" if mad and mad[0]["crs"] else "INITIAL"
        self.store.execute("INSERT INTO pm_mad VALUES (?, ?, ?, ?, 1) ON CONFLICT(tenant, network, pm) "
                           "DO UPDATE SET crs = crs + 1", (tenant, network_key, pm.reference, first))
        data = _decode(order["data"])
        head = {
            "ReferencePM": pm.reference, "ReferencePMTechnique": pm.reference_technique, "EtatPM": pm.etat,
            "DateInstallationPM": pm.date_installation, "DateMiseEnServiceCommercialePM": pm.date_mes_commerciale,
            "TypeEmplacementPM": pm.type_emplacement, "CapaciteMaxPM": str(pm.capacite_max),
            "TypeIngenierie": pm.type_ingenierie, "TypeZone": pm.type_zone, "CodeNRO": pm.code_nro,
            "ReferenceCommandePMInterneOC": ref, "TypeCommandePM": data.get("TypeCommandePM", ""),
            "ChoixTechniqueOC": data.get("ChoixTechniqueOC", ""), "ReferenceContrat": data.get("ReferenceContrat", ""),
            "ReferencePrestationPM": pm.reference_prestation, "DatePremiereMADPM": first,
            "DateMADPrestationPM": first, "DateCrCommandePM": today, "EtatCrCommandePM": "OK",
            "MotifKoCrCommandePM": "", "NatureCR": nature, "OC": tenant,
        }
        records = []
        for a in network.deployed_behind(pm.reference):
            route = a.lines[0].route if a.lines else None
            records.append({**head,
                "IdentifiantImmeuble": a.identifiant_immeuble, "EtatImmeuble": a.etat_immeuble,
                "CodeAdresseImmeuble": a.hexacle, "CodeHexacleVoie": a.hexacle_voie, "CodeInseeImmeuble": a.insee,
                "CodePostalImmeuble": a.postcode, "CommuneImmeuble": a.commune, "CodeVoieRivoliImmeuble": a.rivoli,
                "TypeVoieImmeuble": a.type_voie, "NomVoieImmeuble": a.nom_voie, "NumeroVoieImmeuble": a.numero,
                "ComplementNumeroVoieImmeuble": a.complement, "BatimentImmeuble": a.batiment,
                "TypeImmeuble": a.type_immeuble, "CoordonneeImmeubleX": a.x, "CoordonneeImmeubleY": a.y,
                "NombreLogementsMADPM": str(a.nb_logements),
                "NomModulePM": route.nom_module_pm if route else "",
                "PositionModulePM": route.position_module_pm if route else "",
                "ReferenceCableModulePM": route.reference_cable_module_pm if route else "",
                "InformationTubeModulePM": route.information_tube_module_pm if route else "",
                "InformationFibreModulePM": route.information_fibre_module_pm if route else "",
            })
        if not records:  # a CR_MAD_Pm lists addresses: with none deployed yet there is nothing to make available
            effects.findings.append(Finding(tenant, "clock", "out", "CR_MAD_Pm", "", "not sent",
                                            f"{ref}: no deployed address behind PM {pm.reference} yet"))
            return effects
        cr = int(order["cr_sent"]) + 1
        self.store.execute("UPDATE pm_orders SET cr_sent = ?, cr_at = ?, ar_mad = '' WHERE tenant = ? AND ref = ?",
                           (cr, now.isoformat(timespec="seconds"), tenant, ref))
        channel = str(payload.get("channel", "ftp"))
        effects.outbound.append(OutboundDocument(tenant, network_key, "CR_MAD_Pm", records, area="pm",
                                                 channel=channel, pm=pm.reference))
        due = self.timings["ar_mad_wait"].after(now, self.calendar)
        effects.events.append(ScheduledEvent(due, "ar_mad_wait", tenant, ref, {"cr": cr, "channel": channel}))
        return effects

    def ar_mad_wait(self, tenant: str, ref: str, payload: dict[str, Any], now: datetime) -> Effects:
        """No AR MAD for a CR_MAD_Pm by `ar_mad_wait`: a finding against the OC."""
        effects = Effects()
        rows = self.store.query("SELECT cr_sent, ar_mad, pm FROM pm_orders WHERE tenant = ? AND ref = ?",
                                (tenant, ref))
        if rows and rows[0]["cr_sent"] == payload.get("cr") and not rows[0]["ar_mad"]:
            effects.findings.append(Finding(tenant, str(payload.get("channel", "ftp")), "in", "AR_MAD", "",
                                            "missing", f"{ref}: no AR MAD for the CR_MAD_Pm of PM {rows[0]['pm']} "
                                                       f"sent {self.timings['ar_mad_wait']} ago"))
        return effects

    # ------------------------------------------------------------------ AR MAD (no answer flow)
    def _ar_mad(self, record: Record, batch: Batch) -> None:
        ref = record["ReferenceCommandePMInterneOC"]

        def finding(detail: str, outcome: str = "line rejected") -> None:
            batch.effects.findings.append(Finding(batch.doc.tenant, batch.doc.channel, "in", "AR_MAD",
                                                  batch.doc.filename, outcome, f"line {record.line}: {detail}"))

        if record.errors:
            return finding("; ".join(map(str, record.errors)))
        rows = self.store.query("SELECT pm, network, cr_sent FROM pm_orders WHERE tenant = ? AND ref = ?",
                                (batch.doc.tenant, ref))
        if not rows or not rows[0]["cr_sent"]:
            return finding(f"no CR_MAD_Pm was sent for ReferenceCommandePMInterneOC {ref}")
        order = rows[0]
        pm = self.networks[order["network"]].pm(order["pm"]) if order["network"] in self.networks else None
        if record["ReferencePM"].upper() != order["pm"] or order["network"] != batch.doc.network:
            return finding(f"{ref} is an order of PM {order['pm']} ({order['network']}), not "
                           f"{record['ReferencePM']} ({batch.doc.network})")
        if pm is not None and record["ReferencePrestationPM"].upper() != pm.reference_prestation:
            return finding(f"ReferencePrestationPM {record['ReferencePrestationPM']} is not "
                           f"{pm.reference_prestation}, given in the CR_MAD_Pm")
        self.store.execute("UPDATE pm_orders SET ar_mad = ? WHERE tenant = ? AND ref = ?",
                           (f"{record['EtatArMAD']} {batch.now.isoformat(timespec='seconds')}", batch.doc.tenant, ref))
        if record["EtatArMAD"] == "KO":
            finding(f"{ref}: the OC refused the CR_MAD_Pm: {record['MotifKoArMAD'] or 'no motif given'}",
                    "AR MAD KO")
        return None

    # ------------------------------------------------------------------ Notif_Interv_Prev
    def _notice(self, record: Record, batch: Batch) -> dict[str, str]:
        ref = record["ReferenceNotifInterneOC"]
        try:
            pm = self._with_prestation(record, batch)
            works_day = _day(record["DatePrevisionnelleAdduction"])
            notice = int(self.works.get("notice_working_days", 2))
            earliest = self.calendar.add_working_days(batch.now, notice).date()
            if works_day < earliest:
                raise LineKo("short_notice", f"DatePrevisionnelleAdduction {record['DatePrevisionnelleAdduction']} "
                                             f"is less than {notice} working days after {batch.today}: "
                                             f"{earliest:%Y%m%d} at the earliest")
            if ref in batch.refs_in_file or self.store.query(
                    "SELECT 1 FROM pm_works WHERE tenant = ? AND kind = 'notice' AND ref = ?", (batch.doc.tenant, ref)):
                raise LineKo("reused_reference", f"ReferenceNotifInterneOC {ref} was already used")
        except LineKo as ko:
            return self._answer("Notif_Interv_Prev", record, batch, {}, ko)
        batch.refs_in_file.add(ref)
        self.store.execute("INSERT INTO pm_works VALUES (?, 'notice', ?, ?, ?, ?, ?)",
                           (batch.doc.tenant, ref, batch.doc.network, pm.reference,
                            record["DatePrevisionnelleAdduction"], batch.now.isoformat(timespec="seconds")))
        return self._answer("Notif_Interv_Prev", record, batch, self._site_info(pm))

    def _site_info(self, pm: Pm) -> dict[str, str]:
        """The building manager and access information of a PM (CR_InfoSyndic): the pack's templates, filled
        with the PM's reference, place and a stable access code."""
        values = {"pm": pm.reference, "localisation": pm.localisation,
                  "code": f"{zlib.crc32(pm.reference.encode()) % 10000:04d}"}
        templates = self.pack.sections.get("info_syndic", {})
        return {column: str(text).format(**values)[:255] for column, text in templates.items()}

    # ------------------------------------------------------------------ Notif_Adduction
    def _adduction(self, record: Record, batch: Batch) -> dict[str, str]:
        try:
            pm = self._with_prestation(record, batch)
            done = _day(record["DateAdduction"])
            if done > batch.now.date():
                raise LineKo("bad_fields", f"DateAdduction {record['DateAdduction']} is after today ({batch.today})")
            limit_days = int(self.works.get("report_working_days", 15))
            limit = self.calendar.add_working_days(datetime.combine(done, datetime.min.time()), limit_days).date()
            problems: list[LineKo] = []
            if batch.now.date() > limit:
                problems.append(LineKo("late", f"notified {batch.today}, more than {limit_days} working days "
                                               f"after DateAdduction {record['DateAdduction']} (by {limit:%Y%m%d})"))
            for column, motif, kind in (("NomFichierPhoto", "photo_missing", "photo"),
                                        ("NomFichierFicheTechnique", "sheet_missing", "sheet")):
                problem = self._attachment(record[column], column, kind, batch.doc)
                if problem:
                    problems.append(LineKo(motif, problem))
            if problems:  # every reason in the comment, the first as the motif
                raise LineKo(problems[0].motif, "; ".join(map(str, problems)))
        except LineKo as ko:
            return self._answer("Notif_Adduction", record, batch, {}, ko)
        # One adduction per prestation and day (a resent notification replaces the previous one).
        self.store.execute("INSERT OR REPLACE INTO pm_works VALUES (?, 'adduction', ?, ?, ?, ?, ?)",
                           (batch.doc.tenant, f"{pm.reference_prestation}:{record['DateAdduction']}",
                            batch.doc.network, pm.reference, record["DateAdduction"],
                            batch.now.isoformat(timespec="seconds")))
        return self._answer("Notif_Adduction", record, batch, {})

    def _attachment(self, name: str, column: str, kind: str, doc: InboundDocument) -> str:
        """Why the document named in `column` is missing or not acceptable ('' when it is there)."""
        if not name:
            return f"{column} is empty: the {kind} must be sent with the Notif_Adduction"
        extensions = tuple(self.works.get(f"{kind}_extensions", ()))
        if extensions and not name.lower().endswith(extensions):
            return f"{column} {name} is not a {kind} file ({', '.join(extensions)})"
        content = doc.attachments.get(name)
        if content is None:
            return f"{name} ({column}) was not found beside the file: upload it before the Notif_Adduction"
        if not content:
            return f"{name} ({column}) is empty"
        return ""


def order_channel(order: Mapping[str, Any] | sqlite3.Row) -> str:
    """The channel a stored PM order came by (ftp for an order stored before the channel was kept)."""
    return _decode(order["data"]).get("channel", "ftp")


def _encode(data: dict[str, str]) -> str:
    return json.dumps(data, ensure_ascii=False)


def _decode(text: str) -> dict[str, str]:
    return dict(json.loads(text or "{}"))
