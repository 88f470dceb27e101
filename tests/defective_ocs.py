"""Deliberately defective OCs: the examiner's own examination (tests/test_examiner_self_test.py).

Each is our reference OC (simulator/operators/covage/harness/reference.py) with one realistic defect, the kind a real OC
integration has, named after what it does wrong. `DEFECTS` says, for each, the check id of docs/checks.md
the harness must fail it with and the scenarios (a pytest -k expression) that bring the defect out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from conformance.adapters import Context
from conformance.client.ftp import FtpSession
from simulator.operators.covage.harness.client import OcFtpClient, ReceivedFile
from simulator.operators.covage.harness.client import orders as order_files
from simulator.operators.covage.harness.client.pm import MailAccount, OcPmClient
from simulator.operators.covage.harness.client.soap import OcSoapClient
from simulator.operators.covage.harness.reference import Order, ReferenceOc


# ---------------------------------------------------------------------------------------------- defective clients
class YesterdayClient(OcFtpClient):
    """Names its files after the day before: a nightly batch dating files with the business day it closes."""

    def next_filename(self, flow_name: str, *, oc: str | None = None) -> str:
        flow = self.flow(flow_name)
        day = (self.today() - timedelta(days=1)).strftime("%Y%m%d")
        key = (flow.code, day)
        self._sequences[key] = self._sequences.get(key, 0) + 1
        return self.pack.render_filename(flow, self.oi, oc or self.oc_code, day, self._sequences[key])


class SequenceOneClient(OcFtpClient):
    """Numbers every file 000001: the sequence is never kept between two sends."""

    def next_filename(self, flow_name: str, *, oc: str | None = None) -> str:
        day = self.today().strftime("%Y%m%d")
        return self.pack.render_filename(self.flow(flow_name), self.oi, oc or self.oc_code, day, 1)


class KeepsOutClient(OcFtpClient):
    """Downloads what the OI left in OUT but never deletes it."""

    def poll(self) -> list[ReceivedFile]:
        read: set[str] = self.__dict__.setdefault("_read_names", set())  # so it handles each file once
        fetched = []
        for name in sorted(self.session.list_files(self.out_folder), key=self._order_key):
            if name not in read:
                read.add(name)
                fetched.append(self._parse(name, self.session.download(f"{self.out_folder}/{name}")))
        self._inbox.extend(fetched)
        return fetched


class NoInfoCmdAcces8Client(OcFtpClient):
    """Writes the Cmd_Acces with a template one column short: no InfoCmdAcces8, the last column."""

    def send(self, flow_name: str, records: Iterable[Mapping[str, str]], *, via_tmp: bool = False,
             filename: str | None = None) -> str:
        if flow_name != "Cmd_Acces":
            return super().send(flow_name, records, via_tmp=via_tmp, filename=filename)
        flow = self.flow(flow_name)
        assert flow.column_names[-1] == "InfoCmdAcces8", flow.column_names[-1]
        lines = flow.write(records).split(b"\r\n")
        content = b"\r\n".join(line.rsplit(b";", 1)[0] if line else line for line in lines)
        return self.send_raw(filename or self.next_filename(flow_name), content, via_tmp=via_tmp)


class Utf8Client(OcFtpClient):
    """Writes its files in UTF-8 (the default of its language) instead of ISO-8859-1."""

    def send(self, flow_name: str, records: Iterable[Mapping[str, str]], *, via_tmp: bool = False,
             filename: str | None = None) -> str:
        content = self.flow(flow_name).write(records).decode("iso-8859-1").encode("utf-8")
        return self.send_raw(filename or self.next_filename(flow_name), content, via_tmp=via_tmp)


def with_client(oc: ReferenceOc, client: type[OcFtpClient]) -> None:
    """Give a reference OC a defective FTP client: its own, made a subclass of OcFtpClient (not connected yet)."""
    oc.client.__class__ = client


# ---------------------------------------------------------------------------------------------- defective OCs
class DatesFilesYesterday(ReferenceOc):
    def __init__(self, context: Context):
        super().__init__(context)
        with_client(self, YesterdayClient)


class ReusesSequenceOne(ReferenceOc):
    def __init__(self, context: Context):
        super().__init__(context)
        with_client(self, SequenceOneClient)


class LeavesOutUncleaned(ReferenceOc):
    def __init__(self, context: Context):
        super().__init__(context)
        with_client(self, KeepsOutClient)


class DropsInfoCmdAcces8Column(ReferenceOc):
    def __init__(self, context: Context):
        super().__init__(context)
        with_client(self, NoInfoCmdAcces8Client)


class WritesUtf8(ReferenceOc):
    def __init__(self, context: Context):
        super().__init__(context)
        with_client(self, Utf8Client)


class TakesArKoForAcknowledged(ReferenceOc):
    """Reads only that an AR came, not its EtatArCommandePrise: an AR KO is taken as acknowledged."""

    @staticmethod
    def _ok_or_reject(order: Order, line: Mapping[str, str], state: str, motif: str, ok_state: str) -> bool:
        if state == "EtatArCommandePrise":
            order.state = ok_state
            return True
        return ReferenceOc._ok_or_reject(order, line, state, motif, ok_state)


class RejectCodeFromStateColumn(ReferenceOc):
    """Keeps the KO's state column ("KO") as the reject code instead of its motif column."""

    @staticmethod
    def _ok_or_reject(order: Order, line: Mapping[str, str], state: str, motif: str, ok_state: str) -> bool:
        ok = ReferenceOc._ok_or_reject(order, line, state, motif, ok_state)
        if not ok:
            order.reject_code = line.get(state) or None
        return ok


