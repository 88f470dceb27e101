"""The reference OC's Protocole PM 2.2 verbs against a started sandbox (real FTP with ftplib, real SMTP with
smtplib, answer mails read back over the admin API): each verb over both channels, and the PM checks."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters import CommandAdapter
from conformance.plugin import OcScenario, ScenarioRecord, Target, Tenant, new_tenant
from conformance.results import ScenarioResult
from conformance.waiting import wait_until
from simulator.config import ClockConfig, Config, load_config
from simulator.operators.covage.harness import covage_target
from simulator.operators.covage.harness.checks import observe
from simulator.operators.covage.harness.pm_checks import (
    PM_CHECKS,
    add_working_days,
    check_pm,
    ipe_summary_of,
    latest_ipe,
)
from simulator.operators.covage.harness.reference import ReferenceOc
from simulator.pytest_plugin import DEFAULT_START
from simulator.sandbox import Sandbox

SIZE = 300


@pytest.fixture
def opsim_config(tmp_path: Path) -> Config:
    config = load_config(None, data_dir=tmp_path / "data", host="127.0.0.1", ftp_port=0, http_port=0, smtp_port=0)
    config.clock = ClockConfig(start=DEFAULT_START, frozen=True)
    config.operators["covage"] = config.operators["covage"].with_overrides({"network_size": SIZE})
    return config


@pytest.fixture
def target(opsim_sandbox: Sandbox) -> Target:
    return covage_target(opsim_sandbox.http_url)


@pytest.fixture
def scenario(target: Target, tmp_path: Path) -> Iterator[OcScenario]:
    tenant: Tenant = new_tenant(target)
    record = ScenarioRecord(ScenarioResult(feature="", scenario="pm", flows=[], outcome="passed"), tenant.code,
                            target.admin)
    state = tmp_path / "state"
    state.mkdir()
    yield OcScenario(target, tenant, None, record, state)  # type: ignore[arg-type]


@pytest.fixture
def oc(scenario: OcScenario) -> Iterator[ReferenceOc]:
    reference = ReferenceOc(scenario.context())
    yield reference
    reference.close()


def act(oc: ReferenceOc, scenario: OcScenario, verb: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A verb with the context of now (the harness sets it before every call)."""
    oc.context = scenario.context()
    asked_real = time.time()
    answer: dict[str, Any] = getattr(oc, verb)(args or {})
    scenario.record.calls.append({"verb": verb, "args": args or {}, "answer": answer, "asked_at": oc.context.now,
                                  "asked_real": asked_real})
    return answer


def settle(opsim_sandbox: Sandbox, scenario: OcScenario, flow: str, count: int = 1) -> None:
    """Wait until the sandbox has taken `count` files of `flow` from the OC (FTP or mail)."""
    deadline = datetime.now() + timedelta(seconds=10)
    while datetime.now() < deadline:
        opsim_sandbox.engine.idle()
        taken = [f for f in scenario.admin.get_all("/inbound", tenant=scenario.tenant.code)
                 if flow in f["filename"]]
        if len(taken) >= count:
            return
    raise AssertionError(f"the sandbox took no {flow} from the OC")


def delivered(scenario: OcScenario) -> None:
    """Wait until every file the operator emitted to the OC is in its OUT folder (or mailed)."""
    wait_until(lambda: not [f for f in scenario.admin.get_all("/files", tenant=scenario.tenant.code)
                            if not f["delivered"]], 10, "the operator's files delivered")


def open_pm(scenario: OcScenario) -> tuple[str, int]:
    """An open PM with deployed addresses, and how many of its addresses /api/addresses lists."""
    addresses = scenario.admin.addresses("COVA", limit=SIZE)
    by_pm: dict[str, int] = {}
    for a in addresses:
        by_pm[a["ReferencePM"]] = by_pm.get(a["ReferencePM"], 0) + 1
    pm = max(by_pm, key=lambda p: by_pm[p])
    return pm, by_pm[pm]


