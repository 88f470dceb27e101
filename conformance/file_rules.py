"""The rules every OC-side file obeys, whatever its protocol: its name (pattern and flow, parties, virtual date,
sequence per flow and day) and its bytes (encoding, separator and header, values). One function judges them for
every protocol; each protocol names the check id of each rule (`RuleIds`) and gives its spec pack, so every
protocol's file rules share one reading (each names its own ids: `<PROTOCOL>-NAME-DATE`...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from simulator.specs.codec import BadFileName, SpecPack, UnreadableFile, decode

from .results import Evidence, Finding


class SentLike(Protocol):
    """A file the OC sent, as an operator's harness records it."""

    @property
    def filename(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def at_virtual(self) -> str: ...
    @property
    def content(self) -> bytes: ...
    @property
    def kept(self) -> bool: ...


@dataclass(frozen=True)
class RuleIds:
    """The check id a protocol reports each rule under (two rules may share one id)."""

    name_flow: str  # the pack's pattern, with the code of a flow the OC sends
    name_parties: str  # the OI of the folder, the OC's own code
    name_date: str  # a real date, the virtual date of sending
    name_seq: str  # each sequence once per flow, OI and day
    encoding: str  # the pack's encoding (UTF-8 is read but reported)
    columns: str  # the separator and the header: the flow's columns in order, no line wider
    values: str  # mandatory fields, lengths, allowed values, formats, no formula

    def all(self) -> set[str]:
        return {self.name_flow, self.name_parties, self.name_date, self.name_seq, self.encoding, self.columns,
                self.values}


MakeFinding = Callable[[str, str, Iterable[Evidence]], Finding]


def _folder_oi(location: str) -> str | None:
    """The OI of an FTP drop folder `IN/<OI>/<ARCEP>[/PM]`; None for a mail (no folder names the OI)."""
    parts = location.strip("/").split("/")
    return parts[1].upper() if len(parts) > 1 and parts[0].upper() == "IN" else None


def check_names(files: Iterable[SentLike], pack: SpecPack, oc_code: str, ids: RuleIds, finding: MakeFinding,
                evidence: Callable[[SentLike], Evidence]) -> list[Finding]:
    """Pattern and flow, parties, virtual date and sequence of every file name."""
    findings: list[Finding] = []
    used: dict[tuple[str, str, str, int], SentLike] = {}
    for f in files:
        try:
            name = pack.check_filename(f.filename)
        except BadFileName as e:
            check = ids.name_date if e.flow is not None else ids.name_flow
            findings.append(finding(check, f"{f.filename}: {e}", [evidence(f)]))
            continue
        if not name.flow.direction.startswith("OC"):
            findings.append(finding(ids.name_flow, f"{f.filename}: {name.flow.name} is a flow of the operator "
                                    f"({name.flow.direction}), not one an OC sends", [evidence(f)]))
            continue
        folder_oi = _folder_oi(f.location) or name.oi
        if name.oi != folder_oi or name.oc != oc_code.upper():
            findings.append(finding(ids.name_parties, f"{f.filename}: OI {name.oi} and OC {name.oc} where "
                                    f"{folder_oi} (the folder's) and {oc_code} are expected", [evidence(f)]))
        sending_day = f.at_virtual[:10].replace("-", "")
        if sending_day and name.date != sending_day:
            findings.append(finding(ids.name_date, f"{f.filename}: dated {name.date}, sent on {sending_day} "
                                    "(virtual date)", [evidence(f)]))
        key = (name.flow.code.upper(), name.oi, name.date, int(name.seq))
        if key in used:
            first = used[key]
            findings.append(finding(ids.name_seq, f"{f.filename}: sequence {int(name.seq)} of {name.flow.name} "
                                    f"on {name.date} already used by {first.filename}", [evidence(first), evidence(f)]))
        else:
            used[key] = f
    return findings


def check_contents(files: Iterable[SentLike], pack: SpecPack, ids: RuleIds, finding: MakeFinding,
                   evidence: Callable[[SentLike], Evidence]) -> list[Finding]:
    """Encoding, separator and header, and values of every file of a flow the OC sends (a file whose name is
    wrong is judged by its name only)."""
    findings: list[Finding] = []
    for f in files:
        name = pack.parse_filename(f.filename)
        if name is None or not name.flow.direction.startswith("OC") or not f.kept:
            continue  # its name is the finding, or its bytes were not kept
        try:
            _, warnings = decode(f.content, pack.read_encodings)
        except UnreadableFile as e:
            findings.append(finding(ids.encoding, f"{f.filename}: {e}", [evidence(f)]))
            continue
        if warnings:
            findings.append(finding(ids.encoding, f"{f.filename}: {'; '.join(warnings)} (a warning: "
                                    "the operator reads it)", [evidence(f)]))
        try:
            parsed = name.flow.parse(f.content)
        except UnreadableFile as e:  # another separator shows as a header of one column
            findings.append(finding(ids.columns, f"{f.filename}: {e}", [evidence(f)]))
            continue
        widths = [f"line {r.line}: {e.reason}" for r in parsed.records for e in r.errors if e.column == "*"]
        if widths:
            findings.append(finding(ids.columns, f"{f.filename}: {'; '.join(widths)}", [evidence(f)]))
        values = [f"line {r.line}: {e}" for r in parsed.records for e in r.errors if e.column != "*"]
        if values:
            findings.append(finding(ids.values, f"{f.filename}: {'; '.join(values[:20])}"
                                    + (f" (and {len(values) - 20} more)" if len(values) > 20 else ""), [evidence(f)]))
    return findings


def check_file_rules(files: Iterable[SentLike], pack: SpecPack, oc_code: str, ids: RuleIds, finding: MakeFinding,
                     evidence: Callable[[SentLike], Evidence]) -> list[Finding]:
    """Every rule of the OC's files of one protocol: names, then contents."""
    files = list(files)
    return [*check_names(files, pack, oc_code, ids, finding, evidence),
            *check_contents(files, pack, ids, finding, evidence)]