class NumbersRefsByLiveOrders(ReferenceOc):
    """Numbers its references by its count of orders not rejected: after a reject, the next order reuses the
    rejected order's reference."""

    def order_access(self, args: Mapping[str, Any]) -> dict[str, Any]:
        self._counter = sum(order.state != "rejected" for order in self.orders.values())
        return super().order_access(args)


class IgnoresNotifReprov(ReferenceOc):
    """Handles a Notif_Reprov's NumeroDecharge but keeps the route of the CR."""

    def _handle(self, file: ReceivedFile, line: dict[str, str]) -> None:
        if file.flow_name == "Notif_Reprov":
            order = self.orders.get(line.get("ReferenceCommandePriseInterneOC", ""))
            if order is not None:
                order.discharge = line.get("NumeroDecharge", "")
            return
        super()._handle(file, line)


class SendsMesAtOnce(ReferenceOc):
    """Sends the CR MES as soon as the customer's box is up, without waiting for the CR MAD."""

    def report_in_service(self, args: Mapping[str, Any]) -> dict[str, Any]:
        order = self._order(args["ref"])
        record = order_files.cr_mes({"ReferenceCommandePriseInterneOC": order.ref,
                                     "ReferencePrestationPrise": order.prestation or "",
                                     "ReferencePrise": order.route.get("ReferencePrise") or ""},
                                    date=self.context.today.replace("-", ""))
        self.client.send("CR_MES_Ligne", [record])
        order.state = "in_service"
        self._save()
        return {}


class TakesResilForCancellation(ReferenceOc):
    """Takes every CR_Annulation_Acces OK for a cancellation, whatever its TypeOperation (RESIL)."""

    def _handle(self, file: ReceivedFile, line: dict[str, str]) -> None:
        if file.flow_name == "CR_Annulation_Acces":
            line = {**line, "TypeOperation": "ANNUL"}
        super()._handle(file, line)


class AnswersItsOwnOrderNumber(ReferenceOc):
    """order_access answers its OSS's internal order number, not the reference it put in the Cmd_Acces."""

    def order_access(self, args: Mapping[str, Any]) -> dict[str, Any]:
        super().order_access(args)
        return {"ref": str(self._counter)}


class ReportsOwnRefAsPrestation(ReferenceOc):
    """Reports its own ReferenceCommandePriseInterneOC as the prestation: it mixes up the OC's and the OI's
    references."""

    def order_status(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().order_status(args), "prestation": args["ref"]}


class BurstsLookups(ReferenceOc):
    """Fires its web-service requests as fast as it can and never retries: no pacing in its SOAP client."""

    def _soap(self) -> OcSoapClient:
        if self._ws is None:
            self._ws = OcSoapClient(self.context.extra["http"], self.context.oc_code, self.context.ftp.user,
                                    self.context.ftp.password, per_second=1000, retries=0)
        return self._ws


