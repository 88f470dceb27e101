"""Faults on demand: rules that make the operator refuse, delay, reprovision or fail what an OC sends.

The point of pre-certification is to rehearse every refusal. Codes that real data can trigger need no rule;
production failures, customer-side ones and any code at any stage come from a **fault rule**, set per tenant
through the admin API (`POST /api/faults`), or from a **magic value** in the order itself, like a payment test
card: `OPSIM:<code>` in a free-text column the capability names fires that code at its default stage (see
`Stages.default_for`), `OPSIM:<code>@<STAGE>` at the stage named.

The codes and their stages are data: each spec pack's reject catalogue (`rejects.yaml`: each code's `stage`)
and its `stages.yaml` (what answers at each stage, where a code fires when no stage is named).

A rule matches the orders of one tenant (all of them, one order by its reference, or one address by its
code) and fires on the next `count` of them at its stage; then it is spent. The domain asks
`FaultRules.take(...)` at each stage where the protocol lets the operator say no; the rules live in the store,
so a rule set before a restart still fires after it, and a fired rule is journaled by the capability.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from .store import Store

_WITHOUT_RULES: WeakKeyDictionary[Store, set[str]] = WeakKeyDictionary()

#: What a rule may do at its stage besides refusing.
ACTIONS = ("reject", "delay", "reprovision")
MAX_COUNT = 10_000
MAX_DELAY = 250  # working days: a year of them

SCHEMA = """
CREATE TABLE IF NOT EXISTS fault_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    rule TEXT NOT NULL,        -- the rule as JSON (FaultRule)
    remaining INTEGER,         -- how many more orders it fires on (NULL: every one)
    fired INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS fault_rules_tenant ON fault_rules (tenant);
"""

#: What a client may send to set a rule (POST /api/faults).
FAULT_FIELDS = ("action", "stage", "code", "working_days", "motif", "ref", "address", "comment", "count")

MAGIC = re.compile(r"OPSIM:(?P<code>[A-Z]{4}\d{2})(?:@(?P<stage>[A-Z]+))?")


class FaultError(ValueError):
    """A rule that cannot be set: the message names the field and why."""


@dataclass(frozen=True)
class Stages:
    """Where the operators may say no, as their spec packs declare it (a pack's `stages` and `rule_stage`
    sections): each stage with what answers there, and where a code or a rule fires when it names no stage."""

    answers: Mapping[str, str] = field(default_factory=dict)  # stage -> what answers there ("... KO, at once")
    fires_at: Mapping[str, str] = field(default_factory=dict)  # stage -> where its codes fire by default
    rule_stage: str = ""  # where a delay or a reprovisioning rule fires when it names no stage

    @classmethod
    def of(cls, packs: Iterable[tuple[Mapping[str, Any], Mapping[str, Mapping[str, str]]]]) -> Stages:
        """From (sections, rejects) of each spec pack: its declared stages, then any other stage its codes name."""
        answers: dict[str, str] = {}
        fires_at: dict[str, str] = {}
        rule_stage = ""
        for sections, rejects in packs:
            for stage, declared in (sections.get("stages") or {}).items():
                answers.setdefault(str(stage), str((declared or {}).get("answer", "")))
                if (declared or {}).get("fires_at"):
                    fires_at.setdefault(str(stage), str(declared["fires_at"]))
            for entry in rejects.values():
                answers.setdefault(str(entry.get("stage", "")), "")
            rule_stage = rule_stage or str(sections.get("rule_stage", ""))
        answers.pop("", None)
        return cls(answers, fires_at, rule_stage or next(iter(answers), ""))

    def default_for(self, code: str, catalogue: Mapping[str, Mapping[str, str]]) -> str:
        """Where a code fires when no stage is named: its catalogue stage, or where that stage's codes fire
        (`fires_at`: a production code fires at the first answer that may carry it)."""
        stage = catalogue.get(code, {}).get("stage", "") or next(iter(self.answers), "")
        return self.fires_at.get(stage, stage)


@dataclass(frozen=True)
class FaultRule:
    """What a rule does, and to which orders."""

    action: str  # reject | delay | reprovision
    stage: str  # where it fires: a stage of the spec packs (`Stages`)
    code: str = ""  # reject: the catalogue code
    working_days: int = 0  # delay: how much later the stage's answer comes
    motif: str = ""  # reprovision: the MotifReprov of the Notif_Reprov
    ref: str = ""  # only the order of this reference ("": any)
    address: str = ""  # only orders at this address code ("": any)
    comment: str = ""  # goes in the answer's comment column

    def matches(self, ref: str, address: str) -> bool:
        return (not self.ref or self.ref == ref) and (not self.address or self.address == address)


@dataclass(frozen=True)
class Fired:
    """A rule that fired: its id (0 for a magic value) and what it does."""

    id: int
    rule: FaultRule

    def describe(self) -> str:
        what = {"reject": f"{self.rule.code}", "delay": f"{self.rule.working_days} working days",
                "reprovision": f"reprovisioning ({self.rule.motif})"}[self.rule.action]
        source = f"fault rule {self.id}" if self.id else "magic value OPSIM:"
        return f"{source}: {self.rule.action} at {self.rule.stage}: {what}"


def check_rule(body: Mapping[str, Any], catalogue: Mapping[str, Mapping[str, str]],
               stages: Stages) -> tuple[FaultRule, int | None]:
    """A rule and its count from what a client sent; FaultError names what is wrong."""
    unknown = sorted(set(body) - set(FAULT_FIELDS))
    if unknown:
        raise FaultError(f"unknown field {unknown[0]!r} (expected: {', '.join(FAULT_FIELDS)})")
    action = body.get("action", "reject")
    if action not in ACTIONS:
        raise FaultError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    code = _text(body, "code", 8).upper()
    if action == "reject":
        if code not in catalogue:
            raise FaultError(f"code {code!r} is not in the reject catalogue (GET /api/rejects lists it)")
        stage = _text(body, "stage", 8).upper() or stages.default_for(code, catalogue)
    else:
        stage = _text(body, "stage", 8).upper() or stages.rule_stage
    if stage not in stages.answers:
        raise FaultError(f"stage must be one of {', '.join(stages.answers)}, not {stage!r}")
    working_days = body.get("working_days", 0)
    if action == "delay" and (isinstance(working_days, bool) or not isinstance(working_days, int)
                              or not 1 <= working_days <= MAX_DELAY):
        raise FaultError(f"working_days must be an integer from 1 to {MAX_DELAY} for a delay")
    motif = _text(body, "motif", 100)
    if action == "reprovision" and not motif:
        motif = "Réaménagement réseau"
    count = body.get("count", 1)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT):
        raise FaultError(f"count must be an integer from 1 to {MAX_COUNT}, or null for every matching order")
    rule = FaultRule(action=action, stage=stage, code=code if action == "reject" else "",
                     working_days=working_days if action == "delay" else 0,
                     motif=motif if action == "reprovision" else "", ref=_text(body, "ref", 30),
                     address=_text(body, "address", 10).upper(), comment=_text(body, "comment", 256))
    return rule, count


def _text(body: Mapping[str, Any], key: str, max_length: int) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or len(value) > max_length:
        raise FaultError(f"{key} must be a string of at most {max_length} characters")
    return value.strip()


def magic_fault(text: str, catalogue: Mapping[str, Mapping[str, str]], stages: Stages, stage: str) -> Fired | None:
    """The fault an order's own free text asks for at `stage` (`OPSIM:<code>` or `OPSIM:<code>@<stage>`)."""
    for match in MAGIC.finditer(text or ""):
        code = match["code"]
        if code not in catalogue:
            continue
        wanted = match["stage"] or stages.default_for(code, catalogue)
        if wanted == stage:
            return Fired(0, FaultRule("reject", stage, code, comment=f"magic value {match[0]}"))
    return None


