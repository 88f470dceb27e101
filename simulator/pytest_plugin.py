"""pytest plugin (entry point `pytest11`): a sandbox in-process, on free ports, in a temporary data dir.

    def test_my_oc_orders(opsim_sandbox):
        host, port = opsim_sandbox.ftp_address
        ...

Override `opsim_config` in your conftest.py to change tenants, the profile or the clock.
The clock starts frozen on a fixed working day, so every run gives the same dates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from simulator.config import ClockConfig, Config, load_config

#: A Tuesday with no French holiday near it: 1 working day later is the Wednesday.
DEFAULT_START = datetime(2026, 11, 24, 10, 0, 0)


@pytest.fixture
def opsim_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """Sandbox configuration used by `opsim_sandbox`: loopback, free ports, frozen clock."""
    config = load_config(None, data_dir=tmp_path_factory.mktemp("opsim"), host="127.0.0.1", ftp_port=0,
                         http_port=0)
    config.clock = ClockConfig(start=DEFAULT_START, frozen=True)
    return config


@pytest.fixture
def opsim_sandbox(opsim_config: Config) -> Iterator:
    """A started sandbox (simulator.sandbox.Sandbox); stopped after the test."""
    from simulator.sandbox import Sandbox

    box = Sandbox(opsim_config).start()
    try:
        yield box
    finally:
        box.stop()
