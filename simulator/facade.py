"""What the admin API sees of a running sandbox: a small facade, not the wiring object.

Reads go straight to the store's reader connections; everything that changes state (the clock, a
tenant, an operator action) runs on the engine thread through `call`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .capability import ActionRefused, CapabilityError, Operators
from .clock import VirtualClock
from .config import Config
from .documents import Finding
from .engine import Engine
from .faults import FaultRule, FaultRules, Stages
from .refdata import ReferenceNetwork
from .store import Store
from .tenants import TenantRegistry, hash_password, hash_token

T = TypeVar("T")


@dataclass
class SandboxFacade:
    config: Config
    version: str
    store: Store
    clock: VirtualClock
    tenants: TenantRegistry
    operators: Operators
    engine: Engine
    endpoints: Callable[[], dict[str, str]]
    networks: Mapping[str, ReferenceNetwork]  # every operator's reference networks, by Interop code
    ensure_folders: Callable[[str], list[str]]  # creates a tenant's trees; its folders
    #: Work started without waiting for it (a long clock advance), by handle; the last WORK_KEPT only.
    work: dict[int, Future] = field(default_factory=dict)
    _handles: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    WORK_KEPT = 100

    def call(self, fn: Callable[[], T], timeout: float = 60) -> T:
        """Run fn on the engine thread (then the events it made due) and return its result."""
        return self.engine.call(fn, timeout)

    def begin(self, fn: Callable[[], T]) -> tuple[int, Future]:
        """Queue fn on the engine thread (then the events it makes due) without waiting: its handle, to poll
        in `work`, and its future."""
        future = self.engine.begin(fn)
        handle = next(self._handles)
        self.work[handle] = future
        while len(self.work) > self.WORK_KEPT:
            del self.work[next(iter(self.work))]
        return handle, future

    def due_events(self) -> int:
        """Events due at the clock's time and not yet run (what an advance still has to do)."""
        return self.store.due_count(self.clock.timestamp(), reader=True)

    @property
    def default_network(self) -> str:
        return next(iter(self.networks), "")

    # ------------------------------------------------------------------ engine thread
    def add_tenant(self, code: str, password: str, email: str = "", login: str | None = None,
                   api_token: str = "") -> str | None:
        """Create an OC account and its folders at every operator; returns an error message or None."""
        login = login or code
        if not re.fullmatch(r"[A-Z0-9]{2,8}", code):
            return "code must be 2 to 8 capital letters or digits (the OC's Interop code)"
        if code in self.tenants or self.tenants.by_login(login):
            return f"tenant {code} (login {login}) already exists"
        self.store.upsert_tenant(code, login, hash_password(password), email,
                                 hash_token(api_token) if api_token else "")
        self.ensure_folders(code)
        self.tenants.reload()
        self.engine.note(Finding(code, "api", "admin", "", "", "tenant created", email))
        return None

    def perform(self, operator: str, capability: str, action: str, tenant: str,
                args: dict[str, Any]) -> str | None:
        """An operator action offered by a capability; returns why it was refused, or None."""
        try:
            self.engine.perform(operator, capability, action, tenant, args)
        except (ActionRefused, CapabilityError) as e:
            return str(e)
        return None

    @property
    def faults(self) -> FaultRules:
        return FaultRules(self.store)

    def reject_catalogue(self) -> dict[str, dict[str, str]]:
        """Every reject code of the operators' spec packs (the Annexe 5f catalogue), by code."""
        catalogue: dict[str, dict[str, str]] = {}
        for operator in self.operators.values():
            for capability in operator.capabilities.values():
                if capability.pack is not None:
                    catalogue.update(capability.pack.rejects)
        return catalogue

    def fault_stages(self) -> Stages:
        """Where the operators' spec packs let them say no (each code's stage), and what answers there."""
        return Stages.of((c.pack.sections, c.pack.rejects) for o in self.operators.values()
                         for c in o.capabilities.values() if c.pack is not None)

    def add_fault(self, tenant: str, rule: FaultRule, count: int | None) -> dict[str, Any]:
        added = self.faults.add(tenant, rule, count)
        self.engine.note(Finding(tenant, "api", "admin", "", "", "fault rule set",
                                 f"rule {added['id']}: {rule.action} at {rule.stage} {rule.code}".strip()))
        return added

    def delete_faults(self, tenant: str, rule_id: int | None) -> int:
        removed = self.faults.delete(tenant, rule_id)
        if removed:
            self.engine.note(Finding(tenant, "api", "admin", "", "", "fault rule removed",
                                     f"rule {rule_id}" if rule_id is not None else f"{removed} rules"))
        return removed

    def set_answer_style(self, tenant: str, style: dict[str, str]) -> None:
        """How the operator varies the tenant's answer files from now on (already checked: check_style)."""
        self.store.set_answer_style(tenant, style)
        self.engine.note(Finding(tenant, "api", "admin", "", "", "answer style",
                                 ", ".join(f"{k}={v}" for k, v in sorted(style.items()))))
    def act(self, operator: str, capability: str, action: str, tenant: str,
            args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """An operator action and what it answers (e.g. the hotline's décharge), or why it was refused."""
        try:
            return self.engine.perform(operator, capability, action, tenant, args), None
        except (ActionRefused, CapabilityError) as e:
            return {}, str(e)

    def reprovision(self, tenant: str, ref: str, motif: str) -> str | None:
        """The reprovisioning of an order (POST /api/orders/<ref>/reprovision), at the first operator offering it."""
        for key, operator in self.operators.items():
            for name, capability in operator.capabilities.items():
                if "reprovision" in capability.actions:
                    return self.perform(key, name, "reprovision", tenant, {"ref": ref, "motif": motif})
        return "no operator offers reprovisioning"
