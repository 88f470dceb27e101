"""Fixtures of the core tests (the sandbox itself comes from the opsim pytest plugin)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Api, ftp_login


@pytest.fixture
def api(opsim_sandbox) -> Api:
    return Api(opsim_sandbox.http_url)


@pytest.fixture
def demo_ftp(opsim_sandbox):
    ftp = ftp_login(opsim_sandbox.ftp_address)
    yield ftp
    ftp.close()


@pytest.fixture
def addresses(api: Api) -> list[dict[str, Any]]:
    return api.get("/addresses?network=COVA&limit=40")


@pytest.fixture
def order_file(opsim_sandbox):
    """Render a Cmd_Acces (or another flow) file: (name, bytes) for DEMO on COVA."""
    pack = opsim_sandbox.pack
    seq = iter(range(1, 10_000))

    def render(records: list[dict[str, str]], flow: str = "Cmd_Acces", oc: str = "DEMO",
               oi: str = "COVA") -> tuple[str, bytes]:
        spec = pack.flow(flow)
        return pack.render_filename(spec, oi, oc, "20261124", next(seq)), spec.write(records)

    return render

