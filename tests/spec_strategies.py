"""Hypothesis strategies read from a spec pack: the rules of each column (required, max, exact, values,
format) give valid values, and each rule gives the values that break it. A pack the user loads (their
operator's real annexes) gets the same tests for free."""

from __future__ import annotations

from datetime import date, datetime

from hypothesis import strategies as st

from simulator.specs.codec import INVALID, MISSING, Column, FlowSpec

#: Text any column may hold: ISO-8859-1 letters, digits, spaces and punctuation, never the separator, a
#: quote, a line break, or a first character a spreadsheet would run.
SAFE = st.characters(codec="iso-8859-1", categories=("L", "N", "Zs"), include_characters=".,/()'_")


def _text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(SAFE, min_size=min_size, max_size=max_size).map(str.strip).filter(
        lambda v: min_size <= len(v) <= max_size and not _reads_as_utf8(v))


def _reads_as_utf8(value: str) -> bool:
    """ISO-8859-1 text whose bytes are also UTF-8 ("Âª" is the UTF-8 of "ª"): the codec reads UTF-8 files too
    (docs/files.md), and no encoding guess can tell such a file apart. Real French text never is."""
    if value.isascii():
        return False
    try:
        value.encode("iso-8859-1").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_DAY = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
FORMAT_VALID: dict[str, st.SearchStrategy[str]] = {
    "date": _DAY.map(lambda d: d.strftime("%Y%m%d")),
    "datetime": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
        lambda t: t.strftime("%Y%m%d%H%M%S")),
    "digits": st.text("0123456789", min_size=1, max_size=10),
    "insee": st.one_of(st.text("0123456789", min_size=5, max_size=5),
                       st.sampled_from(["2A", "2B"]).flatmap(lambda d: st.text("0123456789", min_size=3,
                                                                              max_size=3).map(lambda n: d + n))),
    "postcode": st.text("0123456789", min_size=5, max_size=5),
}
FORMAT_INVALID: dict[str, st.SearchStrategy[str]] = {
    "date": st.one_of(_DAY.map(lambda d: d.strftime("%d%m%Y")).filter(lambda v: not _real_day(v)),
                      st.sampled_from(["20261399", "20260230", "2026-11-24", "2026112"])),
    "datetime": st.sampled_from(["20261124250000", "2026-11-24T10:00:00", "20261124", "20261124106000"]),
    "digits": st.sampled_from(["12a", "1 2", "-3", "x"]),
    "insee": st.sampled_from(["7505", "750566", "2C123", "ABCDE"]),
    "postcode": st.sampled_from(["7500", "750011", "75O01", "ABCDE"]),
}


def _real_day(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y%m%d")
    except ValueError:
        return False
    return True


def valid_value(column: Column) -> st.SearchStrategy[str]:
    """A value that every rule of the column accepts (possibly empty when it is not required)."""
    if column.values:
        strategy = st.sampled_from(column.values)
    elif column.format:
        strategy = FORMAT_VALID[column.format]
    else:
        size = column.exact or column.max or 30
        strategy = _text(column.exact or 1, min(size, 60) if not column.exact else column.exact)
    return strategy if column.required else st.one_of(st.just(""), strategy)


def broken_value(column: Column) -> st.SearchStrategy[tuple[str, str]] | None:
    """(value, error kind) breaking exactly one rule of the column; None for a column with no rule."""
    options: list[st.SearchStrategy[tuple[str, str]]] = []
    if column.required:
        options.append(st.just(("", MISSING)))
    if column.max is not None and not column.values and not column.format:
        options.append(_text(column.max + 1, column.max + 20).map(lambda v: (v, INVALID)))
    if column.exact is not None and not column.values and not column.format:
        options.append(_text(1, column.exact - 1).map(lambda v: (v, INVALID)) if column.exact > 1
                       else _text(2, 4).map(lambda v: (v, INVALID)))
    if column.values:
        options.append(_text(1, 8).filter(lambda v: v not in column.values).map(lambda v: (v, INVALID)))
    if column.format:
        options.append(FORMAT_INVALID[column.format].map(lambda v: (v, INVALID)))
    return st.one_of(options) if options else None


def valid_record(flow: FlowSpec) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({c.name: valid_value(c) for c in flow.columns})


def record_with_one_broken_rule(flow: FlowSpec) -> st.SearchStrategy[tuple[dict[str, str], str, str]]:
    """(record, the broken column, the error kind): every other value valid."""
    ruled = [c for c in flow.columns if broken_value(c) is not None]

    def break_one(column: Column) -> st.SearchStrategy[tuple[dict[str, str], str, str]]:
        broken = broken_value(column)
        assert broken is not None
        return st.tuples(valid_record(flow), broken).map(
            lambda pair: ({**pair[0], column.name: pair[1][0]}, column.name, pair[1][1]))

    return st.sampled_from(ruled).flatmap(break_one)


