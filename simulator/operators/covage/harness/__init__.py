"""Covage's harness: the operator the scenarios of features/ drive (Protocole Accès 1.2, PM 2.2, the web
services), named by features/conftest.py. It implements conformance/hookspecs.py for the generic plugin and
brings the steps (steps/), the OC's checks (checks.py, pm_checks.py, ws_checks.py) and the reference OC
(reference.py, with its client in client/). It lives with the operator, so that the generic harness
(conformance/) knows no operator."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.plugin import ScenarioRecord, Target, Tenant
    from conformance.results import Finding


def step_modules() -> list[str]:
    """Every module of steps/, by name: a capability's steps plug in by being there (`opsim new capability`
    writes one), with no list to edit. The names are sorted, so every worker loads them in the same order."""
    folder = Path(__file__).parent / "steps"
    return sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_"))


pytest_plugins = [*(f"{__name__}.steps.{name}" for name in step_modules()), f"{__name__}.fuzz"]

OPERATOR = "covage"
SPEC_PACK = "acces-1.2"
PM_SPEC_PACK = "pm-2.2"
#: The report matrix's rows, in the order of an order's life (Protocole Accès 1.2).
FLOW_ORDER = ("Cmd_Acces", "AR_Cmd_Acces", "CR_Cmd_Acces", "Cmd_STOC", "CR_STOC", "CR_MAD_Ligne", "CR_MES_Ligne",
              "Annul_Acces", "CR_Annulation_Acces", "Notif_Reprov", "Notif_Racc_Ko")


def pytest_conformance_operator() -> str:
    return OPERATOR


def pytest_conformance_spec_pack() -> str:
    return SPEC_PACK


def pytest_conformance_context_extra(target: Target, tenant: Tenant) -> dict[str, Any]:
    """What a PM OC needs: its pack, its own address and the e-mail channel (docs/adapters.md)."""
    return {"pm_spec_pack": PM_SPEC_PACK, "email": tenant.email,
            "smtp": {"host": target.smtp_host, "port": target.smtp_port} if target.smtp_port else None,
            "mailboxes": dict(target.mailboxes)}


def pytest_conformance_reference_adapter() -> str:
    return "python:simulator.operators.covage.harness.reference:ReferenceOc"


def pytest_conformance_flow_order() -> list[str]:
    return list(FLOW_ORDER)


def pytest_conformance_broadcast_flows() -> list[str]:
    from simulator.operators.covage.harness.checks import BROADCAST_FLOWS

    return sorted(BROADCAST_FLOWS)


def pytest_conformance_clause(check: str) -> str | None:
    """The clause of a check id of Covage's catalogues: Accès (docs/checks.md), PM 2.2, the web services."""
    from simulator.operators.covage.harness.checks import CHECKS
    from simulator.operators.covage.harness.pm_checks import PM_CHECKS
    from simulator.operators.covage.harness.ws_checks import WS_CHECKS

    if check in CHECKS:
        return CHECKS[check].clause
    for catalogue in (PM_CHECKS, WS_CHECKS, *(getattr(m, "STEP_CHECKS", {}) for m in _steps())):
        if check in catalogue:
            return str(catalogue[check][0])
    return None


def _steps() -> list[ModuleType]:
    # A steps module may bring its own check ids (STEP_CHECKS: id -> (clause, title)), as a scaffolded one does.
    return [importlib.import_module(f"{__name__}.steps.{name}") for name in step_modules()]


def pytest_conformance_findings(record: ScenarioRecord) -> list[Finding]:
    """Every check of docs/checks.md on what the scenario's OC sent, read and reported: Accès, the web
    services, PM 2.2 (each only in the scenarios that drove it)."""
    return [*checks_on_the_oc(record), *web_service_findings(record), *pm_findings(record)]


def checks_on_the_oc(record: ScenarioRecord) -> list[Finding]:
    from simulator.operators.covage.harness.checks import observe, run_checks

    assert record.admin is not None
    observation = observe(record.admin, record.tenant, record.statuses, oc_code=record.tenant)
    # The Accès checks judge the Accès area's files: another capability's (a scaffolded one's folder beside
    # IN/<OI>/<ARCEP>/PM) are its own checks' business, as the PM files always were.
    others = other_areas(record.admin.get("/operators"))
    observation.sent = [f for f in observation.sent if _place(f.location) not in others]
    observation.answers = [f for f in observation.answers if _place(f.location) not in others]
    return run_checks(observation)


#: The areas whose files the Accès checks judge (the PM area's are excluded by their own rules, as before).
ACCES_AREAS = ("acces", "pm")


def other_areas(operators: list[dict[str, Any]]) -> set[str]:
    """The folders (without their leading slash) and `mail:<address>` mailboxes of Covage's areas that are
    neither Accès's nor PM's, from GET /api/operators."""
    [covage] = [o for o in operators if o["operator"] == OPERATOR]
    return ({f["path"].strip("/") for f in covage["folders"] if f["area"] not in ACCES_AREAS}
            | {f"mail:{address}" for area, address in covage.get("mailboxes", {}).items()
               if area not in ACCES_AREAS})


def _place(location: str) -> str:
    return location if location.startswith("mail:") else location.strip("/")


def web_service_findings(record: ScenarioRecord) -> list[Finding]:
    from simulator.operators.covage.harness.ws_checks import ws_checks_hook

    return ws_checks_hook(record)


def pm_findings(record: ScenarioRecord) -> list[Finding]:
    from simulator.operators.covage.harness.pm_checks import pm_checks_hook

    return pm_checks_hook(record)


def covage_target(url: str) -> Target:
    """The sandbox at `url` as Covage's scenarios see it, outside a harness run (tests that drive the reference
    OC themselves): what `conformance.plugin.harnessed` does with these hooks."""
    from conformance.plugin import connect

    target = connect(url, OPERATOR)
    target.spec_pack = SPEC_PACK
    target.context_extra = pytest_conformance_context_extra
    return target
