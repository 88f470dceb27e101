"""One generic codec for every CSV flow, driven by the spec packs (YAML data).

A spec pack describes, for each flow, its columns in order (mandatory flag, maximum length,
allowed values, format) and its file-name code. Nothing here knows any protocol's flows: the
operator domains ask the pack to parse, validate and write records.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from itertools import chain, islice
from pathlib import Path
from typing import Any

import yaml

from .variations import Variations

PACKS_DIR = Path(__file__).parent


def _calendar(digits: int) -> Callable[[str], bool]:
    """A date (8 digits) or date-time (14 digits) that is a real moment: no 20261399, no 99999999."""
    shape = re.compile(rf"^\d{{{digits}}}$")

    def check(value: str) -> bool:
        if not shape.match(value):
            return False
        parts = [int(value[i:i + 2]) for i in range(4, digits, 2)]  # faster than strptime on big files
        try:
            datetime(int(value[:4]), *parts)  # type: ignore[arg-type]
        except ValueError:
            return False
        return True

    return check


def _regex(pattern: str) -> Callable[[str], bool]:
    shape = re.compile(pattern)

    def check(value: str) -> bool:
        return shape.match(value) is not None

    return check


#: Column formats (the `format:` of a column in flows.yaml), also used for the fields of file names.
FORMATS: dict[str, Callable[[str], bool]] = {
    "date": _calendar(8),
    "datetime": _calendar(14),
    "digits": _regex(r"^\d+$"),
    "insee": _regex(r"^(\d{5}|2[AB]\d{3})$"),
    "postcode": _regex(r"^\d{5}$"),
}

#: What a format looks like, for the reasons given to the OC.
FORMAT_HINTS: dict[str, str] = {"date": "AAAAMMJJ, a real calendar day", "datetime": "AAAAMMJJHHMMSS"}

#: The fields of a file-name pattern: what each matches, and the format its value must then pass.
NAME_FIELDS: dict[str, tuple[str, str | None]] = {
    "oi": (r"[A-Z0-9]{2,8}", None),
    "oc": (r"[A-Z0-9]{2,8}", None),
    "date": (r"\d{8}", "date"),
    "seq": (r"\d{1,6}", None),
    "pm": (r"[A-Z0-9]{1,20}", None),  # ReferencePM, in the names of the PM 2.2 flows
}

MISSING = "missing"
INVALID = "invalid"
FORMULA = "formula"  # a value a spreadsheet would run (CSV injection)


@dataclass(frozen=True, slots=True)
class FieldError:
    """A problem with one value of one record; `kind` is MISSING or INVALID."""

    column: str
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.column}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    required: bool = False
    max: int | None = None
    exact: int | None = None
    values: tuple[str, ...] = ()
    format: str | None = None
    aliases: tuple[str, ...] = ()

    def check(self, value: str) -> FieldError | None:
        if not value:
            return FieldError(self.name, MISSING, "mandatory value missing") if self.required else None
        if self.max is not None and len(value) > self.max:
            return FieldError(self.name, INVALID, f"longer than {self.max} characters")
        if self.exact is not None and len(value) != self.exact:
            return FieldError(self.name, INVALID, f"must be exactly {self.exact} characters")
        if self.values and value not in self.values:
            return FieldError(self.name, INVALID, f"{value!r} not one of {'|'.join(self.values)}")
        if self.format and not FORMATS[self.format](value):
            return FieldError(self.name, INVALID, f"{value!r} is not a valid {_described(self.format)}")
        return None


@dataclass(frozen=True)
class FormulaGuard:
    """CSV injection (OWASP): which values a spreadsheet would run as a formula, and how to defuse them.

    One rule for both directions: such a value is refused on input (a field error of kind FORMULA), and
    any such cell is written with `escape` in front, so even an echoed value cannot run.
    """

    triggers: tuple[str, ...] = ("=", "@", "\t", "\r")  # a cell starting with one of these is a formula
    signs: tuple[str, ...] = ("+", "-")  # ... and so is one starting with a sign, unless it is a number
    number: str = r"^[+-]\d+(?:[.,]\d+)?(?: ?[A-Za-z]+)?$"
    escape: str = "'"

    @cached_property
    def _number(self) -> re.Pattern[str]:
        return re.compile(self.number, re.ASCII)  # "+߄" (an NKo digit) is no number a spreadsheet reads

    @cached_property
    def _first(self) -> frozenset[str]:
        return frozenset(self.triggers + self.signs)

    @cached_property
    def suspects(self) -> frozenset[str]:
        """First characters worth a closer look (a cheap test before is_formula on every cell)."""
        return self._first | {" "}

    def is_formula(self, value: str) -> bool:
        # Leading blanks are ignored: many readers (this codec too) trim cells before looking at them.
        head = value.lstrip(" ")
        if not head or head[0] not in self._first:
            return False
        if head[0] in self.triggers:
            return True
        return len(head) > 1 and not self._number.match(head)  # a lone sign runs nothing

    def defuse(self, value: str) -> str:
        return self.escape + value if self.is_formula(value) else value


DEFAULT_GUARD = FormulaGuard()


@dataclass(slots=True)
class Record:
    """One data line of a flow file: values by column name, its line number and its errors."""

    values: dict[str, str]
    line: int
    errors: list[FieldError] = field(default_factory=list)

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass(slots=True)
class ParsedFile:
    flow: FlowSpec
    records: list[Record]
    warnings: list[str] = field(default_factory=list)


class UnreadableFile(Exception):
    """The file as a whole cannot be read (encoding, header): it gets one KO answer line."""


class BadFileName(UnreadableFile):
    """The file name does not follow the pack's pattern; `flow` is the flow its code names, if any."""

    def __init__(self, reason: str, flow: FlowSpec | None = None):
        super().__init__(reason)
        self.flow = flow


