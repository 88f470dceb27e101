"""Hostile XML against the web services: each gets a SOAP 1.1 Client fault with HTTP 500, never a local
file's content nor a bare error page, and the service keeps answering."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.ws_helpers import NS30, entete, fast, order_help, post, soap_fault

SECRET = "opsim-secret-4f2a9c"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture
def opsim_config(opsim_config):
    return fast(opsim_config)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


def communes(nom: str = "&xxe;", prolog: str = "") -> bytes:
    return (f'<?xml version="1.0"?>{prolog}<soap:Envelope xmlns:soap="{ENV}"><soap:Body>'
            f'<ns:obtentionCommunesOperation xmlns:ns="{NS30}"><ns:entete><ns:operateurCommercial>'
            f'<ns:nom>{nom}</ns:nom></ns:operateurCommercial><ns:identifiantRequete>1</ns:identifiantRequete>'
            f'</ns:entete></ns:obtentionCommunesOperation></soap:Body></soap:Envelope>').encode()


def assert_client_fault(status: int, body: bytes, content_type: str) -> str:
    assert status == 500 and content_type.startswith("text/xml"), (status, content_type, body[:200])
    code, text = soap_fault(body)
    assert code.split(":")[-1].startswith("Client"), code
    assert SECRET.encode() not in body
    return text


def still_up(base_url: str) -> None:
    client = order_help(base_url)
    assert client.service.obtentionCommunesOperation(entete=entete()).commune


def test_xxe_gets_a_fault_and_never_the_file(opsim_sandbox, secret_file: Path):
    url = f"{opsim_sandbox.http_url}/interop-opc-30"
    for prolog in (f'<!DOCTYPE e [<!ENTITY xxe SYSTEM "file://{secret_file}">]>',
                   f'<!DOCTYPE e [<!ENTITY xxe SYSTEM "{secret_file}">]>',
                   f'<!DOCTYPE e SYSTEM "file://{secret_file}">'):
        text = assert_client_fault(*post(url, communes(prolog=prolog), '"obtentionCommunesOperation"'))
        assert "DTD" in text
    # UTF-16: the byte-level check does not see "<!DOCTYPE", the parser's check must
    body = communes(prolog=f'<!DOCTYPE e [<!ENTITY xxe SYSTEM "file://{secret_file}">]>')
    body = body.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-16"?>')
    body = body.decode().encode("utf-16")
    assert_client_fault(*post(url, body, '"obtentionCommunesOperation"'))
    still_up(opsim_sandbox.http_url)


def test_entity_expansion_is_refused(opsim_sandbox):
    # a billion laughs: l9 expands to 10^9 "lol"
    lol = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    body = communes(nom="&l9;", prolog=f"<!DOCTYPE e [{lol}]>")
    assert_client_fault(*post(f"{opsim_sandbox.http_url}/interop-opc-30", body, '"obtentionCommunesOperation"'))
    still_up(opsim_sandbox.http_url)


def test_oversized_body_is_refused(opsim_sandbox):
    body = communes(nom="DEMO" + " " * (300 * 1024))
    assert_client_fault(*post(f"{opsim_sandbox.http_url}/interop-opc-30", body, '"obtentionCommunesOperation"'))
    still_up(opsim_sandbox.http_url)


@pytest.mark.parametrize("body", [
    b"not xml at all",
    b"<soap:Envelope xmlns:soap='" + ENV.encode() + b"'><soap:Body>",
    b"<Envelope><Body/></Envelope>",
    b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body/></s:Envelope>",
    b"<soap:Envelope xmlns:soap='" + ENV.encode() + b"'><soap:Body/></soap:Envelope>",
    b"<soap:Envelope xmlns:soap='" + ENV.encode() + b"'><soap:Body><x:nope xmlns:x='urn:x'/></soap:Body>"
    b"</soap:Envelope>",
    b"",
])
def test_malformed_envelopes_get_a_client_fault(opsim_sandbox, body: bytes):
    assert_client_fault(*post(f"{opsim_sandbox.http_url}/interop-opc-30", body, '"obtentionCommunesOperation"'))


def test_wrong_or_missing_soapaction_is_refused(opsim_sandbox):
    url = f"{opsim_sandbox.http_url}/interop-opc-30"
    text = assert_client_fault(*post(url, communes(nom="DEMO"), '"obtentionVoiesOperation"'))
    assert "SOAPAction" in text
    assert_client_fault(*post(url, communes(nom="DEMO"), None))
    sav = f"{opsim_sandbox.http_url}/interop-sav-21/services/JVTTroubleTicketSessionWSPort"
    body = (f"<soap:Envelope xmlns:soap='{ENV}'><soap:Body><tt:getSupportedOptionalOperationsRequest "
            f"xmlns:tt='http://ossj.org/xml/TroubleTicket/v1-2'/></soap:Body></soap:Envelope>").encode()
    status, answer, content_type = post(sav, body, '"cancelTroubleTicketByKey"',
                                        {"Authorization": "Basic REVNTzpkZW1v"})  # DEMO:demo
    assert_client_fault(status, answer, content_type)
    assert b"getSupportedOptionalOperationsException" in answer


def test_a_refused_request_is_journaled_against_the_oc_it_names(opsim_sandbox):
    from tests.helpers import Api

    url = f"{opsim_sandbox.http_url}/interop-opc-30"
    assert_client_fault(*post(url, communes(nom="DEMO"), '"obtentionVoiesOperation"'))
    opsim_sandbox.engine.idle()
    lines = [j for j in Api(opsim_sandbox.http_url).get("/journal?tenant=DEMO") if j["channel"] == "soap"]
    assert [j["outcome"] for j in lines] == ["fault malformed"] and "SOAPAction" in lines[0]["detail"]


def test_a_half_sent_body_does_not_hold_the_service(opsim_sandbox):
    host, port = opsim_sandbox.http.address
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(b"POST /interop-opc-30 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                    b"SOAPAction: \"obtentionCommunesOperation\"\r\nContent-Length: 1000\r\n\r\n<soap:Env")
        still_up(opsim_sandbox.http_url)
