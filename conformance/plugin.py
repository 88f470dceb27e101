"""The conformance harness as a pytest plugin: `pytest -p conformance.plugin --adapter SPEC features/`.

It gives each scenario of features/ a sandbox (its own `opsim up`, or `--target URL`), a fresh tenant, the
adapter's `Context` and an OC driver that calls the user's adapter; it records one `ScenarioResult` per
scenario and writes them to `<--report-dir>/results.json`.

Options
    --adapter SPEC      reference (default), python:<module>:<Class> or command:<command line>
    --target URL        admin base URL of a running sandbox (default: one `opsim up` per session and worker)
    --report-dir DIR    write results.json there at the end
    --seed N            recorded in the results, and the seed of the operator variations
    --fuzz N            play N operator variations drawn by Hypothesis (features/fuzz); 0 leaves them out

A scenario whose adapter lacks a verb is skipped with a reason starting with NOT_RUN_PREFIX and reported
"not run". Steps add findings to `ScenarioRecord.findings`; the operator's harness adds its end-of-scenario
checks (`pytest_conformance_findings`); a scenario with findings fails.

The plugin knows no operator: the features folder's conftest names the operator's harness, a plugin that
implements conformance/hookspecs.py (which operator, its spec pack, its context's fields, its checks) and
brings the steps (simulator/operators/<operator>/harness/).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays
import pytest

from simulator.launch import LaunchError, OpsimUp

from .adapters import Adapter, AdapterSpecError, Context, FtpAccount, VerbNotImplemented, adapter_factory
from .client import AdminError, SandboxAdmin
from .results import FAILED, NOT_RUN, PASSED, Evidence, Finding, RunResult, ScenarioResult, scenario_from_json
from .verdict import CONTRACT_CHECKS, check_contract, finding_of

#: The start of a skip reason that means "the adapter does not implement a verb": reported "not run".
NOT_RUN_PREFIX = "conformance: not run:"
#: The moment of a new sandbox's clock (a Tuesday with no French holiday near it).
SANDBOX_START = "2026-11-24T10:00:00"
#: Every scenario starts on a working day at this hour (Europe/Paris, the sandbox's local time).
SCENARIO_HOUR = 10
#: The domain of the tenants' e-mail addresses (<code>@...): the sandbox knows an OC's mail by its sender.
TENANT_MAIL_DOMAIN = "oc.opsim.test"

RECORD = pytest.StashKey["ScenarioRecord"]()
HARNESS = pytest.StashKey["Harness"]()

# ---------------------------------------------------------------------------------------------- records
@dataclass
class ScenarioRecord:
    """One scenario as it runs: its result, the adapter calls, and where the checks add their findings."""

    result: ScenarioResult
    tenant: str = ""
    admin: SandboxAdmin | None = None
    step: str = ""  # the step being run (a skip raised inside it names it)
    evidence: list[Evidence] = field(default_factory=list)  # adapter calls and files seen
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # order_status answers, by ref
    #: Every adapter call: {verb, args, answer, asked_at (virtual), asked_real (before the call)}.
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: Check ids a step made the OC earn on purpose (a works notice too short...): not findings against it.
    expected: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)
    #: The scenario's OC driver, while it runs: the end-of-scenario checks ask the OC what it understood.
    driver: OcDriver | None = None
    oi: str = ""  # the network the OC's context names: the folders it is told to read

    @property
    def findings(self) -> list[Finding]:
        return self.result.findings


@dataclass
class Harness:
    """Session-wide: the options and the results of the scenarios run so far (in this worker)."""

    adapter: str
    target: str | None
    seed: int
    report_dir: Path | None
    fuzz: int = 0
    started: str = field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))
    results: list[ScenarioResult] = field(default_factory=list)
    total: int = 0  # scenarios selected (collected, less the deselected)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "OC conformance harness (conformance.plugin)")
    group.addoption("--adapter", default="reference", metavar="SPEC",
                    help="the OC under test: reference, python:<module>:<Class> or command:<command line>")
    group.addoption("--target", default=None, metavar="URL",
                    help="admin base URL of a running sandbox (default: start one opsim up per session)")
    group.addoption("--report-dir", default=None, metavar="DIR", help="write results.json there")
    group.addoption("--seed", default=0, type=int, metavar="N", help="recorded in the results")
    group.addoption("--sandbox-dir", default=None, metavar="DIR",
                    help="start the harness's own sandbox in DIR and keep it after the run (its data dir, its "
                         "tenants' FTP trees) to look at; default a temporary folder, removed")
    group.addoption("--sandbox-config", default=None, metavar="FILE",
                    help="configuration file of the harness's own sandbox (an operator of one's own: its "
                         "[operators] profiles); its clock is the harness's")
    group.addoption("--fuzz", default=0, type=int, metavar="N",
                    help="play N operator variations drawn by Hypothesis (tests marked fuzz); 0 leaves them out")


def pytest_configure(config: pytest.Config) -> None:
    report_dir = config.getoption("--report-dir")
    config.stash[HARNESS] = Harness(config.getoption("--adapter"), config.getoption("--target"),
                                    config.getoption("--seed"), Path(report_dir) if report_dir else None,
                                    config.getoption("--fuzz"))
    config.addinivalue_line("markers", "fuzz: operator variations drawn by Hypothesis, played only with --fuzz N")
    _stop_on_sigterm()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --fuzz, the operator variations are left out of the run (and of its progress count)."""
    if config.stash[HARNESS].fuzz > 0:
        return
    left_out = [item for item in items if item.get_closest_marker("fuzz")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("fuzz")]