@dataclass(frozen=True)
class FlowSpec:
    name: str
    code: str
    direction: str
    columns: tuple[Column, ...]
    folder: str = ""
    reply: Mapping[str, str] = field(default_factory=dict)
    filename: str = ""  # the flow's own name pattern ('' = the pack's), e.g. a broadcast file naming no OC
    answered: bool = True  # False: the protocol has no answer flow for it (errors are journal findings)
    pack: SpecPack | None = field(default=None, compare=False, repr=False)

    @property
    def answer_flow(self) -> str | None:
        """The flow that answers this one's files, or None when the protocol has none."""
        return self.reply.get("flow") if self.answered else None

    @property
    def guard(self) -> FormulaGuard:
        return self.pack.formula if self.pack else DEFAULT_GUARD

    @cached_property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @cached_property
    def _ruled(self) -> list[Column]:
        """Only columns with a rule need checking: most of a 35-column line has none."""
        return [c for c in self.columns if c.required or c.max or c.exact or c.values or c.format]

    def validate(self, values: Mapping[str, str]) -> list[FieldError]:
        # Every column is looked at for formulas (any of them may be echoed or opened in a spreadsheet);
        # a column holding one is reported for that alone.
        guard = self.guard
        suspects = guard.suspects
        formulas = [FieldError(name, FORMULA, "value would run as a formula in a spreadsheet")
                    for name in self.column_names
                    if (v := values.get(name)) and v[0] in suspects and guard.is_formula(v)]
        if not formulas:
            return [e for c in self._ruled if (e := c.check(values.get(c.name, ""))) is not None]
        bad = {e.column for e in formulas}
        return formulas + [e for c in self._ruled if c.name not in bad
                           and (e := c.check(values.get(c.name, ""))) is not None]

    def parse(self, content: bytes) -> ParsedFile:
        """Decode, check the header and split the lines; each record carries its field errors."""
        reader = self.reader(content)
        return ParsedFile(self, list(reader.records()), reader.warnings)

    def reader(self, content: bytes) -> FlowReader:
        """The file checked as a whole (encoding, CSV, header), its records to be read slice by slice."""
        return FlowReader(self, content)

    @cached_property
    def _column_checks(self) -> tuple[re.Pattern[str], list[tuple[int, Column, frozenset[str]]]]:
        """What `_clean` looks at: a line break followed by a character that may start a formula (in the cells
        joined by line breaks, a cell starting with one follows a line break), and each ruled column with the
        position its value is read from (the last of its name, as in a record's values)."""
        position = {name: i for i, name in enumerate(self.column_names)}
        suspects = "".join(re.escape(c) for c in sorted(self.guard.suspects))
        return (re.compile(f"\n[{suspects}]"), [(position[c.name], c, frozenset(c.values)) for c in self._ruled])

    def _clean(self, rows: list[list[str]]) -> bool:
        """True when no cell of these rows (stripped, `width` of them each) has a field error: one pass per column
        in C (joins, sets, len over the column) instead of a check per cell. False says only that some cell may
        have one: the records are then checked one by one (`validate`), which says which and why."""
        if not rows:
            return True
        suspect, ruled = self._column_checks
        if suspect.search("\n" + "\n".join(chain.from_iterable(rows))):  # a formula, or a number with a sign
            return False
        columns = list(zip(*rows, strict=True))  # each of `width` cells
        for i, column, allowed in ruled:
            cells = columns[i]
            if column.required and "" in cells:
                return False
            if column.max is not None and max(map(len, cells)) > column.max:
                return False
            if column.exact is not None and not set(map(len, cells)) <= {0, column.exact}:
                return False
            if column.values or column.format:
                distinct = set(cells)
                distinct.discard("")
                if column.values and not distinct <= allowed:
                    return False
                if column.format and not all(map(FORMATS[column.format], distinct)):
                    return False
        return True

    def records_of(self, rows: list[list[str]], first: int) -> list[Record]:
        """Data rows (numbered from `first`) as records of this flow with their field errors, as `record` gives
        them one by one; the rows are checked column by column first, and one by one only if a cell may be
        wrong (a large file's lines are nearly all right)."""
        width = len(self.columns)
        names = self.column_names
        records = []
        cells_of = []
        blank = [""] * width
        for number, row in enumerate(rows, first):
            cells = [c.strip() for c in row]
            fitted = cells if len(cells) == width else (cells + blank)[:width]
            record = Record(dict(zip(names, fitted, strict=True)), number)
            if len(cells) > width and any(cells[width:]):
                record.errors.append(FieldError("*", INVALID, f"{len(row)} columns where {width} are expected"))
            records.append(record)
            cells_of.append(fitted)
        if not self._clean(cells_of):
            for record in records:
                record.errors.extend(self.validate(record.values))
        return records

    def record(self, row: list[str], number: int) -> Record:
        """One data row as a record of this flow, with its field errors."""
        width = len(self.columns)
        cells = [c.strip() for c in row]
        extra = cells[width:]
        cells = (cells + [""] * width)[:width]
        record = Record(dict(zip(self.column_names, cells, strict=True)), number)
        if any(extra):
            record.errors.append(FieldError("*", INVALID, f"{len(row)} columns where {width} are expected"))
        record.errors.extend(self.validate(record.values))
        return record

    def _check_header(self, header: list[str]) -> None:
        expected = [c for c in self.columns]
        if len(header) != len(expected):
            raise UnreadableFile(
                f"header has {len(header)} columns where {self.name} has {len(expected)}")
        for got, column in zip(header, expected, strict=True):
            names = {_fold(column.name), *(_fold(a) for a in column.aliases)}
            if _fold(got) not in names:
                raise UnreadableFile(f"header column {got!r} where {column.name!r} is expected")

    def write_styled(self, records: list[dict[str, str]], style: Mapping[str, str], header: bool = True) -> bytes:
        """Write an answer file as a tenant's answer style asks (see specs/variations.py)."""
        if self.pack is not None and style:
            records = self.pack.variations.apply(self.column_names, records, style)
        return self.write(records, header)

    def write(self, records: Iterable[Mapping[str, str]], header: bool = True) -> bytes:
        """Encode records (missing columns are empty) with the header, in the pack's encoding; without it, the
        lines to append to a file whose first part had it (an answer written slice by slice)."""
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter=self.separator, lineterminator="\r\n")
        names = self.column_names
        defuse, suspects = self.guard.defuse, self.guard.suspects
        if header:
            writer.writerow(names)
        for rec in records:
            cells = [_clean(rec.get(n, "")) for n in names]
            writer.writerow([defuse(c) if c and c[0] in suspects else c for c in cells])
        encoding = self.pack.write_encoding if self.pack else "iso-8859-1"
        return out.getvalue().encode(encoding, errors="replace")

    @property
    def separator(self) -> str:
        return self.pack.separator if self.pack else ";"


