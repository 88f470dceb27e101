"""Inbound files that wait together in the engine's queue are answered in one transaction (a savepoint each) and
one delivery round: each gets its own answer, a file that breaks the capability is rolled back alone and kept in
quarantine, and a tenant's files keep their order."""

from __future__ import annotations

import threading

from simulator.operators.covage.access import AccessDesk
from tests.helpers import Api, cmd_acces, wait_for_files

IN, OUT = "IN/COVA/CV", "OUT/COVA/CV"


def queue_together(sandbox, files: list[tuple[str, bytes]], commits: int = 2) -> None:  # noqa: ANN001 - Sandbox
    """Put the files in DEMO's IN and hand them to the engine while it is held busy, so they wait together; they
    take `commits` commits (the files', their delivery's, and one per file kept in quarantine)."""
    mailboxes = sandbox.mailboxes
    release = threading.Event()
    statements: list[str] = []  # the writer's statements
    sandbox.engine.call(lambda: sandbox.store._db.set_trace_callback(statements.append))
    sandbox.engine.begin(lambda: release.wait(10))
    for name, content in files:
        path = mailboxes.home("DEMO") / IN / name
        path.write_bytes(content)
        drop = mailboxes.drop_of(path)
        sandbox.engine.submit(drop.read(path, "ftp", 0), path, mailboxes.handed("DEMO"))
    release.set()
    sandbox.engine.idle()
    sandbox.engine.call(lambda: sandbox.store._db.set_trace_callback(None))
    assert statements.count("COMMIT") == commits, statements


def test_files_waiting_together_each_get_their_answer(opsim_sandbox, demo_ftp, order_file, addresses, api: Api):
    files = [order_file([cmd_acces(addresses[i], f"TOG{i}")]) for i in range(5)]
    queue_together(opsim_sandbox, files)

    answers = wait_for_files(demo_ftp, OUT, count=5)
    assert len(answers) == 5 and all("ARCMD" in name for name in answers)
    orders = api.get("/orders?tenant=DEMO&limit=100")
    assert sorted(o["ReferenceCommandePriseInterneOC"] for o in orders) == [f"TOG{i}" for i in range(5)]
    assert not list((opsim_sandbox.mailboxes.home("DEMO") / IN).glob("*.csv"))  # every IN file removed
    assert not opsim_sandbox.mailboxes.answering("DEMO")  # the transport was told each is answered
    received = api.get("/inbound?tenant=DEMO")
    assert [r["filename"] for r in received] == [name for name, _ in files]  # in the order they came


def test_a_file_that_breaks_is_rolled_back_alone(opsim_sandbox, demo_ftp, order_file, addresses, api: Api,
                                                 monkeypatch):
    files = [order_file([cmd_acces(addresses[i], f"BRK{i}")]) for i in range(3)]
    broken = files[1][0]
    receive_slices = AccessDesk.receive_slices

    def breaking(self, doc, now, progress):  # noqa: ANN001, ANN202 - the capability's own signature
        if doc.filename == broken:  # when its first slice is asked for, inside the engine's transaction
            raise RuntimeError("a bug in the capability")
        yield from receive_slices(self, doc, now, progress)
    monkeypatch.setattr(AccessDesk, "receive_slices", breaking)
    queue_together(opsim_sandbox, files, commits=3)

    answers = wait_for_files(demo_ftp, OUT, count=2)
    assert len(answers) == 2
    orders = api.get("/orders?tenant=DEMO&limit=100")
    assert sorted(o["ReferenceCommandePriseInterneOC"] for o in orders) == ["BRK0", "BRK2"]  # nothing of BRK1
    assert (opsim_sandbox.config.data_dir / "quarantine" / "DEMO" / broken).read_bytes() == files[1][1]
    journal = api.get("/journal?tenant=DEMO&limit=200")
    assert any(line["filename"] == broken and line["outcome"] == "internal error" for line in journal)
    assert not list((opsim_sandbox.mailboxes.home("DEMO") / IN).glob("*.csv"))
