"""A large file is answered in slices by a real `opsim up`: another tenant's small file is answered between two
slices, and a kill -9 between two slices resumes the file at restart, answering every line exactly once.
Timings are reported, not asserted (the goal lives in `bench/scale_bench.py`)."""

from __future__ import annotations

import collections
import sqlite3
import time
from pathlib import Path

import pytest

from simulator.operators.covage.harness.client.orders import cmd_acces
from tests.helpers import OpsimProcess, ftp_login, upload
from tests.test_restart import OUT, PACK, collect, lines_by_flow, wait_until

LARGE = 16_000


@pytest.fixture
def two_tenants(tmp_path: Path):
    """`opsim up` with DEMO and ACME (login acme, password pw), clock frozen."""
    config = tmp_path / "opsim.toml"
    config.write_text('[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n\n'
                      '[[tenants]]\ncode = "ACME"\nlogin = "acme"\npassword = "pw"\n', encoding="utf-8")
    process = OpsimProcess(tmp_path / "data", config)
    process.start()
    yield process
    process.stop()


def large_file(process: OpsimProcess, prefix: str) -> tuple[list[str], bytes]:
    addresses = process.api.get("/addresses?network=COVA&limit=50")
    refs = [f"{prefix}{i:05d}" for i in range(LARGE)]
    return refs, PACK.flow("Cmd_Acces").write([cmd_acces(addresses[i % len(addresses)], ref)
                                               for i, ref in enumerate(refs)])


def name(tenant: str, seq: int) -> str:
    return PACK.render_filename(PACK.flow("Cmd_Acces"), "COVA", tenant, "20261124", seq)


def ar_names(folder: Path) -> list[str]:
    return [p.name for p in folder.glob("*ARCMD*.csv")] if folder.is_dir() else []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_neighbours_file_is_answered_while_a_large_file_is_in_slices(two_tenants: OpsimProcess):
    _, content = large_file(two_tenants, "A")
    out = two_tenants.data_dir / "ftp" / "covage"
    demo, acme = ftp_login(("127.0.0.1", two_tenants.ftp_port)), \
        ftp_login(("127.0.0.1", two_tenants.ftp_port), "acme", "pw")
    upload(demo, "IN/COVA/CV", name("DEMO", 1), content)
    time.sleep(0.2)  # the large file is under way
    small = cmd_acces(two_tenants.api.get("/addresses?network=COVA&limit=1")[0], "B00001")
    t0 = time.monotonic()
    upload(acme, "IN/COVA/CV", name("ACME", 1), PACK.flow("Cmd_Acces").write([small]))
    wait_until(lambda: ar_names(out / "ACME" / OUT), timeout=120, every=0.01)
    delay = time.monotonic() - t0
    assert not ar_names(out / "DEMO" / OUT), "the neighbour's AR waited for the large file's"
    wait_until(lambda: ar_names(out / "DEMO" / OUT), timeout=240, every=0.05)
    large = time.monotonic() - t0
    print(f"\nneighbour's AR {delay:.2f} s after its STOR (target 1 s, bench/scale_bench.py); "
          f"the {LARGE}-order file's AR {large:.2f} s after")
    demo.close()
    acme.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_between_two_slices_resumes_the_file_and_answers_every_line_once(opsim_process: OpsimProcess):
    refs, content = large_file(opsim_process, "K")
    ftp = ftp_login(("127.0.0.1", opsim_process.ftp_port))
    upload(ftp, "IN/COVA/CV", name("DEMO", 1), content)
    ftp.close()
    store = opsim_process.data_dir / "opsim.sqlite3"

    def some_slices_committed() -> bool:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            row = db.execute("SELECT lines FROM inbox_progress").fetchone()
        return row is not None and 0 < row[0] <= LARGE // 2
    wait_until(some_slices_committed, timeout=120, every=0.02)
    opsim_process.kill9()
    assert not ar_names(opsim_process.data_dir / "ftp" / "covage" / "DEMO" / OUT)

    opsim_process.output.clear()
    opsim_process.start()  # recovery finishes the file before the ready line
    recovery = [line for line in opsim_process.output if line.startswith("opsim: recovering")]
    assert recovery and "1 inbound files to finish" in recovery[0], opsim_process.output[:5]
    seen: dict[str, bytes] = {}
    wait_until(lambda: lines_by_flow(collect(opsim_process, seen))["AR_Cmd_Acces"].total() >= LARGE, timeout=120)
    time.sleep(0.5)  # anything emitted twice would show up now
    ars = lines_by_flow(collect(opsim_process, seen))["AR_Cmd_Acces"]
    assert len(seen) == 1, sorted(seen)  # one AR for the whole file
    assert set(ars) == set(refs) and set(ars.values()) == {1}
    [ar] = seen.values()
    assert {r["EtatArCommandePrise"] for r in PACK.flow("AR_Cmd_Acces").parse(ar).records} == {"OK"}
    orders = opsim_process.api.get(f"/orders?tenant=DEMO&limit={2 * LARGE}")
    assert sorted(o["ReferenceCommandePriseInterneOC"] for o in orders) == sorted(refs)
    assert len({o["ReferencePrestationPrise"] for o in orders}) == LARGE
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:  # each order's CR on the clock, once
        events = collections.Counter(db.execute("SELECT kind, ref FROM events WHERE tenant = 'DEMO'").fetchall())
    assert set(events.values()) == {1} and {kind for kind, _ in events} == {"covage:access:cr_cmd"}
    assert {ref for _, ref in events} == set(refs)
    assert not any(n.startswith("COVA") for n in ftp_login(("127.0.0.1", opsim_process.ftp_port)).nlst("IN/COVA/CV"))