class FlowReader:
    """An inbound file of one flow, checked as a whole when opened and read record by record.

    What holds for the whole file is checked before any line is answered: the encoding (without decoding the
    file at once), the CSV (a field over the csv module's limit anywhere refuses the file) and the header; the
    records are then read lazily, so a large file is held as its bytes plus one slice of records.
    """

    def __init__(self, flow: FlowSpec, content: bytes):
        self.flow = flow
        self.content = content
        self.encoding, self._start, self.warnings = sniff(content, flow.pack.read_encodings if flow.pack
                                                          else ("cp1252",))
        header: list[str] | None = None
        count = 0
        try:
            for row in self._rows():
                if header is None:
                    header = row
                else:
                    count += 1
        except csv.Error as e:  # e.g. a field over the csv module's 128 KiB limit
            raise UnreadableFile(f"not a readable CSV file: {e}") from e
        if header is None:
            raise UnreadableFile("empty file: no header line")
        names = [h.strip() for h in header]
        while names and names[-1] == "":
            names.pop()
        flow._check_header(names)
        #: Data lines of the file (blank lines are not counted).
        self.count = count

    def _rows(self) -> Iterator[list[str]]:
        raw = io.BytesIO(self.content)  # shares the bytes, no copy
        raw.seek(self._start)
        text = io.TextIOWrapper(raw, encoding=self.encoding, errors="replace", newline="")
        # A blank line (no cell with a value) is skipped; most rows are settled by their first cell.
        return (row for row in csv.reader(text, delimiter=self.flow.separator)
                if row and (row[0].strip() or any(c.strip() for c in row)))

    def records(self, skip: int = 0, chunk: int = 500) -> Iterator[Record]:
        """The records in file order, after the first `skip` (already answered: a file resumed after a stop).
        A record's line is its rank among the file's non-blank lines, the header being line 1. Read `chunk`
        rows at a time, checked column by column (FlowSpec.records_of)."""
        rows = islice(self._rows(), 1 + skip, None)
        number = 2 + skip
        while True:
            block = list(islice(rows, chunk))
            if not block:
                return
            yield from self.flow.records_of(block, number)
            number += len(block)


