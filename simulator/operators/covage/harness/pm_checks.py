"""Checks on the OC's Protocole PM 2.2 (docs/checks.md, the PM- family), read over the admin API like the
Accès checks: the files the OC sent, the operator's answers (FTP or mail), its journal, and what the OC
said through its adapter (`ipe_summary`, `sync` calls with their moments, `ScenarioRecord.calls`).

    PM-AR-MAD           every CR_MAD_Pm the OC could read (before one of its syncs) is answered by an AR MAD
    PM-NOTICE           a Notif_Interv_Prev gives at least 2 working days' notice (pack: works.notice_working_days)
    PM-WORKS-LATE       a Notif_Adduction comes at most 15 working days after the works (works.report_working_days)
    PM-WORKS-DOCUMENTS  a Notif_Adduction comes with its photo and technical sheet (the operator's KO says so)
    PM-IPE              ipe_summary matches the latest IPE the operator had sent when it was asked
    PM-CPN              pm_opening says a PM open, with its PM-NRO links, once a CPN announced it (and not open
                        while the latest IPE says so and no CPN came after it)
    PM-FILE             the OC's PM files are well named (pattern, flow, parties), their values valid
    PM-NAME-DATE, PM-NAME-SEQ, PM-FILE-ENCODING, PM-FILE-COLUMNS   the file rules every protocol shares
                        (conformance/file_rules.py): virtual date, sequence per flow and day, encoding, header
    PM-OUT-CLEAN        the OC deletes what it downloaded from OUT/<OI>/<ARCEP>/PM and leaves nothing unread a day
    PM-STATE            at the scenario's end, pm_status / works_status of every order and works of the scenario
                        give what the operator's answers lead to
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import holidays

from conformance import file_rules
from conformance.file_rules import RuleIds
from conformance.results import Evidence, Finding
from conformance.verdict import CONTRACT_CHECKS
from conformance.waiting import poll_until
from simulator.operators.covage.harness.checks import (
    STALE_AFTER,
    AnswerFile,
    Observation,
    SentFile,
    file_in,
    file_out,
    journal_line,
    observe,
)
from simulator.operators.covage.harness.client.pm import broadcast_patterns
from simulator.specs.codec import SpecPack, UnreadableFile, load_pack

CLAUSE_OF_CONTRACT = CONTRACT_CHECKS["CONTRACT-TYPE"][0]

CLAUSE = "PM 2.2"
PACK: SpecPack = load_pack("pm-2.2")

#: id -> (clause, title); docs/checks.md has one line per id.
PM_CHECKS: dict[str, tuple[str, str]] = {
    "PM-AR-MAD": (f"{CLAUSE} §CR_MAD_Pm -> AR MAD (seed 002)", "every CR_MAD_Pm answered by an AR MAD"),
    "PM-NOTICE": (f"{CLAUSE} §Notif_Interv_Prev: 2 working days' notice", "works announced in time"),
    "PM-WORKS-LATE": (f"{CLAUSE} §Notif_Adduction: within 15 working days", "works reported in time"),
    "PM-WORKS-DOCUMENTS": (f"{CLAUSE} §Notif_Adduction: photo and technical sheet",
                           "works reported with both documents"),
    "PM-IPE": (f"{CLAUSE} §IPE (weekly, Monday)", "the IPE ingested"),
    "PM-CPN": (f"{CLAUSE} §CPN (a PM's commercial opening)", "the CPN ingested: the PM open, its PM-NRO links"),
    "PM-FILE": (f"{CLAUSE} §File names and flows", "PM files well named, their values valid"),
    "PM-NAME-DATE": (f"{CLAUSE} §File names (seed 002)", "date of the file name"),
    "PM-NAME-SEQ": (f"{CLAUSE} §File names (seed 002)", "sequence never reused"),
    "PM-FILE-ENCODING": (f"{CLAUSE} §Common rules: encoding", "ISO-8859-1"),
    "PM-FILE-COLUMNS": (f"{CLAUSE} §Flows (columns in order)", "separator, header and columns of the flow"),
    "PM-OUT-CLEAN": (f"{CLAUSE} §FTP tree: the reader deletes what it has read", "OUT/.../PM cleaned"),
    "PM-STATE": (f"{CLAUSE} §Flows", "what the OC understood of the answers"),
    # Asserted by the scenarios' steps (simulator/operators/covage/harness/steps/pm.py) as the OC acts:
    "PM-SENT": (f"{CLAUSE} §IN/<OI>/<ARCEP>/PM and the PM mailbox", "the verb made the OC send"),
}
#: The ids of the file rules every protocol shares (conformance/file_rules.py), for PM 2.2. PM-FILE keeps what
#: it judged before the shared rules (the name's pattern, flow and parties; the values).
PM_FILE_RULES = RuleIds(name_flow="PM-FILE", name_parties="PM-FILE", name_date="PM-NAME-DATE",
                        name_seq="PM-NAME-SEQ", encoding="PM-FILE-ENCODING", columns="PM-FILE-COLUMNS",
                        values="PM-FILE")
#: Journal outcomes of the operator about the OC's PM files where no answer file tells it.
PM_JOURNAL: dict[tuple[str, str], str] = {
    ("AR_MAD", "missing"): "PM-AR-MAD",
    ("AR_MAD", "line rejected"): "PM-FILE",
    ("AR_MAD", "file rejected"): "PM-FILE",
    ("AR_MAD", "no data line"): "PM-FILE",
}
#: Real seconds to wait for the operator to take an AR MAD the OC has just sent before judging it missing.
AR_MAD_GRACE = 5.0
_FR_HOLIDAYS = holidays.country_holidays("FR")


def finding(check: str, message: str, evidence: Iterable[Evidence]) -> Finding:
    return Finding(check, PM_CHECKS[check][0], message, list(evidence))


def working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _FR_HOLIDAYS


def add_working_days(day: date, days: int) -> date:
    """`days` working days after `day` (the sandbox's rule: counting starts the next day)."""
    while days > 0:
        day += timedelta(days=1)
        if working_day(day):
            days -= 1
    return day


def sub_working_days(day: date, days: int) -> date:
    """The working day `days` working days before `day`."""
    while days > 0:
        day -= timedelta(days=1)
        if working_day(day):
            days -= 1
    return day


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def motif_label(key: str) -> str:
    return str(PACK.sections.get("motifs", {}).get(key, key))


# ---------------------------------------------------------------------------------------------- what was sent
def pm_sent(obs: Observation) -> list[SentFile]:
    """The OC's PM files (FTP IN/.../PM or the PM mailbox): their names are the pack's."""
    return [f for f in obs.sent if PACK.parse_filename(f.filename) is not None or "/PM" in f.location.upper()]


def lines_of(files: Iterable[SentFile | AnswerFile], flow: str) -> list[tuple[SentFile | AnswerFile,
                                                                              dict[str, str]]]:
    spec = PACK.flow(flow)
    found = []
    for f in files:
        parsed = PACK.parse_filename(f.filename)
        if parsed is None or parsed.flow.name != flow:
            continue
        try:
            found += [(f, dict(r.values)) for r in spec.parse(f.content).records]
        except UnreadableFile:
            continue
    return found


def latest_ipe(answers: Iterable[AnswerFile], before: str, network: str) -> list[dict[str, str]] | None:
    """The lines of the newest IPE of `network` the operator had emitted to the OC at virtual moment `before`."""
    patterns = broadcast_patterns(PACK)
    ipes = [a for a in answers if a.flow == "IPE" and a.at_virtual <= before
            and network.upper() in a.filename.upper().split("_")]
    if not ipes:
        return None
    newest = max(ipes, key=lambda a: (a.at_virtual, a.id))
    flow = next(flow for _, flow in patterns if flow.name == "IPE")
    return [dict(r.values) for r in flow.parse(newest.content).records]


def _newest(answers: Iterable[AnswerFile], flow: str, before: str, network: str,
            pm: str | None = None) -> tuple[AnswerFile, list[dict[str, str]]] | None:
    """The newest file of `flow` of `network` the operator had emitted to the OC at virtual moment `before` (with
    lines of `pm`, when given), and its lines (of `pm` only, when given)."""
    spec = PACK.flow(flow)
    found = None
    for a in sorted((a for a in answers if a.flow == flow and a.at_virtual <= before
                     and network.upper() in a.filename.upper().split("_")), key=lambda a: (a.at_virtual, a.id)):
        try:
            lines = [dict(r.values) for r in spec.parse(a.content).records]
        except UnreadableFile:
            continue
        if pm is not None:
            lines = [x for x in lines if x.get("ReferencePM") == pm]
            if not lines:
                continue
        found = (a, lines)
    return found


def pm_opening_of(answers: Iterable[AnswerFile], before: str, network: str, pm: str) -> dict[str, Any]:
    """What an OC that read the operator's IPEs and CPNs emitted by virtual moment `before` knows of the opening
    of `pm` (docs/adapters.md pm_opening), the newest word first: a CPN that announced it (as new as the latest
    IPE or newer) -> open, with its CodeNRO and ReferenceLienNROPM; else the latest IPE's EtatPM and
    DateMiseEnServiceCommercialePM (its links only from a CPN). {} when neither says anything of the PM."""
    answers = list(answers)
    pm = pm.upper()
    cpn = _newest(answers, "CPN", before, network, pm)
    ipe = _newest(answers, "IPE", before, network)
    announced = {"open": True, "nro": cpn[1][0].get("CodeNRO"),
                 "links": sorted(x.get("ReferenceLienNROPM", "") for x in cpn[1])} if cpn else None
    if announced and (ipe is None or (cpn[0].at_virtual, cpn[0].id) >= (ipe[0].at_virtual, ipe[0].id)):  # type: ignore[index]
        return announced
    mine = [x for x in ipe[1] if x["ReferencePM"] == pm] if ipe else []
    if not mine:
        return announced or {}
    day = before[:10].replace("-", "")
    opened = mine[0]["DateMiseEnServiceCommercialePM"]
    if mine[0]["EtatPM"] != "DEPLOYE" or not opened or opened > day:
        return {"open": False}
    return announced or {"open": True}


def ipe_networks(answers: Iterable[AnswerFile]) -> list[str]:
    """The networks of the IPEs the OC was sent (the OI code of their names)."""
    patterns = [(regex, flow) for regex, flow in broadcast_patterns(PACK) if flow.name == "IPE"]
    return sorted({m["oi"].upper() for a in answers if a.flow == "IPE" for regex, _ in patterns
                   if (m := regex.match(a.filename))})


def ipe_summary_of(lines: list[dict[str, str]], args: Mapping[str, Any]) -> dict[str, Any]:
    """What an OC that ingested these IPE lines knows of a PM or a building (docs/adapters.md ipe_summary)."""
    key, column = ("pm", "ReferencePM") if args.get("pm") else ("building", "IdentifiantImmeuble")
    wanted = str(args.get(key, "")).upper() if key == "pm" else str(args.get(key, ""))
    mine = [x for x in lines if x[column] == wanted]
    if not mine:
        return {"found": False}
    summary: dict[str, Any] = {"found": True, "addresses": len(mine),
                               "dwellings": sum(int(x["NombreLogementsAdresseIPE"] or 0) for x in mine)}
    if key == "pm":
        summary.update(buildings=len({x["IdentifiantImmeuble"] for x in mine}), etat=mine[0]["EtatPM"],
                       emplacement=mine[0]["TypeEmplacementPM"])
    else:
        summary.update(etat=mine[0]["EtatImmeuble"], pm=mine[0]["ReferencePM"])
    return summary


# ---------------------------------------------------------------------------------------------- the checks
def check_ar_mad(obs: Observation, calls: list[Mapping[str, Any]]) -> list[Finding]:
    """Each CR_MAD_Pm emitted before one of the OC's syncs began has an AR MAD for its order (counted per
    order: one AR MAD per CR_MAD_Pm), and the operator journaled no AR MAD missing."""
    findings = []
    syncs = [float(c["asked_real"]) for c in calls if c.get("verb") == "sync" and c.get("asked_real")]
    last_sync = max(syncs, default=0.0)
    crs: dict[str, list[AnswerFile]] = {}
    for f, line in lines_of(obs.answers, "CR_MAD_Pm"):
        assert isinstance(f, AnswerFile)
        if f.at_real < last_sync:
            files = crs.setdefault(line.get("ReferenceCommandePMInterneOC", ""), [])
            if f not in files:
                files.append(f)
    ars: dict[str, int] = {}
    for _, line in lines_of(pm_sent(obs), "AR_MAD"):
        ref = line.get("ReferenceCommandePMInterneOC", "")
        ars[ref] = ars.get(ref, 0) + 1
    for ref, files in crs.items():
        if ars.get(ref, 0) < len(files):
            findings.append(finding("PM-AR-MAD", f"{ref}: {len(files)} CR_MAD_Pm read by the OC, "
                                    f"{ars.get(ref, 0)} AR MAD sent", [file_out(f) for f in files[:3]]))
    for line in obs.journal:
        check = PM_JOURNAL.get((line.get("flow", ""), line.get("outcome", "")))
        if check == "PM-AR-MAD" and not any(f.check == check for f in findings):
            findings.append(finding(check, f"{line['outcome']}: {line.get('detail', '')}", [journal_line(line)]))
    return findings


def check_notice(obs: Observation) -> list[Finding]:
    notice = int(PACK.sections.get("works", {}).get("notice_working_days", 2))
    findings = []
    for f, line in lines_of(pm_sent(obs), "Notif_Interv_Prev"):
        works, sent = _day(line.get("DatePrevisionnelleAdduction", "")), date.fromisoformat(f.at_virtual[:10])
        if works is not None and works < add_working_days(sent, notice):
            findings.append(finding("PM-NOTICE", f"{f.filename}: works on {works:%Y%m%d} announced on {sent:%Y%m%d}, "
                                    f"less than {notice} working days before", [file_in(f)]))  # type: ignore[arg-type]
    return findings


def check_works_report(obs: Observation) -> list[Finding]:
    limit = int(PACK.sections.get("works", {}).get("report_working_days", 15))
    findings = []
    for f, line in lines_of(pm_sent(obs), "Notif_Adduction"):
        done, sent = _day(line.get("DateAdduction", "")), date.fromisoformat(f.at_virtual[:10])
        if done is not None and sent > add_working_days(done, limit):
            findings.append(finding("PM-WORKS-LATE", f"{f.filename}: works of {done:%Y%m%d} reported on "
                                    f"{sent:%Y%m%d}, more than {limit} working days after", [file_in(f)]))  # type: ignore[arg-type]
    missing = (motif_label("photo_missing"), motif_label("sheet_missing"))
    for f, line in lines_of(obs.answers, "CR_NotifAdduction"):
        text = f"{line.get('MotifKoCrNotifAdduction', '')} {line.get('Commentaire', '')}"
        if line.get("EtatCrNotifAdduction") == "KO" and (
                line.get("MotifKoCrNotifAdduction") in missing or "NomFichier" in text):
            findings.append(finding("PM-WORKS-DOCUMENTS", f"{f.filename}: the works report of "
                                    f"{line.get('DateAdduction')} was refused: {text.strip()}", [file_out(f)]))  # type: ignore[arg-type]
    return findings


def check_ipe(obs: Observation, calls: list[Mapping[str, Any]]) -> list[Finding]:
    findings = []
    for call in calls:
        if call.get("verb") != "ipe_summary":
            continue
        args, answer = call.get("args") or {}, call.get("answer") or {}
        # Without a network in the question, the IPE of any network the OC receives may be the one meant.
        networks = [str(args["network"])] if args.get("network") else ipe_networks(obs.answers)
        wrongs = []
        for network in networks:
            lines = latest_ipe(obs.answers, str(call.get("asked_at", obs.now)), network)
            if lines is None:
                continue  # no IPE of that network sent yet: nothing the OC could have ingested
            expected = ipe_summary_of(lines, args)
            wrongs.append({k: (answer.get(k), v) for k, v in expected.items() if answer.get(k) != v})
        wrong = min(wrongs, key=len) if wrongs else {}
        if wrong:
            findings.append(finding("PM-IPE", f"ipe_summary {dict(args)}: (OC's, the IPE's) {wrong}",
                                    [Evidence("adapter", "ipe_summary", f"{dict(args)} -> {dict(answer)}")]))
    return findings


def check_cpn(obs: Observation, calls: list[Mapping[str, Any]]) -> list[Finding]:
    """PM-CPN: each pm_opening answer is what the IPEs and CPNs the operator had sent when it was asked say."""
    findings = []
    for call in calls:
        if call.get("verb") != "pm_opening":
            continue
        args, answer = call.get("args") or {}, call.get("answer") or {}
        networks = [str(args["network"])] if args.get("network") else ipe_networks(obs.answers)
        wrongs = []
        for network in networks:
            expected = pm_opening_of(obs.answers, str(call.get("asked_at", obs.now)), network, str(args.get("pm", "")))
            if expected:
                wrongs.append({k: (answer.get(k), v) for k, v in expected.items() if answer.get(k) != v})
        wrong = min(wrongs, key=len) if wrongs else {}
        if wrong:
            findings.append(finding("PM-CPN", f"pm_opening {dict(args)}: (OC's, the CPN's and IPE's) {wrong}",
                                    [Evidence("adapter", "pm_opening", f"{dict(args)} -> {dict(answer)}")]))
    return findings


def check_files(obs: Observation) -> list[Finding]:
    """The file rules every protocol shares, with the PM ids; and the AR MADs the operator journaled refused."""
    findings = file_rules.check_file_rules(pm_sent(obs), PACK, obs.oc_code, PM_FILE_RULES, finding,
                                           file_in)  # type: ignore[arg-type]
    for line in obs.journal:
        check = PM_JOURNAL.get((line.get("flow", ""), line.get("outcome", "")))
        if check == "PM-FILE" and line.get("direction") == "in":
            findings.append(finding("PM-FILE", f"{line.get('filename')}: {line['outcome']}: {line.get('detail', '')}",
                                    [journal_line(line)]))
    return findings


def check_out_clean(obs: Observation, oi: str = "") -> list[Finding]:
    """Every file downloaded from OUT/.../PM deleted after; none left there undownloaded a virtual day (the IPE,
    the CPN and the answers alike: an OC that never reads OUT/PM misses the network's news), in the folder of the
    network `oi` its context names (another network's broadcasts are not its business; '': every folder)."""
    out = [j for j in obs.journal if j.get("direction") == "out"]
    downloaded = {j["filename"]: j for j in out if j.get("outcome") == "downloaded"}
    deleted = {j["filename"] for j in out if j.get("outcome") == "deleted"}
    now = datetime.fromisoformat(obs.now)
    findings = []
    for a in obs.answers:
        if a.channel not in ("ftp", "sftp") or a.flow not in PACK.flows:
            continue  # a mail has no folder to clean; the Accès files are the Accès checks'
        if a.filename in downloaded and a.filename not in deleted:
            findings.append(finding("PM-OUT-CLEAN", f"{a.filename} was downloaded from {a.location} and left there",
                                    [file_out(a), journal_line(downloaded[a.filename])]))
        elif (a.filename not in downloaded and a.filename not in deleted
              and (not oi or a.location.strip("/").upper().startswith(f"OUT/{oi.upper()}/"))
              and now - datetime.fromisoformat(a.at_virtual) >= STALE_AFTER):
            findings.append(finding("PM-OUT-CLEAN", f"{a.filename} waits unread in {a.location} since "
                                    f"{a.at_virtual} ({obs.now} now)", [file_out(a)]))
    return findings


def check_pm(record: Any, wait: float = AR_MAD_GRACE) -> list[Finding]:
    """Every PM check on a scenario's OC. An AR MAD still on its way gets `wait` real seconds to arrive."""
    seen: dict[str, Any] = {}

    def no_ar_mad_missing() -> bool:
        seen["obs"] = observe(record.admin, record.tenant, oc_code=record.tenant, pack=PACK)
        seen["ar_mad"] = check_ar_mad(seen["obs"], record.calls)
        return not seen["ar_mad"]

    poll_until(no_ar_mad_missing, wait, every=0.2)
    obs, ar_mad = seen["obs"], seen["ar_mad"]
    return [*ar_mad, *check_notice(obs), *check_works_report(obs), *check_ipe(obs, record.calls),
            *check_cpn(obs, record.calls), *check_files(obs), *check_out_clean(obs, getattr(record, "oi", ""))]


# ---------------------------------------------------------------------------------------------- PM-STATE at the end
def _motif_code(motif: str) -> str:
    """The motif of a KO without its detail: the operator writes "<motif>: <why>" (pm-2.2 pack, motifs)."""
    return motif.split(": ", 1)[0].strip()


def _known_at(obs: Observation, answer: AnswerFile) -> tuple[str, float] | None:
    """When the OC surely had an answer: its download (journal) over FTP; a mail's reading is not journaled."""
    for line in obs.journal:
        if (line.get("direction"), line.get("outcome"), line["filename"]) == ("out", "downloaded", answer.filename):
            return (line["at_virtual"], float(line.get("at_real") or 0.0))
    return None


def _plausible(steps: list[tuple[AnswerFile | None, dict[str, Any]]], obs: Observation,
               asked: tuple[str, float]) -> list[dict[str, Any]]:
    """What the OC may hold when asked: from the last answer it surely had to the last one emitted."""
    emitted = [(a, s) for a, s in steps if a is None or (a.at_virtual, a.at_real) <= asked]
    known = [i for i, (a, _) in enumerate(emitted) if a is not None and (k := _known_at(obs, a)) and k <= asked]
    return [s for _, s in emitted[known[-1]:]] if known else [s for _, s in emitted]


def _order_steps(obs: Observation, ref: str) -> list[tuple[AnswerFile | None, dict[str, Any]]]:
    """What a PM order is after each of the operator's answers to it, oldest first."""
    steps: list[tuple[AnswerFile | None, dict[str, Any]]] = [(None, {"state": "sent"})]
    answers = sorted((a for a in obs.answers if a.flow in ("AR_Cmd_Pm", "CR_MAD_Pm")),
                     key=lambda a: (a.at_virtual, a.at_real, a.id))
    for a in answers:
        mine = [line for f, line in lines_of([a], a.flow) if line.get("ReferenceCommandePMInterneOC") == ref]
        if not mine:
            continue
        head = mine[0]
        step: dict[str, Any]
        if a.flow == "AR_Cmd_Pm":
            step = ({"state": "acknowledged"} if head.get("EtatArCommandePM") == "OK" else
                    {"state": "rejected", "reject_code": _motif_code(head.get("MotifKoArCommandePM", ""))})
        elif head.get("EtatCrCommandePM") == "OK":
            step = {"state": "available", "addresses": len(mine), "nature": head.get("NatureCR"),
                    "first_mad": head.get("DatePremiereMADPM"), "prestation": head.get("ReferencePrestationPM")}
        else:
            step = {"state": "rejected", "reject_code": _motif_code(head.get("MotifKoCrCommandePM", ""))}
        steps.append((a, step))
    return steps


def _works_steps(obs: Observation, call: Mapping[str, Any]) -> list[tuple[AnswerFile | None, dict[str, Any]]]:
    """What a works notice (keyed by its ReferenceNotifInterneOC) or report (by its PM and DateAdduction: its
    answer names no reference of the OC) is after each answer, oldest first."""
    notice = call["verb"] == "announce_works"
    flow, state, motif = (("CR_InfoSyndic", "EtatCrInfoSyndic", "MotifKoCrInfoSyndic") if notice else
                          ("CR_NotifAdduction", "EtatCrNotifAdduction", "MotifKoCrNotifAdduction"))
    args, ref = call.get("args") or {}, str((call.get("answer") or {}).get("ref", ""))
    day = str(args.get("date", "")).replace("-", "")
    steps: list[tuple[AnswerFile | None, dict[str, Any]]] = [(None, {"state": "sent"})]
    for a in sorted((a for a in obs.answers if a.flow == flow), key=lambda a: (a.at_virtual, a.at_real, a.id)):
        for _, line in lines_of([a], flow):
            if (line.get("ReferenceNotifInterneOC") == ref if notice else
                    line.get("DateAdduction") == day and line.get("ReferencePM", str(args.get("pm", "")).upper())
                    == str(args.get("pm", "")).upper()):
                steps.append((a, {"state": "accepted"} if line.get(state) == "OK" else
                              {"state": "refused", "reject_code": _motif_code(line.get(motif, ""))}))
    return steps


def _judge(verb: str, ref: str, answer: Mapping[str, Any], plausible: list[dict[str, Any]]) -> str | None:
    """Why the OC's answer matches none of the plausible steps (None: it matches one)."""
    wrongs = []
    for step in plausible:
        wrong = {k: (answer.get(k), v) for k, v in step.items()
                 if k in answer and answer.get(k) is not None and answer.get(k) != v}
        if answer.get("state") != step["state"]:
            wrong["state"] = (answer.get("state"), step["state"])
        if not wrong:
            return None
        wrongs.append(wrong)
    return f"{verb} {ref}: (OC's, the answers') {min(wrongs, key=len)}" if wrongs else None


def check_state(record: Any, obs: Observation) -> list[Finding]:
    """PM-STATE at the scenario's end: the OC is asked pm_status of every PM order and works_status of every works
    notice and report the scenario made, and must hold what the operator's answers lead to."""
    driver = getattr(record, "driver", None)
    if driver is None:
        return []
    from conformance.verdict import CheckFailed

    findings = []
    made = [c for c in list(record.calls) if c.get("verb") in ("order_pm", "announce_works", "report_works")
            and (c.get("answer") or {}).get("ref")]
    for call in made:
        ref = str(call["answer"]["ref"])
        verb = "pm_status" if call["verb"] == "order_pm" else "works_status"
        steps = _order_steps(obs, ref) if verb == "pm_status" else _works_steps(obs, call)
        try:
            answer = driver.ask(verb, {"ref": ref})
        except CheckFailed as e:  # CONTRACT-TYPE
            findings.append(Finding(e.check, CLAUSE_OF_CONTRACT, e.message, e.evidence))
            continue
        except Exception as e:  # the OC fails to answer about its own order: it lost it
            findings.append(finding("PM-STATE", f"{verb} {ref} at the scenario's end: {type(e).__name__}: {e}",
                                    [Evidence("adapter", verb, f"{ref} -> {e}")]))
            continue
        if answer is None:
            continue  # the adapter has no such verb: the scenarios that need it are not run
        asked = record.calls[-1]
        why = _judge(verb, ref, answer, _plausible(steps, obs, (str(asked["asked_at"]), float(asked["asked_real"]))))
        if why:
            findings.append(finding("PM-STATE", f"{why}, asked at the scenario's end",
                                    [Evidence("adapter", verb, f"{ref} -> {dict(answer)}")]))
    return findings


def pm_checks_hook(record: Any) -> list[Finding]:
    """End-of-scenario hook of the conformance plugin. Only scenarios that drove the OC's PM verbs are judged;
    the findings a step declared expected (the scenario made the OC do it on purpose) are left out."""
    if record.admin is None or not any(c.get("verb") in PM_SCENARIO_VERBS for c in record.calls):
        return []
    findings = check_pm(record)
    findings += check_state(record, observe(record.admin, record.tenant, oc_code=record.tenant, pack=PACK))
    return [f for f in findings if f.check not in record.expected]


#: A scenario that called one of these is a PM scenario: the PM checks judge it.
PM_SCENARIO_VERBS = ("order_pm", "announce_works", "report_works", "ipe_summary", "pm_opening")
