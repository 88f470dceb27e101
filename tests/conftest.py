"""Fixtures of the core tests (the sandbox itself comes from the opsim pytest plugin)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Api, OpsimProcess, ftp_login

# Networks the suite draws (hundreds of sizes and seeds) are kept in a cache of its own, beside pytest's, so
# that they neither evict nor read the user's (simulator/refdata/generator.py, cache_dir); every `opsim up` the
# suite starts inherits it.
os.environ.setdefault("OPSIM_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "opsim"))

#: Modules whose tests each play whole conformance runs (a sandbox, an adapter, tens of scenarios), the longest
#: first: marked `slow` (`make quick` leaves them out) and started first. With `--maxschedchunk 1` (Makefile) a
#: worker takes the next test when it is free, so the longest never start last and alone on one worker.
SLOW_MODULES = ("test_shell_adapter", "test_reference_adapter", "test_examiner_self_test", "test_every_reject_code",
                "test_long_advance", "test_fuzz", "test_conformance_run", "test_ws_conformance", "test_pm_conformance")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank: dict[str, int] = {}
    for item in items:
        module = getattr(item, "module", None)
        name = module.__name__.rpartition(".")[2] if module is not None else ""
        if name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        rank[item.nodeid] = SLOW_MODULES.index(name) if name in SLOW_MODULES else len(SLOW_MODULES)
    items.sort(key=lambda item: rank[item.nodeid])  # stable: the rest keep their order


@pytest.fixture
def opsim_process(tmp_path: Path):
    """A real `opsim up` subprocess (clock frozen on 2026-11-24 10:00), stopped after the test."""
    config = tmp_path / "opsim.toml"
    config.write_text('[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n', encoding="utf-8")
    process = OpsimProcess(tmp_path / "data", config)
    process.start()
    yield process
    process.stop()


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
def orderable(api: Api) -> list[dict[str, Any]]:
    """Addresses where a new socket ordered as cmd_acces writes it gets its CR OK: the first staircase
    (the one cmd_acces names) has a free socket, so its PBO is not saturated (FINT01)."""
    found = [a for a in api.get("/addresses?network=COVA&limit=200")
             if any(not line["Occupee"] for line in a["Lignes"] if line["Escalier"] == (a["Escaliers"] or [""])[0])]
    assert len(found) >= 10, "the reference network has too few addresses with a free socket"
    return found


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

