"""Capacity: many concurrent FTP sessions, each an OC dropping an order and fetching its AR, all served.

A smaller run of `python -m bench.ftp_sessions` (500 sessions there; figures in docs/performance.md).
No timing is asserted: only that every session got its own OK answer.
"""

from __future__ import annotations

import ftplib

import pytest

from bench.ftp_sessions import Endpoint, prepare, run_sessions
from bench.scenarios import Progress
from simulator.transports.ftp import FtpTransport


def test_200_concurrent_sessions_each_get_their_ar_without_error(opsim_sandbox):
    endpoint = Endpoint(opsim_sandbox.ftp_address, opsim_sandbox.http_url, opsim_sandbox.pack)
    sessions = prepare(endpoint, 200, Progress(quiet=True))
    run_sessions(endpoint, sessions, poll=0.05, timeout=60, progress=Progress(quiet=True))
    errors = [f"{s.tenant}: {s.error or 'did not finish'}" for s in sessions if not s.ok]
    assert errors == []
    assert len({s.tenant for s in sessions}) == 200


def test_connection_limits_are_parameters(opsim_sandbox):
    """max_cons_per_ip limits control connections from one address (421); other addresses' room is intact."""
    box = opsim_sandbox
    transport = FtpTransport(box.engine, box.mailboxes, box.tenants.of("covage"), "127.0.0.1", 0, max_cons=64,
                             max_cons_per_ip=2, backlog=16)
    transport.start()
    try:
        assert transport.server.max_cons == 64 and transport.server.backlog == 16
        first, second = ftplib.FTP(), ftplib.FTP()
        for ftp in (first, second):
            ftp.connect(*transport.address, timeout=10)
            ftp.login("DEMO", "demo")
        third = ftplib.FTP()
        with pytest.raises(ftplib.error_temp, match="421 Too many connections from the same IP"):
            third.connect(*transport.address, timeout=10)  # the 421 comes instead of the 220 banner
        third.close()
        second.quit()  # room again
        again = ftplib.FTP()
        again.connect(*transport.address, timeout=10)
        again.login("DEMO", "demo")
        assert sorted(again.nlst()) == ["IN", "OUT"]
        again.quit()
        first.quit()
    finally:
        transport.stop()
