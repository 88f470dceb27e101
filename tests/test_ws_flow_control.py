"""Flow control of the web services: at most N requests per second per OC and service (2 by default,
seed 002), per tenant if configured; above it a SOAP fault that says so and a journal finding."""

from __future__ import annotations

import http.client
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
import zeep
from lxml import etree
from zeep.transports import Transport

from simulator.transports.soap import RateLimiter, tenant_limits
from tests.helpers import OpsimProcess
from tests.ws_helpers import entete, order_help


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsimProcess]:
    """`opsim up` in a process of its own, FAST allowed 6 requests a second and the others 2: the server's
    timing is its own, not that of a test process that has run hundreds of tests before."""
    folder = tmp_path_factory.mktemp("flow")
    config = folder / "opsim.toml"
    config.write_text('[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n\n'
                      '[covage]\nws_tenant_rate_limits = "FAST=6"\n', encoding="utf-8")
    process = OpsimProcess(folder / "data", config)
    process.start()
    process.api.post("/tenants", {"code": "FAST", "password": "pw"})
    yield process
    process.stop()


def request_of(base: str, nom: str) -> tuple[str, bytes, dict[str, str]]:
    """The order help request zeep writes for a post code no commune has (answered at once, C01): what is
    counted is the request. Built once and sent raw, so a burst costs the client next to nothing."""
    client = order_help(base)
    message = client.create_message(client.service, "obtentionCommunesOperation", entete=entete(nom=nom),
                                    codePostal="99999")
    operation = client.service._binding._operations["obtentionCommunesOperation"]
    return (f"{base}/interop-opc-30", etree.tostring(message),
            {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{operation.soapaction or ""}"'})


def burst(request: tuple[str, bytes, dict[str, str]], count: int) -> list[tuple[str, str]]:
    """`count` requests at once, each on its own connection from its own thread: (codeErreur or "ok",
    faultcode + faultstring) of each answer."""
    url, body, headers = request
    parts = urlsplit(url)

    def call(_: int) -> tuple[str, str]:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request("POST", parts.path, body=body, headers=headers)
            answer = etree.fromstring(connection.getresponse().read())
        finally:
            connection.close()
        code = answer.findtext(".//{*}codeErreur")
        fault = f"{answer.findtext('.//faultcode')} {answer.findtext('.//faultstring')}"
        return code or "ok", fault

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def admitted(outcomes: list[tuple[str, str]]) -> int:
    """Requests the flow control let through (answered, or refused for another reason than D01)."""
    return sum(code != "D01" for code, _ in outcomes)


def test_a_burst_above_two_per_second_gets_the_flow_control_fault(sandbox: OpsimProcess):
    demo = request_of(sandbox.api.root, "DEMO")
    start = time.monotonic()
    outcomes = burst(demo, 4)
    took = time.monotonic() - start
    assert 2 <= admitted(outcomes) <= 2 * math.ceil(took + 1), (outcomes, took)
    if took < 1.0:  # a machine slow enough to spread them over a second makes no claim on which
        assert admitted(outcomes) == 2, outcomes
    refused = [fault for code, fault in outcomes + burst(demo, 8) if code == "D01"]
    assert refused, "a burst over the limit is refused"
    assert "Client.LimiteDebit" in refused[0] and "2 requests per second" in refused[0], refused[0]
    findings = [j for j in sandbox.api.get("/journal?tenant=DEMO") if j["outcome"] == "flow control"]
    assert findings and findings[0]["channel"] == "soap"
    time.sleep(1.05)  # backing off is enough
    assert admitted(burst(demo, 1)) == 1


def test_the_limit_is_per_tenant_and_per_service(sandbox: OpsimProcess):
    fast = request_of(sandbox.api.root, "FAST")
    start = time.monotonic()
    outcomes = burst(fast, 14)
    took = time.monotonic() - start
    # FAST may make 6 a second where DEMO makes 2: 6 admitted at least, and never more than 6 in any second of
    # the burst (however slow a loaded machine makes it), so a burst within a second has its excess refused.
    assert 6 <= admitted(outcomes) <= 6 * math.ceil(took + 1), (outcomes, took)
    if took < 1.0:
        assert admitted(outcomes) == 6, (outcomes, took)
    session = requests.Session()
    session.auth = ("FAST", "pw")  # the login of a tenant made by the API is its code
    sav = zeep.Client(f"{sandbox.api.root}/interop-sav-21/services/JVTTroubleTicketSessionWSPort?wsdl",
                      transport=Transport(session=session))
    assert sav.service.getSupportedOptionalOperations()  # the SAV service keeps its own count


def test_rate_limiter_window_on_a_fake_clock():
    now = [0.0]
    limiter = RateLimiter(tenant_limits(2, "ACME=3, BIG=10"), clock=lambda: now[0])
    assert [limiter.admit("DEMO", "s") for _ in range(3)] == [True, True, False]
    assert [limiter.admit("ACME", "s") for _ in range(4)] == [True, True, True, False]
    assert limiter.admit("DEMO", "other")
    now[0] = 0.999
    assert not limiter.admit("DEMO", "s")
    now[0] = 1.0
    assert limiter.admit("DEMO", "s")
