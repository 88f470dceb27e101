"""SAV WS 2.1 (OSS/J Trouble Ticket 1.2) through zeep against a started sandbox: names, namespaces, the
ticket's life on the virtual clock, the refusals as <Operation>Exception faults, works notices."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import requests
import zeep
from zeep.transports import Transport

from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import cmd_acces, cr_mes
from tests.helpers import Api
from tests.ws_helpers import fast

TT = "http://ossj.org/xml/TroubleTicket/v1-2"
WSDL_NS = "http://ossj.org/wsdl/TroubleTicket/v1-2"
PATH = "/interop-sav-21/services/JVTTroubleTicketSessionWSPort"


@pytest.fixture
def opsim_config(opsim_config):
    return fast(opsim_config)


def sav(base_url: str, login: str = "DEMO", password: str = "demo") -> zeep.Client:
    session = requests.Session()
    session.auth = (login, password)
    return zeep.Client(f"{base_url}{PATH}?wsdl", transport=Transport(session=session))


@pytest.fixture
def client(opsim_sandbox) -> zeep.Client:
    return sav(opsim_sandbox.http_url)


@pytest.fixture
def oc(opsim_sandbox):
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=lambda: date(2026, 11, 24)) as client:
        yield client


def in_service(oc: OcFtpClient, api: Api, address, ref: str) -> dict[str, str]:
    """An order taken to MES over FTP (OI connects: CR after 1 working day, CR MAD 5 later); its CR MAD."""
    oc.send("Cmd_Acces", [cmd_acces(address, ref, type_racco="OI")])
    assert oc.receive("AR_Cmd_Acces").single()["EtatArCommandePrise"] == "OK"
    api.post("/clock/advance", {"working_days": 6})
    oc.receive("CR_Cmd_Acces")
    cr_mad = oc.receive("CR_MAD_Ligne").single()
    oc.wait_consumed(oc.send("CR_MES_Ligne", [cr_mes(cr_mad, date="20261202")]))
    assert api.get(f"/orders/{ref}?tenant=DEMO")["state"] == "MES"
    return cr_mad


def exception_of(fault: zeep.exceptions.Fault, operation: str) -> str:
    """The OSS/J exception named in the fault detail's <operation>Exception."""
    assert fault.detail is not None, fault
    holder = fault.detail.find(f"{{{TT}}}{operation}Exception")
    assert holder is not None, zeep.helpers.etree.tostring(fault.detail)
    [inner] = list(holder)
    assert inner.findtext(f"{{{TT}}}message")
    return inner.tag.split("}")[1]


def test_wsdl_names_match_ossj_tt_12(client: zeep.Client, opsim_sandbox):
    [service] = client.wsdl.services.values()
    assert service.name == "JVTTroubleTicketSessionWebService"
    [port] = service.ports.values()
    assert port.name == "JVTTroubleTicketSessionWSPort"
    assert port.binding.name.text == f"{{{WSDL_NS}}}JVTTroubleTicketSessionSoapBinding"
    assert port.binding_options["address"] == f"{opsim_sandbox.http_url}{PATH}"
    assert {"createTroubleTicketByValue", "getTroubleTicketByKey", "getTroubleTicketsByTemplate",
            "setTroubleTicketByValue", "closeTroubleTicketByKey", "cancelTroubleTicketByKey",
            "getSupportedOptionalOperations"} <= set(port.binding._operations)
    create = port.binding._operations["createTroubleTicketByValue"]
    assert create.soapaction == "createTroubleTicketByValue"
    assert create.input.body.qname.text in (f"{{{TT}}}createTroubleTicketByValueRequest",
                                            f"{{{WSDL_NS}}}createTroubleTicketByValueRequest")
    assert client.service.getSupportedOptionalOperations() == ["getTroubleTicketsByTemplate"]


def test_a_ticket_on_a_line_in_service_lives_on_the_virtual_clock(client, oc, api: Api, addresses):
    cr_mad = in_service(oc, api, addresses[0], "SAV-1")
    key = client.service.createTroubleTicketByValue(troubleTicketValue={
        "troubleType": "PANNE", "troubleDescription": "plus de synchro",
        "referencePrestationPrise": cr_mad["ReferencePrestationPrise"], "customerTroubleNum": "OC-42"})
    assert key.primaryKey.startswith("TT") and key.type.endswith("TroubleTicketKey")

    def state() -> str:
        return client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": key.primaryKey}).troubleState

    assert state() == "QUEUED"
    api.post("/clock/advance", {"hours": 1})
    assert state() == "OPENACTIVE"
    api.post("/clock/advance", {"hours": 4})
    value = client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": key.primaryKey})
    assert value.troubleState == "CLEARED" and value.closeOutNarr
    assert value.referencePrestationPrise == cr_mad["ReferencePrestationPrise"]
    client.service.closeTroubleTicketByKey(troubleTicketKey={"primaryKey": key.primaryKey}, status="OK",
                                           closeOutNarr="merci")
    assert state() == "CLOSED"
    found = client.service.getTroubleTicketsByTemplate(template={"troubleState": "CLOSED"})
    assert [v.troubleTicketKey.primaryKey for v in found] == [key.primaryKey]