#: The user property every scenario's reports carry (across xdist workers too): its number and title.
SCENARIO_PROPERTY = "opsim_scenario"
NUMBER = pytest.StashKey[int]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Number the scenarios in the order they were collected (every worker collects the same): the number the
    console prints and the report's rows and columns use."""
    from .runner import scenario_of

    harness = session.config.stash[HARNESS]
    harness.total = max(harness.total, len(session.items))
    for number, item in enumerate(session.items, 1):
        titles = scenario_of(item)
        item.stash[NUMBER] = number
        item.user_properties.append((SCENARIO_PROPERTY, {
            "number": number, "name": ": ".join(titles) if titles else item.nodeid}))


def _stop_on_sigterm() -> None:
    """SIGTERM (a CI job cancelled) stops the run as Ctrl-C does: the sandbox and the adapter stop, and the
    results of the scenarios that ran are written, marked interrupted."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


# ---------------------------------------------------------------------------------------------- the sandbox
@dataclass
class Target:
    """The sandbox under the scenarios: its admin API and the operator's FTP endpoint."""

    url: str
    admin: SandboxAdmin
    operator: str
    ftp_host: str
    ftp_port: int
    oi: str  # the operator's first network, if it has any ("" otherwise)
    arcep: str
    smtp_host: str = ""  # the e-mail channel, when the sandbox serves it
    smtp_port: int = 0
    mailboxes: dict[str, str] = field(default_factory=dict)  # area -> the operator's address for it
    #: area -> {"in": folder, "out": folder} on the scenarios' network, from GET /api/operators (absolute from the
    #: OC's home): no client or step builds a folder path itself.
    folders: dict[str, dict[str, str]] = field(default_factory=dict)
    spec_pack: str = ""  # what the adapter's context names (the operator's harness says: pytest_conformance_spec_pack)
    #: The context's fields for the operator's protocols, by tenant (pytest_conformance_context_extra).
    context_extra: Callable[[Target, Tenant], dict[str, Any]] | None = field(default=None, repr=False)
    _addresses: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def deployed_addresses(self, network: str, limit: int = 300) -> list[dict[str, Any]]:
        """The network's first deployed addresses (GET /api/addresses), read once per run: a deployed building
        stays deployed (the network only moves forward), and the occupancy listed is the network's own, which
        no scenario's orders change. A scenario that changes the network reads it itself."""
        key = (network, limit)
        if key not in self._addresses:
            self._addresses[key] = self.admin.addresses(network, limit=limit)
        return self._addresses[key]


