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
    """The admin API of a sandbox at `base_url` (e.g. http://127.0.0.1:8080).

    `token` is sent as `Authorization: Bearer <token>`: the sandbox's admin token, or a tenant's token
    (which reads that tenant's orders, addresses and the clock, but cannot move the clock). A sandbox
    with no admin token configured (the default, on loopback) needs none.
    """

    def __init__(self, base_url: str, timeout: float = 30.0, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token = token

    # ------------------------------------------------------------------ HTTP
    def get(self, path: str, **params: str | int) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self._call(urllib.request.Request(f"{self.base_url}/api{path}{query}", headers=self._auth()))

    def get_all(self, path: str, **params: str | int) -> list[Any]:
        """Every item of a paged list (orders, journal, files, addresses), following X-Next-Cursor."""
        items: list[Any] = []
        cursor: str | None = None
        while True:
            query = urllib.parse.urlencode({**params, **({"cursor": cursor} if cursor else {})})
            page, cursor = self._call(urllib.request.Request(f"{self.base_url}/api{path}?{query}",
                                                             headers=self._auth()), next_cursor=True)
            items.extend(page)
            if not cursor:
                return items

    def raw(self, path: str, **params: str | int) -> bytes:
        """The bytes of a content route (a file, a mail's .eml): never parsed as JSON."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(f"{self.base_url}/api{path}{query}", headers=self._auth())
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as e:
            raise AdminError(e.code, e.read().decode("utf-8", errors="replace")) from None

    def post(self, path: str, body: dict[str, Any], **params: str | int) -> Any:
        return self._send("POST", path, body, params)

    def put(self, path: str, body: dict[str, Any], **params: str | int) -> Any:
        return self._send("PUT", path, body, params)

    def _send(self, method: str, path: str, body: dict[str, Any], params: dict[str, str | int]) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(f"{self.base_url}/api{path}{query}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", **self._auth()},
                                         method=method)
        return self._call(request)

    def delete(self, path: str, **params: str | int) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(f"{self.base_url}/api{path}{query}",
                                         headers={"Content-Type": "application/json", **self._auth()},
                                         method="DELETE")
        return self._call(request)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _call(self, request: urllib.request.Request, next_cursor: bool = False) -> Any:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                if next_cursor:
                    return json.load(response), response.headers.get("X-Next-Cursor")
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
        """All the tenant's orders (every page)."""
        return self.get_all("/orders", tenant=tenant)

    def order(self, ref: str, tenant: str) -> dict[str, Any]:
        return self.get(f"/orders/{urllib.parse.quote(ref, safe='')}", tenant=tenant)

    def reprovision(self, ref: str, tenant: str, motif: str) -> dict[str, Any]:
        """Operator action: a new route optique for the order, announced by a Notif_Reprov."""
        return self.post(f"/orders/{urllib.parse.quote(ref, safe='')}/reprovision", {"motif": motif}, tenant=tenant)