class ReusesRequestId(ReferenceOc):
    """Builds the SOAP request header once and sends it with every request: one identifiantRequete for all."""

    def _soap(self) -> OcSoapClient:
        client = super()._soap()
        if "entete" not in client.__dict__:
            header = client.entete()
            client.entete = lambda: header  # type: ignore[method-assign]
        return client
class ForgetsTheDecharge(ReferenceOc):
    """Its technician's CR_STOC never carries the décharge number the hotline gave (nor the OUI flag)."""

    def _send_cr_stoc(self, order: Order) -> None:
        order.discharge = ""
        super()._send_cr_stoc(order)


class OwnKoMotif(ReferenceOc):
    """Its technicians' CR_STOC KO carries the OC's own wording, not a motif of the Annexe 5f catalogue."""

    def complete_stoc(self, args: Mapping[str, Any]) -> dict[str, Any]:
        if args.get("outcome") == "KO":
            args = {**args, "motif": "ABSENT"}
        return super().complete_stoc(args)


class WritesCommuneAsTyped(ReferenceOc):
    """Writes the commune as its customer typed it ("Saint-Quentin"), not in upper case as in the IPE."""

    def order_access(self, args: Mapping[str, Any]) -> dict[str, Any]:
        address = dict(args["address"])
        address["CommuneImmeuble"] = str(address.get("CommuneImmeuble", "")).title()
        return super().order_access({**args, "address": address})


class IgnoresEcrasement(ReferenceOc):
    """Reads the Notif_Ecrasement but keeps the line as in service: another OC's order is not its business."""

    def _handle(self, file: ReceivedFile, line: dict[str, str]) -> None:
        if file.flow_name != "Notif_Ecrasement":
            super()._handle(file, line)


# ---------------------------------------------------------------------------------------------- Protocole PM 2.2
class AnnouncesTheVisitDay(ReferenceOc):
    """Writes in DatePrevisionnelleAdduction the day its technician visits the building manager, the day after
    the notice, instead of the works date it was given: the notice is always too short."""

    def announce_works(self, args: Mapping[str, Any]) -> dict[str, Any]:
        tomorrow = date.fromisoformat(self.context.today) + timedelta(days=1)
        return super().announce_works({**args, "date": tomorrow.strftime("%Y%m%d")})


class ForgetsThePhotoAttachment(ReferenceOc):
    """Names the photo in NomFichierPhoto but only sends the technical sheet with the report."""

    def _attached(self, documents: dict[str, bytes]) -> dict[str, bytes]:
        return {name: data for name, data in documents.items() if not name.startswith("PHOTO")}


class NeverAcknowledgesMad(ReferenceOc):
    """Reads the CR_MAD_Pm into its system and never sends the AR MAD: its integration has no such flow."""

    def _send_ar_mad(self, order: Any, head: Mapping[str, str]) -> None:
        return None


class CountsAddressesAsDwellings(ReferenceOc):
    """Ingests the IPE taking each address line for one dwelling (NombreLogementsAdresseIPE ignored)."""

    def ipe_summary(self, args: Mapping[str, Any]) -> dict[str, Any]:
        summary = super().ipe_summary(args)
        if summary.get("found"):
            summary["dwellings"] = summary["addresses"]
        return summary


class KeepsTheFirstIpe(ReferenceOc):
    """Loads the IPE of a network once, at its first integration, and never again: the weekly changes of the
    network (buildings deployed, abandoned) never reach its system."""

    def _handle_pm(self, file: ReceivedFile) -> None:
        if file.flow_name == "IPE" and self._network_of(file.name) in self.ipe:
            return
        super()._handle_pm(file)


class KeepsPmOutClient(OcPmClient):
    """Downloads the PM folder's files but never deletes them (it remembers what it read)."""

    def receive_all(self, unparsed: frozenset[str] = frozenset()) -> list[ReceivedFile]:
        read: set[str] = self.__dict__.setdefault("_read_names", set())
        files = []
        for name in self.session.list_files(self.out_folder):
            if name not in read:
                read.add(name)
                files.append(self.parse(name, self.session.download(f"{self.out_folder}/{name}")))
        return files + self._read_mails()


class LeavesPmOutUncleaned(ReferenceOc):
    def _new_pm_client(self, session: FtpSession, mail: MailAccount | None) -> OcPmClient:
        client = super()._new_pm_client(session, mail)
        client.__class__ = KeepsPmOutClient
        return client


