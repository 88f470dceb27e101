"""Checks on the OC: what it sent, what it left in OUT, and what it says it understood (docs/checks.md).

The harness never imports the simulator's runtime: the evidence is read over the admin API (`observe`)
into an `Observation`, and every check is a pure function of it returning `conformance.results.Finding`s.
File names, flows and columns come from the spec pack (`simulator.specs.codec`, a library of data).

    observation = observe(admin, tenant, statuses)   # statuses: the OC's order_status answers per ref
    findings = run_checks(observation)

`statuses` maps each order reference to the OC's `order_status` answer, or to a list of answers; each
answer is a dict with `state` (harness.verbs.STATES), and optionally `prestation`, `reject_code`,
`route` (a dict of route columns) and `asked_at` (the virtual ISO date-time it was asked: without it,
the moment of `observe`). A key the OC does not report is not checked.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from conformance import file_rules
from conformance.client import AdminError, SandboxAdmin
from conformance.file_rules import RuleIds
from conformance.results import Evidence, Finding
from simulator.specs.codec import FlowSpec, ParsedFile, SpecPack, UnreadableFile, decode, load_pack

CLAUSE = "Accès 1.2"  # prefix of every clause: the protocol of /work/shared/spec/README.md


@dataclass(frozen=True)
class Check:
    id: str
    clause: str
    title: str
    description: str


#: The catalogue, as data: docs/checks.md has one line per id (a test keeps them in step).
CHECKS: dict[str, Check] = {c.id: c for c in (
    Check("ACCES-NAME-FLOW", f"{CLAUSE} §File names (seed 002)", "file name of a known OC flow",
          "Every file the OC drops follows <OI>_<OC>_<FLOW>_V12_<AAAAMMJJ>_<seq>.csv with the code of a flow "
          "the OC sends."),
    Check("ACCES-NAME-PARTIES", f"{CLAUSE} §File names (seed 002)", "OI and OC codes of the file name",
          "The name carries the OI of the folder it is dropped in and the OC's own code."),
    Check("ACCES-NAME-DATE", f"{CLAUSE} §File names (seed 002)", "date of the file name",
          "The date of the name is a real date and the (virtual) date of sending."),
    Check("ACCES-NAME-SEQ", f"{CLAUSE} §File names (seed 002)", "sequence never reused",
          "A sequence number is used once per flow and day."),
    Check("ACCES-FILE-ENCODING", f"{CLAUSE} §Common rules: encoding", "ISO-8859-1",
          "Files are ISO-8859-1 (Windows-1252 accepted); UTF-8 is read but reported (a warning)."),
    Check("ACCES-FILE-COLUMNS", f"{CLAUSE} §Flows (columns in order)", "header and columns of the flow",
          "One header line with the flow's columns in order, and no line with more cells than columns."),
    Check("ACCES-FILE-VALUES", f"{CLAUSE} §Flows; Annexe 5f FIMP15/FIMP16", "mandatory fields, lengths, values",
          "Every line has its mandatory fields, lengths, allowed values and formats, and no formula."),
    Check("ACCES-OUT-CLEAN", f"{CLAUSE} §FTP tree: the reader of a folder deletes what it has read",
          "answer files picked up and deleted",
          "Every file the OC downloaded from OUT is deleted, and no answer file waits unread long."),
    Check("ACCES-STATE", f"{CLAUSE} §Order life", "state understood",
          "The state the OC reports is the one the operator's files (and its own) lead to."),
    Check("ACCES-PRESTATION", f"{CLAUSE} §AR_Cmd_Acces", "ReferencePrestationPrise kept",
          "The OC reports the ReferencePrestationPrise the operator gave in its AR."),
    Check("ACCES-REJECT-CODE", f"{CLAUSE} §Annexe 5f (reject cases)", "reject code understood",
          "After a KO, the OC reports the operator's motif code."),
    Check("ACCES-ROUTE", f"{CLAUSE} §CR_Cmd_Acces (route optique)", "route optique held",
          "The route the OC reports is the one of the operator's latest CR or Cmd_STOC."),
    Check("ACCES-REJECT-RESEND", f"{CLAUSE} §Annexe 5f FIMP13", "a rejected reference is not resent",
          "After a reject the OC orders again under a new reference; an AR KO FIMP13 is a finding."),
    Check("ACCES-REPROV-ROUTE", f"{CLAUSE} §Notif_Reprov; Decisions: Hotline", "new route after a reprovisioning",
          "After a Notif_Reprov (or a Hotline CR) the OC holds the route it carries."),
    Check("ACCES-MES-BEFORE-MAD", f"{CLAUSE} §Order life: CR_MAD then CR_MES", "CR_MES only after a CR MAD OK",
          "The OC sends a CR_MES for an order only once the operator's CR MAD OK came."),
    Check("ACCES-RESIL", f"{CLAUSE} §CR_Annulation_Acces TypeOperation (seed 002)", "RESIL is a termination",
          "A CR_Annulation with TypeOperation=RESIL ends a line in service: state terminated, not cancelled."),
    # Asserted by the scenarios' steps (simulator/operators/covage/harness/steps/access.py) as the OC acts:
    Check("ACCES-SENT", f"{CLAUSE} §FTP tree: the OC drops in IN/<OI>/<ARCEP>/", "the verb made the OC send",
          "Asked to act (order, cancel, report the technician's work), the OC drops the flow's file in IN and the "
          "operator takes it."),
    Check("ACCES-REF", f"{CLAUSE} §Cmd_Acces ReferenceCommandePriseInterneOC", "the reference of the order sent",
          "order_access returns the ReferenceCommandePriseInterneOC of the Cmd_Acces line the OC sent."),
    # Journaled by the operator (no answer flow tells the OC): read from the journal.
    Check("ACCES-UNANSWERED-REFUSED", f"{CLAUSE} §Decisions: answers to flows that have no answer flow",
          "CR_STOC and CR_MES taken", "Every CR_STOC and CR_MES the OC sends is readable, names an order of its "
          "own with the operator's references, and comes in the state that awaits it."),
    Check("ACCES-DECHARGE", f"{CLAUSE} §CR_STOC NumeroDecharge; Decisions: Hotline", "décharge number reported",
          "After a Notif_Reprov the CR_STOC carries its NumeroDecharge (after a hotline call, with "
          "NotificationReprovisioningHL=OUI)."),
    Check("ACCES-STOC-MOTIF", f"{CLAUSE} §CR_STOC; Decisions: failures happen", "CR_STOC KO motif of the catalogue",
          "A CR_STOC KO carries a production motif of Annexe 5f (FINT, FCLI, FRDV, FAUT)."),
    Check("ACCES-UPPER-CASE", f"{CLAUSE} §Common rules: data in upper case; Decisions: upper case",
          "values in upper case as in the IPE", "Values compared with the IPE are in upper case."),
)}

#: Journal outcomes of the operator's findings against the OC (inbound flows without an answer flow, and
#: values it took while noting a fault), and the check each is reported under.
JOURNAL_CHECKS: dict[tuple[str, str], str] = {
    ("CR_STOC", "line rejected"): "ACCES-UNANSWERED-REFUSED",
    ("CR_STOC", "file rejected"): "ACCES-UNANSWERED-REFUSED",
    ("CR_STOC", "no data line"): "ACCES-UNANSWERED-REFUSED",
    ("CR_MES_Ligne", "line rejected"): "ACCES-UNANSWERED-REFUSED",
    ("CR_MES_Ligne", "file rejected"): "ACCES-UNANSWERED-REFUSED",
    ("CR_MES_Ligne", "no data line"): "ACCES-UNANSWERED-REFUSED",
    ("CR_STOC", "wrong decharge"): "ACCES-DECHARGE",
    ("CR_STOC", "bad motif"): "ACCES-STOC-MOTIF",
    ("Cmd_Acces", "not upper case"): "ACCES-UPPER-CASE",
    ("CR_STOC", "not upper case"): "ACCES-UPPER-CASE",
}

#: The flows whose lines move an order, and the state an OK / KO line leads to (None: unchanged).
#: Flow names are the pack's; what they mean to an order is the protocol's order life.
OI_FLOW_STATES: dict[str, tuple[str | None, str | None]] = {
    "AR_Cmd_Acces": ("acknowledged", "rejected"),
    "CR_Cmd_Acces": ("confirmed", "rejected"),
    "Cmd_STOC": ("stoc_requested", None),
    "CR_MAD_Ligne": ("available", "connection_failed"),
    "Notif_Reprov": (None, None),
    "Notif_Racc_Ko": ("connection_failed", None),
    "Notif_Ecrasement": ("overwritten", None),
}
OC_FLOW_STATES: dict[str, tuple[str | None, str | None]] = {
    "Cmd_Acces": ("sent", None),
    "CR_STOC": ("connected", "connection_failed"),
    "CR_MES_Ligne": ("in_service", None),
    "Annul_Acces": (None, None),  # the operator's CR_Annulation says what it did
}
#: Flows whose lines carry a route optique: the route is their route block 1 with the socket and PBO.
ROUTE_FLOWS = ("CR_Cmd_Acces", "Cmd_STOC", "Notif_Reprov")
KEY = "ReferenceCommandePriseInterneOC"
PRESTATION = "ReferencePrestationPrise"
REUSED_REFERENCE = "FIMP13"  # Annexe 5f: "Référence de commande interne OC déjà utilisée"
#: The flows of Protocole PM (IPE...): the Accès checks leave them to the PM checks.
_PM_PACK = load_pack("pm-2.2")
PM_FLOWS = frozenset(_PM_PACK.flows)
#: Files the operator broadcasts on its own clock (their names name no OC: the weekly IPE, the CPN).
BROADCAST_FLOWS = frozenset(name for name, flow in load_pack("pm-2.2").flows.items()
                            if flow.filename and "{oc}" not in flow.filename)
STALE_AFTER = timedelta(days=1)  # an answer file nobody downloaded for this long (virtual) is a finding


# ---------------------------------------------------------------------- the observation
@dataclass(frozen=True)
class SentFile:
    """A file the OC sent (inbound to the operator), as recorded by the sandbox."""

    id: int
    filename: str
    location: str  # the folder it came through, e.g. IN/COVA/CV
    at_virtual: str
    content: bytes
    channel: str = "ftp"
    outcomes: tuple[str, ...] = ()
    at_real: float = 0.0  # orders the exchanges of one frozen virtual moment
    kept: bool = True  # False: received before the sandbox kept contents (only its name can be checked)


@dataclass(frozen=True)
class AnswerFile:
    """A file the operator emitted to the OC."""

    id: int
    filename: str
    flow: str
    location: str
    at_virtual: str
    content: bytes
    channel: str = "ftp"
    at_real: float = 0.0


@dataclass(frozen=True)
class StatusAnswer:
    """One `order_status` answer of the OC, and the virtual moment it was asked."""

    ref: str
    asked_at: str
    answer: Mapping[str, Any]
    #: Real time it was asked (Unix seconds, the sandbox's host): a frozen virtual clock gives one moment to
    #: many exchanges, and only real time says which came before the question. inf: after all of them.
    asked_real: float = float("inf")

    @property
    def moment(self) -> tuple[str, float]:
        return (self.asked_at, self.asked_real)


@dataclass
class Observation:
    tenant: str
    oc_code: str
    pack: SpecPack
    now: str  # virtual time of the observation
    journal: list[dict[str, Any]] = field(default_factory=list)
    sent: list[SentFile] = field(default_factory=list)
    answers: list[AnswerFile] = field(default_factory=list)
    statuses: dict[str, list[StatusAnswer]] = field(default_factory=dict)
    stale_after: timedelta = STALE_AFTER

    @property
    def faulted(self) -> set[str]:
        """The orders a fault on demand refused (journal `fault applied`, "order <ref>: ..."): their FIMP13
        is the operator's choice, not a reference the OC used twice."""
        return {line["detail"].split(":", 1)[0].removeprefix("order ").strip() for line in self.journal
                if line.get("outcome") == "fault applied" and str(line.get("detail", "")).startswith("order ")}