def test_the_context_carries_the_mail_channel(scenario: OcScenario) -> None:
    extra = scenario.context().as_json()
    assert extra["smtp"]["port"] > 0 and extra["smtp"]["host"] == "127.0.0.1"
    assert extra["mailboxes"] == {"acces": "acces-ftth@covage.opsim.test", "pm": "pm-ftth@covage.opsim.test"}
    assert extra["email"] == f"{scenario.tenant.code.lower()}@oc.opsim.test"
    assert extra["pm_spec_pack"] == "pm-2.2"


@pytest.mark.parametrize("channel", ["ftp", "mail"])
def test_order_pm_then_cr_mad_answered_with_an_ar_mad_and_a_second_order_is_maj(
        opsim_sandbox: Sandbox, scenario: OcScenario, oc: ReferenceOc, channel: str) -> None:
    pm, deployed = open_pm(scenario)
    ref = act(oc, scenario, "order_pm", {"pm": pm, "type": "UNIT", "choice": "P", "channel": channel})["ref"]
    settle(opsim_sandbox, scenario, "_CMD_")
    act(oc, scenario, "sync")
    assert act(oc, scenario, "pm_status", {"ref": ref})["state"] == "acknowledged"
    scenario.admin.advance(working_days=1)
    act(oc, scenario, "sync")
    status = act(oc, scenario, "pm_status", {"ref": ref})
    assert (status["state"], status["nature"], status["ar_mad_sent"]) == ("available", "INITIAL", 1), status
    assert status["addresses"] >= deployed and status["prestation"]
    settle(opsim_sandbox, scenario, "_ARMAD_")
    inbound = scenario.admin.get_all("/inbound", tenant=scenario.tenant.code)
    assert {f["channel"] for f in inbound} == {channel}
    answers = observe(scenario.admin, scenario.tenant.code).answers
    assert {a.channel for a in answers if a.flow in ("AR_Cmd_Pm", "CR_MAD_Pm")} == {channel}

    again = act(oc, scenario, "order_pm", {"pm": pm, "type": "COFI", "choice": "D", "channel": channel})["ref"]
    settle(opsim_sandbox, scenario, "_CMD_", 2)
    scenario.admin.advance(working_days=1)
    act(oc, scenario, "sync")
    second = act(oc, scenario, "pm_status", {"ref": again})
    assert (second["nature"], second["first_mad"]) == ("MAJ", status["first_mad"]), second
    settle(opsim_sandbox, scenario, "_ARMAD_", 2)
    assert check_pm(scenario.record) == []  # every CR answered, nothing left in OUT


def test_an_unknown_pm_is_rejected_with_its_motif(opsim_sandbox: Sandbox, scenario: OcScenario,
                                                  oc: ReferenceOc) -> None:
    ref = act(oc, scenario, "order_pm", {"pm": "PMZZZZ99", "channel": "ftp"})["ref"]
    settle(opsim_sandbox, scenario, "_CMD_")
    act(oc, scenario, "sync")
    status = act(oc, scenario, "pm_status", {"ref": ref})
    assert (status["state"], status["reject_code"]) == ("rejected", "PM INCONNU"), status


