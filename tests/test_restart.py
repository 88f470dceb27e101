"""kill -9 during a flow, restart on the same data dir: nothing lost, nothing emitted twice.

This runs the real `opsim up` in a subprocess and talks to it with ftplib and HTTP only.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time

import pytest

from conformance import waiting
from simulator.operators.covage.harness.client.orders import cmd_acces
from simulator.specs.codec import load_pack
from tests.helpers import OpsimProcess, download, ftp_login, upload

PACK = load_pack("acces-1.2")
OUT = "OUT/COVA/CV"
ORDERS = 1500


def collect(srv: OpsimProcess, ftp_seen: dict[str, bytes]) -> dict[str, bytes]:
    """Download (and delete, as an OC does) every answer file now in OUT; remember it by name."""
    ftp = ftp_login(("127.0.0.1", srv.ftp_port))
    for name in ftp.nlst(OUT):
        if name.endswith(".csv"):
            assert name not in ftp_seen, f"{name} emitted twice"
            ftp_seen[name] = download(ftp, f"{OUT}/{name}")
            ftp.delete(f"{OUT}/{name}")
    ftp.close()
    return ftp_seen


def lines_by_flow(files: dict[str, bytes]) -> dict[str, collections.Counter]:
    """How many answer lines each order got, per flow."""
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, content in files.items():
        parsed = PACK.parse_filename(name)
        assert parsed is not None, name
        for record in parsed.flow.parse(content).records:
            counts[parsed.flow.name][record["ReferenceCommandePriseInterneOC"]] += 1
    return counts


def wait_until(predicate, timeout: float = 30, every: float = 0.1) -> None:  # noqa: ANN001
    waiting.wait_until(predicate, timeout, "the sandbox's answers", every)


@pytest.mark.parametrize("kill_after", [0.0, 0.08, 0.3])
def test_kill_9_during_a_flow_loses_nothing_and_emits_nothing_twice(opsim_process: OpsimProcess, kill_after: float):
    addresses = opsim_process.api.get("/addresses?network=COVA&limit=50")
    # A saturated PBO answers a new socket CR KO FINT01 (no Cmd_STOC): order where the staircase has a port.
    addresses = [a for a in addresses if any(not line["Occupee"] for line in a["Lignes"]
                                             if line["Escalier"] == (a["Escaliers"] or [""])[0])]
    refs = [f"K{i:05d}" for i in range(ORDERS)]
    records = [cmd_acces(addresses[i % len(addresses)], ref) for i, ref in enumerate(refs)]
    name = PACK.render_filename(PACK.flow("Cmd_Acces"), "COVA", "DEMO", "20261124", 1)
    ftp = ftp_login(("127.0.0.1", opsim_process.ftp_port))
    upload(ftp, "IN/COVA/CV", name, PACK.flow("Cmd_Acces").write(records))
    ftp.close()
    opsim_process.kill9()  # at once: the file may or may not have been processed

    opsim_process.start()
    seen: dict[str, bytes] = {}
    wait_until(lambda: lines_by_flow(collect(opsim_process, seen))["AR_Cmd_Acces"].total() >= ORDERS)
    ar = lines_by_flow(seen)["AR_Cmd_Acces"]
    assert set(ar) == set(refs) and set(ar.values()) == {1}
    assert len(opsim_process.api.get("/orders?tenant=DEMO&limit=10000")) == ORDERS

    # Kill while the CRs of the next working day are being emitted.
    def advance() -> None:
        with contextlib.suppress(OSError):  # the server dies under this request
            opsim_process.api.call("POST", "/clock/advance", {"working_days": 1})

    advancing = threading.Thread(target=advance)
    advancing.start()
    time.sleep(kill_after)
    opsim_process.kill9()
    advancing.join()

    opsim_process.start()
    if opsim_process.api.get("/clock")["now"] < "2026-11-25T10:00:00":  # the kill came before the advance
        opsim_process.api.post("/clock/advance", {"working_days": 1})

    def all_answered() -> bool:
        counts = lines_by_flow(collect(opsim_process, seen))
        return counts["CR_Cmd_Acces"].total() >= ORDERS and counts["Cmd_STOC"].total() >= ORDERS

    wait_until(all_answered)
    time.sleep(0.5)  # anything emitted twice would show up now
    counts = lines_by_flow(collect(opsim_process, seen))
    for flow in ("AR_Cmd_Acces", "CR_Cmd_Acces", "Cmd_STOC"):
        assert set(counts[flow]) == set(refs), flow
        assert set(counts[flow].values()) == {1}, f"{flow}: some order answered twice"
    states = collections.Counter(o["state"] for o in opsim_process.api.get("/orders?tenant=DEMO&limit=10000"))
    assert states == {"STOC_COMMANDE": ORDERS}
    emitted = opsim_process.api.get("/files?tenant=DEMO")
    assert sorted(f["filename"] for f in emitted) == sorted(seen)
    assert all(f["delivered"] for f in emitted)
