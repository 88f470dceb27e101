"""The core knows no operator: no module outside simulator/operators/ (the engine, the store, the transports, the
web layer, the generic harness in conformance/) names an operator or its protocols; each operator's code, harness
included, lives in its folder under simulator/operators/."""

from __future__ import annotations

import re
from pathlib import Path

from simulator.profile import packaged_profiles, read_profile

ROOT = Path(__file__).resolve().parents[1]
#: The protocols of the packaged operators, as their names are written (with and without accents).
PROTOCOLS = ("Accès", "Acces")


def forbidden_words() -> list[str]:
    words = list(PROTOCOLS)
    for key, path in packaged_profiles().items():
        words += [key, read_profile(path, key).name]
    return sorted(set(words))


def test_no_module_outside_the_operators_names_one():
    # A word of its own: "Acces" is not the start of "Access", nor "acces" the end of "EACCES".
    pattern = re.compile(r"(?<![A-Za-z])(" + "|".join(map(re.escape, forbidden_words())) + r")(?![A-Za-z])",
                         re.IGNORECASE)
    core = [p for p in (ROOT / "simulator").rglob("*.py") if "operators" not in p.relative_to(ROOT).parts[1:2]]
    core += list((ROOT / "conformance").rglob("*.py"))
    assert len(core) > 40
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()[:100]}" for p in core
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if pattern.search(line)]
    assert not found, "\n".join(found)


def test_the_check_sees_a_name_where_there_is_one():
    """The pattern above is not blind: the words it looks for are found in the operators' own modules."""
    pattern = re.compile("|".join(map(re.escape, forbidden_words())), re.IGNORECASE)
    covage = (ROOT / "simulator" / "operators" / "covage" / "access.py").read_text(encoding="utf-8")
    assert pattern.search(covage) and "covage" in forbidden_words() and "Accès" in forbidden_words()
