"""Flow control of the web services: at most N requests per second per OC and service (2 by default,
seed 002), per tenant if configured; above it a SOAP fault that says so and a journal finding."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

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


def burst(client: zeep.Client, nom: str, count: int) -> list[str | zeep.exceptions.Fault]:
    """`count` calls at once, from as many threads (a burst lands within a second even on a loaded machine);
    what each got: "ok", or the fault."""
    def call(_: int) -> str | zeep.exceptions.Fault:
        try:
            # A post code no commune has: the answer is at once (C01), what is counted is the request.
            client.service.obtentionCommunesOperation(entete=entete(nom=nom), codePostal="99999")
        except zeep.exceptions.Fault as f:
            return f
        return "ok"

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def admitted(outcome: str | zeep.exceptions.Fault) -> str:
    """"ok" for a call the flow control let through (answered, or refused for another reason), else D01."""
    code = outcome if isinstance(outcome, str) else fault_code(outcome)[0]
    return "D01" if code == "D01" else "ok"


def codes(outcomes: list[str | zeep.exceptions.Fault]) -> list[str]:
    return sorted(admitted(o) for o in outcomes)


def ready(opsim_sandbox) -> zeep.Client:
    """A client whose first call is behind it (zeep's first call is slow), made as FAST: DEMO's count is
    untouched."""
    client = order_help(opsim_sandbox.http_url)
    burst(client, "FAST", 1)
    return client


def test_a_burst_above_two_per_second_gets_the_flow_control_fault(opsim_sandbox):
    client = ready(opsim_sandbox)
    start = time.monotonic()
    outcomes = burst(client, "DEMO", 4)
    if time.monotonic() - start < 1.0:  # on a machine slow enough to spread them over a second, no claim
        assert codes(outcomes) == ["D01", "D01", "ok", "ok"]
    faults = [o for o in outcomes if admitted(o) == "D01"]
    for size in (8, 16):  # a loaded machine may spread a burst over seconds: larger ones until one is refused
        faults = faults or [o for o in burst(client, "DEMO", size) if admitted(o) == "D01"]
    assert faults, "a burst over the limit is refused"
    assert faults[0].code.endswith("Client.LimiteDebit")
    assert "2 requests per second" in faults[0].message
    opsim_sandbox.engine.idle()
    findings = [j for j in Api(opsim_sandbox.http_url).get("/journal?tenant=DEMO") if j["outcome"] == "flow control"]
    assert findings and findings[0]["channel"] == "soap"
    time.sleep(1.05)  # backing off is enough
    assert codes(burst(client, "DEMO", 1)) == ["ok"]


def test_the_limit_is_per_tenant_and_per_service(opsim_sandbox):
    client = ready(opsim_sandbox)
    time.sleep(1.05)  # the warm-up call out of FAST's window
    start = time.monotonic()
    outcomes = codes(burst(client, "FAST", 14))
    took = time.monotonic() - start
    # FAST may make 6 a second where DEMO makes 2: 6 admitted at least, and never more than 6 in any second of
    # the burst (however slow a loaded machine makes it), so a burst within a second has its excess refused.
    admitted = outcomes.count("ok")
    assert 6 <= admitted <= 6 * math.ceil(took + 1), (outcomes, took)
    if took < 1.0:
        assert admitted == 6, (outcomes, took)
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