@pytest.mark.parametrize("channel", ["ftp", "mail"])
def test_works_notice_and_report_with_their_answers(opsim_sandbox: Sandbox, scenario: OcScenario,
                                                    oc: ReferenceOc, channel: str) -> None:
    pm, _ = open_pm(scenario)
    act(oc, scenario, "order_pm", {"pm": pm, "channel": channel})
    scenario.admin.advance(working_days=1)
    delivered(scenario)
    act(oc, scenario, "sync")  # the CR MAD: the OC now knows the PM's prestation
    today = scenario.admin.now()
    good = add_working_days(today.date(), 2).strftime("%Y%m%d")
    short = add_working_days(today.date(), 1).strftime("%Y%m%d")
    enough = act(oc, scenario, "announce_works", {"pm": pm, "date": good, "channel": channel})["ref"]
    hasty = act(oc, scenario, "announce_works", {"pm": pm, "date": short, "channel": channel})["ref"]
    done = today.strftime("%Y%m%d")
    report = act(oc, scenario, "report_works", {"pm": pm, "date": done, "photo": True, "sheet": True,
                                                "channel": channel})["ref"]
    no_photo = act(oc, scenario, "report_works", {"pm": pm, "date": done, "photo": False, "sheet": True,
                                                  "channel": channel})["ref"]
    settle(opsim_sandbox, scenario, "_ADDU_", 2)
    delivered(scenario)
    act(oc, scenario, "sync")
    ok = act(oc, scenario, "works_status", {"ref": enough})
    assert ok["state"] == "accepted" and ok["info"]["CodeAccesImmeuble"], ok
    assert act(oc, scenario, "works_status", {"ref": hasty})["reject_code"] == "DELAI DE PREVENANCE INSUFFISANT"
    assert act(oc, scenario, "works_status", {"ref": report})["state"] == "accepted"
    assert act(oc, scenario, "works_status", {"ref": no_photo})["reject_code"] == "PHOTO MANQUANTE"
    ids = sorted(f.check for f in check_pm(scenario.record))
    assert ids == ["PM-NOTICE", "PM-WORKS-DOCUMENTS"], ids


def test_the_monday_ipe_is_ingested_and_its_summary_matches(opsim_sandbox: Sandbox, scenario: OcScenario,
                                                            oc: ReferenceOc) -> None:
    now = scenario.admin.now()
    monday = (now + timedelta(days=(7 - now.weekday()) % 7 or 7)).replace(hour=7, minute=0, second=0)
    scenario.admin.advance(hours=(monday - now).total_seconds() / 3600)
    delivered(scenario)
    act(oc, scenario, "sync")
    ipe = latest_ipe(observe(scenario.admin, scenario.tenant.code).answers, monday.isoformat(), "COVA")
    assert ipe is not None and len(ipe) >= SIZE
    pm = ipe[0]["ReferencePM"]
    building = ipe[-1]["IdentifiantImmeuble"]
    for args in ({"network": "COVA", "pm": pm}, {"network": "COVA", "building": building}):
        answer = act(oc, scenario, "ipe_summary", args)
        assert answer == ipe_summary_of(ipe, args) and answer["found"], (args, answer)
    assert check_pm(scenario.record) == []
    scenario.record.calls.append({"verb": "ipe_summary", "args": {"pm": pm},
                                  "answer": {**answer, "dwellings": -1}, "asked_at": scenario.context().now})
    assert [f.check for f in check_pm(scenario.record)] == ["PM-IPE"]


def test_every_pm_check_is_documented() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "checks.md").read_text(encoding="utf-8")
    assert set(re.findall(r"^\| `(PM-[A-Z-]+)` \|", doc, re.MULTILINE)) == set(PM_CHECKS)
    assert all(clause.startswith("PM 2.2") and title for clause, title in PM_CHECKS.values())


def test_a_command_adapter_gets_the_pm_fields_in_its_json_context(scenario: OcScenario, tmp_path: Path) -> None:
    """A command adapter (any language) reads the mail channel's fields on stdin, top-level like `http`."""
    script = tmp_path / "echo_oc.py"
    script.write_text("import json, sys\nprint(json.dumps(json.load(sys.stdin)['context']))\n", encoding="utf-8")
    context = CommandAdapter(f"{sys.executable} {script}").call("pm_status", {"ref": "X"}, scenario.context())
    assert context["email"] == scenario.tenant.email and context["pm_spec_pack"] == "pm-2.2"
    assert context["mailboxes"]["pm"] == "pm-ftth@covage.opsim.test"
    assert context["smtp"] == {"host": scenario.target.smtp_host, "port": scenario.target.smtp_port}
    assert context["ftp"]["user"] == scenario.tenant.login and context["http"] == scenario.target.url
