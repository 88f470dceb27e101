"""What a conformance run found: one result per scenario, with the findings against the OC.

The pytest plugin writes them to `<report-dir>/results.json`; `conformance/report.py` renders the same
data as `junit.xml` (for CI) and `report.html` (for a certification manager).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


@dataclass
class Evidence:
    """One piece of evidence: a file exchanged (with its content) or a journal line of the sandbox."""

    kind: str  # "file in" (OC -> operator), "file out" (operator -> OC), "journal", "adapter"
    name: str
    content: str = ""


@dataclass
class Finding:
    """A check on the OC that failed (docs/checks.md has one line per check id)."""

    check: str  # stable id, e.g. "<PROTOCOL>-NAME-DATE"
    clause: str  # where the rule comes from, e.g. "<protocol> §file names (seed NNN)"
    message: str
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class ScenarioResult:
    feature: str  # the feature's title
    scenario: str  # the scenario's title (with its example's values for an outline)
    flows: list[str]  # the protocol flows it exercises (the report's matrix rows)
    outcome: str  # PASSED, FAILED or NOT_RUN
    step: str = ""  # the first failing step, or why it did not run ("the adapter has no complete_stoc")
    error: str = ""  # what went wrong at that step
    findings: list[Finding] = field(default_factory=list)
    duration: float = 0.0
    exchanges: list[Evidence] = field(default_factory=list)  # what the harness asked the OC, and its answers
    number: int = 0  # its place in the run (collection order): the console's and the report's number


@dataclass
class RunResult:
    adapter: str
    target: str
    seed: int
    started: str  # real date-time of the run
    scenarios: list[ScenarioResult] = field(default_factory=list)
    fuzz: int = 0  # operator variations asked (--fuzz)
    interrupted: bool = False  # the run was stopped (SIGINT, SIGTERM) before every scenario ran
    total: int = 0  # scenarios selected for the run (more than ran when it was interrupted)
    #: The report matrix's rows in the protocol's order, as the operator's harness gives them.
    flow_order: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(s.outcome == FAILED for s in self.scenarios)

    def counts(self) -> dict[str, int]:
        return {o: sum(s.outcome == o for s in self.scenarios) for o in (PASSED, FAILED, NOT_RUN)}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> RunResult:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        scenarios = [scenario_from_json(s) for s in data.pop("scenarios")]
        return cls(**data, scenarios=scenarios)


def scenario_from_json(data: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult(**{
        **data,
        "findings": [Finding(**{**f, "evidence": [Evidence(**e) for e in f["evidence"]]}) for f in data["findings"]],
        "exchanges": [Evidence(**e) for e in data.get("exchanges", [])]})