@dataclass(frozen=True)
class FileName:
    """The parts of a flow file name, parsed or to be rendered."""

    flow: FlowSpec
    oi: str
    oc: str
    date: str
    seq: str
    pm: str = ""  # ReferencePM, in the names of the PM 2.2 per-PM flows


#: libyaml's loader when PyYAML was built with it: about ten times faster than the pure-Python one, which
#: took half of `opsim up`'s start reading the packs.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    """A spec file's data (safe: plain YAML types only)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader


class SpecPack:
    """A versioned set of flows read from one folder of YAML files."""

    def __init__(self, folder: Path):
        # pack.yaml holds the pack's settings; the other files add top-level sections (flows, rejects).
        pack = load_yaml(folder / "pack.yaml") or {}
        data: dict = {}
        for path in sorted(folder.glob("*.yaml")):
            if path.name != "pack.yaml":
                data.update(load_yaml(path) or {})
        self.name: str = pack.get("name", folder.name)
        self.version: str = pack.get("version", "")
        self.separator: str = pack.get("separator", ";")
        self.write_encoding: str = pack.get("write_encoding", "iso-8859-1")
        self.read_encodings: tuple[str, ...] = tuple(pack.get("read_encodings", ["cp1252", "latin-1"]))
        self.filename_pattern: str = pack["filename"]
        self.validation_codes: dict[str, str] = dict(pack.get("validation_codes", {}))
        # A pack written before the formula rule still gets it: the OWASP defaults, refused as invalid.
        self.validation_codes.setdefault(FORMULA, self.validation_codes.get(INVALID, ""))
        formula = pack.get("formula") or {}
        unknown = set(formula) - {"triggers", "signs", "number", "escape"}
        if unknown:
            raise ValueError(f"{folder / 'pack.yaml'}: formula has unknown keys {', '.join(sorted(unknown))}")
        self.formula = FormulaGuard(**{k: tuple(v) if isinstance(v, list) else v  # type: ignore[arg-type]
                                       for k, v in formula.items()})
        try:
            self.variations = Variations.from_yaml(pack.get("variations"))
        except ValueError as e:
            raise ValueError(f"{folder / 'pack.yaml'}: {e}") from None
        self.flows: dict[str, FlowSpec] = {}
        for name, spec in (data.get("flows") or {}).items():
            columns = tuple(_column(c) for c in spec["columns"])
            reply = spec.get("reply", {})
            self.flows[name] = FlowSpec(name=name, code=spec["code"], direction=spec["direction"],
                                        columns=columns, folder=spec.get("folder", ""), reply=reply,
                                        filename=spec.get("filename", ""),
                                        answered=spec.get("answered", bool(reply)), pack=self)
        self.rejects: dict[str, dict[str, str]] = {
            code: dict(entry) for code, entry in (data.get("rejects") or {}).items()}
        # Other top-level sections of the pack's files (upper_case, failures, appointments...): read by the
        # capabilities that use them; a pack without them turns those checks off.
        self.sections: dict[str, Any] = {k: v for k, v in data.items() if k not in ("flows", "rejects")}
        self._by_code = {f.code.upper(): f for f in self.flows.values()}
        codes = "|".join(re.escape(c) for c in sorted(self._by_code, key=len, reverse=True))
        pattern = (re.escape(self.filename_pattern)
                   .replace(r"\{code\}", rf"(?P<code>{codes})")
                   .replace(r"\{version\}", re.escape(self.version)))
        for name, (regex, _) in NAME_FIELDS.items():
            pattern = pattern.replace(rf"\{{{name}\}}", rf"(?P<{name}>{regex})")
        self._name_re = re.compile("^" + pattern + "$", re.IGNORECASE)

    def flow(self, name: str) -> FlowSpec:
        return self.flows[name]

    def check_filename(self, filename: str) -> FileName:
        """The parts of an inbound file's name, or BadFileName saying what is wrong with it."""
        m = self._name_re.match(filename)
        if not m:
            raise BadFileName(f"file name {filename!r} does not follow {self.filename_pattern} "
                              "with a known flow code")
        flow = self._by_code[m["code"].upper()]
        for name, (_, fmt) in NAME_FIELDS.items():
            if fmt and not FORMATS[fmt](m[name]):
                raise BadFileName(f"file name {filename!r}: {name} {m[name]!r} is not a valid "
                                  f"{_described(fmt)}", flow)
        return FileName(flow, m["oi"].upper(), m["oc"].upper(), m["date"], m["seq"],
                        (m.groupdict().get("pm") or "").upper())

    def parse_filename(self, filename: str) -> FileName | None:
        try:
            return self.check_filename(filename)
        except BadFileName:
            return None

    def render_filename(self, flow: FlowSpec, oi: str, oc: str, date: str, seq: int, pm: str = "") -> str:
        return (flow.filename or self.filename_pattern).format(oi=oi, oc=oc, code=flow.code, version=self.version,
                                                               date=date, seq=f"{seq:06d}", pm=pm)

    def reject_label(self, code: str) -> str:
        return self.rejects.get(code, {}).get("label", "")

    def code_for(self, errors: list[FieldError]) -> str:
        """The reject code for field errors: a formula wins (it is why the line is refused whatever else
        is wrong), then a missing value, then an invalid one."""
        kinds = {e.kind for e in errors}
        kind = FORMULA if FORMULA in kinds else MISSING if MISSING in kinds else INVALID
        return self.validation_codes[kind]


