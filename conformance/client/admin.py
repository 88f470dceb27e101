"""A small client of the sandbox's admin REST API (/api): clock, reference addresses, orders.

Tests drive time through it, never through the sandbox's Python internals, so the same scenarios
run against a sandbox started elsewhere (`opsim up`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime
from typing import Any


class AdminError(RuntimeError):
    """The API answered with an HTTP error; `status` and `detail` say which and why."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class SandboxAdmin:
    """The admin API of a sandbox at `base_url` (e.g. http://127.0.0.1:8080)."""

    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    # ------------------------------------------------------------------ HTTP
    def get(self, path: str, **params: str | int) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self._call(urllib.request.Request(f"{self.base_url}/api{path}{query}"))

    def post(self, path: str, body: dict[str, Any], **params: str | int) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(f"{self.base_url}/api{path}{query}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        return self._call(request)

    def _call(self, request: urllib.request.Request) -> Any:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", errors="replace")
            try:
                detail = json.loads(body).get("detail", body)
            except (ValueError, AttributeError):
                detail = body
            raise AdminError(e.code, str(detail)) from None

    # ------------------------------------------------------------------ clock
    def now(self) -> datetime:
        return datetime.fromisoformat(self.get("/clock")["now"])

    def today(self) -> date:
        return self.now().date()

    def advance(self, *, working_days: int = 0, hours: float = 0) -> datetime:
        """Move the virtual clock forward; returns once the events that fell due have run."""
        body: dict[str, Any] = {}
        if working_days:
            body["working_days"] = working_days
        if hours:
            body["hours"] = hours
        return datetime.fromisoformat(self.post("/clock/advance", body)["now"])

    # ------------------------------------------------------------------ data
    def addresses(self, network: str = "COVA", limit: int = 50) -> list[dict[str, Any]]:
        """Deployed addresses, keyed by IPE column names, with their PM, sockets (Lignes) and floors."""
        return self.get("/addresses", network=network, limit=limit)

    def orders(self, tenant: str) -> list[dict[str, Any]]:
        return self.get("/orders", tenant=tenant)

    def order(self, ref: str, tenant: str) -> dict[str, Any]:
        return self.get(f"/orders/{urllib.parse.quote(ref, safe='')}", tenant=tenant)

    def reprovision(self, ref: str, tenant: str, motif: str) -> dict[str, Any]:
        """Operator action: a new route optique for the order, announced by a Notif_Reprov."""
        return self.post(f"/orders/{urllib.parse.quote(ref, safe='')}/reprovision", {"motif": motif}, tenant=tenant)