def test_a_cleared_ticket_closes_itself_and_a_reopened_one_is_worked_again(client, oc, api: Api, addresses):
    cr_mad = in_service(oc, api, addresses[0], "SAV-2")
    value = {"troubleType": "PANNE", "troubleDescription": "coupure",
             "referencePrise": cr_mad["ReferencePrise"]}
    first = client.service.createTroubleTicketByValue(troubleTicketValue=value).primaryKey
    second = client.service.createTroubleTicketByValue(troubleTicketValue=value).primaryKey
    api.post("/clock/advance", {"hours": 5})
    client.service.setTroubleTicketByValue(troubleTicketValue={"troubleTicketKey": {"primaryKey": second},
                                                               "troubleState": "OPENACTIVE"},
                                           dialog="toujours en panne")
    got = client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": second})
    assert got.troubleState == "OPENACTIVE" and "toujours en panne" in got.dialog[0]
    api.post("/clock/advance", {"working_days": 2})
    states = {k: client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": k}).troubleState
              for k in (first, second)}
    assert states == {first: "CLOSED", second: "CLEARED"}


def test_a_ticket_on_a_line_without_cr_mes_is_refused(client, oc, api: Api, addresses):
    oc.send("Cmd_Acces", [cmd_acces(addresses[1], "SAV-NOMES", type_racco="OI")])
    ar = oc.receive("AR_Cmd_Acces").single()
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.createTroubleTicketByValue(troubleTicketValue={
            "troubleType": "PANNE", "troubleDescription": "x",
            "referencePrestationPrise": ar["ReferencePrestationPrise"]})
    assert exception_of(caught.value, "createTroubleTicketByValue") == "createException"
    assert "CR MES" in caught.value.message
    assert client.service.getTroubleTicketsByTemplate(template={}) == []


def test_refusals_are_ossj_exceptions(client):
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": "TT-NONE"})
    assert exception_of(caught.value, "getTroubleTicketByKey") == "objectNotFoundException"
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.createTroubleTicketByValue(troubleTicketValue={"troubleType": "AUTRE",
                                                                      "troubleDescription": "x"})
    assert exception_of(caught.value, "createTroubleTicketByValue") == "illegalArgumentException"
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.cancelTroubleTicketByKey(troubleTicketKey={"primaryKey": "TT-NONE"})
    assert exception_of(caught.value, "cancelTroubleTicketByKey") == "objectNotFoundException"


def test_tickets_are_the_oc_s_own_and_need_its_login(client, opsim_sandbox, oc, api: Api, addresses):
    network = opsim_sandbox.networks["COVA"]
    pbo = network.deployed()[0].pbos[0]
    key = client.service.createTroubleTicketByValue(troubleTicketValue={
        "troubleType": "DOMMAGE", "troubleDescription": "PBO arrache", "suspectObjectId": pbo}).primaryKey
    assert client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": key}).troubleType == "DOMMAGE"
    with pytest.raises(zeep.exceptions.Fault) as caught:
        sav(opsim_sandbox.http_url, "DEMO", "wrong").service.getTroubleTicketByKey(
            troubleTicketKey={"primaryKey": key})
    assert exception_of(caught.value, "getTroubleTicketByKey") == "illegalArgumentException"


def test_a_works_notice_reaches_the_oc_with_a_line_in_the_building(client, oc, api: Api, addresses,
                                                                     opsim_sandbox):
    in_service(oc, api, addresses[0], "SAV-W")
    building = api.get("/orders/SAV-W?tenant=DEMO")["data"]["IdentifiantImmeuble"]
    assert opsim_sandbox.facade().perform("covage", "sav", "works_notice", "DEMO",
                                          {"identifiant_immeuble": building, "date": "20261210"}) is None
    [notice] = client.service.getTroubleTicketsByTemplate(template={"troubleType": "TRAVAUX"})
    assert notice.troubleState == "OPENACTIVE" and "20261210" in notice.troubleDescription


def test_a_fault_in_a_building_with_works_scheduled_is_deferred_until_after_them(client, oc, api: Api, addresses):
    cr_mad = in_service(oc, api, addresses[0], "SAV-D")
    building = api.get("/orders/SAV-D?tenant=DEMO")["data"]["IdentifiantImmeuble"]
    today = datetime.fromisoformat(api.get("/clock")["now"])
    works_day = f"{today + timedelta(days=2):%Y%m%d}"
    api.post("/operators/covage/sav/works_notice?tenant=DEMO", {"identifiant_immeuble": building,
                                                                "date": works_day})
    key = client.service.createTroubleTicketByValue(troubleTicketValue={
        "troubleType": "PANNE", "troubleDescription": "plus de lumiere",
        "referencePrestationPrise": cr_mad["ReferencePrestationPrise"]}).primaryKey

    def ticket():  # noqa: ANN202
        return client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": key})

    api.post("/clock/advance", {"hours": 6})  # taken, and with no works it would be CLEARED by now
    deferred = ticket()
    assert deferred.troubleState == "DEFERRED" and deferred.troubleStatus == "WAITING_FOR_WORKS", deferred
    assert any(building in line and works_day in line for line in deferred.dialog), deferred.dialog
    api.post("/clock/advance", {"hours": 40})  # the day of the works: still waiting
    assert ticket().troubleState == "DEFERRED"
    api.post("/clock/advance", {"working_days": 2})  # the works are done: worked again, then repaired
    cleared = ticket()
    assert cleared.troubleState == "CLEARED" and cleared.closeOutNarr, cleared


