"""What both SOAP services share: fault envelopes, the spyne application set-up, WSDL per URL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from lxml import etree
from spyne import Application
from spyne import const as spyne_const
from spyne.interface.wsdl import Wsdl11
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
# A Client fault is an answer, not an incident: spyne would log each one with its traceback.
logging.getLogger("spyne.application.client").setLevel(logging.CRITICAL)
# Each sandbox builds its own applications; spyne's process-wide registry would warn at the second one.
logging.getLogger("spyne.util.appreg").setLevel(logging.ERROR)
# spyne ends every call with a full gc.collect() once a second (MethodContext.close), holding the GIL for as
# long as the whole heap takes to walk (50-150 ms beside one sandbox, 1.7 s in a test worker after a hundred
# tests): that call and every other request wait. Python's own generational collector is enough.
spyne_const.MIN_GC_INTERVAL = float("inf")


def fault_envelope(faultcode: str, faultstring: str, detail: etree._Element | None = None) -> bytes:
    """A SOAP 1.1 fault; `faultcode` is "Client.X" or "Server.X" (qualified with the envelope's prefix)."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{faultcode}"
    etree.SubElement(fault, "faultstring").text = faultstring
    if detail is not None:
        etree.SubElement(fault, "detail").append(detail)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def wsgi_app(services: list[type], namespace: str, name: str) -> WsgiApplication:
    """SOAP 1.1 in and out. No schema validation by spyne: the operations check their input themselves
    and answer the service's own fault codes (a schema error would carry none)."""
    app = Application(services, tns=namespace, name=name, in_protocol=Soap11(), out_protocol=Soap11())
    return WsgiApplication(app)


def wsdl_builder(wsgi: WsgiApplication, binding: str | None = None) -> Callable[[str], bytes]:
    """The WSDL of `wsgi` declaring a given endpoint URL, built once per URL (HTTP and HTTPS differ);
    `binding` names the binding when it is not the port type's name (OSS/J)."""
    cache: dict[str, bytes] = {}
    lock = threading.Lock()

    class Named(Wsdl11):
        def _get_binding_name(self, port_type_name: str) -> str:
            return binding or port_type_name

    def build(url: str) -> bytes:
        with lock:
            if url not in cache:
                wsdl = Named(wsgi.app.interface)
                wsdl.build_interface_document(url)
                cache[url] = wsdl.get_interface_document()
            return cache[url]

    return build


def operations(services: list[type]) -> dict[str, str]:
    """Request element local name -> operation name (OSS/J: createTroubleTicketByValueRequest -> ...)."""
    return {d.in_message.get_element_name(): d.operation_name
            for service in services for d in service.public_methods.values()}  # type: ignore[attr-defined]


def first_text(tree: Any, local: str) -> str | None:
    """The text of the first element named `local` (any namespace) in a parsed envelope."""
    found = tree.find(f".//{{*}}{local}")
    return None if found is None else (found.text or "").strip()