class HarnessSandbox:
    """`opsim up` in a subprocess on free ports, a temporary data dir, the clock frozen at SANDBOX_START; or with
    the user's configuration file (`--sandbox-config`: an operator of one's own), its clock as the file says
    (each scenario freezes it and moves it to a working morning)."""

    def __init__(self, workdir: Path, config_file: str | None = None):
        self.workdir = workdir
        self.config_file = Path(config_file).resolve() if config_file else None
        self.process: OpsimUp | None = None

    def start(self, timeout: float = 120.0) -> str:
        config = self.config_file or self.workdir / "opsim.toml"
        if self.config_file is None:
            config.write_text(f'[clock]\nstart = "{SANDBOX_START}"\nfrozen = true\n', encoding="utf-8")
        self.process = OpsimUp(self.workdir / "data", config,
                               ["--ftp-port", "0", "--http-port", "0", "--smtp-port", "0"])
        try:
            return self.process.start(timeout).http_url
        except LaunchError as e:
            raise RuntimeError(str(e)) from None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def connect(url: str, key: str) -> Target:
    """The operator `key` of the sandbox at `url`, as GET /api/operators describes it."""
    admin = SandboxAdmin(url)
    operators = {o["operator"]: o for o in admin.get("/operators")}
    if key not in operators:
        raise RuntimeError(f"the sandbox at {url} serves no {key} (it serves {', '.join(operators)})")
    operator = operators[key]
    m = re.fullmatch(r"ftp://([^:/]+):(\d+)/?", operator["endpoints"]["ftp"])
    if not m:
        raise RuntimeError(f"cannot read the FTP endpoint {operator['endpoints']['ftp']!r}")
    network = operator["networks"][0] if operator["networks"] else {"interop": "", "arcep": ""}
    smtp = re.fullmatch(r"smtp://([^:/]+):(\d+)/?", operator["endpoints"].get("smtp", ""))
    return Target(url, admin, key, m[1], int(m[2]), network["interop"], network["arcep"],
                  smtp[1] if smtp else "", int(smtp[2]) if smtp else 0, dict(operator.get("mailboxes") or {}),
                  folders_of(operator, network["interop"]))


def harnessed(target: Target, config: pytest.Config) -> Target:
    """The target with what the operator's harness adds: its spec pack and its context's fields."""
    hook = config.hook
    target.spec_pack = str(hook.pytest_conformance_spec_pack() or "")

    def extra(target: Target, tenant: Tenant) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for part in hook.pytest_conformance_context_extra(target=target, tenant=tenant):
            fields.update(part)
        return fields

    target.context_extra = extra
    return target


def operator_of(config: pytest.Config) -> str:
    """The operator the features drive, as their harness says (pytest_conformance_operator)."""
    key = config.hook.pytest_conformance_operator()
    if not key:
        raise pytest.UsageError("no operator's harness is loaded: the features folder's conftest.py names one "
                                "(pytest_plugins = [\"conformance.plugin\", "
                                "\"simulator.operators.<operator>.harness\"])")
    return str(key)


def folders_of(operator: Mapping[str, Any], network: str) -> dict[str, dict[str, str]]:
    """Each area's drop and answer folders on one network, as GET /api/operators lists them."""
    folders: dict[str, dict[str, str]] = {}
    for folder in operator.get("folders", []):
        if folder.get("network") in (network, None, ""):
            folders.setdefault(folder["area"], {})[folder["direction"]] = "/" + folder["path"].strip("/")
    return folders


