"""Flow control of the web services: at most N requests per second per OC and service (2 by default,
seed 002), per tenant if configured; above it a SOAP fault that says so and a journal finding."""

from __future__ import annotations

import time

import pytest
import requests
import zeep
from zeep.transports import Transport

from simulator.config import Tenant
from simulator.transports.soap import RateLimiter, tenant_limits
from tests.helpers import Api
from tests.ws_helpers import entete, fault_code, order_help


@pytest.fixture
def opsim_config(opsim_config):
    opsim_config.tenants = [Tenant("FAST", "fast", "pw")]
    opsim_config.operators["covage"] = opsim_config.covage.with_overrides({"ws_tenant_rate_limits": "FAST=6"})
    return opsim_config


def burst(client: zeep.Client, nom: str, count: int) -> list[str]:
    """`count` calls at once; what each got: "ok" or the fault's codeErreur."""
    outcomes = []
    for _ in range(count):
        try:
            client.service.obtentionCommunesOperation(entete=entete(nom=nom))
            outcomes.append("ok")
        except zeep.exceptions.Fault as f:
            outcomes.append(fault_code(f)[0])
    return outcomes


def test_a_burst_above_two_per_second_gets_the_flow_control_fault(opsim_sandbox):
    client = order_help(opsim_sandbox.http_url)
    start = time.monotonic()
    outcomes = burst(client, "DEMO", 4)
    if time.monotonic() - start < 1.0:  # on a machine slow enough to spread them over a second, no claim
        assert outcomes[:2] == ["ok", "ok"] and "D01" in outcomes[2:]
    with pytest.raises(zeep.exceptions.Fault) as caught:
        for _ in range(3):
            client.service.obtentionCommunesOperation(entete=entete())
    assert caught.value.code.endswith("Client.LimiteDebit")
    assert "2 requests per second" in caught.value.message
    opsim_sandbox.engine.idle()
    findings = [j for j in Api(opsim_sandbox.http_url).get("/journal?tenant=DEMO") if j["outcome"] == "flow control"]
    assert findings and findings[0]["channel"] == "soap"
    time.sleep(1.05)  # backing off is enough
    assert burst(client, "DEMO", 1) == ["ok"]


def test_the_limit_is_per_tenant_and_per_service(opsim_sandbox):
    client = order_help(opsim_sandbox.http_url)
    start = time.monotonic()
    outcomes = burst(client, "FAST", 6)
    if time.monotonic() - start < 1.0:
        assert outcomes == ["ok"] * 6
    assert "D01" in burst(client, "FAST", 8)
    session = requests.Session()
    session.auth = ("fast", "pw")
    sav = zeep.Client(f"{opsim_sandbox.http_url}/interop-sav-21/services/JVTTroubleTicketSessionWSPort?wsdl",
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