def normalise_statuses(statuses: Mapping[str, Any], now: str) -> dict[str, list[StatusAnswer]]:
    """{ref: answer or [answers]} as StatusAnswers; an answer's `asked_at` (else `now`) dates it."""
    out: dict[str, list[StatusAnswer]] = {}
    for ref, value in statuses.items():
        answers = value if isinstance(value, list | tuple) else [value]
        out[ref] = [StatusAnswer(ref, str(a.get("asked_at") or now), a, float(a.get("asked_real") or "inf"))
                    for a in answers if isinstance(a, Mapping)]
    return out


def observe(admin: SandboxAdmin, tenant: str, statuses: Mapping[str, Any] | None = None, *,
            oc_code: str | None = None, pack: SpecPack | str = "acces-1.2") -> Observation:
    """Everything the checks need about `tenant`, read over the admin API (journal, files and bytes)."""

    def raw(path: str) -> bytes:
        # The content routes answer bytes, not JSON: SandboxAdmin.get would try to parse them.
        headers = {"Authorization": f"Bearer {admin.token}"} if admin.token else {}
        request = urllib.request.Request(f"{admin.base_url}/api{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=admin.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as e:  # as SandboxAdmin reports it: status and detail
            raise AdminError(e.code, e.read().decode("utf-8", errors="replace")) from None

    now = admin.now().isoformat(timespec="seconds")
    sent = [SentFile(f["id"], f["filename"], f["location"], f["at_virtual"],
                     raw(f"/inbound/{f['id']}/content?tenant={tenant}") if f.get("size") is not None else b"",
                     f.get("channel", ""), tuple(f.get("outcomes", ())), f.get("at_real", 0.0),
                     f.get("size") is not None)
            for f in admin.get_all("/inbound", tenant=tenant)]
    answers = [AnswerFile(f["id"], f["filename"], f["flow"], f["location"], f["at_virtual"],
                          raw(f"/files/{f['id']}/content?tenant={tenant}"), f.get("channel", ""),
                          f.get("at_real", 0.0))
               for f in admin.get_all("/files", tenant=tenant)]
    # settled: the OC's last downloads and deletions, journaled through the sandbox's engine, are in it.
    journal = sorted(admin.get_all("/journal", tenant=tenant, settled="true"), key=lambda line: line["id"])
    return Observation(tenant, oc_code or tenant, pack if isinstance(pack, SpecPack) else load_pack(pack), now,
                       journal, sent, answers, normalise_statuses(statuses or {}, now))


# ---------------------------------------------------------------------- evidence helpers
def _text(content: bytes) -> str:
    try:
        return decode(content, ("cp1252", "latin-1"))[0]
    except UnreadableFile:
        return content.decode("latin-1")


def file_in(f: SentFile) -> Evidence:
    return Evidence("file in", f"{f.location}/{f.filename} (received {f.at_virtual})", _text(f.content))


def file_out(f: AnswerFile) -> Evidence:
    return Evidence("file out", f"{f.location}/{f.filename} (emitted {f.at_virtual})", _text(f.content))


def journal_line(line: Mapping[str, Any]) -> Evidence:
    return Evidence("journal", f"#{line['id']} {line['at_virtual']} {line['direction']} {line['outcome']}",
                    json.dumps(dict(line), ensure_ascii=False))


def adapter(status: StatusAnswer) -> Evidence:
    return Evidence("adapter", f"order_status {status.ref} (asked {status.asked_at})",
                    json.dumps(dict(status.answer), ensure_ascii=False, default=str))


def finding(check: str, message: str, evidence: Iterable[Evidence]) -> Finding:
    return Finding(check, CHECKS[check].clause, message, list(evidence))


# ---------------------------------------------------------------------- reading files
def _acces_files(obs: Observation) -> list[SentFile]:
    # The PM sub-folder (and the PM files mailed) belong to Protocole PM 2.2: another capability's checks.
    return [f for f in obs.sent if not f.location.rstrip("/").upper().endswith("/PM")
            and _PM_PACK.parse_filename(f.filename) is None]


def _parse(flow: FlowSpec, content: bytes) -> ParsedFile | None:
    try:
        return flow.parse(content)
    except UnreadableFile:
        return None


@dataclass(frozen=True)
class _Line:
    """A data line of a flow about one order, in the order the exchanges happened."""

    at: str
    flow: str
    values: Mapping[str, str]
    source: SentFile | AnswerFile
    from_oc: bool

    @property
    def moment(self) -> tuple[str, float]:
        return (self.at, self.source.at_real)

    @property
    def ok(self) -> bool:
        # Every flow with an outcome has one OK/KO column (Etat..., CrRaccordementPrise); others are OK.
        state_columns = [v for k, v in self.values.items() if k.startswith(("Etat", "CrRaccordement"))]
        return not state_columns or state_columns[0] != "KO"

    def evidence(self) -> Evidence:
        return file_in(self.source) if isinstance(self.source, SentFile) else file_out(self.source)


def _lines(obs: Observation) -> dict[str, list[_Line]]:
    """Every line of every readable Accès file, by order reference, oldest first: by virtual time, then
    real time (a frozen clock gives one virtual moment to a file and its answers)."""
    by_ref: dict[str, list[tuple[str, float, int, _Line]]] = {}
    for f in _acces_files(obs):
        name = obs.pack.parse_filename(f.filename)
        if name is None or not name.flow.direction.startswith("OC"):
            continue
        parsed = _parse(name.flow, f.content)
        for r in parsed.records if parsed else []:
            if r.values.get(KEY):
                by_ref.setdefault(r.values[KEY], []).append(
                    (f.at_virtual, f.at_real, 0, _Line(f.at_virtual, name.flow.name, r.values, f, True)))
    for a in obs.answers:
        if a.flow not in obs.pack.flows:
            continue
        parsed = _parse(obs.pack.flow(a.flow), a.content)
        for r in parsed.records if parsed else []:
            if r.values.get(KEY):
                by_ref.setdefault(r.values[KEY], []).append(
                    (a.at_virtual, a.at_real, 1, _Line(a.at_virtual, a.flow, r.values, a, False)))
    return {ref: [x[3] for x in sorted(lines, key=lambda x: x[:3])] for ref, lines in by_ref.items()}


def _downloads(obs: Observation) -> dict[str, tuple[str, float]]:
    """Answer file name -> (virtual, real) time it was first downloaded (journal)."""
    seen: dict[str, tuple[str, float]] = {}
    for line in obs.journal:
        if line["direction"] == "out" and line["outcome"] == "downloaded":
            seen.setdefault(line["filename"], (line["at_virtual"], line["at_real"]))
    return seen


# ---------------------------------------------------------------------- checks on what the OC sent
#: The ids of the file rules every protocol shares (conformance/file_rules.py), for Accès 1.2.
ACCES_FILE_RULES = RuleIds(name_flow="ACCES-NAME-FLOW", name_parties="ACCES-NAME-PARTIES",
                           name_date="ACCES-NAME-DATE", name_seq="ACCES-NAME-SEQ", encoding="ACCES-FILE-ENCODING",
                           columns="ACCES-FILE-COLUMNS", values="ACCES-FILE-VALUES")


def check_names(obs: Observation) -> list[Finding]:
    return file_rules.check_names(_acces_files(obs), obs.pack, obs.oc_code, ACCES_FILE_RULES, finding,
                                  file_in)  # type: ignore[arg-type]


def check_contents(obs: Observation) -> list[Finding]:
    return file_rules.check_contents(_acces_files(obs), obs.pack, ACCES_FILE_RULES, finding,
                                     file_in)  # type: ignore[arg-type]


def check_out_clean(obs: Observation) -> list[Finding]:
    """Every downloaded answer file deleted after; none left undownloaded for `stale_after` (virtual)."""
    findings: list[Finding] = []
    downloaded: dict[str, dict[str, Any]] = {}
    deleted: set[str] = set()
    for line in obs.journal:
        if line["direction"] != "out" or not line["filename"]:
            continue
        if line["outcome"] == "downloaded":
            downloaded.setdefault(line["filename"], line)
        elif line["outcome"] == "deleted":
            deleted.add(line["filename"])
    now = datetime.fromisoformat(obs.now)
    for a in obs.answers:
        if a.channel not in ("ftp", "sftp"):
            continue  # a mail has no OUT folder to clean
        if a.flow in PM_FLOWS:
            continue  # the PM protocol's files (the weekly IPE) are judged by the PM checks, not Accès's
        if a.filename in downloaded and a.filename not in deleted:
            findings.append(finding("ACCES-OUT-CLEAN", f"{a.filename} was downloaded from {a.location} and left "
                                    "there: the reader deletes what it has read",
                                    [file_out(a), journal_line(downloaded[a.filename])]))
        elif (a.filename not in downloaded and a.filename not in deleted
              and now - datetime.fromisoformat(a.at_virtual) >= obs.stale_after):
            findings.append(finding("ACCES-OUT-CLEAN", f"{a.filename} waits unread in {a.location} since "
                                    f"{a.at_virtual} ({obs.now} now)", [file_out(a)]))
    return findings


def check_rejected_refs(obs: Observation) -> list[Finding]:
    """No order resent under a reference the operator rejected; no FIMP13 (reference already used)."""
    findings: list[Finding] = []
    order_flow = next((name for name, (ok, _) in OC_FLOW_STATES.items() if ok == "sent"), "")
    faulted = obs.faulted
    for ref, lines in _lines(obs).items():
        rejected: _Line | None = None
        for line in lines:
            if line.from_oc and line.flow == order_flow and rejected is not None:
                findings.append(finding("ACCES-REJECT-RESEND", f"{ref} was rejected ({_motif(rejected)}) and "
                                        "ordered again under the same reference", [rejected.evidence(),
                                                                                    line.evidence()]))
                rejected = None  # one finding per resend
            elif not line.from_oc and OI_FLOW_STATES.get(line.flow, (None, None))[1] == "rejected" and not line.ok:
                if _motif(line) == REUSED_REFERENCE and ref not in faulted:
                    findings.append(finding("ACCES-REJECT-RESEND", f"{ref}: the operator answered FIMP13 "
                                            "(reference already used)", [line.evidence()]))
                else:
                    rejected = line
    return findings


def check_mes_after_mad(obs: Observation) -> list[Finding]:
    findings: list[Finding] = []
    for ref, lines in _lines(obs).items():
        mad_ok = False
        for line in lines:
            if not line.from_oc and OI_FLOW_STATES.get(line.flow, (None,))[0] == "available" and line.ok:
                mad_ok = True
            elif line.from_oc and OC_FLOW_STATES.get(line.flow, (None,))[0] == "in_service" and not mad_ok:
                mads = [x.evidence() for x in lines if x.flow == "CR_MAD_Ligne"]
                findings.append(finding("ACCES-MES-BEFORE-MAD", f"{ref}: CR_MES sent at {line.at} before any "
                                        "CR MAD OK", [line.evidence(), *mads]))
    return findings


def check_journal(obs: Observation) -> list[Finding]:
    """What the operator journaled against the OC where no answer file tells it (JOURNAL_CHECKS)."""
    findings: list[Finding] = []
    # A CR_MES before the CR MAD has its own check: not reported twice.
    early = tuple(f"{f.message.split(':', 1)[0]}:" for f in check_mes_after_mad(obs))
    for line in obs.journal:
        check = JOURNAL_CHECKS.get((line.get("flow", ""), line.get("outcome", "")))
        if line.get("flow") == "CR_MES_Ligne" and early and str(line.get("detail", "")).startswith(early):
            continue
        if check is not None and line.get("direction") == "in":
            sent = [file_in(f) for f in obs.sent if f.filename == line["filename"]]
            findings.append(finding(check, f"{line['filename']}: {line['outcome']}: {line.get('detail', '')}",
                                    [journal_line(line), *sent[:1]]))
    return findings


# ---------------------------------------------------------------------- checks on what the OC understood
def _motif(line: _Line) -> str:
    return next((v for k, v in line.values.items() if k.startswith("MotifKo") and v), "")


@dataclass
class _Step:
    """What the order is after one line: its state, prestation, last motif and route, and since when
    the OC could know it (it had downloaded the operator's file)."""

    line: _Line
    state: str
    prestation: str
    motif: str
    route: dict[str, str]
    route_from: _Line | None
    known_at: tuple[str, float] | None  # (virtual, real) time; None: the OC never downloaded it


def _route_columns(pack: SpecPack) -> list[str]:
    """The route optique: the socket, the PBO and route block 1, as every route flow of the pack names them."""
    flows = [pack.flow(n) for n in ROUTE_FLOWS if n in pack.flows]
    if not flows:
        return []
    common = set(flows[0].column_names).intersection(*(f.column_names for f in flows[1:]))
    return [c for c in flows[0].column_names if c in common and (c.endswith("1") or c in ("ReferencePrise",
                                                                                           "ReferencePBO"))]


def _steps(obs: Observation, lines: list[_Line]) -> list[_Step]:
    downloads = _downloads(obs)
    columns = _route_columns(obs.pack)
    steps: list[_Step] = []
    state, prestation, motif, route, route_from = "", "", "", {}, None
    faulted = obs.faulted
    for line in lines:
        if not line.from_oc and _motif(line) == REUSED_REFERENCE and line.values.get(KEY) not in faulted:
            continue  # that reject is of a duplicate order, not of the order under this reference
        table = OC_FLOW_STATES if line.from_oc else OI_FLOW_STATES
        ok_state, ko_state = table.get(line.flow, (None, None))
        new = ok_state if line.ok else ko_state
        if new == "sent" and state not in ("", "rejected"):
            new = None  # a duplicate order under a live reference does not restart it
        if line.flow == "CR_Annulation_Acces" and line.ok:
            new = "terminated" if line.values.get("TypeOperation") == "RESIL" else "cancelled"
        if state in ("cancelled", "terminated"):
            new = None  # an order the operator ended stays ended: a later KO answers a late file, not the order
        state = new or state
        prestation = line.values.get(PRESTATION) or prestation
        if not line.ok and _motif(line):
            motif = _motif(line)
        if line.flow in ROUTE_FLOWS and line.ok and any(line.values.get(c) for c in columns):
            route = {c: line.values.get(c, "") for c in columns}
            route_from = line
        known = line.moment if line.from_oc or line.source.channel not in ("ftp", "sftp") else downloads.get(
            line.source.filename)
        steps.append(_Step(line, state, prestation, motif, dict(route), route_from, known))
    return steps


def _plausible(steps: list[_Step], asked_at: tuple[str, float]) -> list[_Step]:
    """The steps the OC may be at when asked: from the last one it surely knew (downloaded before) to the
    last one emitted before (it may have fetched it without the journal having said so yet)."""
    emitted = [s for s in steps if s.line.moment <= asked_at]
    if not emitted:
        return []
    known = [i for i, s in enumerate(emitted) if s.known_at is not None and s.known_at <= asked_at]
    return emitted[known[-1]:] if known else emitted


def check_statuses(obs: Observation) -> list[Finding]:
    findings: list[Finding] = []
    lines = _lines(obs)
    for ref, answers in obs.statuses.items():
        steps = _steps(obs, lines.get(ref, []))
        for status in answers:
            plausible = _plausible(steps, status.moment)
            if not plausible:
                continue  # the OC reports an order the sandbox never saw: nothing to compare with
            findings.extend(_compare(ref, status, plausible))
    return findings


def _compare(ref: str, status: StatusAnswer, plausible: list[_Step]) -> list[Finding]:
    answer = status.answer
    last = plausible[-1]
    evidence = [adapter(status), last.line.evidence()]
    out: list[Finding] = []
    states = {s.state for s in plausible}
    if "state" in answer and answer["state"] not in states:
        check = "ACCES-RESIL" if last.state == "terminated" else "ACCES-STATE"
        out.append(finding(check, f"{ref}: the OC reports {answer['state']!r} where the exchanges lead to "
                           f"{' or '.join(sorted(states))!r} ({last.line.flow} of {last.line.at})", evidence))
    prestations = {s.prestation for s in plausible if s.prestation}
    reported = answer.get("prestation", answer.get(PRESTATION))
    if prestations and (("prestation" in answer or PRESTATION in answer) and reported not in prestations):
        out.append(finding("ACCES-PRESTATION", f"{ref}: the OC reports ReferencePrestationPrise {reported!r} "
                           f"where the operator gave {' or '.join(sorted(prestations))!r}", evidence))
    motifs = {s.motif for s in plausible if s.motif and s.state == "rejected"}
    reported = answer.get("reject_code", answer.get("motif"))
    if motifs and ("reject_code" in answer or "motif" in answer) and reported not in motifs:
        out.append(finding("ACCES-REJECT-CODE", f"{ref}: the OC reports reject code {reported!r} where the "
                           f"operator answered {' or '.join(sorted(motifs))!r}", evidence))
    route = answer.get("route")
    if isinstance(route, Mapping) and any(s.route for s in plausible):
        out.extend(_compare_route(ref, route, plausible, [adapter(status)]))
    return out


def _compare_route(ref: str, route: Mapping[str, Any], plausible: list[_Step], evidence: list[Evidence],
                   ) -> list[Finding]:
    candidates = [s for s in plausible if s.route]
    for step in candidates:
        compared = [c for c in step.route if c in route]
        if compared and all(str(route[c] or "") == step.route[c] for c in compared):
            return []
        if not compared:
            return []  # the OC reports none of the route's columns: nothing to compare
    latest = candidates[-1]
    source = latest.route_from
    assert source is not None
    wrong = {c: (route[c], v) for c, v in latest.route.items() if c in route and str(route[c] or "") != v}
    after_reprov = source.flow == "Notif_Reprov" or any(
        s.route_from is not None and s.route_from.values.get("Hotline") == "O" for s in candidates)
    check = "ACCES-REPROV-ROUTE" if after_reprov else "ACCES-ROUTE"
    detail = ", ".join(f"{c} {got!r} where {want!r}" for c, (got, want) in wrong.items())
    return [finding(check, f"{ref}: the route the OC holds is not the one of the {source.flow} of {source.at}: "
                    f"{detail}", [*evidence, source.evidence()])]


#: Every check function, in the order of the catalogue's families.
CHECK_FUNCTIONS: tuple[Callable[[Observation], list[Finding]], ...] = (
    check_names, check_contents, check_out_clean, check_rejected_refs, check_mes_after_mad, check_journal,
    check_statuses)


def run_checks(observation: Observation) -> list[Finding]:
    """Every check on the observation: the findings against the OC (empty when it behaves)."""
    return [f for check in CHECK_FUNCTIONS for f in check(observation)]