class MachineDateClient(OcPmClient):
    """Dates its PM files with the machine's clock, not the context's virtual date."""

    def next_filename(self, flow_name: str, pm: str) -> str:
        self.today = date.today
        return super().next_filename(flow_name, pm)


class DatesPmFilesWithTheMachineDate(ReferenceOc):
    def _new_pm_client(self, session: FtpSession, mail: MailAccount | None) -> OcPmClient:
        client = super()._new_pm_client(session, mail)
        client.__class__ = MachineDateClient
        return client


class ReadsTheIpeAsUtf8(ReferenceOc):
    """Reads the IPE as UTF-8 (its language's default), replacing what does not decode: the accents of the
    ISO-8859-1 file become U+FFFD in its system."""

    def _ipe_lines(self, network: str) -> list[dict[str, str]]:
        file = self.ipe.get(network)
        if file is not None and not file.records and file.content:
            misread = file.content.decode("utf-8", errors="replace").encode("utf-8")
            self.ipe[network] = self._pm_client().parse(file.name, misread)
        return super()._ipe_lines(network)


class ReadsCrInfoSyndicAsUtf8(ReferenceOc):
    """Reads the CR_InfoSyndic as UTF-8, replacing what does not decode: the building manager's accented
    free text (GÉRANCE, CLÉ EN BOÎTE À CLÉS) comes out with U+FFFD in its system."""

    def _works_answer(self, flow: str, line: Mapping[str, str]) -> None:
        if flow == "CR_InfoSyndic":
            line = {k: v.encode("latin-1", errors="replace").decode("utf-8", errors="replace")
                    for k, v in line.items()}
        super()._works_answer(flow, line)


class MailOnlyPmClient(OcPmClient):
    """Reads the PM answer mails only: its integration never looks in OUT/.../PM."""

    def receive_all(self, unparsed: frozenset[str] = frozenset()) -> list[ReceivedFile]:
        return self._read_mails()


class NeverReadsPmOut(ReferenceOc):
    def _new_pm_client(self, session: FtpSession, mail: MailAccount | None) -> OcPmClient:
        client = super()._new_pm_client(session, mail)
        client.__class__ = MailOnlyPmClient
        return client


class CountsAsText(ReferenceOc):
    """Answers pm_status with its database's text columns: the address count "12", not 12."""

    def pm_status(self, args: Mapping[str, Any]) -> dict[str, Any]:
        status = super().pm_status(args)
        return {**status, "addresses": str(status["addresses"])}


class TakesWorksAnswersForTheOrder(ReferenceOc):
    """Routes the PM folder's answers by ReferencePM: a CR_InfoSyndic is taken for its PM order's AR as well,
    and the order goes back to acknowledged (no step asks the order's state after the works)."""

    def _works_answer(self, flow: str, line: Mapping[str, str]) -> None:
        super()._works_answer(flow, line)
        works = self.works.get(line.get("ReferenceNotifInterneOC", ""))
        for order in self.pm_orders.values():
            if works is not None and order.pm == works.pm:
                order.state = "acknowledged"


class IgnoresMadUpdates(ReferenceOc):
    """Takes a CR_MAD_Pm for an order already available for a duplicate: acknowledges it, keeps the INITIAL's
    lines (a building deployed behind the PM never reaches its system)."""

    def _cr_mad(self, ref: str, lines: list[dict[str, str]]) -> None:
        order = self.pm_orders.get(ref)
        if order is not None and order.state == "available":
            self._send_ar_mad(order, lines[0])
            return
        super()._cr_mad(ref, lines)


class IgnoresCpn(ReferenceOc):
    """Reads and deletes the CPN with the rest of OUT/.../PM but never loads it: a PM that opens is open in its
    system only when a Monday IPE says so, and it never has the PM's NRO links."""

    def _handle_pm(self, file: ReceivedFile) -> None:
        if file.flow_name != "CPN":
            super()._handle_pm(file)


# ---------------------------------------------------------------------------------------------- what they must get
@dataclass(frozen=True)
class Defect:
    oc: type[ReferenceOc]
    check: str  # the check id (docs/checks.md) the harness must fail it with
    scenarios: str  # a pytest -k expression: the scenarios that bring the defect out
    also: frozenset[str] = frozenset()  # other ids the defect rightly leads to (none may appear but these)