class FaultRules:
    """The fault rules of every tenant, kept in the store."""

    def __init__(self, store: Store):
        self.store = store

    @property
    def _without_rules(self) -> set[str]:
        """Tenants that had no rule at all when last asked: take() answers them without a query. Shared by
        every FaultRules of one store (the admin API's and the operators'); add() and delete() empty it."""
        return _WITHOUT_RULES.setdefault(self.store, set())

    @staticmethod
    def create_tables(store: Store) -> None:
        """At start-up, before the engine runs: creating tables commits, so never inside its transactions."""
        store.ensure_schema(SCHEMA)

    # --- admin API (engine thread for writes)
    def add(self, tenant: str, rule: FaultRule, count: int | None) -> dict[str, Any]:
        self._without_rules.clear()
        cursor = self.store.execute("INSERT INTO fault_rules (tenant, rule, remaining) VALUES (?, ?, ?)",
                                    (tenant, json.dumps(asdict(rule)), count))
        return self._row(self.store.query("SELECT * FROM fault_rules WHERE id = ?", (cursor.lastrowid,))[0])

    def list(self, tenant: str, reader: bool = True) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT * FROM fault_rules WHERE tenant = ? ORDER BY id", (tenant,), reader=reader)
        return [self._row(r) for r in rows]

    def delete(self, tenant: str, rule_id: int | None = None) -> int:
        """Remove one rule (or every rule of the tenant); how many were removed."""
        self._without_rules.clear()  # a rolled-back delete must not leave a tenant known as rule-free
        if rule_id is None:
            return self.store.execute("DELETE FROM fault_rules WHERE tenant = ?", (tenant,)).rowcount
        return self.store.execute("DELETE FROM fault_rules WHERE tenant = ? AND id = ?", (tenant, rule_id)).rowcount

    # --- the domain (engine thread, inside the document's or event's transaction)
    def take(self, tenant: str, stage: str, ref: str, address: str = "",
             actions: tuple[str, ...] = ACTIONS) -> Fired | None:
        """The first live rule of the tenant for this order at this stage, spent once; None if none."""
        if tenant in self._without_rules:
            return None
        rows = self.store.query("SELECT * FROM fault_rules WHERE tenant = ? ORDER BY id", (tenant,))
        if not rows:  # none at all, spent or not: nothing a rollback could bring back
            self._without_rules.add(tenant)
            return None
        rows = [r for r in rows if r["remaining"] is None or r["remaining"] > 0]
        for row in rows:
            rule = FaultRule(**json.loads(row["rule"]))
            if rule.stage == stage and rule.action in actions and rule.matches(ref, address):
                self.store.execute("UPDATE fault_rules SET fired = fired + 1, remaining = remaining - 1 "
                                   "WHERE id = ?", (row["id"],))
                return Fired(row["id"], rule)
        return None

    @staticmethod
    def _row(row: Any) -> dict[str, Any]:
        rule = json.loads(row["rule"])
        return {"id": row["id"], "tenant": row["tenant"], **rule, "remaining": row["remaining"], "fired": row["fired"]}