def test_the_operator_defers_an_open_ticket_until_a_date(client, oc, api: Api, addresses):
    cr_mad = in_service(oc, api, addresses[0], "SAV-O")
    key = client.service.createTroubleTicketByValue(troubleTicketValue={
        "troubleType": "PANNE", "troubleDescription": "coupure", "referencePrise": cr_mad["ReferencePrise"]}
    ).primaryKey
    status, refused = api.call("POST", "/operators/covage/sav/defer_ticket?tenant=DEMO",
                               {"key": key, "until": "20261210", "reason": "client absent"})
    assert status == 409 and "QUEUED" in str(refused), refused  # not taken yet: nothing to defer
    api.post("/clock/advance", {"hours": 1})
    api.post("/operators/covage/sav/defer_ticket?tenant=DEMO",
             {"key": key, "until": "2026-12-10", "reason": "client absent"})
    value = client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": key})
    assert value.troubleState == "DEFERRED" and value.troubleStatus == "DEFERRED_BY_OPERATOR"
    assert "client absent" in value.dialog[-1]
    api.post("/clock/advance", {"working_days": 3})  # not yet the 10th
    assert client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": key}).troubleState == "DEFERRED"
    client.service.cancelTroubleTicketByKey(troubleTicketKey={"primaryKey": key},
                                            closeOutNarr="resolu de notre cote")  # DEFERRED -> CLOSED is OSS/J
    assert client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": key}).troubleState == "CLOSED"


def _elements(answer: bytes) -> list[tuple[str, str]]:
    """(qualified name, text) of every element in a SOAP answer's Body, in document order."""
    from lxml import etree

    body = etree.fromstring(answer).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    return [(e.tag, (e.text or "").strip()) for e in body.iter() if e is not body]


def test_a_ticket_read_without_spyne_is_what_spyne_writes(client: zeep.Client, opsim_sandbox):
    """getTroubleTicketByKey is answered from the guard's parsed envelope (SoapEndpoint.direct): the same
    elements, names, namespaces and texts as the spyne operation it stands for."""
    import io

    from lxml import etree

    pbo = opsim_sandbox.networks["COVA"].deployed()[0].pbos[0]
    key = client.service.createTroubleTicketByValue(troubleTicketValue={
        "troubleType": "DOMMAGE", "troubleDescription": "PBO arraché <&>", "suspectObjectId": pbo,
        "customerTroubleNum": "C-1", "troubleDetectionTime": datetime(2026, 11, 24, 9, 30)}).primaryKey
    client.service.setTroubleTicketByValue(troubleTicketValue={"troubleTicketKey": {"primaryKey": key}},
                                           dialog="toujours arraché")
    request = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
               f'<w:getTroubleTicketByKeyRequest xmlns:w="http://ossj.org/wsdl/TroubleTicket/v1-2" xmlns:tt="{TT}">'
               f'<w:troubleTicketKey><tt:primaryKey>{key}</tt:primaryKey></w:troubleTicketKey>'
               f'</w:getTroubleTicketByKeyRequest></soap:Body></soap:Envelope>').encode()
    endpoint = opsim_sandbox.web_services()[PATH].endpoint
    status, direct = endpoint.direct["getTroubleTicketByKey"](etree.fromstring(request), "DEMO")
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "", "SCRIPT_NAME": PATH, "QUERY_STRING": "",
               "CONTENT_TYPE": "text/xml; charset=utf-8", "CONTENT_LENGTH": str(len(request)),
               "HTTP_SOAPACTION": '"getTroubleTicketByKey"', "wsgi.input": io.BytesIO(request),
               "wsgi.url_scheme": "http", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "opsim.tenant": "DEMO"}
    by_spyne = b"".join(endpoint.app(environ, lambda *args: None))
    assert status == 200 and _elements(direct) == _elements(by_spyne)
    assert f"{{{TT}}}dialog" in {tag for tag, _ in _elements(direct)}
    answered = client.service.getTroubleTicketByKey(troubleTicketKey={"primaryKey": key})  # zeep: the WSDL's
    assert answered.troubleDescription == "PBO arraché <&>" and len(answered.dialog) == 1
    assert answered.troubleDetectionTime.replace(tzinfo=None) == datetime(2026, 11, 24, 9, 30)  # given back now
    status, missing = endpoint.direct["getTroubleTicketByKey"](etree.fromstring(request.replace(key.encode(),
                                                                                               b"TT-NONE")), "DEMO")
    assert status == 500 and b"objectNotFoundException" in missing