REJECT = "address_the_operator_does_not_know"
STOC = "STOC_mode and CR_MES"
SEVERAL_LOOKUPS = "several_addresses"
DEFECTS = [
    Defect(DatesFilesYesterday, "ACCES-NAME-DATE", STOC),
    Defect(ReusesSequenceOne, "ACCES-NAME-SEQ", REJECT),
    Defect(LeavesOutUncleaned, "ACCES-OUT-CLEAN", "OI_mode"),
    Defect(DropsInfoCmdAcces8Column, "ACCES-FILE-COLUMNS", STOC),
    Defect(WritesUtf8, "ACCES-FILE-ENCODING", STOC),
    # Taking the AR KO for an OK, it knows no motif either.
    Defect(TakesArKoForAcknowledged, "ACCES-STATE", REJECT, frozenset({"ACCES-REJECT-CODE"})),
    Defect(RejectCodeFromStateColumn, "ACCES-REJECT-CODE", REJECT),
    Defect(NumbersRefsByLiveOrders, "ACCES-REJECT-RESEND", REJECT),
    Defect(IgnoresNotifReprov, "ACCES-REPROV-ROUTE", "reprovisioning_during_STOC"),
    Defect(SendsMesAtOnce, "ACCES-MES-BEFORE-MAD", "in_service_before_the_CR_MAD"),
    Defect(TakesResilForCancellation, "ACCES-RESIL", "is_a_RESIL"),
    Defect(AnswersItsOwnOrderNumber, "ACCES-REF", STOC),
    Defect(ReportsOwnRefAsPrestation, "ACCES-PRESTATION", STOC),
    # Refused by the flow control, it asks again at once and reports addresses it could not read.
    Defect(BurstsLookups, "WS-RATE", SEVERAL_LOOKUPS, frozenset({"WS-BACKOFF", "WS-STRUCTURE"})),
    Defect(ReusesRequestId, "WS-REQUEST-ID", SEVERAL_LOOKUPS),
    Defect(ForgetsTheDecharge, "ACCES-DECHARGE", "seed_002s_order"),
    Defect(IgnoresEcrasement, "ACCES-STATE", "second_OCs_order"),
    Defect(WritesCommuneAsTyped, "ACCES-UPPER-CASE", "OI_mode"),
    # The operator ends the attempt with FAUT01: the OC then rightly knows FAUT01, not the motif it meant.
    Defect(OwnKoMotif, "ACCES-STOC-MOTIF", "could_not_connect", frozenset({"ACCES-REJECT-CODE"})),
    # Protocole PM 2.2 (features/pm)
    Defect(AnnouncesTheVisitDay, "PM-NOTICE", "2_working_days_ahead"),
    Defect(ForgetsThePhotoAttachment, "PM-WORKS-DOCUMENTS", "in_time_over_channel_with_both_documents"),
    Defect(NeverAcknowledgesMad, "PM-AR-MAD", "made_available_and_the_oc_acknowledges"),
    Defect(CountsAddressesAsDwellings, "PM-IPE", "IPE_of_Monday"),
    Defect(LeavesPmOutUncleaned, "PM-OUT-CLEAN", "IPE_of_Monday"),
    Defect(KeepsTheFirstIpe, "PM-IPE", "deploys_during_the_week"),
    Defect(DatesPmFilesWithTheMachineDate, "PM-NAME-DATE", "made_available_and_the_oc_acknowledges and ftp"),
    Defect(ReadsTheIpeAsUtf8, "PM-IPE", "IPE_of_Monday"),
    Defect(ReadsCrInfoSyndicAsUtf8, "PM-STATE", "buildings_information"),
    Defect(NeverReadsPmOut, "PM-OUT-CLEAN", "within_a_day"),
    Defect(CountsAsText, "CONTRACT-TYPE", "made_available_and_the_oc_acknowledges and ftp"),
    Defect(TakesWorksAnswersForTheOrder, "PM-STATE", "2_working_days_ahead and ftp"),
    Defect(IgnoresMadUpdates, "PM-STATE", "brings_a_CR_MAD_Pm_MAJ and ftp"),
    Defect(IgnoresCpn, "PM-CPN", "announced_by_the_CPN"),
]
#: The defects the issue "the examiner's blind spots" asked for: their junit.xml is read back too.
JUNIT_DEFECTS = ("DatesPmFilesWithTheMachineDate", "ReadsTheIpeAsUtf8", "NeverReadsPmOut")

