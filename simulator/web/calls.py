"""What every admin API view uses: the sandbox behind the app, the tenant a call names, a call on the engine."""

from __future__ import annotations

from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from flask import abort, current_app, request

if TYPE_CHECKING:
    from ..facade import SandboxFacade


def sandbox() -> SandboxFacade:
    return current_app.config["SANDBOX"]


def engine_call(fn: Any) -> Any:
    """Run on the engine thread; the clock's own checks (ValueError) are the caller's error."""
    box = sandbox()
    try:
        return box.call(fn)
    except ValueError as e:
        abort(400, str(e))
    except FutureTimeout:
        abort(503, "the engine is busy: the call did not finish within 60 s (it may still complete)")


def tenant_arg() -> str:
    """The tenant of `?tenant=` (required; 404 when no such tenant)."""
    tenant = request.args.get("tenant", "").upper()
    if not tenant:
        abort(400, "the tenant query parameter is required (e.g. ?tenant=DEMO)")
    if tenant not in sandbox().tenants:
        abort(404, f"no tenant {tenant[:50]}")
    return tenant
