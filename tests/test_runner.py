"""`opsim conformance run` as a user runs it: a real `opsim` process running a real pytest child on a tiny
features folder. The harness's plugin is a stand-in written here (OPSIM_CONFORMANCE_PLUGIN): it takes the
plugin's options and writes results.json as the real one does, so the runner is proven on its own."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.runner import PLUGIN_ENV, default_features, selection
from conformance.waiting import wait_until

OPSIM = [sys.executable, "-m", "simulator.cli"]

FAKE_PLUGIN = '''
"""A stand-in for conformance.plugin: its options, and results.json from what pytest saw."""
from pathlib import Path

import pytest

from conformance.runner import scenario_of
from conformance.results import FAILED, NOT_RUN, PASSED, Evidence, Finding, RunResult, ScenarioResult

FLOWS = {"hello": ["Cmd_Acces", "AR_Cmd_Acces"], "goodbye": ["Cmd_Acces", "CR_Cmd_Acces"],
         "cancels": ["Annul_Acces"]}
results: dict[str, ScenarioResult] = {}


def pytest_addoption(parser):
    group = parser.getgroup("stand-in conformance")
    group.addoption("--adapter", default="reference")
    group.addoption("--target", default=None)
    group.addoption("--report-dir", default="opsim-report")
    group.addoption("--seed", type=int, default=0)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    feature, scenario = scenario_of(item)
    flows = next(v for k, v in FLOWS.items() if k in scenario)
    r = results.setdefault(item.nodeid, ScenarioResult(feature, scenario, flows, PASSED))
    r.duration += report.duration
    if report.failed and r.outcome != FAILED:
        r.outcome, r.step, r.error = FAILED, 'Then it says "goodbye"', str(call.excinfo.value)
        r.findings = [Finding("DEMO-ANSWER", "Demo 1.0 §2", "the OC said the wrong word",
                              [Evidence("file in", "Cmd_Acces_DEMO.csv", "<script>alert(1)</script>")])]
    elif report.skipped and r.outcome == PASSED:
        r.outcome, r.step = NOT_RUN, str(call.excinfo.value)
    return report


def pytest_sessionfinish(session):
    config = session.config
    folder = Path(config.getoption("report_dir"))
    folder.mkdir(parents=True, exist_ok=True)
    RunResult(config.getoption("adapter"), config.getoption("target") or "stand-in sandbox",
              config.getoption("seed"), "2026-11-25T12:00:00+00:00", list(results.values())).save(
        folder / "results.json")
'''

FEATURE = '''
Feature: Greeting
  The OC greets.

  @smoke
  Scenario: the OC says hello
    Given an OC
    Then it says "hello"

  Scenario: the OC says goodbye
    Given an OC
    Then it says "goodbye"

  Scenario: the OC cancels
    Given an OC
    Then it cancels

  Scenario Outline: the OC says <word> twice
    Given an OC
    Then it says "<word>"

    Examples:
      | word  |
      | hello |
'''

STEPS = '''
import pytest
from pytest_bdd import given, parsers, scenarios, then

scenarios("demo")


@given("an OC", target_fixture="oc")
def an_oc():
    return {"word": "hello"}


@then(parsers.parse('it says "{word}"'))
def it_says(oc, word):
    assert oc["word"] == word, f"the OC said {oc['word']!r}, not {word!r}"


@then("it cancels")
def it_cancels():
    pytest.skip("the adapter has no cancel_access")
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's folder: their OC module, their own (hostile) pytest configuration, our stand-ins beside."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "fake_conformance_plugin.py").write_text(FAKE_PLUGIN, encoding="utf-8")
    demo = tmp_path / "feats" / "demo"
    demo.mkdir(parents=True)
    (demo / "greeting.feature").write_text(FEATURE, encoding="utf-8")
    (demo / "test_demo.py").write_text(STEPS, encoding="utf-8")
    user = tmp_path / "user"
    user.mkdir()
    (user / "my_oc.py").write_text("class Oc:\n    def __init__(self, context):\n        pass\n", encoding="utf-8")
    (user / "pytest.ini").write_text("[pytest]\naddopts = --no-such-flag\n", encoding="utf-8")
    return tmp_path


def opsim(project: Path, *args: str, features: str | None = "feats") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, PLUGIN_ENV: "fake_conformance_plugin",
           "PYTHONPATH": os.pathsep.join([str(project / "plugins"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    feats = ["--features", str(project / features)] if features else []
    return subprocess.run([*OPSIM, "conformance", "run", *feats, *args], cwd=project / "user", env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_run_prints_progress_and_a_summary_writes_the_reports_and_fails(project: Path):
    done = opsim(project, "--adapter", "python:my_oc:Oc", "--seed", "77", "--target", "http://127.0.0.1:9")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "adapter python:my_oc:Oc, target http://127.0.0.1:9, seed 77" in out
    assert "4 scenario(s)" in out
    progress = re.findall(r"^\[(\d)/4\] (pass|FAIL|not run)\s+(.*)$", out, re.M)
    assert [(n, word) for n, word, _ in progress] == [("1", "pass"), ("2", "FAIL"), ("3", "not run"), ("4", "pass")]
    assert progress[0][2].startswith("Greeting: the OC says hello (")
    assert progress[2][2].endswith("the adapter has no cancel_access")
    assert progress[3][2].startswith("Greeting: the OC says hello twice (")  # an outline: its example's values
    assert "2 passed, 1 failed, 1 not run (adapter python:my_oc:Oc, target http://127.0.0.1:9, seed 77)" in out
    assert "FAILED  Greeting: the OC says goodbye" in out and "[DEMO-ANSWER] at step: Then it says" in out
    assert "not run Greeting: the OC cancels: the adapter has no cancel_access" in out
    assert "replay: opsim conformance run --adapter python:my_oc:Oc --seed 77" in out

    report = project / "user" / "opsim-report"  # the default, in the folder opsim runs from
    assert f"reports: {report / 'report.html'}" in out
    suite = ET.parse(report / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "Greeting"
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["seed"] == "77"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["the OC says goodbye"].find("failure").get("type") == "DEMO-ANSWER"
    assert cases["the OC cancels"].find("skipped").get("message") == "the adapter has no cancel_access"
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script" not in page
    assert "the OC said 'hello', not 'goodbye'" in (report / "pytest.log").read_text(encoding="utf-8")


def test_only_a_tag_a_k_expression_or_a_folder(project: Path, tmp_path: Path):
    done = opsim(project, "--adapter", "python:my_oc:Oc", "--only", "@smoke", "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed, 0 not run" in done.stdout and "(-m smoke)" in done.stdout
    assert "--only @smoke" in done.stdout  # in the replay line
    assert json.loads((tmp_path / "r" / "results.json").read_text())["seed"] > 0  # a random seed, recorded
    seed = re.search(r"seed (\d+)", done.stdout)
    assert seed and f"seed {seed[1]}" in done.stdout.split("passed")[1]

    done = opsim(project, "--adapter", "python:my_oc:Oc", "--only", "hello or cancels")
    assert done.returncode == 0, done.stdout + done.stderr  # not run is allowed
    assert "2 passed, 0 failed, 1 not run" in done.stdout  # hello, and the outline whose example is hello

    done = opsim(project, "--adapter", "python:my_oc:Oc", "--only", "demo")  # a folder of the features
    assert done.returncode == 1 and "2 passed, 1 failed, 1 not run" in done.stdout
    assert f"features {project / 'feats' / 'demo'}" in done.stdout

    done = opsim(project, "--adapter", "python:my_oc:Oc", "--only", "nothing_matches_this")
    assert done.returncode == 2 and "opsim: no scenario matches --only nothing_matches_this" in done.stderr


@pytest.mark.parametrize("spec", ["bogus:x", "python:no_such_module_here:Oc", "python:my_oc:NoSuchClass",
                                  "command:./no/such/oc"])
def test_a_bad_adapter_is_one_line_and_exit_status_2(project: Path, spec: str):
    done = opsim(project, "--adapter", spec)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"opsim: --adapter {spec}")
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (project / "user" / "opsim-report").exists()


def test_a_target_that_is_not_a_url_is_bad_usage(project: Path):
    done = opsim(project, "--adapter", "python:my_oc:Oc", "--target", "localhost:8080")
    assert done.returncode == 2 and done.stderr.startswith("opsim: --target localhost:8080: expected")


def test_a_report_dir_that_cannot_be_made_is_bad_usage(project: Path):
    (project / "user" / "a-file").write_text("", encoding="utf-8")
    done = opsim(project, "--adapter", "python:my_oc:Oc", "--report-dir", "a-file/reports")
    assert done.returncode == 2 and done.stderr.startswith("opsim: --report-dir ") and done.stderr.count("\n") == 1


def test_a_missing_features_folder_is_bad_usage(project: Path):
    done = opsim(project, "--adapter", "python:my_oc:Oc", "--features", str(project / "nowhere"), features=None)
    assert done.returncode == 2 and done.stderr.startswith("opsim: --features") and "no such folder" in done.stderr


def test_a_broken_run_is_a_failure_and_says_where_to_look(project: Path):
    (project / "feats" / "demo" / "test_broken.py").write_text("def broken(:\n", encoding="utf-8")
    report = project / "user" / "opsim-report"
    report.mkdir()
    (report / "report.html").write_text("an earlier run's", encoding="utf-8")
    done = opsim(project, "--adapter", "python:my_oc:Oc")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pytest ended with exit status 2" in done.stderr and "pytest.log" in done.stderr
    assert "SyntaxError" in (report / "pytest.log").read_text(encoding="utf-8")
    assert "an earlier run's" not in (report / "report.html").read_text(encoding="utf-8")


def test_selection_and_default_features(tmp_path: Path):
    (tmp_path / "access").mkdir()
    assert selection(tmp_path, None) == (tmp_path, [])
    assert selection(tmp_path, "access") == (tmp_path / "access", [])
    assert selection(tmp_path, "@smoke") == (tmp_path, ["-m", "smoke"])
    assert selection(tmp_path, "cancel and not RESIL") == (tmp_path, ["-k", "cancel and not RESIL"])
    assert selection(tmp_path, "..") == (tmp_path, ["-k", ".."])  # never a folder outside the features
    features = default_features()
    assert (features / "conftest.py").is_file() and any(features.rglob("*.feature"))


def test_default_features_of_an_installed_copy(tmp_path: Path):
    """A wheel install: `conformance` and `features` side by side in site-packages; a `features` folder of the
    user's own in the current folder is not taken for ours."""
    repo = Path(__file__).resolve().parent.parent
    site = tmp_path / "site-packages"
    shutil.copytree(repo / "conformance", site / "conformance", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "features" / "access").mkdir(parents=True)
    (site / "features" / "__init__.py").write_text("", encoding="utf-8")
    (site / "features" / "conftest.py").write_text("", encoding="utf-8")
    (site / "features" / "access" / "a.feature").write_text("Feature: a\n", encoding="utf-8")
    user = tmp_path / "user"
    (user / "features").mkdir(parents=True)
    (user / "features" / "__init__.py").write_text("", encoding="utf-8")
    (user / "features" / "conftest.py").write_text("", encoding="utf-8")
    (user / "features" / "mine.feature").write_text("Feature: mine\n", encoding="utf-8")
    code = "import conformance.runner as r; print(r.__file__); print(r.default_features())"
    done = subprocess.run([sys.executable, "-c", code], cwd=user, env={**os.environ, "PYTHONPATH": str(site)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(site / "conformance" / "runner.py"), str(site / "features")]


def test_ctrl_c_stops_the_run_and_its_pytest(project: Path, tmp_path: Path):
    pid_file = tmp_path / "pytest.pid"
    (project / "feats" / "demo" / "test_demo.py").write_text(STEPS + f'''

@given("an OC", target_fixture="oc")
def a_slow_oc():
    import os, pathlib, time
    pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
    time.sleep(60)
''', encoding="utf-8")
    env = {**os.environ, PLUGIN_ENV: "fake_conformance_plugin", "PYTHONPATH": str(project / "plugins")}
    proc = subprocess.Popen([*OPSIM, "conformance", "run", "--features", str(project / "feats"), "--adapter",
                             "python:my_oc:Oc"], cwd=project / "user", env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or (pid_file.exists() and pid_file.read_text()), 60,
                   "the scenario's start", 0.1)
        assert proc.poll() is None, "the run ended before its scenario started"
        child = int(pid_file.read_text())
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C at a terminal: the whole foreground group
        assert proc.wait(timeout=30) == 130
        assert "Traceback" not in proc.stderr.read()
        wait_until(lambda: not _alive(child), 10, "pytest's end (it outlived opsim)", 0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _alive(pid: int) -> bool:
    """opsim reaps its pytest child: once opsim is gone, so is the pid of a child that stopped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_runner_does_not_import_the_sandbox():
    code = ("import sys, conformance.runner, conformance.report; "
            "print([m for m in sys.modules if m == 'simulator' or m.startswith('simulator.')])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parent.parent)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_help_documents_the_options():
    done = subprocess.run([*OPSIM, "conformance", "run", "--help"], capture_output=True, text=True, timeout=60)
    for option in ("--adapter", "--target", "--report-dir", "--only", "--seed", "--features", "Exit codes"):
        assert option in done.stdout


def test_operator_selects_the_folder_whose_conftest_names_its_harness(tmp_path: Path):
    """`--operator`: the shipped features are Covage's; a folder with a conftest of its own is another operator's
    (`opsim new operator` writes features/<operator>/); an operator with no scenarios is a usage error."""
    from conformance.runner import UsageError, operator_features, operators_with_scenarios

    assert operators_with_scenarios(default_features())["covage"] == default_features()
    (tmp_path / "zeta").mkdir()
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["conformance.plugin", '
                                          '"simulator.operators.covage.harness"]\n', encoding="utf-8")
    (tmp_path / "zeta" / "conftest.py").write_text('pytest_plugins = ["conformance.plugin", '
                                                   '"simulator.operators.zeta.harness"]\n', encoding="utf-8")
    assert operator_features(tmp_path, "zeta") == tmp_path / "zeta"
    assert operator_features(tmp_path, "covage") == tmp_path
    with pytest.raises(UsageError, match=r"--operator nobody: no scenarios of it .* \(operators with scenarios: "
                                         r"covage, zeta\)"):
        operator_features(tmp_path, "nobody")
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "conformance", "run", "--operator", "nobody"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--operator nobody: no scenarios of it" in done.stderr, done.stderr