@pytest.fixture(scope="session")
def conformance_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The sandbox: `--target`, or an `opsim up` started for this session (per xdist worker)."""
    url = request.config.getoption("--target")
    operator = operator_of(request.config)
    if url:
        yield harnessed(connect(url, operator), request.config)
        return
    keep = request.config.getoption("--sandbox-dir")
    with contextlib.ExitStack() as stack:
        if keep:  # kept; one folder per xdist worker, each running its own sandbox
            worker = getattr(request.config, "workerinput", {}).get("workerid", "")
            workdir = Path(keep).resolve() / worker if worker else Path(keep).resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="opsim-conformance-")))
        sandbox = HarnessSandbox(workdir, request.config.getoption("--sandbox-config"))
        try:
            yield harnessed(connect(sandbox.start(), operator), request.config)
        finally:
            sandbox.stop()


@pytest.fixture(scope="session")
def conformance_adapter_factory(request: pytest.FixtureRequest) -> Callable[[], Adapter]:
    try:
        return adapter_factory(request.config.getoption("--adapter"),
                               request.config.hook.pytest_conformance_reference_adapter() or "")
    except AdapterSpecError as e:
        raise pytest.UsageError(str(e)) from None


# ---------------------------------------------------------------------------------------------- per scenario
@dataclass
class Tenant:
    code: str
    login: str
    password: str
    email: str = ""


@pytest.fixture
def conformance_tenant(conformance_target: Target) -> Tenant:
    """A fresh OC account per scenario: scenarios never see each other's files, orders or sequences."""
    return new_tenant(conformance_target)


def new_tenant(conformance_target: Target) -> Tenant:
    for _ in range(20):
        code = "T" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(7))
        password = secrets.token_hex(12)
        email = f"{code.lower()}@{TENANT_MAIL_DOMAIN}"  # the sender address of its mails
        try:
            created = conformance_target.admin.post("/tenants", {"code": code, "password": password, "email": email})
        except AdminError as e:
            if e.status == 400 and "exist" in e.detail:
                continue  # a code already taken (a shared --target): draw another
            raise
        return Tenant(created["code"], created["login"], password, email)
    raise RuntimeError("could not create a tenant with a fresh code")


def tuesday_like(day: date) -> bool:
    """Monday to Thursday with a working day after it: "23 hours later" is then the next working day.

    The sandbox says whether today is a working day; tomorrow is worked out from the French public holidays
    (the `holidays` package, which the sandbox uses as well)."""
    tomorrow = day + timedelta(days=1)
    return day.weekday() <= 3 and tomorrow not in holidays.country_holidays("FR", years=tomorrow.year)


def start_of_scenario(admin: SandboxAdmin) -> datetime:
    """Freeze the clock and move it to the next Tuesday-like working day at SCENARIO_HOUR (or leave it there)."""
    admin.post("/clock/freeze", {})
    for _ in range(30):  # the Christmas holidays and a week-end are a few days; 30 is far more
        clock = admin.get("/clock")
        now = datetime.fromisoformat(clock["now"])
        at_hour = now.replace(hour=SCENARIO_HOUR, minute=0, second=0, microsecond=0)
        if now == at_hour and clock["working_day"] and tuesday_like(now.date()):
            return now
        target = at_hour if now < at_hour else at_hour + timedelta(days=1)
        admin.post("/clock/advance", {"seconds": (target - now).total_seconds()})
    raise RuntimeError("no working day found in 30 days of the sandbox's calendar")