def packaged_packs() -> list[str]:
    """The names of the packs shipped with opsim."""
    return sorted(p.name for p in PACKS_DIR.iterdir() if (p / "pack.yaml").is_file())


def load_pack(name_or_path: str | Path) -> SpecPack:
    """A pack shipped with opsim (by name, see `packaged_packs`) or a user's folder of YAML files."""
    path = Path(name_or_path)
    if not path.is_dir():
        path = PACKS_DIR / str(name_or_path)
    if not (path / "pack.yaml").is_file():
        raise FileNotFoundError(f"no spec pack at {path} (expected pack.yaml and flows.yaml)")
    return SpecPack(path)


def decode(content: bytes, encodings: Iterable[str]) -> tuple[str, list[str]]:
    """Text of an inbound file; UTF-8 is accepted but reported, as the protocol says ISO-8859-1."""
    if b"\x00" in content:
        raise UnreadableFile("binary content or UTF-16: files must be ISO-8859-1 text")
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="replace"), ["UTF-8 with BOM: ISO-8859-1 expected"]
    try:
        text = content.decode("ascii")
        return text, []
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("utf-8"), ["UTF-8: ISO-8859-1 expected"]
    except UnicodeDecodeError:
        pass
    for encoding in encodings:
        try:
            return content.decode(encoding), []
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("undecodable content: ISO-8859-1 expected")


