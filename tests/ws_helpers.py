"""Helpers of the web service tests: zeep clients of a running sandbox and a well-formed request header."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import zeep
from lxml import etree

NS30 = "http://interop-fibre.fr/OutilAidePriseCommande/3.0/"
NS20 = "http://interop-fibre.fr/OutilAidePriseCommande/2.0/"


def fast(config: Any, limit: int = 1000) -> Any:
    """A configuration whose flow control does not get in the way of a test calling at full speed."""
    config.operators["covage"] = config.operators["covage"].with_overrides({"ws_rate_limit": limit})
    return config


def entete(nom: str = "DEMO", request_id: str | None = None) -> dict[str, Any]:
    return {"operateurCommercial": {"nom": nom, "identifiant": nom}, "versionWS": "3.0",
            "horodatageRequete": datetime(2026, 11, 24, 10, 0), "identifiantRequete": request_id or str(uuid.uuid4())}


def order_help(base_url: str, version: str = "30", **kwargs: Any) -> zeep.Client:
    return zeep.Client(f"{base_url}/interop-opc-{version}/wsdl", **kwargs)


def fault_code(fault: zeep.exceptions.Fault) -> tuple[str, str]:
    """(codeErreur, libelleErreur) of an order help fault."""
    assert fault.detail is not None, fault
    return (fault.detail.findtext(".//{*}codeErreur"), fault.detail.findtext(".//{*}libelleErreur"))


def post(url: str, body: bytes, action: str | None = '""', headers: dict[str, str] | None = None
         ) -> tuple[int, bytes, str]:
    """A raw POST (hostile or malformed requests zeep would never send): (status, body, content type)."""
    import urllib.error
    import urllib.request

    sent = {"Content-Type": "text/xml; charset=utf-8", **(headers or {})}
    if action is not None:
        sent["SOAPAction"] = action
    request = urllib.request.Request(url, data=body, method="POST", headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


def soap_fault(body: bytes) -> tuple[str, str]:
    """(faultcode, faultstring) of a SOAP 1.1 fault envelope."""
    tree = etree.fromstring(body)
    fault = tree.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    assert fault is not None, body
    return fault.findtext("faultcode"), fault.findtext("faultstring")
