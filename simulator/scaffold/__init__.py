"""`opsim new capability <operator> <name>` and `opsim new operator <name>`: write what docs/architecture.md's
recipe ("Adding a capability", steps 1 to 10) asks for, passing at once, into this checkout of opsim.

A capability gets its module and spec pack (simulator/operators/<operator>/), its line in the operator's
`capabilities`, an area in its `[layout]` and a timing in its `[timings]` (the profile is edited line by line,
its comments kept), a feature file with one scenario and its `test_*.py` binding, its steps module in the
harness's steps/ and its verbs as a mixin of the reference OC (both found by the harness, no list to edit),
its check ids (in the steps module) and a section of docs/adapters.md and docs/checks.md. An operator gets its
profile, its harness package (the hooks of conformance/hookspecs.py, steps/, the reference OC) and its features
folder, then a starter capability of its own name.

The files are rendered from templates/ with string.Template (the sandbox's dependencies only). Everything is
planned before anything is written: a refusal (an unknown operator, a name taken, not an identifier) writes
nothing, and `--dry-run` prints the plan.
"""

from __future__ import annotations

import keyword
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).parent / "templates"
#: The checkout this copy of opsim runs from: the scaffold writes there.
ROOT = Path(__file__).resolve().parents[2]
#: A capability's or an operator's name: a lower-case Python identifier (module, area, verbs are made of it).
NAME = re.compile(r"[a-z][a-z0-9_]*")
#: The confirmation delay of a new capability (its `<name>_confirm` timing).
CONFIRM_DELAY = "1 working day"


class ScaffoldError(Exception):
    """Why nothing was written (one line)."""


@dataclass
class Plan:
    """The files to write (new) and to replace (edited), by path, with their whole text."""

    root: Path
    writes: dict[Path, str] = field(default_factory=dict)
    edits: dict[Path, str] = field(default_factory=dict)

    def text(self, path: Path) -> str:
        """A file as the plan leaves it (what an earlier step of the plan wrote or edited, else the disk)."""
        if path in self.edits:
            return self.edits[path]
        if path in self.writes:
            return self.writes[path]
        return path.read_text(encoding="utf-8")

    def put(self, path: Path, text: str) -> None:
        if path in self.writes:
            self.writes[path] = text
        elif path.exists():
            self.edits[path] = text
        else:
            self.writes[path] = text

    def lines(self) -> list[str]:
        return ([f"write {p.relative_to(self.root)}" for p in self.writes]
                + [f"edit  {p.relative_to(self.root)}" for p in self.edits])

    def apply(self) -> None:
        for path, text in {**self.writes, **self.edits}.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def render(template: str, **values: str) -> str:
    return Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)


def check_name(kind: str, name: str) -> None:
    if not NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ScaffoldError(f"{kind} name {name!r} is not a lower-case Python identifier (e.g. ping, my_flow)")


def check_root(root: Path) -> None:
    if not (root / "pyproject.toml").is_file() or not (root / "features").is_dir():
        raise ScaffoldError(f"{root} is not a checkout of opsim (pyproject.toml and features/ beside simulator/): "
                            "opsim new writes into one")