def sniff(content: bytes, encodings: Iterable[str]) -> tuple[str, int, list[str]]:
    """How `decode` would read an inbound file, without holding its text: the encoding, where the text starts
    (after a BOM) and the warnings."""
    if b"\x00" in content:
        raise UnreadableFile("binary content or UTF-16: files must be ISO-8859-1 text")
    if content.startswith(b"\xef\xbb\xbf"):
        return "utf-8", 3, ["UTF-8 with BOM: ISO-8859-1 expected"]
    if content.isascii():
        return "ascii", 0, []
    if _decodes(content, "utf-8"):
        return "utf-8", 0, ["UTF-8: ISO-8859-1 expected"]
    for encoding in encodings:
        if _decodes(content, encoding):
            return encoding, 0, []
    raise UnreadableFile("undecodable content: ISO-8859-1 expected")


def _decodes(content: bytes, encoding: str, chunk: int = 1 << 20) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(content)
    try:
        for start in range(0, len(content), chunk):
            decoder.decode(view[start:start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _column(spec: str | dict) -> Column:
    if isinstance(spec, str):
        return Column(spec)
    return Column(name=spec["name"], required=spec.get("required", False), max=spec.get("max"),
                  exact=spec.get("exact"), values=tuple(str(v) for v in spec.get("values", ())),
                  format=spec.get("format"), aliases=tuple(spec.get("aliases", ())))


def _described(fmt: str) -> str:
    return f"{fmt} ({FORMAT_HINTS[fmt]})" if fmt in FORMAT_HINTS else fmt


_FOLD_TABLE = str.maketrans("àâäéèêëîïôöùûüç", "aaaeeeeiioouuuc")
_FOLD_DROP = re.compile(r"[\s_]")


@functools.lru_cache(maxsize=4096)
def _fold(name: str) -> str:
    """Header names compared without case, spaces or accents ('Date Répon 1' = 'DateRepon1'). Kept: every
    file's header folds the same few names again (78 for a 39-column flow)."""
    return _FOLD_DROP.sub("", name.lower().translate(_FOLD_TABLE))


def _clean(value: object) -> str:
    # A separator or a line break inside a value would be quoted by csv, but many OC parsers split
    # naively on ';': keep answer files one physical line per record.
    return str(value).replace("\r", " ").replace("\n", " ").replace(";", ",")
