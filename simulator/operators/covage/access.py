"""Protocole Accès 1.2 seen from the OI: the life of an access order.

Cmd_Acces -> AR (at once) -> CR within the contract's delay, with a route optique -> [STOC] Cmd_STOC
-> CR_STOC from the OC -> CR_MAD ligne -> CR_MES from the OC. Annulation is answered ANNUL before
CR MAD and RESIL after. Notif_Reprov changes the route between CR and CR MAD (always after a
Hotline CR). The desk receives parsed documents and returns effects; it never touches a socket.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache, partial
from itertools import islice
from typing import Any

from ...capability import ActionRefused, Capability, OperatorContext, SliceProgress
from ...documents import Effects, Finding, InboundDocument, OutboundDocument, ScheduledEvent
from ...intake import open_document
from ...refdata import Address, Line, ReferenceNetwork, Route
from ...specs.codec import BadFileName, FlowSpec, Record, SpecPack, UnreadableFile
from ...store import Order
from . import appointments, failures, hotline, on_demand
from .states import AFTER_MAD, BEFORE_MAD, ORDER_TYPES, PRODUCTION_STAGES, REPROVISIONABLE, Reject, State

#: The layout's area of this desk's folders: every answer file it writes goes there (or to its flow's own).
AREA = "acces"
_answer = partial(OutboundDocument, area=AREA)


def hotline_motif() -> str:
    return hotline.HOTLINE_MOTIF


@dataclass
class Context:
    """One inbound document being processed: where answers go, what the file already used, and the
    orders it creates (written in one batch: a 10,000-line file is one round of inserts)."""

    doc: InboundDocument
    now: datetime
    effects: Effects
    records: list[Record]
    refs_in_file: set[str] = field(default_factory=set)
    sockets_in_file: set[str] = field(default_factory=set)
    known_refs: set[str] | None = None
    new_orders: list[Order] = field(default_factory=list)
    next_prestation: int = 0
    due: dict[str, datetime] = field(default_factory=dict)

    @property
    def stamp(self) -> str:
        return stamp(self.now)


@lru_cache(maxsize=256)  # the events of one moment all stamp their answers with it
def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


@lru_cache(maxsize=256)
def day(moment: datetime) -> str:
    return moment.strftime("%Y%m%d")


def route_block(route: Route | dict[str, str], oc: str, n: int = 1) -> dict[str, str]:
    """The n-th route optique block of a CR / Cmd_STOC / Notif_Reprov line."""
    r = route if isinstance(route, dict) else route_fields(route)
    numbered = _NUMBERED.get(n)
    if numbered is None:
        numbered = _NUMBERED[n] = {}
    block = {numbered.get("OC") or numbered.setdefault("OC", f"OC{n}"): oc}
    for k, v in r.items():
        block[numbered.get(k) or numbered.setdefault(k, f"{k}{n}")] = v
    return block


#: n -> column -> its name in the n-th route block: a few names, asked for every answer line.
_NUMBERED: dict[int, dict[str, str]] = {}


@lru_cache(maxsize=256)  # the events of one moment all stamp their orders with it
def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def route_fields(route: Route) -> dict[str, str]:
    return {
        "NomModulePm": route.nom_module_pm, "PositionModulePm": route.position_module_pm,
        "ReferenceCableModulePm": route.reference_cable_module_pm,
        "InformationTubeModulePm": route.information_tube_module_pm,
        "InformationFibreModulePm": route.information_fibre_module_pm,
        "ReferenceCablePBO": route.reference_cable_pbo, "InformationTubePBO": route.information_tube_pbo,
        "InformationFibrePBO": route.information_fibre_pbo,
        "ConnecteurPriseNumero": route.connecteur_prise_numero,
        "ConnecteurPriseCouleur": route.connecteur_prise_couleur,
    }


def channel_of(order: Order) -> str:
    """The channel an order came by (ftp, mail): its later answers go back the same way."""
    return str(order.data.get("channel", "ftp"))


class AccessDesk(Capability):
    """The OI's order desk for Protocole Accès 1.2."""

    name = "access"
    areas = (AREA,)  # the Accès folders of the layout: IN/<OI>/<ARCEP>/
    channels = ("ftp", "mail")
    events = ("cr_cmd", "cmd_stoc", "cr_mad", "reprov", "stoc_deadline")
    actions = ("reprovision", "hotline", "building_works", "failure_rates", "appointment_slots", "book_appointment",
               "cancel_appointment")
    routes = (*hotline.ROUTES, *appointments.ROUTES)  # the hotline and the booking service on the admin API
    settings = {
        "acces_spec": {"type": "string", "format": "spec-pack",
                       "description": "Protocole Accès spec pack: its flows, columns and reject codes"},
        "refinterne1": {"type": "string", "description": "first part of the OI's internal references"},
        "refinterne2": {"type": "string", "description": "second part of the OI's internal references"},
        "slice_lines": {"type": "integer", "minimum": 1, "description": "lines of a large inbound file answered "
                        "per transaction; others' work goes between"},
        "stoc_deadline_motif": {"type": "string", "pattern": "[A-Z]{4}[0-9]{2}", "description": "Notif_Racc_Ko "
                                "motif when no CR_STOC came by DateLimiteRaccordement"},
        **appointments.SETTINGS,
    }
    timings = {
        "cr_cmd": "AR OK -> CR_Cmd_Acces (contract: within 1 working day)",
        "cmd_stoc": "CR OK -> Cmd_STOC (STOC mode)",
        "stoc_deadline": "DateLimiteRaccordement of a Cmd_STOC",
        "cr_mad_after_cr_stoc": "CR_STOC OK -> CR_MAD ligne",
        "oi_connection": "CR OK -> CR_MAD when the OI connects (TypeRacco OI)",
        "oc_connection": "CR OK -> CR_MAD when the OC connects on its own (TypeRacco OC)",
        "hotline_reprov": "CR with Hotline = O, OI/OC mode -> the OI's technician's Notif_Reprov",
        "cold_reprov": "an OC's cold reprovisioning request (hotline call) -> Notif_Reprov",
    }

    def __init__(self, context: OperatorContext):
        super().__init__(context)
        self.profile = context.profile
        self.pack: SpecPack = context.pack(self.profile.settings["acces_spec"])
        self.networks: dict[str, ReferenceNetwork] = context.reference_networks
        self.store = context.store
        self.calendar = context.calendar
        #: Lines answered in one transaction of a large file; between two, the engine takes other work.
        self.slice_lines = int(self.profile.settings.get("slice_lines", 1000))
        self._pm_used: dict[str, dict[str, int]] = {}  # network -> lines behind each PM (saturation)
        self._dues: dict[tuple[str, datetime], datetime] = {}  # (timing, from) -> due: profile timings are fixed
        self.failure_rates: dict[str, dict[str, Any]] = {}  # tenant -> its rates as stored (failures.py)
        #: (network, building, staircase asked) -> the PBO serving it, within one batch (`_pbo_serving`)
        self._pbo_by_staircase: dict[tuple[str, str, str], str] = {}
        self._batches = 0  # depth of `batch` scopes open
        appointments.ensure(self)
        self._handlers = {
            "Cmd_Acces": self._order,
            "Annul_Acces": self._cancel,
            "CR_STOC": self._cr_stoc,
            "CR_MES_Ligne": self._cr_mes,
        }
        self._event_handlers = {"cr_cmd": self._emit_cr, "cmd_stoc": self._emit_cmd_stoc, "cr_mad": self._emit_cr_mad,
                                "reprov": self._emit_reprov, "stoc_deadline": self._stoc_deadline}

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction's work (a file, the due events of a moment) reads the networks through their
        index (ReferenceNetwork.reading): each building, PM and PBO is read once, not once per order."""
        with ExitStack() as stack:
            for network in self.networks.values():
                stack.enter_context(network.reading())
            self._batches += 1
            try:
                yield
            finally:
                self._batches -= 1
                if not self._batches:  # the network cannot change within a batch; it may between two
                    self._pbo_by_staircase.clear()

    # ------------------------------------------------------------------ inbound files
    def receive(self, doc: InboundDocument, now: datetime) -> Effects:
        """Answer every line of an inbound file at once; a file that cannot be read gets one KO line."""
        return next(self._answer(doc, now, SliceProgress(), slice_lines=0))

    def receive_slices(self, doc: InboundDocument, now: datetime, progress: SliceProgress) -> Iterator[Effects]:
        """The same answer, `slice_lines` lines at a time (profile setting, 1,000 by default): what holds for the
        whole file (name, encoding, header, a reference used twice) holds across slices."""
        return self._answer(doc, now, progress, self.slice_lines)

    def _answer(self, doc: InboundDocument, now: datetime, progress: SliceProgress,
                slice_lines: int) -> Iterator[Effects]:
        effects = Effects()
        default_flow = self.pack.flow("Cmd_Acces")  # what a name without a known flow code is answered as
        try:
            name = self.pack.check_filename(doc.filename)
        except BadFileName as e:  # a known flow code with a bad date is answered in that flow's answer
            self._reply_file_ko(doc, e.flow or default_flow, now, str(e), effects)
            progress.finished = True
            yield effects
            return
        flow = name.flow
        try:
            reader = open_document(name, doc, self._handlers)
        except UnreadableFile as e:
            self._reply_file_ko(doc, flow, now, str(e), effects)
            progress.finished = True
            yield effects
            return
        if not reader.count:
            self._no_data_line(doc, flow, now, reader.warnings, effects)
            progress.finished = True
            yield effects
            return
        carry = progress.carry
        records = reader.records(skip=progress.lines)
        while True:
            lines = list(islice(records, slice_lines) if slice_lines else records)
            self._answer_lines(flow, lines, Context(doc, now, effects, lines), carry)
            progress.lines += len(lines)
            if progress.lines >= reader.count or not lines:
                progress.finished = True
                self._close_file(flow, doc, reader.count, reader.warnings, carry, effects)
            yield effects
            if progress.finished:
                return
            effects = Effects()

    def _answer_lines(self, flow: FlowSpec, records: list[Record], ctx: Context, carry: dict[str, Any]) -> None:
        """One slice of a file: its answer lines, its orders, and what the next slices must know (`carry`: the
        counts, the refusals the journal explains, the references used by lines that made no order)."""
        doc, effects = ctx.doc, ctx.effects
        used = carry.setdefault("used", [])  # earlier slices' orders are in the store: these are the others
        ctx.refs_in_file.update(used)
        self._upper_case(flow, ctx, carry)
        handler = self._handlers[flow.name]
        replies = []
        ok = ko = 0
        refused = carry.setdefault("refused", [])  # the journal explains each refusal: line, code, and why
        room = 4000 - sum(len(r) + 2 for r in refused)
        findings = len(effects.findings)
        for record in records:
            reply = handler(record, ctx)
            if reply is not None:
                replies.append(reply)
                if reply.get(flow.reply.get("state", ""), "OK") != "KO":
                    ok += 1
                else:
                    ko += 1
                    if room > 0:
                        why = f"line {record.line}: {reply.get(flow.reply.get('motif', ''), '')} " \
                              f"{reply.get(flow.reply.get('comment', ''), '')}".strip()
                        refused.append(why)
                        room -= len(why) + 2
        if not flow.answer_flow:  # no answer lines to count: a refused line is a `line rejected` finding
            ko = sum(f.outcome == "line rejected" for f in effects.findings[findings:])
            ok = len(records) - ko
        carry["ok"] = carry.get("ok", 0) + ok
        carry["ko"] = carry.get("ko", 0) + ko
        self.store.add_orders(ctx.new_orders, "AR OK", doc.filename)
        used.extend(ctx.refs_in_file.difference(used, (o.ref for o in ctx.new_orders)))
        if replies:
            effects.outbound.append(_answer(doc.tenant, doc.network, flow.reply["flow"], replies,
                                                     channel=doc.channel))

    def _close_file(self, flow: FlowSpec, doc: InboundDocument, lines: int, warnings: list[str],
                    carry: dict[str, Any], effects: Effects) -> None:
        """The file's own journal lines, with its last slice: how many lines were OK and KO, and why not."""
        if carry.get("lowered"):
            effects.findings.insert(0, Finding(doc.tenant, doc.channel, "in", flow.name, doc.filename,
                                               "not upper case", "taken in upper case: " + "; ".join(carry["lowered"])))
        detail = "; ".join([*warnings, *carry.get("refused", ())])[:4000]
        effects.findings.insert(0, Finding(doc.tenant, doc.channel, "in", flow.name, doc.filename,
                                           f"{lines} lines: {carry.get('ok', 0)} OK, {carry.get('ko', 0)} KO",
                                           detail))

    def _upper_case(self, flow: FlowSpec, ctx: Context, carry: dict[str, Any]) -> None:
        """Data is in upper case as in the IPE (seed 002): a value differing only by case is taken in upper
        case, and the file raises one finding against the OC (spec decisions), naming the first 20."""
        columns = self.pack.sections.get("upper_case", {}).get(flow.name, ())
        lowered = carry.setdefault("lowered", [])
        for record in ctx.records:
            for column in columns:
                value = record.values.get(column, "")
                if value != value.upper():
                    record.values[column] = value.upper()
                    if len(lowered) < 20:
                        lowered.append(f"line {record.line} {column} {value!r}")

    def _no_data_line(self, doc: InboundDocument, flow: FlowSpec, now: datetime, warnings: list[str],
                      effects: Effects) -> None:
        """A header and no data line: the OC must still see the file was read. Flows with an answer flow
        get a KO answer like an unreadable file; the others (CR_STOC, CR_MES) a journal finding only."""
        reason = "; ".join(["no data line", *warnings])
        if flow.answer_flow:
            self._reply_file_ko(doc, flow, now, reason, effects)
        else:
            detail = "; ".join([f"no data line: {flow.name} has no answer flow, nothing is sent back", *warnings])
            effects.findings.append(Finding(doc.tenant, doc.channel, "in", flow.name, doc.filename,
                                            "no data line", detail))

    def _reply_file_ko(self, doc: InboundDocument, flow: FlowSpec, now: datetime, reason: str,
                       effects: Effects) -> None:
        code = self.pack.validation_codes["invalid"]
        if flow.direction.startswith("OC") and not flow.answer_flow:
            # CR_STOC, CR_MES: no answer flow; never answered with another flow's file (spec decisions).
            effects.findings.append(Finding(doc.tenant, doc.channel, "in", flow.name, doc.filename,
                                            "file rejected", f"{reason} ({flow.name} has no answer flow, "
                                                             "nothing is sent back)"))
            return
        reply = flow.reply or self.pack.flow("Cmd_Acces").reply
        area = self.pack.flow(reply["flow"]).folder or AREA  # the answer goes to the flow's own folder
        effects.outbound.append(_answer(
            doc.tenant, doc.network, reply["flow"], area=area, channel=doc.channel, records=[{
            reply["state"]: "KO", reply["motif"]: code, **({reply["date"]: stamp(now)} if "date" in reply else {}),
            reply["comment"]: f"{doc.filename}: {reason}"[:512],
            **({"TypeOperation": "ANNUL"} if flow.name == "Annul_Acces" else {}),
        }]))
        effects.findings.append(Finding(doc.tenant, doc.channel, "in", flow.name, doc.filename,
                                        f"file rejected {code}", reason))

    # ------------------------------------------------------------------ Cmd_Acces
    def _order(self, record: Record, ctx: Context) -> dict[str, str]:
        ref = record["ReferenceCommandePriseInterneOC"]
        answer = {"ReferenceCommandePriseInterneOC": ref, "DateArCommandePrise": ctx.stamp}
        try:
            address, line = self._check_order(record, ctx)
        except Reject as r:
            return {**answer, "EtatArCommandePrise": "KO", "MotifKoArCommandePrise": r.code,
                    "Commentaire": (r.comment or self.pack.reject_label(r.code))[:512]}
        fired = on_demand.fault(self, ctx.doc.tenant, "AR", ref, record["CodeAdresseImmeuble"],
                                on_demand.texts_of(record.values), ctx.effects, ctx.doc.channel)
        if fired is not None:  # a refusal on demand (fault rule or magic value)
            ctx.refs_in_file.add(ref)  # the reference is used all the same (FIMP13 if it comes again)
            return {**answer, "EtatArCommandePrise": "KO", "MotifKoArCommandePrise": fired.rule.code,
                    "Commentaire": (fired.rule.comment or self.pack.reject_label(fired.rule.code))[:512]}
        ctx.refs_in_file.add(ref)
        if line is not None:
            ctx.sockets_in_file.add(line.reference_prise)
        network = self.networks[ctx.doc.network]
        if not ctx.next_prestation:  # one reservation per file; numbers of KO lines stay unused
            ctx.next_prestation = self.store.reserve_sequence("prestation", len(ctx.records))
        prestation = f"{network.arcep}{ctx.doc.tenant}{ctx.next_prestation:09d}"
        ctx.next_prestation += 1
        data = dict(record.values)
        data.update({"IdentifiantImmeuble": address.identifiant_immeuble, "Batiment": address.batiment,
                     "ReferencePrise": line.reference_prise if line else "", "channel": ctx.doc.channel})
        at = ctx.now.isoformat(timespec="seconds")
        order = Order(ctx.doc.tenant, ref, prestation, ctx.doc.network, State.ACKNOWLEDGED, data, at, at)
        ctx.new_orders.append(order)
        self._later(ctx.effects, ctx.now, "cr_cmd", order, "cr_cmd", cache=ctx.due)
        return {**answer, "ReferencePrestationPrise": prestation, "EtatArCommandePrise": "OK"}

    def _check_order(self, record: Record, ctx: Context) -> tuple[Address, Line | None]:
        """The AR checks, in the order an OI runs them: syntax, references, address, PM, PTO."""
        if record.errors:
            raise Reject(self.pack.code_for(record.errors), "; ".join(map(str, record.errors)))
        if record["TypeCommandeDemande"] not in ORDER_TYPES:
            raise Reject("FIMP12", f"TypeCommandeDemande {record['TypeCommandeDemande']!r} not one of "
                                   f"{'|'.join(ORDER_TYPES)}")
        ref = record["ReferenceCommandePriseInterneOC"]
        if ctx.known_refs is None:  # one query for the whole file
            ctx.known_refs = self.store.existing_refs(
                ctx.doc.tenant, [r["ReferenceCommandePriseInterneOC"] for r in ctx.records])
        if ref in ctx.refs_in_file or ref in ctx.known_refs:
            raise Reject("FIMP13", f"ReferenceCommandePriseInterneOC {ref} already used")
        network = self.networks[ctx.doc.network]
        address = self._building(network, record)
        if address.etat_immeuble != "DEPLOYE":
            code = "FIMP11" if address.etat_immeuble == "EN COURS DE DEPLOIEMENT" else "FIMP10"
            raise Reject(code, f"{address.identifiant_immeuble} is {address.etat_immeuble}")
        pm = network.pm(record["ReferencePm"])
        if pm is None:
            raise Reject("FIMP07", f"ReferencePm {record['ReferencePm']} unknown")
        if pm.reference != address.pm:
            raise Reject("FIMP08", f"the address is served by PM {address.pm}, not {pm.reference}")
        prestation_pm = record["ReferencePrestationPm"]
        if prestation_pm:
            by_prestation = network.pm_by_prestation(prestation_pm)
            if by_prestation is None:
                raise Reject("FIMP04", f"ReferencePrestationPm {prestation_pm} unknown")
            if by_prestation.reference != address.pm:
                raise Reject("FIMP05", f"ReferencePrestationPm {prestation_pm} does not serve this address")
        self._check_floor(address, record)
        return address, self._check_socket(network, address, record, ctx)

    def _building(self, network: ReferenceNetwork, record: Record) -> Address:
        hexacle = record["CodeAdresseImmeuble"]
        if hexacle:
            buildings = network.addresses_by_hexacle(hexacle)
        elif record["CodeVoieRivoliImmeuble"] and record["NumeroVoieImmeuble"]:
            buildings = network.addresses_by_rivoli(record["CodeInseeImmeuble"], record["CodeVoieRivoliImmeuble"],
                                                    record["NumeroVoieImmeuble"],
                                                    record["ComplementNumeroVoieImmeuble"])
        else:
            raise Reject("FIMP15", "CodeAdresseImmeuble, or CodeVoieRivoliImmeuble with NumeroVoieImmeuble, "
                                   "is mandatory")
        if not buildings:
            raise Reject("FADR01", f"address {hexacle or record['CodeVoieRivoliImmeuble']} unknown on "
                                   f"{network.network}")
        first = buildings[0]
        if record["CodeInseeImmeuble"] != first.insee or record["CodePostalImmeuble"] != first.postcode:
            raise Reject("FIMP16", f"CodeInseeImmeuble/CodePostalImmeuble {record['CodeInseeImmeuble']}/"
                                   f"{record['CodePostalImmeuble']} do not match the address "
                                   f"({first.insee}/{first.postcode})")
        wanted = record["Batiment"]
        matching = [b for b in buildings if b.batiment == wanted]
        if not matching and len(buildings) == 1 and buildings[0].batiment == "":
            matching = buildings  # a house: a building name given by the OC is harmless
        if not matching:
            names = ", ".join(b.batiment for b in buildings)
            raise Reject("FADR02", f"Batiment {wanted!r} unknown at this address (known: {names})")
        return matching[0]

    def _check_floor(self, address: Address, record: Record) -> None:
        # Spec decisions: an empty staircase or floor is refused (FADR03/FADR04) where the building has
        # several; a house (PAVILLON) is one home, and a building with one staircase needs none.
        for column, known, code in (("Escalier", address.escaliers, "FADR03"),
                                    ("Etage", address.etages, "FADR04")):
            value = record[column]
            if value and value not in known:
                raise Reject(code, f"{column} {value!r} unknown in {address.identifiant_immeuble} "
                                   f"(known: {', '.join(known)})")
            several = len([k for k in known if k]) > 1
            if not value and several and address.type_immeuble != "PAVILLON":
                raise Reject(code, f"{column} is empty and {address.identifiant_immeuble} has several "
                                   f"({', '.join(known)})")

    def _check_socket(self, network: ReferenceNetwork, address: Address, record: Record,
                      ctx: Context) -> Line | None:
        reference = record["ReferencePrise"]
        if record["PriseExistante"] == "N":
            if reference and network.line(reference):
                raise Reject("FIMP18", f"ReferencePrise {reference} already exists: order it with PriseExistante=O")
            return None
        if not reference:
            return None  # existing socket, reference unknown to the OC: a Hotline CR follows
        line = network.line(reference)
        if line is None:
            raise Reject("FIMP02", f"ReferencePrise {reference} unknown")
        if line.hexacle != address.hexacle or line.batiment != address.batiment:
            raise Reject("FIMP03", f"ReferencePrise {reference} is not at this address")
        taken = self.store.orders_on_socket(ctx.doc.tenant, reference, [s.value for s in BEFORE_MAD | AFTER_MAD])
        if taken or reference in ctx.sockets_in_file:
            raise Reject("FIMP19", f"ReferencePrise {reference} is already assigned to order "
                                   f"{taken[0] if taken else 'of this file'}")
        return line

    # ------------------------------------------------------------------ Annul_Acces
    def _cancel(self, record: Record, ctx: Context) -> dict[str, str]:
        ref = record["ReferenceCommandePriseInterneOC"]
        answer = {"ReferenceCommandePriseInterneOC": ref,
                  "ReferencePrestationPrise": record["ReferencePrestationPrise"],
                  "DateCrCommandeAnnulPrise": ctx.stamp, "TypeOperation": "ANNUL"}
        order = self.store.get_order(ctx.doc.tenant, ref)
        try:
            if record.errors:
                raise Reject(self.pack.code_for(record.errors), "; ".join(map(str, record.errors)))
            if order is None:
                raise Reject("FIMP14", f"no order {ref} for {ctx.doc.tenant}")
            answer["ReferencePrestationPrise"] = order.prestation
            answer["TypeOperation"] = "RESIL" if order.state in AFTER_MAD else "ANNUL"
            given = record["ReferencePrestationPrise"]
            if given and given != order.prestation:
                raise Reject("FIMP16", f"ReferencePrestationPrise {given} is not the one of order {ref}")
            if order.state not in BEFORE_MAD | AFTER_MAD:
                raise Reject("FIMP16", f"order {ref} is {order.state}: it cannot be cancelled")
            fired = on_demand.fault(self, ctx.doc.tenant, "ANNUL", ref, order.data.get("CodeAdresseImmeuble", ""),
                                    [record["Commentaire"], *on_demand.texts_of(order.data)], ctx.effects,
                                    ctx.doc.channel)
            if fired is not None:
                raise Reject(fired.rule.code, fired.rule.comment)
        except Reject as r:
            return {**answer, "EtatCrAnnResCommandePrise": "KO", "MotifKoCrAnnResCommandePrise": r.code,
                    "Commentaire": (r.comment or self.pack.reject_label(r.code))[:512]}
        resil = order.state in AFTER_MAD
        order.state = State.TERMINATED if resil else State.CANCELLED
        order.data["Annulation"] = {k: record[k] for k in ("DateAnnulation", "ResponsabiliteAnnulationCommandePrise")}
        self._touch(order, ctx.now, "CR RESIL OK" if resil else "CR ANNUL OK", ctx.doc.filename)
        return {**answer, "EtatCrAnnResCommandePrise": "OK"}

    # ------------------------------------------------------------------ CR_STOC
    def _cr_stoc(self, record: Record, ctx: Context) -> None:
        """The OC's technician's report. No flow answers it: an error is a journal finding against the OC."""
        ref = record["ReferenceCommandePriseInterneOC"]
        order = self.store.get_order(ctx.doc.tenant, ref)
        problem = ""
        if record.errors:
            problem = "; ".join(map(str, record.errors))
        elif order is None:
            problem = f"no order {ref} for {ctx.doc.tenant}"
        elif record["ReferencePrestationPrise"] != order.prestation:
            problem = f"ReferencePrestationPrise is not the one of order {ref}"
        elif record["ReferenceCommandeSousTraitantOI"] != order.data.get("ReferenceCommandeSousTraitantOI"):
            problem = f"ReferenceCommandeSousTraitantOI is not the one of the Cmd_STOC of {ref}"
        elif order.state != State.STOC_ORDERED:
            problem = f"order {ref} is {order.state}: no CR_STOC is awaited"
        if problem or order is None:
            self._oc_finding(ctx, "CR_STOC", "line rejected", f"{ref}: {problem}")
            return None
        order.data["CrStoc"] = dict(record.values)
        if record["CrRaccordementPrise"] == "KO":
            motif = record["MotifKoCrRaccordementPrise"]
            if self.pack.rejects.get(motif, {}).get("stage") not in PRODUCTION_STAGES:
                # Spec decisions: a CR_STOC KO carries a catalogue motif; the attempt still ends.
                self._oc_finding(ctx, "CR_STOC", "bad motif",
                                 f"{ref}: MotifKoCrRaccordementPrise {motif!r} is not a connection motif of "
                                 f"the catalogue (Annexe 5f FINT/FCLI/FRDV/FAUT); taken as FAUT01")
                motif = "FAUT01"
            order.state = State.RACCO_KO
            self._touch(order, ctx.now, f"CR STOC KO {motif}", ctx.doc.filename)
            ctx.effects.outbound.append(_answer(
                order.tenant, order.network, "Notif_Racc_Ko", channel=channel_of(order), records=[{
                "ReferenceCommandePriseInterneOC": ref, "ReferencePrestationPrise": order.prestation,
                "DateRaccoKo": stamp(ctx.now), "MotifKoRaccordement": motif,
                "Commentaire": record["Commentaire"] or self.pack.reject_label(motif)}]))
            return None
        self._check_decharge(order, record, ctx)
        if record["NotificationReprovisioningHL"] == "OUI" and record["ReferencePrise"]:
            order.data["ReferencePrise"] = record["ReferencePrise"]  # the technician re-routed on site
        order.state = State.CONNECTED
        self._touch(order, ctx.now, "CR STOC OK", ctx.doc.filename)
        self._later(ctx.effects, ctx.now, "cr_mad", order, "cr_mad_after_cr_stoc")
        return None  # the CR MAD answers it, on the clock

    def _check_decharge(self, order: Order, record: Record, ctx: Context) -> None:
        """A CR_STOC after a reprovisioning carries the décharge number of its Notif_Reprov (seed 002);
        after a hotline call, with NotificationReprovisioningHL=OUI. Another number is a finding."""
        issued = order.data.get("NumeroDecharge", "")
        given = record["NumeroDecharge"]
        if order.data.get("Hotline") == "O" and not order.data.get("HotlineCall"):
            self._oc_finding(ctx, "CR_STOC", "wrong decharge",
                             f"{order.ref}: a CR_STOC after a Hotline CR and no call to the hotline: the socket "
                             "found on site was never reprovisioned")
            return
        if not issued:
            if given:
                self._oc_finding(ctx, "CR_STOC", "wrong decharge",
                                 f"{order.ref}: NumeroDecharge {given!r} but no reprovisioning gave one")
            return
        problems = []
        if given != issued:
            problems.append(f"NumeroDecharge {given!r}, the Notif_Reprov gave {issued!r}")
        if order.data.get("HotlineCall") and record["NotificationReprovisioningHL"] != "OUI":
            problems.append("NotificationReprovisioningHL is not OUI after the hotline's reprovisioning")
        if problems:
            self._oc_finding(ctx, "CR_STOC", "wrong decharge", f"{order.ref}: " + "; ".join(problems))

    def _oc_finding(self, ctx: Context, flow: str, outcome: str, detail: str) -> None:
        ctx.effects.findings.append(Finding(ctx.doc.tenant, ctx.doc.channel, "in", flow, ctx.doc.filename,
                                            outcome, detail))

    # ------------------------------------------------------------------ CR_MES
    def _cr_mes(self, record: Record, ctx: Context) -> None:
        ref = record["ReferenceCommandePriseInterneOC"]
        order = self.store.get_order(ctx.doc.tenant, ref)
        problem = ""
        if record.errors:
            problem = "; ".join(map(str, record.errors))
        elif order is None:
            problem = f"no order {ref}"
        elif record["ReferencePrestationPrise"] != order.prestation:
            problem = "ReferencePrestationPrise is not the one of the order"
        elif order.state != State.DELIVERED:
            problem = f"order is {order.state}: a CR MES comes after the CR MAD"
        if problem or order is None:
            self._oc_finding(ctx, "CR_MES_Ligne", "line rejected", f"{ref}: {problem}")
            return None
        order.data["CrMes"] = dict(record.values)
        if record["EtatMesPrise"] == "OK":
            order.state = State.IN_SERVICE
        self._touch(order, ctx.now, f"CR MES {record['EtatMesPrise']}", ctx.doc.filename)
        return None

    # ------------------------------------------------------------------ events on the clock
    def on_event(self, kind: str, tenant: str, ref: str, payload: dict[str, Any], now: datetime) -> Effects:
        effects = Effects()
        order = self.store.get_order(tenant, ref)
        if order is None:
            return effects
        self._event_handlers[kind](order, payload, now, effects)
        return effects

    def _emit_cr(self, order: Order, payload: dict[str, Any], now: datetime, effects: Effects) -> None:
        if order.state != State.ACKNOWLEDGED:
            return  # cancelled meanwhile: nothing to report
        if on_demand.delayed(self, order, "cr_cmd", "CR", payload, now, effects):
            return
        fired = on_demand.for_order(self, order, "CR", effects)
        if fired is not None:
            self._cr_ko(order, fired.rule.code, fired.rule.comment, now, effects)
            return
        network = self.networks[order.network]
        address = network.address_by_id(order.data["IdentifiantImmeuble"])
        assert address is not None, "orders only reference known buildings"
        pm = network.pm_of(address)
        code, reason = appointments.check(self, order, address.hexacle, now)  # the IdRdv: FRDV codes
        if code:
            self._cr_ko(order, code, reason, now, effects)
            return
        code = failures.draw(self, order, "cr_ko")  # the tenant's failure rate (default 0)
        if code:
            self._cr_ko(order, code, self.pack.reject_label(code), now, effects)
            return
        hotline = order.data["PriseExistante"] == "O" and not order.data["ReferencePrise"]
        line = network.line(order.data["ReferencePrise"]) if order.data["ReferencePrise"] else None
        if hotline:  # the route of an existing socket there, never a new one (spec decisions: Hotline)
            line = self._free_socket(network, address, order)
            if line is None:
                self._cr_ko(order, "FIMP17", f"no free existing socket at {address.identifiant_immeuble} "
                                             f"staircase {order.data.get('Escalier')!r} floor "
                                             f"{order.data.get('Etage')!r}: order a new one (PriseExistante=N)",
                            now, effects)
                return
            order.data["HotlineCandidate"] = line.reference_prise
        route: Route | None = None
        if line is not None:
            pbo_ref, route = line.pbo, line.route
        else:  # a socket to build: its reference and a route through the PBO of its staircase
            pbo_ref = self._pbo_serving(network, address, order.data)
            if network.network not in self._pm_used:
                self._pm_used[network.network] = failures.pm_usage(network)
            saturated = failures.saturation(network, address, pbo_ref, self._pm_used[network.network])
            if saturated:
                self._cr_ko(order, "FINT01", saturated, now, effects)
                return
            order.data["ReferencePrise"] = self._new_socket_reference(network)
            route = network.new_route(address, self.store.next_sequence(f"route:{network.network}"), pbo_ref)
        pbo = network.pbo(pbo_ref)
        order.data.update({"ReferencePBO": pbo_ref, "Hotline": "O" if hotline else "N"})
        if route is not None:
            order.data["Route"] = route_fields(route)
        cr = {
            "ReferenceCommandePriseInterneOC": order.ref, "ReferencePrestationPrise": order.prestation,
            "EtatCrCommandePrise": "OK", "DateCrCommandePrise": stamp(now),
            "TypeCommandeRetenu": ORDER_TYPES[order.data["TypeCommandeDemande"]],
            "Hotline": "O" if hotline else "N", "ReferencePrise": order.data["ReferencePrise"],
            "ReferencePm": pm.reference, "ReferencePmTechnique": pm.reference_technique,
            "LocalisationPm": pm.localisation, "ReferencePBO": pbo_ref,
            "LocalisationPBO": pbo.localisation if pbo else "", "TypePBO": pbo.type_pbo if pbo else "",
            "CodeAccesImmeuble": "", "ContactsImmeuble": "", "PmAccessible": "O", "InfoObtentionCle": "",
            "RaccordementLong": "N",
            "Commentaire": "CR Hotline: appel hotline du technicien sur site requis" if hotline else "",
        }
        if route is not None:
            cr.update(route_block(route, order.tenant))
        order.state = State.ROUTED
        self._touch(order, now, "CR OK" + (" Hotline" if hotline else ""))
        effects.outbound.append(_answer(
            order.tenant, order.network, "CR_Cmd_Acces", channel=channel_of(order), records=[cr]))
        reprov = None if hotline else on_demand.for_order(self, order, "CR", effects, actions=("reprovision",))
        if reprov is not None:  # a reprovisioning on demand: its Notif_Reprov right after the CR
            effects.extend(self.reprovision(order, reprov.rule.motif, now, reprov.rule.comment))
        if hotline and order.data["TypeRacco"] != "STOC":
            # OI (or OC) connection: the operator's own technician finds the socket and reprovisions it.
            self._later(effects, now, "reprov", order, "hotline_reprov",
                        {"motif": hotline_motif(), "hotline": True})
        else:  # STOC: the Cmd_STOC follows; the OC's technician calls the hotline from the site
            self._schedule_connection(order, now, effects)

    def _cr_ko(self, order: Order, code: str, comment: str, now: datetime, effects: Effects) -> None:
        """A CR KO (Annexe 5f): the order ends there."""
        order.state = State.CR_KO
        self._touch(order, now, f"CR KO {code}", comment)
        effects.outbound.append(_answer(
            order.tenant, order.network, "CR_Cmd_Acces", channel=channel_of(order), records=[{
            "ReferenceCommandePriseInterneOC": order.ref, "ReferencePrestationPrise": order.prestation,
            "EtatCrCommandePrise": "KO", "MotifKoCrCommandePrise": code, "DateCrCommandePrise": stamp(now),
            "TypeCommandeRetenu": "NA", "ReferencePm": order.data.get("ReferencePm", ""),
            "Commentaire": (comment or self.pack.reject_label(code))[:512]}]))

    def _schedule_connection(self, order: Order, now: datetime, effects: Effects) -> None:
        """Once the route is known: a Cmd_STOC (STOC mode), or the CR MAD when the OI or the OC connects."""
        mode = order.data["TypeRacco"]
        if mode == "STOC":
            self._later(effects, now, "cmd_stoc", order, "cmd_stoc")
        else:
            self._later(effects, now, "cr_mad", order, "oi_connection" if mode == "OI" else "oc_connection")

    def _emit_cmd_stoc(self, order: Order, payload: dict[str, Any], now: datetime, effects: Effects) -> None:
        if order.state != State.ROUTED:
            return
        network = self.networks[order.network]
        address = network.address_by_id(order.data["IdentifiantImmeuble"])
        assert address is not None
        pm = network.pm_of(address)
        pbo = network.pbo(order.data["ReferencePBO"])
        stoc_ref = f"ST{network.arcep}{self.store.next_sequence('stoc'):010d}"
        order.data["ReferenceCommandeSousTraitantOI"] = stoc_ref
        deadline = self._due("stoc_deadline", now)
        line = {k: order.data.get(k, "") for k in (
            "ReferenceCommandePriseInterneOC", "CommuneImmeuble", "CodePostalImmeuble", "CodeInseeImmeuble",
            "CodeVoieRivoliImmeuble", "NumeroVoieImmeuble", "ComplementNumeroVoieImmeuble", "TypeVoieImmeuble",
            "LibelleVoieImmeuble", "CodeAdresseImmeuble", "Batiment", "Escalier", "Etage", "NomClient",
            "PrenomClient", "ContactClient1", "IdRdv", "DateInstall", "ReferencePrise")}
        line.update({
            "ReferenceCommandeSousTraitantOI": stoc_ref, "ReferencePrestationPrise": order.prestation,
            "CodeAdresseImmeuble": address.hexacle, "ReferencePm": pm.reference,
            "ReferencePmTechnique": pm.reference_technique, "ReferencePBO": order.data["ReferencePBO"],
            "LocalisationPBO": pbo.localisation if pbo else "", "TypePBO": pbo.type_pbo if pbo else "",
            "DateLimiteRaccordement": day(deadline), "Commentaire": "",
        })
        order.data["DateLimiteRaccordement"] = day(deadline)
        if "Route" in order.data:
            line.update(route_block(order.data["Route"], order.tenant))
        order.state = State.STOC_ORDERED
        self._touch(order, now, "Cmd STOC")
        effects.outbound.append(_answer(
            order.tenant, order.network, "Cmd_STOC", channel=channel_of(order), records=[line]))
        # DateLimiteRaccordement is a day: the CR_STOC may come until its end.
        end = datetime.combine(deadline.date() + timedelta(days=1), time(0), tzinfo=deadline.tzinfo)
        effects.events.append(ScheduledEvent(end, "stoc_deadline", order.tenant, order.ref, {}))

    def _stoc_deadline(self, order: Order, payload: dict[str, Any], now: datetime, effects: Effects) -> None:
        """No CR_STOC by DateLimiteRaccordement: the attempt ends with a Notif_Racc_Ko (docs/files.md)."""
        if order.state != State.STOC_ORDERED:
            return
        motif = str(self.profile.settings.get("stoc_deadline_motif", "FAUT01"))
        limit = order.data.get("DateLimiteRaccordement", "")
        self._racc_ko(order, motif, f"DateLimiteRaccordement {limit} dépassée sans CR_STOC", now, effects)
        effects.findings.append(Finding(order.tenant, order.data.get("channel", "ftp"), "out", "Notif_Racc_Ko", "",
                                        "deadline passed", f"{order.ref}: no CR_STOC by {limit}"))

    def _racc_ko(self, order: Order, motif: str, comment: str, now: datetime, effects: Effects) -> None:
        order.state = State.RACCO_KO
        self._touch(order, now, f"Notif Racc KO {motif}", comment)
        effects.outbound.append(_answer(
            order.tenant, order.network, "Notif_Racc_Ko", channel=channel_of(order), records=[{
            "ReferenceCommandePriseInterneOC": order.ref, "ReferencePrestationPrise": order.prestation,
            "DateRaccoKo": stamp(now), "MotifKoRaccordement": motif,
            "Commentaire": (comment or self.pack.reject_label(motif))[:512]}]))

    def _emit_cr_mad(self, order: Order, payload: dict[str, Any], now: datetime, effects: Effects) -> None:
        ready = State.CONNECTED if order.data["TypeRacco"] == "STOC" else State.ROUTED
        if order.state != ready:
            return
        if on_demand.delayed(self, order, "cr_mad", "RACCO", payload, now, effects):
            return
        fired = on_demand.for_order(self, order, "RACCO", effects)
        if fired is not None:  # the connection fails on demand: Notif_Racc_Ko with that code
            self._racc_ko(order, fired.rule.code, fired.rule.comment, now, effects)
            return
        if order.data["TypeRacco"] == "OI":  # the operator's own connection may fail (tenant's rate)
            code = failures.draw(self, order, "racc_ko")
            if code:
                self._racc_ko(order, code, self.pack.reject_label(code), now, effects)
                return
        order.state = State.DELIVERED
        order.data["DateMadPrise"] = day(now)  # billing starts here
        self._touch(order, now, "CR MAD OK")
        effects.outbound.append(_answer(
            order.tenant, order.network, "CR_MAD_Ligne", channel=channel_of(order), records=[{
            "ReferenceCommandePriseInterneOC": order.ref, "ReferencePrestationPrise": order.prestation,
            "ReferencePrise": order.data["ReferencePrise"], "EtatCrMadPrise": "OK", "DateMadPrise": day(now),
            "TypeCommandeRetenu": ORDER_TYPES[order.data["TypeCommandeDemande"]],
            "ReferencePm": order.data["ReferencePm"], "ReferencePBO": order.data.get("ReferencePBO", ""),
            "Commentaire": ""}]))
        self._overwrite(order, now, effects)

    def _overwrite(self, order: Order, now: datetime, effects: Effects) -> None:
        """The socket is now this order's line: another OC holding it in service is overwritten (écrasement):
        its line ends and it gets a Notif_Ecrasement (spec decisions)."""
        socket = order.data.get("ReferencePrise", "")
        states = [s.value for s in AFTER_MAD]
        rows = self.store.query(
            "SELECT tenant, ref FROM orders WHERE tenant != ? AND socket = ? "
            f"AND state IN ({','.join('?' * len(states))})", (order.tenant, socket, *states)) if socket else []
        for row in rows:
            holder = self.store.get_order(row["tenant"], row["ref"])
            if holder is None:
                continue
            holder.state = State.OVERWRITTEN
            holder.data["Ecrasement"] = {"tenant": order.tenant, "prestation": order.prestation, "at": stamp(now)}
            self._touch(holder, now, "Notif Ecrasement", f"socket {socket} taken by {order.tenant} "
                                                         f"({order.prestation})")
            self._touch(order, now, "Ecrasement", f"socket {socket} was {holder.tenant}'s ({holder.prestation})")
            for tenant, detail in ((holder.tenant, f"{holder.ref}: socket {socket} taken by another OC's order"),
                                   (order.tenant, f"{order.ref}: socket {socket} was held in service by another OC")):
                effects.findings.append(Finding(tenant, order.data.get("channel", "ftp"), "out", "Notif_Ecrasement",
                                                "", "ecrasement", detail))
            effects.outbound.append(_answer(
                holder.tenant, holder.network, "Notif_Ecrasement", channel=channel_of(holder), records=[{
                "ReferenceCommandePriseInterneOC": holder.ref, "ReferencePrestationPrise": holder.prestation,
                "ReferencePrise": socket, "DateEcrasement": stamp(now),
                "Commentaire": "Ligne écrasée par la commande d'un autre opérateur commercial"}]))

    def _emit_reprov(self, order: Order, payload: dict[str, Any], now: datetime, effects: Effects) -> None:
        if order.state not in REPROVISIONABLE:
            return
        line = None
        if payload.get("socket"):  # a cold reprovisioning asked on another socket: still free?
            try:
                line = hotline.found_socket(self, order, payload["socket"])
            except ActionRefused:
                line = None
        effects.extend(self.reprovision(order, payload.get("motif", "Fibre HS"), now, socket=line))
        if payload.get("hotline"):
            self._schedule_connection(order, now, effects)

    # ------------------------------------------------------------------ operator actions
    def act(self, action: str, tenant: str, args: Mapping[str, Any], now: datetime) -> Effects:
        """`reprovision` {ref, motif}: a new route optique for an order (Notif_Reprov); `hotline` {ref, socket,
        kind, motif}: a technician's call (hotline.py); `building_works` {building, motif}: the operator's
        reprovisioning of a building's orders."""
        if action == "hotline":
            return hotline.call_hotline(self, tenant, args, now)
        if action == "building_works":
            return hotline.building_works(self, tenant, args, now)
        if action == "failure_rates":
            return failures.set_rates(self, tenant, args)
        if action == "appointment_slots":
            return appointments.slots(self, args, now)
        if action == "book_appointment":
            return appointments.book(self, tenant, args, now)
        if action == "cancel_appointment":
            return appointments.cancel(self, tenant, args)
        ref = str(args.get("ref", ""))
        order = self.store.get_order(tenant, ref)
        if order is None:
            raise ActionRefused(f"no order {ref} for {tenant}")
        try:
            return self.reprovision(order, str(args.get("motif") or "Fibre HS"), now)
        except Reject as r:
            raise ActionRefused(r.comment) from None

    def reprovision(self, order: Order, motif: str, now: datetime, comment: str = "",
                    socket: Line | None = None) -> Effects:
        """Give the order a new route optique (and, after a Hotline CR, its socket; or the socket a technician
        found on site): Notif_Reprov with a décharge number, which the CR_STOC must carry."""
        effects = Effects()
        if order.state not in REPROVISIONABLE:
            raise Reject("FIMP16", f"order {order.ref} is {order.state}: reprovisioning happens between CR and "
                                   "CR MAD")
        network = self.networks[order.network]
        address = network.address_by_id(order.data["IdentifiantImmeuble"])
        assert address is not None
        if socket is None and not order.data["ReferencePrise"]:  # after a Hotline CR: the OI's technician
            socket = self._free_socket(network, address, order)
            if socket is None:  # taken meanwhile: the one the CR named (never a new socket)
                socket = network.line(order.data.get("HotlineCandidate", ""))
            if socket is None:
                raise Reject("FIMP17", f"no existing socket left at {address.identifiant_immeuble}")
        if socket is not None and socket.reference_prise != order.data["ReferencePrise"]:
            order.data.update(ReferencePrise=socket.reference_prise, ReferencePBO=socket.pbo)
            route = socket.route
        else:  # another fibre through the same PBO
            pbo = order.data.get("ReferencePBO") if order.data.get("ReferencePBO") in address.pbos else None
            route = network.new_route(address, self.store.next_sequence(f"route:{network.network}"), pbo)
        order.data["Route"] = route_fields(route)
        decharge = f"DCH{network.arcep}{self.store.next_sequence('decharge'):08d}"
        order.data["NumeroDecharge"] = decharge  # the CR_STOC must carry it (ACCES-DECHARGE)
        pm = network.pm_of(address)
        self._touch(order, now, "Notif Reprov", motif)
        effects.outbound.append(_answer(
            order.tenant, order.network, "Notif_Reprov", channel=channel_of(order), records=[{
            "ReferenceCommandePriseInterneOC": order.ref, "ReferencePrestationPrise": order.prestation,
            "ReferencePrise": order.data["ReferencePrise"], "DateNotifReprov": stamp(now), "MotifReprov": motif,
            "NumeroDecharge": decharge, "ReferencePm": pm.reference, "ReferencePmTechnique": pm.reference_technique,
            "ReferencePBO": order.data.get("ReferencePBO", ""), **route_block(route, order.tenant),
            "Commentaire": comment}]))
        return effects

    # ------------------------------------------------------------------ helpers
    def _touch(self, order: Order, now: datetime, step: str, detail: str = "") -> None:
        order.updated = _iso(now)
        self.store.save_order(order, step, detail)

    def _due(self, timing: str, now: datetime) -> datetime:
        """`timing` of the profile after `now`. The due events of one moment all ask the same delays from the
        same time: each is computed once (working days walk the calendar)."""
        key = (timing, now)
        due = self._dues.get(key)
        if due is None:
            if len(self._dues) > 1000:
                self._dues.clear()
            due = self._dues[key] = self.profile.timings[timing].after(now, self.calendar)
        return due

    def _later(self, effects: Effects, now: datetime, kind: str, order: Order, timing: str,
               payload: dict[str, Any] | None = None, cache: dict[str, datetime] | None = None) -> None:
        if cache is not None and timing in cache:
            due = cache[timing]
        else:
            due = self._due(timing, now)
            if cache is not None:
                cache[timing] = due
        effects.events.append(ScheduledEvent(due, kind, order.tenant, order.ref, payload or {}))

    def _pbo_serving(self, network: ReferenceNetwork, address: Address, data: dict[str, Any]) -> str:
        """The PBO of the ordered staircase (that of its existing sockets), else the building's first. Lines
        take the staircases in turn, so the first line of each says its PBO: no need to read every line."""
        wanted = data.get("Escalier", "").strip().upper()
        if not self._batches:
            return self._first_pbo_serving(network, address, wanted)
        key = (network.network, address.identifiant_immeuble, wanted)
        pbo = self._pbo_by_staircase.get(key)
        if pbo is None:
            pbo = self._pbo_by_staircase[key] = self._first_pbo_serving(network, address, wanted)
        return pbo

    @staticmethod
    def _first_pbo_serving(network: ReferenceNetwork, address: Address, wanted: str) -> str:
        for building in network.addresses_by_hexacle(address.hexacle) or [address]:
            if building.batiment != address.batiment:
                continue
            for escalier, pbo in building.lines.staircases():
                if (not wanted or escalier.strip().upper() == wanted) and pbo in address.pbos:
                    return pbo
        return address.pbos[0]

    def _free_socket(self, network: ReferenceNetwork, address: Address, order: Order) -> Line | None:
        """An existing socket on the ordered floor that neither another operator nor a live order holds."""
        live = [s.value for s in BEFORE_MAD | AFTER_MAD]
        for line in network.lines_at(address, address.batiment, order.data.get("Escalier", ""),
                                     order.data.get("Etage", "")):
            if line.batiment == address.batiment and not line.occupied \
                    and not self.store.orders_on_socket(None, line.reference_prise, live):
                return line
        return None

    def _new_socket_reference(self, network: ReferenceNetwork) -> str:
        """A socket built for an order: ARCEP format OO-XXXX-XXXX, never one of the network's."""
        while True:
            n = self.store.next_sequence(f"socket:{network.network}")
            digits = f"{n:07d}"
            reference = f"{network.arcep}-N{digits[:3]}-{digits[3:]}"
            if network.line(reference) is None:
                return reference
