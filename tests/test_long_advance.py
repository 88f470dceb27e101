"""An advance of 60,000 events: answered with a handle to poll (never a 503), and a kill -9 in the middle of
it leaves a data dir that `opsim up` opens, finishes (recovery has no time limit) and answers exactly once."""

from __future__ import annotations

import collections
import time

import pytest

from simulator.operators.covage.harness.client.orders import cmd_acces
from tests.helpers import OpsimProcess, ftp_login, upload
from tests.test_restart import OUT, PACK, collect, lines_by_flow, wait_until

ORDERS = 30_000  # each: a CR, then a Cmd_STOC the same working day: 60,000 events in one advance
PER_FILE = 10_000


@pytest.mark.slow
@pytest.mark.timeout(600)  # 30,000 orders, an advance of 60,000 events, a kill and a recovery
def test_kill_9_during_an_advance_of_60000_events_then_restart_finishes_it(opsim_process: OpsimProcess):
    addresses = opsim_process.api.get("/addresses?network=COVA&limit=50")
    # A saturated PBO answers a new socket CR KO FINT01 (no Cmd_STOC): order where the staircase has a port.
    addresses = [a for a in addresses if any(not line["Occupee"] for line in a["Lignes"]
                                             if line["Escalier"] == (a["Escaliers"] or [""])[0])]
    refs = [f"L{i:06d}" for i in range(ORDERS)]
    ftp = ftp_login(("127.0.0.1", opsim_process.ftp_port))
    for n, start in enumerate(range(0, ORDERS, PER_FILE)):
        records = [cmd_acces(addresses[i % len(addresses)], refs[i]) for i in range(start, start + PER_FILE)]
        name = PACK.render_filename(PACK.flow("Cmd_Acces"), "COVA", "DEMO", "20261124", n + 1)
        upload(ftp, "IN/COVA/CV", name, PACK.flow("Cmd_Acces").write(records))
    ftp.close()
    seen: dict[str, bytes] = {}
    wait_until(lambda: lines_by_flow(collect(opsim_process, seen))["AR_Cmd_Acces"].total() >= ORDERS, timeout=300)
    assert set(lines_by_flow(seen)["AR_Cmd_Acces"].values()) == {1}

    status, started = opsim_process.api.call("POST", "/clock/advance", {"working_days": 1, "wait": 0})
    assert status == 202 and started["state"] == "running", started
    assert opsim_process.api.headers["Location"] == started["poll"]
    poll = started["poll"].removeprefix("/api")

    def under_way() -> bool:  # some batches committed, most of the work still to do
        state = opsim_process.api.get(poll)
        assert state["state"] == "running", state
        return state["due_events"] < 2 * ORDERS - 4000
    wait_until(under_way, timeout=300, every=0.05)
    opsim_process.kill9()

    opsim_process.output.clear()
    opsim_process.start()  # recovery runs the rest of the advance before the ready line, however long it takes
    recovery = [line for line in opsim_process.output if line.startswith("opsim: recovering")]
    assert recovery and "due events to run" in recovery[0], opsim_process.output[:5]
    left = int(recovery[0].split(", ")[1].split()[0])
    assert 0 < left < 2 * ORDERS, recovery[0]
    assert opsim_process.api.get("/clock")["now"].startswith("2026-11-25T10:00")

    def all_answered() -> bool:
        counts = lines_by_flow(collect(opsim_process, seen))
        return counts["CR_Cmd_Acces"].total() >= ORDERS and counts["Cmd_STOC"].total() >= ORDERS
    wait_until(all_answered, timeout=120)
    time.sleep(0.5)  # anything emitted twice would show up now
    counts = lines_by_flow(collect(opsim_process, seen))
    for flow in ("AR_Cmd_Acces", "CR_Cmd_Acces", "Cmd_STOC"):
        assert set(counts[flow]) == set(refs), flow
        assert set(counts[flow].values()) == {1}, f"{flow}: some order answered twice"
    states = collections.Counter(o["state"] for o in opsim_process.api.get(f"/orders?tenant=DEMO&limit={ORDERS}"))
    assert states == {"STOC_COMMANDE": ORDERS}
    emitted = opsim_process.api.get("/files?tenant=DEMO&limit=100000")
    assert sorted(f["filename"] for f in emitted) == sorted(seen)
    assert all(f["delivered"] for f in emitted)
    assert not any(name.startswith("COVA") for name in ftp_login(("127.0.0.1", opsim_process.ftp_port)).nlst(OUT))