# ---------------------------------------------------------------------------------------------- capability
def new_capability(operator: str, name: str, root: Path = ROOT, plan: Plan | None = None) -> Plan:
    """The plan of a new capability `name` of `operator` (in `plan`, after what it already holds)."""
    check_root(root)
    check_name("capability", name)
    plan = plan or Plan(root)
    op_dir = root / "simulator" / "operators" / operator
    profile_path = op_dir / "profile.toml"
    if not NAME.fullmatch(operator) or not (profile_path in plan.writes or profile_path.is_file()):
        known = sorted(p.parent.name for p in (root / "simulator" / "operators").glob("*/profile.toml"))
        raise ScaffoldError(f"no operator {operator!r} (known: {', '.join(known) or 'none'}; "
                            f"`opsim new operator {operator}` makes one)")
    harness = op_dir / "harness"
    if not ((harness / "verbs.py") in plan.writes or (harness / "verbs.py").is_file()) or \
            not ((harness / "steps") / "__init__.py" in plan.writes or (harness / "steps").is_dir()):
        raise ScaffoldError(f"operator {operator} has no harness with steps/ and verbs.py in {harness}")
    profile_text = plan.text(profile_path)
    profile = tomllib.loads(profile_text)
    features = features_of(root, operator, plan)
    code = name.upper().replace("_", "")
    Name = "".join(part.capitalize() for part in name.split("_"))  # noqa: N806 (the flows' spelling)
    taken = [str(p.relative_to(root)) for p in (
        op_dir / f"{name}.py", op_dir / name, op_dir / f"{name}-1.0", harness / "steps" / f"{name}.py",
        harness / f"{name}_reference.py", features / name) if p.exists() or p in plan.writes]
    if name in profile.get("layout", {}):
        taken.append(f"area {name} of {profile_path.relative_to(root)}")
    if any(c.rpartition(":")[0].endswith(f".{name}") for c in profile.get("capabilities", [])):
        taken.append(f"a capability of {profile_path.relative_to(root)}")
    if taken:
        raise ScaffoldError(f"capability {name} of {operator} exists already ({', '.join(taken)})")
    check_ids = name.upper().replace("_", "-")
    values = dict(
        operator=operator, Operator=str(profile.get("name", operator)), name=name, Name=Name, CODE=code,
        class_name=f"{Name}Desk", area=name, pack=f"{name}-1.0",
        pack_path=f"simulator/operators/{operator}/{name}-1.0", timing=f"{name}_confirm",
        confirm_delay=CONFIRM_DELAY, ar_flow=f"AR_{Name}", cr_flow=f"CR_{Name}", notif_flow=f"Notif_{Name}",
        default_oi=operator.upper(), check_sent=f"{check_ids}-SENT", check_read=f"{check_ids}-READ",
        feature_path=f"{name}/{name}.feature")
    c = "capability/"
    plan.put(op_dir / f"{name}.py", render(c + "capability.py.tmpl", **values))
    plan.put(op_dir / f"{name}-1.0" / "pack.yaml", render(c + "pack.yaml.tmpl", **values))
    plan.put(op_dir / f"{name}-1.0" / "flows.yaml", render(c + "flows.yaml.tmpl", **values))
    plan.put(features / name / "__init__.py", "")
    plan.put(features / name / f"{name}.feature", render(c + "feature.tmpl", **values))
    plan.put(features / name / f"test_{name}.py", render(c + "test_feature.py.tmpl", **values))
    plan.put(harness / "steps" / f"{name}.py", render(c + "steps.py.tmpl", **values))
    plan.put(harness / f"{name}_reference.py", render(c + "reference.py.tmpl", **values))
    plan.put(profile_path, enable(profile_text, profile, operator, name, values))
    for doc, template in (("adapters.md", "adapters.md.tmpl"), ("checks.md", "checks.md.tmpl")):
        path = root / "docs" / doc
        if path.is_file():
            plan.put(path, plan.text(path).rstrip("\n") + "\n" + render(c + template, **values))
    return plan


def features_of(root: Path, operator: str, plan: Plan) -> Path:
    """The features folder whose conftest names the operator's harness: features/ (the shipped scenarios'
    operator) or features/<operator>/ (another operator's, played with --features)."""
    plugin = f'"simulator.operators.{operator}.harness"'
    for folder in (root / "features", root / "features" / operator):
        conftest = folder / "conftest.py"
        if (conftest in plan.writes or conftest.is_file()) and plugin in plan.text(conftest):
            return folder
    raise ScaffoldError(f"no features folder names {operator}'s harness (features/conftest.py or "
                        f"features/{operator}/conftest.py: pytest_plugins = [..., {plugin}])")


def enable(text: str, profile: dict, operator: str, name: str, values: dict[str, str]) -> str:
    """The profile with the capability enabled, by data (docs/architecture.md, step 5): its line in
    `capabilities`, its area in `[layout]` (a folder of its own under the operator's first area's, or IN and
    OUT for the first area), its timing in `[timings]`. Only lines are added: comments and order are kept."""
    layout = profile.get("layout", {})
    if layout:
        first = next(iter(layout.values()))
        folders = {d: f"{first[d]}/{values['CODE']}" for d in ("in", "out")}
    else:
        under = "/{interop}/{arcep}" if profile.get("networks") else ""
        folders = {"in": f"IN{under}", "out": f"OUT{under}"}
    entry = f"simulator.operators.{operator}.{name}:{values['class_name']}"
    text = _add_to_list(text, "capabilities", f'"{entry}"')
    text = _add_to_table(text, "layout", f'{name} = {{ in = "{folders["in"]}", out = "{folders["out"]}" }}'
                                         f"  # {values['Name']}'s files (opsim new capability)")
    text = _add_to_table(text, "timings", f'{values["timing"]} = "{CONFIRM_DELAY}"'
                                          f"  # {values['Name']} -> its {values['cr_flow']} (opsim new capability)")
    after = tomllib.loads(text)  # what was written is what was meant, or nothing is written
    if entry not in after.get("capabilities", []) or name not in after.get("layout", {}) \
            or values["timing"] not in after.get("timings", {}):
        raise ScaffoldError(f"could not enable {name} in the profile of {operator}: edit its capabilities, "
                            "[layout] and [timings] by hand")
    return text


