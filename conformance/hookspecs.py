"""What an operator's harness tells the conformance plugin: pytest hooks, implemented by the plugin its features
folder's conftest names (simulator/operators/<operator>/harness/). The plugin itself knows no operator."""

from __future__ import annotations

from typing import Any

import pytest

# The hooks' arguments are conformance.plugin's Target, Tenant and ScenarioRecord, and they return
# conformance.results.Finding: named in the docstrings, not imported (the plugin imports this module).


@pytest.hookspec(firstresult=True)
def pytest_conformance_operator() -> str | None:
    """The operator whose scenarios these are: its key in GET /api/operators (its FTP endpoint, its folders)."""


@pytest.hookspec(firstresult=True)
def pytest_conformance_spec_pack() -> str | None:
    """The spec pack the adapter's context names (`spec_pack`): the one the OC writes its files with."""


@pytest.hookspec
def pytest_conformance_context_extra(target: Any, tenant: Any) -> dict[str, Any]:  # type: ignore[empty-body]
    """Fields the adapter's context carries for this operator's protocols, beyond the generic ones."""


@pytest.hookspec
def pytest_conformance_findings(record: Any) -> list[Any]:  # type: ignore[empty-body]
    """The checks on the OC at a scenario's end (after its last step): findings fail the scenario."""


@pytest.hookspec
def pytest_conformance_broadcast_flows() -> list[str]:  # type: ignore[empty-body]
    """Flows the operator sends on its own clock to every client (a weekly network file): journaled for a scenario's
    tenant, they are not flows the scenario exchanged (the report's matrix leaves them out)."""


@pytest.hookspec(firstresult=True)
def pytest_conformance_clause(check: str) -> str | None:
    """The clause of the protocol a check id of this operator's catalogues comes from (None: not one of its ids)."""


@pytest.hookspec(firstresult=True)
def pytest_conformance_reference_adapter() -> str | None:
    """The operator's own OC, which `--adapter reference` names: `python:<module>:<Class>`; it must pass every
    scenario with no finding."""


@pytest.hookspec(firstresult=True)
def pytest_conformance_flow_order() -> list[str] | None:
    """The rows of the report's matrix in the order of the protocol (an order's life); flows the results name
    that are not listed come after, in the order they were met."""