class OcDriver:
    """Calls the OC's adapter with a context of the current virtual time; records every call."""

    def __init__(self, adapter: Adapter, context: Callable[[], Context], record: ScenarioRecord):
        self.adapter = adapter
        self.context = context
        self.record = record

    def call(self, verb: str, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
        args = dict(args or {})
        context = self.context()
        asked_real = time.time()
        try:
            answer = self.adapter.call(verb, args, context)
        except VerbNotImplemented:
            self.record.evidence.append(Evidence("adapter", verb, f"{json.dumps(args)} -> not implemented"))
            pytest.skip(f"{NOT_RUN_PREFIX} the adapter has no {verb}")
        self.record.evidence.append(Evidence("adapter", verb, f"{json.dumps(args, ensure_ascii=False)} -> "
                                                              f"{json.dumps(answer, ensure_ascii=False)}"))
        self.record.calls.append({"verb": verb, "args": args, "answer": answer, "asked_at": context.now,
                                  "asked_real": asked_real})
        check_contract(verb, args, answer)  # a field of the wrong type: CONTRACT-TYPE, naming it
        if verb == "order_status":  # what the OC understood, and when: the checks judge it against the wire
            self.record.statuses.setdefault(str(args.get("ref")), []).append(
                {**answer, "asked_at": context.now, "asked_real": time.time()})
        return answer

    def ask(self, verb: str, args: Mapping[str, Any]) -> dict[str, Any] | None:
        """A question at the scenario's end: None when the adapter lacks the verb (nothing to judge then)."""
        try:
            return self.call(verb, args)
        except pytest.skip.Exception:
            return None


@dataclass
class OcScenario:
    """What the steps of one scenario get: the sandbox, the OC's tenant and context, and its driver."""

    target: Target
    tenant: Tenant
    driver: OcDriver
    record: ScenarioRecord
    state_dir: Path

    @property
    def admin(self) -> SandboxAdmin:
        return self.target.admin

    @property
    def spec_pack(self) -> str:
        return self.target.spec_pack

    @property
    def extra(self) -> dict[str, Any]:
        """The context's endpoints beyond FTP: the admin URL, and what the operator's protocols need."""
        target = self.target
        return {"http": target.url, **(target.context_extra(target, self.tenant) if target.context_extra else {})}

    def context(self) -> Context:
        now = self.admin.now()
        return Context(tenant=self.tenant.code, oc_code=self.tenant.code, operator=self.target.operator,
                       oi=self.target.oi, arcep=self.target.arcep,
                       ftp=FtpAccount(self.target.ftp_host, self.target.ftp_port, self.tenant.login,
                                      self.tenant.password),
                       spec_pack=self.spec_pack, today=now.date().isoformat(),
                       now=now.isoformat(timespec="seconds"), state_dir=str(self.state_dir),
                       folders=self.target.folders, extra=self.extra)


@pytest.fixture
def oc_scenario(request: pytest.FixtureRequest, conformance_target: Target, conformance_tenant: Tenant,
                conformance_adapter_factory: Callable[[], Adapter], tmp_path: Path) -> Iterator[OcScenario]:
    record = record_of(request.node)
    with open_oc_scenario(conformance_target, conformance_tenant, conformance_adapter_factory, record,
                          tmp_path / "oc-state") as scenario:
        yield scenario


@contextmanager
def open_oc_scenario(target: Target, tenant: Tenant, make_adapter: Callable[[], Adapter], record: ScenarioRecord,
                     state_dir: Path) -> Iterator[OcScenario]:
    """An OC (a new adapter with an empty state dir) for `tenant`, the clock at the start of a scenario."""
    record.tenant, record.admin, record.oi = tenant.code, target.admin, target.oi
    start_of_scenario(target.admin)
    state_dir.mkdir(parents=True)
    adapter = make_adapter()
    scenario = OcScenario(target, tenant, None, record, state_dir)  # type: ignore[arg-type]
    scenario.driver = record.driver = OcDriver(adapter, scenario.context, record)
    try:
        yield scenario
    finally:
        record.driver = None
        adapter.close()


def record_of(item: pytest.Item) -> ScenarioRecord:
    if RECORD not in item.stash:
        item.stash[RECORD] = ScenarioRecord(ScenarioResult(feature="", scenario=item.name, flows=[], outcome=PASSED))
    return item.stash[RECORD]


# ---------------------------------------------------------------------------------------------- pytest-bdd hooks
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    record = record_of(request.node)
    record.result.feature, record.result.scenario = feature.name, scenario.name


def pytest_bdd_before_step(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                           step_func: Any) -> None:
    record_of(request.node).step = f"{step.keyword} {step.name}"


def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any,
                          step_func_args: Any, exception: Exception) -> None:
    record = record_of(request.node)
    result = record.result
    if not result.step:  # the first failing step only
        result.step = f"{step.keyword} {step.name}"
        result.error = f"{type(exception).__name__}: {exception}"
    # A check a step found failing is a finding with its id, as one found at the scenario's end.
    found = finding_of(exception, lambda check: clause_of(check, request.config))
    if found is not None and found.check not in record.expected:
        record.findings.append(found)


