"""The OC side of the web services (zeep, as an OC's generated client would be): order help WS 3.0 and
SAV WS 2.1, used the way a correct OC uses them.

- a fresh identifiantRequete (UUID) in every request, the OC's code in operateurCommercial/nom;
- at most `per_second` requests per second on each service (it paces itself: seed 002 allows 2);
- after a flow-control fault it backs off for a second and retries (up to `retries` times);
- a fault is an answer: it is returned as a `WsFault` value, never a crash.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import requests
import zeep
import zeep.helpers
from zeep.transports import Transport

T = TypeVar("T")

ORDER_HELP_WSDL = "/interop-opc-30/wsdl"
SAV_WSDL = "/interop-sav-21/services/JVTTroubleTicketSessionWSPort?wsdl"
#: The faultcode of the operator's flow control (specs/webservices/*.yaml).
FLOW_CONTROL = "Client.LimiteDebit"


class WsFault(Exception):
    """A SOAP fault the operator answered: its faultcode, its code (codeErreur, or the OSS/J exception)."""

    def __init__(self, faultcode: str, code: str, message: str):
        super().__init__(f"{faultcode} {code}: {message}")
        self.faultcode, self.code, self.message = faultcode, code, message


class _Pace:
    """At most `per_second` calls per second, spread evenly."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second
        self.last = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            delay = self.last + self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.last = time.monotonic()


class OcSoapClient:
    def __init__(self, base_url: str, oc_code: str, login: str, password: str, *, per_second: float = 1.6,
                 retries: int = 3, backoff: float = 1.1, verify: str | bool = True):
        self.base_url = base_url.rstrip("/")
        self.oc_code = oc_code
        self.retries, self.backoff = retries, backoff
        self.session = requests.Session()
        self.session.trust_env = False  # the sandbox is reached directly, never through a proxy
        self.session.verify = verify
        self.session.auth = (login, password)  # SAV: HTTP Basic; order help ignores it
        self._clients: dict[str, zeep.Client] = {}
        self._paces = {"order_help": _Pace(per_second), "sav": _Pace(per_second)}

    def _client(self, service: str) -> zeep.Client:
        if service not in self._clients:
            wsdl = ORDER_HELP_WSDL if service == "order_help" else SAV_WSDL
            self._clients[service] = zeep.Client(self.base_url + wsdl, transport=Transport(session=self.session))
        return self._clients[service]

    def _call(self, service: str, call: Callable[[zeep.Client], T]) -> T:
        client = self._client(service)
        for attempt in range(self.retries + 1):
            self._paces[service].wait()
            try:
                return call(client)
            except zeep.exceptions.Fault as f:
                fault = _fault(f)
                if fault.faultcode.endswith(FLOW_CONTROL) and attempt < self.retries:
                    time.sleep(self.backoff)  # the operator said too fast: back off, then retry
                    continue
                raise fault from None
        raise AssertionError("unreachable")

    def entete(self) -> dict[str, Any]:
        return {"operateurCommercial": {"nom": self.oc_code, "identifiant": self.oc_code}, "versionWS": "3.0",
                "horodatageRequete": datetime.now().replace(microsecond=0), "identifiantRequete": str(uuid.uuid4())}

    # ------------------------------------------------------------------ order help
    def structure(self, hexacle: str) -> dict[str, Any]:
        """The buildings, staircases, floors and sockets at an address, as plain data."""
        answer = self._call("order_help", lambda c: c.service.obtentionStructureAdresseOperation(
            entete=self.entete(), referenceAdresse={"referenceHexacle": hexacle}))
        return zeep.helpers.serialize_object(answer, dict)

    # ------------------------------------------------------------------ SAV
    def open_ticket(self, prestation: str, description: str, kind: str = "PANNE") -> str:
        key = self._call("sav", lambda c: c.service.createTroubleTicketByValue(troubleTicketValue={
            "troubleType": kind, "troubleDescription": description, "referencePrestationPrise": prestation}))
        return str(key.primaryKey)

    def ticket(self, key: str) -> dict[str, Any]:
        value = self._call("sav", lambda c: c.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": key}))
        return zeep.helpers.serialize_object(value, dict)

    def close_ticket(self, key: str, narrative: str = "") -> None:
        self._call("sav", lambda c: c.service.closeTroubleTicketByKey(troubleTicketKey={"primaryKey": key},
                                                                       status="CLOSED", closeOutNarr=narrative))

    def close(self) -> None:
        self.session.close()


def _fault(f: zeep.exceptions.Fault) -> WsFault:
    code = ""
    if f.detail is not None:
        code = f.detail.findtext(".//{*}codeErreur") or ""
        if not code:  # OSS/J: <XException><oneException>
            inner = [e for holder in f.detail for e in holder]
            code = inner[0].tag.rsplit("}", 1)[-1] if inner else ""
    return WsFault(f.code or "", code, f.message or "")