def _add_to_list(text: str, key: str, item: str) -> str:
    """`item` appended to the top-level array `key` (one line of its own in a multi-line array)."""
    m = re.search(rf"^{key}\s*=\s*\[", text, re.MULTILINE)
    if m is None:
        header = re.search(r"^\[", text, re.MULTILINE)  # top-level keys come before the first table
        at = header.start() if header else len(text)
        return f"{text[:at]}{key} = [\n    {item},\n]\n\n{text[at:]}"
    close = _closing_bracket(text, m.end())
    inside = text[m.end():close]
    if "\n" not in inside:  # one line: `key = ["a:B"]`
        sep = ", " if inside.strip() else ""
        return f"{text[:m.end()]}{inside.rstrip()}{sep}{item}{text[close:]}"
    line_start = text.rfind("\n", 0, close) + 1
    if text[line_start:close].strip():  # the bracket closes the last item's line: `    "a:B"]`
        before = text[:close].rstrip()
        comma = "" if before.endswith(",") else ","
        return f"{before}{comma}\n    {item},\n{text[close:]}"
    before = text[:line_start].rstrip()  # the bracket on a line of its own: a line before it
    comma = "" if before.endswith((",", "[")) else ","
    return f"{before}{comma}\n    {item},\n{text[line_start:]}"


def _closing_bracket(text: str, start: int) -> int:
    """The index of the `]` closing an array opened before `start`, strings and comments skipped."""
    depth, i = 1, start
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = text.index(ch, i + 1)
        elif ch == "#":
            i = text.index("\n", i) if "\n" in text[i:] else len(text)
            continue
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ScaffoldError(f"unclosed array in the profile (at character {start})")


def _add_to_table(text: str, table: str, line: str) -> str:
    """`line` added at the end of `[table]`'s own lines (the table appended when there is none)."""
    lines = text.splitlines(keepends=True)
    header = next((i for i, ln in enumerate(lines) if re.fullmatch(rf"\[{table}\]\s*(#.*)?", ln.strip())), None)
    if header is None:
        return text.rstrip("\n") + f"\n\n[{table}]\n{line}\n"
    end = next((i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    last = header  # after its last key line (its trailing blank lines and the next table's comments stay)
    for i in range(header + 1, end):
        if lines[i].strip() and not lines[i].lstrip().startswith("#"):
            last = i
    if not lines[last].endswith("\n"):
        lines[last] += "\n"
    lines.insert(last + 1, line + "\n")
    return "".join(lines)


# ---------------------------------------------------------------------------------------------- operator
def new_operator(name: str, root: Path = ROOT) -> Plan:
    """The plan of a new operator `name`: its profile, harness and features folder, and a starter capability
    of its own name."""
    check_root(root)
    check_name("operator", name)
    op_dir = root / "simulator" / "operators" / name
    features = root / "features" / name
    taken = [str(p.relative_to(root)) for p in (op_dir, features) if p.exists()]
    if taken:
        raise ScaffoldError(f"operator {name} exists already ({', '.join(taken)})")
    Operator = "".join(part.capitalize() for part in name.split("_"))  # noqa: N806 (its display name)
    values = dict(operator=name, Operator=Operator, pack=f"{name}-1.0")
    plan = Plan(root)
    o = "operator/"
    plan.put(op_dir / "profile.toml", render(o + "profile.toml.tmpl", **values))
    plan.put(op_dir / "__init__.py", render(o + "init.py.tmpl", **values))
    plan.put(op_dir / "harness" / "__init__.py", render(o + "harness_init.py.tmpl", **values))
    plan.put(op_dir / "harness" / "verbs.py", render(o + "verbs.py.tmpl", **values))
    plan.put(op_dir / "harness" / "reference.py", render(o + "reference.py.tmpl", **values))
    plan.put(op_dir / "harness" / "steps" / "__init__.py", render(o + "steps_init.py.tmpl", **values))
    plan.put(features / "__init__.py", "")
    plan.put(features / "conftest.py", render(o + "features_conftest.py.tmpl", **values))
    return new_capability(name, name, root, plan)
