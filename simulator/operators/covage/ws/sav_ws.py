"""SAV WS 2.1 on the wire: OSS/J Trouble Ticket 1.2 (service JVTTroubleTicketSessionWebService, port
JVTTroubleTicketSessionWSPort), SOAP 1.1 document/literal, soapAction = operation name.

Operation X takes `XRequest` and answers `XResponse` in the `tt` namespace; a refusal is a SOAP fault
whose detail holds `XException` with one OSS/J exception (illegalArgumentException, objectNotFoundException,
createException, setException, remoteException) and its message. The OC authenticates with HTTP Basic
(its FTP login and password). Names come from specs/webservices/sav-2.1.yaml.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from lxml import etree
from spyne import ComplexModel, DateTime, ServiceBase, Unicode, rpc
from spyne.model.fault import Fault

from ....capability import ServiceHost, SoapEndpoint, WebService
from ..sav import NewTicket, SavDesk, TicketError
from .common import SOAP_ENV, fault_envelope, operations, wsdl_builder, wsgi_app

log = logging.getLogger(__name__)


def build(desk: SavDesk, service: WebService, host: ServiceHost) -> SoapEndpoint:
    spec = desk.spec
    tt = spec["namespace"]
    port = spec["port"]
    exceptions, faultcodes = spec["exceptions"], spec["faultcodes"]
    t = _types(tt, spec["key_type"])

    def detail(kind: str, message: str, operation: str) -> etree._Element:
        node = etree.Element(f"{{{tt}}}{operation}Exception", nsmap={"tt": tt})
        inner = etree.SubElement(node, f"{{{tt}}}{exceptions.get(kind, exceptions['remote'])}")
        etree.SubElement(inner, f"{{{tt}}}message").text = message
        return node

    def fault(kind: str, message: str, operation: str) -> bytes:
        kind = {"malformed": "illegal_argument", "unknown_oc": "illegal_argument"}.get(kind, kind)
        code = faultcodes.get(kind, faultcodes["remote"])
        return fault_envelope(code, message, detail(kind, message, operation or "unknown"))

    def refuse(kind: str, message: str, operation: str) -> Fault:
        return Fault(faultcode=faultcodes.get(kind, faultcodes["remote"]), faultstring=message,
                     detail=detail(kind, message, operation))

    def run(ctx: Any, operation: str, fn: Any) -> Any:
        tenant = ctx.transport.req_env["opsim.tenant"]
        try:
            return fn(tenant)
        except TicketError as e:
            raise refuse(e.kind, e.message, operation) from None
        except Fault:
            raise
        except Exception as e:  # never a stack trace to the OC
            log.exception("SAV %s failed", operation)
            raise refuse("remote", type(e).__name__, operation) from None

    def key_of(value: Any) -> str:
        return (getattr(value, "primaryKey", None) or "").strip() if value is not None else ""

    def op(name: str, *args: Any, returns: Any = None, out: str | None = None) -> Any:
        return rpc(*args, _returns=returns, _port_type=port, _operation_name=name,
                   _in_message_name=f"{name}Request", _out_message_name=f"{name}Response",
                   **({"_out_variable_name": out} if out else {}))

    class TroubleTicketService(ServiceBase):
        __service_name__ = spec["service"]
        __port_types__ = (port,)

        @op("createTroubleTicketByValue", t.TroubleTicketValue.customize(min_occurs=1),
            returns=t.TroubleTicketKey, out="troubleTicketKey")
        def createTroubleTicketByValue(ctx, troubleTicketValue):  # noqa: N802, N803, N805
            v = troubleTicketValue

            def create(tenant: str) -> Any:
                new = NewTicket(trouble_type=v.troubleType or "", description=v.troubleDescription or "",
                                prestation=v.referencePrestationPrise or "", reference_prise=v.referencePrise or "",
                                suspect_object=v.suspectObjectId or "", customer_trouble_num=v.customerTroubleNum or "",
                                detection_time=v.troubleDetectionTime.isoformat() if v.troubleDetectionTime else "",
                                originator=v.originator or "")
                key = host.transact(desk, lambda now: desk.create(tenant, new, now))
                return t.key(key)
            if v is None:
                raise refuse("illegal_argument", "troubleTicketValue is mandatory", "createTroubleTicketByValue")
            return run(ctx, "createTroubleTicketByValue", create)

        @op("getTroubleTicketByKey", t.TroubleTicketKey, returns=t.TroubleTicketValue, out="troubleTicketValue")
        def getTroubleTicketByKey(ctx, troubleTicketKey):  # noqa: N802, N803, N805
            return run(ctx, "getTroubleTicketByKey",
                       lambda tenant: t.value(desk.ticket(tenant, key_of(troubleTicketKey))))

        @op("getTroubleTicketsByTemplate", t.TroubleTicketValue, returns=t.TroubleTicketValueList,
            out="troubleTicketValue")
        def getTroubleTicketsByTemplate(ctx, template):  # noqa: N802, N805
            def find(tenant: str) -> Any:
                state = getattr(template, "troubleState", None) or ""
                prestation = getattr(template, "referencePrestationPrise", None) or ""
                kind = getattr(template, "troubleType", None) or ""
                return [t.value(v) for v in desk.tickets(tenant, state, prestation, kind)]
            return run(ctx, "getTroubleTicketsByTemplate", find)

        @op("setTroubleTicketByValue", t.TroubleTicketValue.customize(min_occurs=1), Unicode,
            returns=t.TroubleTicketKey, out="troubleTicketKey")
        def setTroubleTicketByValue(ctx, troubleTicketValue, dialog):  # noqa: N802, N803, N805
            v = troubleTicketValue

            def update(tenant: str) -> Any:
                key = key_of(getattr(v, "troubleTicketKey", None))
                desk.ticket(tenant, key)  # objectNotFoundException before anything changes
                host.transact(desk, lambda now: (None, desk.update(tenant, key, v.troubleState or "",
                                                                     dialog or "", now)))
                return t.key(key)
            if v is None:
                raise refuse("illegal_argument", "troubleTicketValue is mandatory", "setTroubleTicketByValue")
            return run(ctx, "setTroubleTicketByValue", update)

        @op("closeTroubleTicketByKey", t.TroubleTicketKey, Unicode, Unicode)
        def closeTroubleTicketByKey(ctx, troubleTicketKey, status, closeOutNarr):  # noqa: N802, N803, N805
            def close(tenant: str) -> None:
                key = key_of(troubleTicketKey)
                desk.ticket(tenant, key)
                host.transact(desk, lambda now: (None, desk.close(tenant, key, closeOutNarr or "", now)))
            return run(ctx, "closeTroubleTicketByKey", close)

        @op("cancelTroubleTicketByKey", t.TroubleTicketKey, Unicode)
        def cancelTroubleTicketByKey(ctx, troubleTicketKey, closeOutNarr):  # noqa: N802, N803, N805
            def cancel(tenant: str) -> None:
                key = key_of(troubleTicketKey)
                desk.ticket(tenant, key)
                host.transact(desk, lambda now: (None, desk.close(tenant, key, closeOutNarr or "", now, cancel=True)))
            return run(ctx, "cancelTroubleTicketByKey", cancel)

        @op("getSupportedOptionalOperations", returns=Unicode.customize(max_occurs="unbounded"),
            out="supportedOptionalOperation")
        def getSupportedOptionalOperations(ctx):  # noqa: N802, N805
            # Of the optional OSS/J operations, opsim implements none beyond the required ones above.
            return [name for name in spec["operations"] if name in ("getTroubleTicketsByTemplate",)]

    services: list[type] = [TroubleTicketService]
    assert set(spec["operations"]) <= {d.operation_name for d in TroubleTicketService.public_methods.values()}
    wsgi = wsgi_app(services, spec["wsdl_namespace"], spec["service"])

    def identify(tree: Any, basic_tenant: str | None) -> str | None:
        return basic_tenant if basic_tenant is not None and host.known(basic_tenant) else None

    wsdl_ns = spec["wsdl_namespace"]
    value_fields = [(name, kind) for name, kind in t.TroubleTicketValue._type_info.items()]

    def read_direct(tree: Any, tenant: str) -> tuple[int, bytes]:
        """getTroubleTicketByKey without spyne (its reading and writing cost most of the call), from the
        envelope the guard has parsed; the answer's elements as spyne writes them, in the WSDL's order."""
        operation = "getTroubleTicketByKey"
        request = tree.find(f".//{{{wsdl_ns}}}{operation}Request")
        try:
            if request is None:
                raise TicketError("illegal_argument", f"{operation}Request is not in {wsdl_ns}")
            ticket = desk.ticket(tenant, (request.findtext("{*}troubleTicketKey/{*}primaryKey") or "").strip())
        except TicketError as e:
            return 500, fault(e.kind, e.message, operation)
        envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "tns": wsdl_ns, "tt": tt})
        response = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"),
                                    f"{{{wsdl_ns}}}{operation}Response")
        value = etree.SubElement(response, f"{{{wsdl_ns}}}troubleTicketValue")
        key = etree.SubElement(value, f"{{{tt}}}troubleTicketKey")
        for name, text in (("applicationDN", "opsim"), ("type", spec["key_type"]), ("primaryKey", ticket["key"])):
            etree.SubElement(key, f"{{{tt}}}{name}").text = text
        for name, kind in value_fields[1:]:
            field_value = ticket[name]
            if kind is DateTime:
                when = detection_time(field_value)
                if when is None:  # none given, or not a date and time (a works notice's day): left out
                    continue
                field_value = when.isoformat()
            for item in field_value if isinstance(field_value, list) else [field_value]:
                etree.SubElement(value, f"{{{tt}}}{name}").text = item
        return 200, etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

    return SoapEndpoint(service.name, spec["path"], "?wsdl", wsgi, wsdl_builder(wsgi, spec["binding"]),
                        operations(services), identify, fault, {"getTroubleTicketByKey": read_direct})


class _Types:
    """The spyne classes of the service, set by name as they are made."""


def detection_time(text: str) -> datetime | None:
    """The stored troubleDetectionTime as the xs:dateTime it was given, None when there is none (a works
    notice keeps the day of its works there, which is no date and time: left out as before)."""
    if "T" not in text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _types(ns: str, key_type: str) -> Any:
    t: Any = _Types()  # its classes are set by name

    class Model(ComplexModel):
        __namespace__ = ns

    def model(name: str, type_name: str, **fields: Any) -> type:
        return type(name, (Model,), {"_type_info": list(fields.items()), "__type_name__": type_name})

    t.TroubleTicketKey = model("TroubleTicketKey", "TroubleTicketKey", applicationDN=Unicode, type=Unicode,
                               primaryKey=Unicode)
    t.TroubleTicketValue = model(
        "TroubleTicketValue", "TroubleTicketValue", troubleTicketKey=t.TroubleTicketKey, troubleState=Unicode,
        troubleStatus=Unicode, troubleType=Unicode, troubleDescription=Unicode, customerTroubleNum=Unicode,
        troubleDetectionTime=DateTime, originator=Unicode, closeOutNarr=Unicode, suspectObjectId=Unicode,
        referencePrestationPrise=Unicode, referencePrise=Unicode, lastUpdateTime=Unicode, receivedTime=Unicode,
        dialog=Unicode.customize(max_occurs="unbounded"))
    t.TroubleTicketValueList = t.TroubleTicketValue.customize(max_occurs="unbounded")

    def key(primary: str) -> Any:
        return t.TroubleTicketKey(applicationDN="opsim", type=key_type, primaryKey=primary)

    def value(v: dict[str, Any]) -> Any:
        fields = {k: v[k] for k in ("troubleState", "troubleStatus", "troubleType", "troubleDescription",
                                    "customerTroubleNum", "originator", "closeOutNarr", "suspectObjectId",
                                    "referencePrestationPrise", "referencePrise", "lastUpdateTime", "receivedTime",
                                    "dialog")}
        return t.TroubleTicketValue(troubleTicketKey=key(v["key"]), **fields,
                                    troubleDetectionTime=detection_time(v["troubleDetectionTime"]))

    t.key, t.value = key, value
    return t
