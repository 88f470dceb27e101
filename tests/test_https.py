"""HTTPS: `--https-port` serves the web services with a certificate from the sandbox CA kept in the data
dir; `opsim up` prints where the CA certificate is; zeep loads both WSDLs over TLS trusting only it."""

from __future__ import annotations

import http.client
import re
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests
import zeep
from cryptography import x509
from zeep.transports import Transport

from simulator.sandbox import Sandbox
from tests.helpers import OpsimProcess
from tests.ws_helpers import entete, fast


@pytest.fixture
def opsim_config(opsim_config):
    opsim_config.https_port = 0
    return fast(opsim_config)


def test_zeep_calls_both_services_over_https_trusting_the_sandbox_ca(opsim_sandbox):
    ca = opsim_sandbox.tls.ca_cert
    assert ca.is_relative_to(opsim_sandbox.config.data_dir)
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would replace `verify`
    session.verify = str(ca)
    order_help = zeep.Client(f"{opsim_sandbox.https_url}/interop-opc-30/wsdl", transport=Transport(session=session))
    [port] = next(iter(order_help.wsdl.services.values())).ports.values()
    assert port.binding_options["address"] == f"{opsim_sandbox.https_url}/interop-opc-30"
    assert order_help.service.obtentionCommunesOperation(entete=entete()).commune
    session.auth = ("DEMO", "demo")
    sav = zeep.Client(f"{opsim_sandbox.https_url}/interop-sav-21/services/JVTTroubleTicketSessionWSPort?wsdl",
                      transport=Transport(session=session))
    assert sav.service.getSupportedOptionalOperations()


def test_a_client_that_does_not_trust_the_ca_is_refused(opsim_sandbox):
    with pytest.raises(urllib.error.URLError) as caught:
        urllib.request.urlopen(f"{opsim_sandbox.https_url}/interop-opc-30/wsdl", timeout=5,
                               context=ssl.create_default_context())
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)


def test_the_ca_is_kept_across_restarts_and_the_server_certificate_is_signed_by_it(opsim_config):
    with Sandbox(opsim_config) as box:
        first = box.tls.ca_cert.read_bytes()
        server = x509.load_pem_x509_certificate(box.tls.server_cert.read_bytes())
    with Sandbox(opsim_config) as box:
        assert box.tls.ca_cert.read_bytes() == first
    ca = x509.load_pem_x509_certificate(first)
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)


def test_opsim_up_prints_the_https_endpoint_and_the_ca(tmp_path: Path):
    config = tmp_path / "opsim.toml"
    config.write_text('[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n', encoding="utf-8")

    class WithHttps(OpsimProcess):
        def args(self) -> list[str]:
            return [*super().args(), "--https-port", "0"]

    process = WithHttps(tmp_path / "data", config)
    process.start()
    try:
        printed = "".join(process.output)
        for _ in range(100):
            if "CA certificate" in printed:
                break
            time.sleep(0.05)
            printed = "".join(process.output)
        found = re.search(r"(https://127\.0\.0\.1:\d+)\s.*CA certificate (\S+)", printed)
        assert found, printed
        assert Path(found[2]).is_file() and Path(found[2]).is_relative_to(tmp_path / "data")
        assert re.search(r"soap\s+http://127\.0\.0\.1:\d+/interop-opc-30/wsdl", printed)
        context = ssl.create_default_context(cafile=found[2])
        with urllib.request.urlopen(f"{found[1]}/interop-opc-30/wsdl", timeout=10, context=context) as answer:
            assert b"OutilAidePriseCommande" in answer.read()
        # zeep, trusting only the printed CA, loads both WSDLs of the running `opsim up` and calls each service.
        session = requests.Session()
        session.trust_env = False
        session.verify = found[2]
        order_help = zeep.Client(f"{found[1]}/interop-opc-30/wsdl", transport=Transport(session=session))
        assert order_help.service.obtentionCommunesOperation(entete=entete()).commune
        session.auth = ("DEMO", "demo")
        sav = zeep.Client(f"{found[1]}/interop-sav-21/services/JVTTroubleTicketSessionWSPort?wsdl",
                          transport=Transport(session=session))
        assert sav.service.getSupportedOptionalOperations()
    finally:
        process.stop()


def _local_ports(connection: http.client.HTTPConnection, path: str, requests_made: int) -> set[int]:
    """The client-side ports a series of requests on one HTTPConnection used: one per TCP connection."""
    ports = set()
    for _ in range(requests_made):
        connection.request("GET", path)
        answer = connection.getresponse()
        assert answer.status == 200 and answer.read()
        assert connection.sock is not None, "the server closed the connection after its answer"
        ports.add(connection.sock.getsockname()[1])
    return ports


def test_requests_share_one_connection_over_http_and_https(opsim_sandbox):
    """Keep-alive: twenty calls of a client are one TCP connection, in clear and over TLS, and the admin API,
    the WSDL and the SOAP services are all served on it."""
    host, port = opsim_sandbox.http.address
    plain = http.client.HTTPConnection(host, port, timeout=30)
    try:
        assert len(_local_ports(plain, "/api/clock", 10) | _local_ports(plain, "/interop-opc-30/wsdl", 10)) == 1
    finally:
        plain.close()
    host, port = opsim_sandbox.https.address
    context = ssl.create_default_context(cafile=str(opsim_sandbox.tls.ca_cert))
    secure = http.client.HTTPSConnection(host, port, timeout=30, context=context)
    try:
        assert len(_local_ports(secure, "/api/clock", 20)) == 1
    finally:
        secure.close()
    # A client asking to close gets its connection closed.
    plain = http.client.HTTPConnection(*opsim_sandbox.http.address, timeout=30)
    plain.request("GET", "/api/clock", headers={"Connection": "close"})
    answer = plain.getresponse()
    assert answer.read() and answer.getheader("Connection", "").lower() == "close"
    plain.close()


def test_an_answer_without_a_body_still_gets_its_head_and_keeps_the_connection(opsim_sandbox):
    """The head of an answer waits for its body's first bytes (one send): a HEAD, which has no body, gets its
    head all the same, and the next request on the connection is answered."""
    connection = http.client.HTTPConnection(*opsim_sandbox.http.address, timeout=10)
    try:
        for path in ("/interop-opc-30/wsdl", "/api/health"):
            connection.request("HEAD", path)
            head = connection.getresponse()
            assert head.status == 200 and head.read() == b"" and int(head.getheader("Content-Length")) > 0
            port = connection.sock.getsockname()[1]
            connection.request("GET", path)
            answer = connection.getresponse()
            assert answer.status == 200 and len(answer.read()) == int(answer.getheader("Content-Length"))
            assert connection.sock.getsockname()[1] == port  # the same connection
    finally:
        connection.close()
