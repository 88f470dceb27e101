"""Covage's harness: the operator the scenarios of features/ drive (Protocole Accès 1.2, PM 2.2, the web
services), named by features/conftest.py. It implements conformance/hookspecs.py for the generic plugin and
brings the steps (conformance/steps/)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plugin import ScenarioRecord, Target, Tenant
    from .results import Finding

pytest_plugins = ["conformance.steps.access", "conformance.steps.eligibility", "conformance.steps.rejects",
                  "conformance.steps.pm"]

OPERATOR = "covage"
SPEC_PACK = "acces-1.2"
PM_SPEC_PACK = "pm-2.2"


def pytest_conformance_operator() -> str:
    return OPERATOR


def pytest_conformance_spec_pack() -> str:
    return SPEC_PACK


def pytest_conformance_context_extra(target: Target, tenant: Tenant) -> dict[str, Any]:
    """What a PM OC needs: its pack, its own address and the e-mail channel (docs/adapters.md)."""
    return {"pm_spec_pack": PM_SPEC_PACK, "email": tenant.email,
            "smtp": {"host": target.smtp_host, "port": target.smtp_port} if target.smtp_port else None,
            "mailboxes": dict(target.mailboxes)}


def pytest_conformance_broadcast_flows() -> list[str]:
    from .checks import BROADCAST_FLOWS

    return sorted(BROADCAST_FLOWS)


def pytest_conformance_clause(check: str) -> str | None:
    """The clause of a check id of Covage's catalogues: Accès (docs/checks.md), PM 2.2, the web services."""
    from .checks import CHECKS
    from .pm_checks import PM_CHECKS
    from .ws_checks import WS_CHECKS

    if check in CHECKS:
        return CHECKS[check].clause
    for catalogue in (PM_CHECKS, WS_CHECKS):
        if check in catalogue:
            return catalogue[check][0]
    return None


def pytest_conformance_findings(record: ScenarioRecord) -> list[Finding]:
    """Every check of docs/checks.md on what the scenario's OC sent, read and reported: Accès, the web
    services, PM 2.2 (each only in the scenarios that drove it)."""
    return [*checks_on_the_oc(record), *web_service_checks(record), *pm_checks(record)]


def checks_on_the_oc(record: ScenarioRecord) -> list[Finding]:
    from .checks import observe, run_checks

    assert record.admin is not None
    return run_checks(observe(record.admin, record.tenant, record.statuses, oc_code=record.tenant))


def web_service_checks(record: ScenarioRecord) -> list[Finding]:
    from .ws_checks import ws_checks_hook

    return ws_checks_hook(record)


def pm_checks(record: ScenarioRecord) -> list[Finding]:
    from .pm_checks import pm_checks_hook

    return pm_checks_hook(record)


def covage_target(url: str) -> Target:
    """The sandbox at `url` as Covage's scenarios see it, outside a harness run (tests that drive the reference
    OC themselves): what `conformance.plugin.harnessed` does with these hooks."""
    from .plugin import connect

    target = connect(url, OPERATOR)
    target.spec_pack = SPEC_PACK
    target.context_extra = pytest_conformance_context_extra
    return target