def clause_of(check: str, config: pytest.Config) -> str:
    """The clause of a check id: the adapter's contract's, or the operator's harness's (docs/checks.md for an id
    the steps alone judge)."""
    if check in CONTRACT_CHECKS:
        return CONTRACT_CHECKS[check][0]
    return str(config.hook.pytest_conformance_clause(check=check) or "docs/checks.md")


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    record = record_of(request.node)
    if record.tenant:
        for found in request.config.hook.pytest_conformance_findings(record=record):
            record.findings.extend(found)
    if record.findings:  # a finding against the OC fails its scenario, even when every step passed
        lines = "; ".join(f"[{f.check}] {f.message}" for f in record.findings)
        if not record.result.step:  # every step passed: the checks at the scenario's end failed it
            record.result.step = "the checks on the OC at the scenario's end"
            record.result.error = f"findings against the OC: {lines}"
        raise AssertionError(f"findings against the OC: {lines}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                               ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    record = item.stash.get(RECORD, None)
    # Only the scenarios that drove an OC through the harness are results of the run.
    if record is None or not record.tenant or getattr(item, "_conformance_done", False):
        return report
    if report.when == "setup" and report.passed:
        return report
    if report.when == "teardown" and not report.failed:
        return report
    item._conformance_done = True  # type: ignore[attr-defined]
    result = record.result
    result.duration = time.monotonic() - record.started
    result.number = item.stash.get(NUMBER, 0)
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(NOT_RUN_PREFIX):
            result.outcome, result.step = NOT_RUN, record.step
            result.error = reason.removeprefix(NOT_RUN_PREFIX).strip()
        else:
            result.outcome, result.error = NOT_RUN, reason
    elif report.failed:
        result.outcome = FAILED
        if not result.step:
            result.step = record.step or report.when
            result.error = report.longreprtext.strip().splitlines()[-1] if report.longreprtext else ""
    else:
        result.outcome = PASSED
    broadcasts = {flow for flows in item.config.hook.pytest_conformance_broadcast_flows() for flow in flows}
    result.flows = flows_of(record, broadcasts)
    result.exchanges = list(record.evidence)
    item.config.stash[HARNESS].results.append(result)
    return report


def flows_of(record: ScenarioRecord, broadcasts: Collection[str] = ()) -> list[str]:
    """The protocol flows the scenario exchanged, in the order the sandbox's journal saw them."""
    if record.admin is None:
        return []
    try:
        lines = record.admin.get_all("/journal", tenant=record.tenant)
    except (AdminError, OSError):
        return []
    flows: list[str] = []
    for line in sorted(lines, key=lambda x: x["id"]):
        if line.get("flow") in broadcasts:
            continue  # sent on the operator's clock (the Monday IPE), not exchanged by the scenario
        if line.get("flow") and line["flow"] not in flows:
            flows.append(line["flow"])
    return flows


# ---------------------------------------------------------------------------------------------- session end
@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """xdist controller: how many scenarios the workers collected (each collects them all)."""
    harness: Harness = node.config.stash[HARNESS]
    harness.total = max(harness.total, len(ids))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: gather the results of a worker."""
    harness: Harness = node.config.stash[HARNESS]
    for data in json.loads(node.workeroutput.get("conformance_results", "[]")):
        harness.results.append(scenario_from_json(data))


def pytest_sessionfinish(session: pytest.Session) -> None:
    harness = session.config.stash[HARNESS]
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller writes the report
        workeroutput["conformance_results"] = json.dumps([asdict(r) for r in harness.results])
        return
    if harness.report_dir is None or not harness.results:
        return
    harness.report_dir.mkdir(parents=True, exist_ok=True)
    run = RunResult(adapter=harness.adapter, target=harness.target or "opsim up (started by the harness)",
                    seed=harness.seed, started=harness.started, fuzz=harness.fuzz,
                    scenarios=sorted(harness.results, key=lambda s: (s.number, s.feature, s.scenario)),
                    interrupted=session.exitstatus == pytest.ExitCode.INTERRUPTED,
                    total=harness.total or len(harness.results),
                    flow_order=list(session.config.hook.pytest_conformance_flow_order() or ()))
    run.save(harness.report_dir / "results.json")
