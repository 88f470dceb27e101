"""A check failure found by a step, and the adapter's contract (the type of every field a verb returns).

A step that finds the OC at fault raises `CheckFailed(check_id, message)` (or an AssertionError whose message
starts with `[ID]`, as the older steps do): the plugin's `pytest_bdd_step_error` records it as a `Finding` with
that id on the scenario's record, so the console, the report and junit.xml show the id (a failure, not an error)
wherever the check was judged.

`CONTRACT-TYPE` judges what every verb returns against docs/adapters.md: a field of the wrong type is a contract
error naming the field (a value the OC does not have is `null`, and a field it leaves out is not judged here).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .results import Evidence, Finding

CONTRACT_CLAUSE = "docs/adapters.md (the adapter's contract)"
#: id -> (clause, title); docs/checks.md has one line per id.
CONTRACT_CHECKS: dict[str, tuple[str, str]] = {
    "CONTRACT-TYPE": (f"{CONTRACT_CLAUSE}: the type of each returned field", "every returned field of its type"),
}

#: The [ID] a failure message starts with (an operator's catalogue's ids, CONTRACT-TYPE...).
CHECK_ID = re.compile(r"^\[([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\] ?(.*)", re.DOTALL)


class CheckFailed(AssertionError):
    """A check on the OC that a step found failing: its id, what is wrong, and the evidence."""

    def __init__(self, check: str, message: str, evidence: Iterable[Evidence] = ()):
        super().__init__(f"[{check}] {message}")
        self.check, self.message, self.evidence = check, message, list(evidence)


def finding_of(exception: BaseException, clause_of: Callable[[str], str],
               evidence: Iterable[Evidence] = ()) -> Finding | None:
    """The finding a step's failure stands for: a CheckFailed, or an assertion whose message starts with [ID].
    `clause_of` gives a check id's clause from the catalogues (the plugin knows them all; this module, which
    the catalogues import for CheckFailed, does not)."""
    if isinstance(exception, CheckFailed):
        return Finding(exception.check, clause_of(exception.check), exception.message,
                       [*exception.evidence, *evidence])
    m = CHECK_ID.match(str(exception).strip())
    if m is None or not isinstance(exception, AssertionError):
        return None
    # pytest's rewritten assertions add the failing expression after the message: the message is the first line.
    return Finding(m[1], clause_of(m[1]), m[2].split("\nassert ")[0].strip(), list(evidence))


# ---------------------------------------------------------------------------------------------- CONTRACT-TYPE
_STR, _INT, _BOOL, _DICT = (str,), (int,), (bool,), (dict,)
_OPT_STR, _OPT_INT, _OPT_DICT = (str, type(None)), (int, type(None)), (dict, type(None))
_OPT_LIST = (list, type(None))
#: verb -> field -> the types docs/adapters.md allows (a bool is no int: `True` is not a count).
FIELD_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    "order_access": {"ref": _STR},
    "order_status": {"state": _STR, "prestation": _OPT_STR, "reject_code": _OPT_STR, "route": _OPT_DICT},
    "order_pm": {"ref": _STR},
    "announce_works": {"ref": _STR},
    "report_works": {"ref": _STR},
    "pm_status": {"state": _STR, "reject_code": _OPT_STR, "prestation": _OPT_STR, "addresses": _OPT_INT,
                  "nature": _OPT_STR, "first_mad": _OPT_STR},
    "works_status": {"state": _STR, "reject_code": _OPT_STR, "info": _OPT_DICT},
    "ipe_summary": {"found": _BOOL, "addresses": _OPT_INT, "buildings": _OPT_INT, "dwellings": _OPT_INT,
                    "etat": _OPT_STR, "pm": _OPT_STR, "emplacement": _OPT_STR},
    "pm_opening": {"open": _BOOL, "nro": _OPT_STR, "links": _OPT_LIST},
}
_NAMES = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object", list: "an array",
          type(None): "null"}


def wrong_types(verb: str, answer: Mapping[str, Any]) -> list[str]:
    """What in `answer` is not of the type docs/adapters.md gives its field (empty: all well)."""
    wrong = []
    for name, allowed in FIELD_TYPES.get(verb, {}).items():
        if name not in answer:
            continue
        value = answer[name]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            wrong.append(f"{name} = {value!r} is {type(value).__name__}, not "
                         f"{' or '.join(_NAMES[t] for t in allowed)}")
    return wrong


def check_contract(verb: str, args: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
    """Raise CheckFailed(CONTRACT-TYPE) naming each field of the wrong type."""
    wrong = wrong_types(verb, answer)
    if wrong:
        raise CheckFailed("CONTRACT-TYPE", f"{verb} {dict(args)} answered {'; '.join(wrong)} (docs/adapters.md)",
                          [Evidence("adapter", verb, repr(dict(answer)))])
