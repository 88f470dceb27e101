"""Due events fired together (the engine's batches, the store's unit of work) answer exactly as events fired one at
a time: the same lines in the same order, the same orders, states and histories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import simulator.engine
from simulator.config import ClockConfig, load_config
from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import annul_acces, cmd_acces
from simulator.pytest_plugin import DEFAULT_START
from simulator.sandbox import Sandbox
from tests.helpers import Api

OTHER = "B2"  # a second OC, ordering the socket one of DEMO's orders holds (an overwrite when both are delivered)


def _free_line(address: dict[str, Any]) -> str:
    return next(line["ReferencePrise"] for line in address["Lignes"] if not line["Occupee"])


def _orderable(address: dict[str, Any]) -> bool:
    """A new socket on the first staircase gets a CR OK (its PBO has a free port); see tests/conftest.py."""
    first = (address["Escaliers"] or [""])[0]
    return any(not line["Occupee"] for line in address["Lignes"] if line["Escalier"] == first)


@pytest.fixture
def sandbox_at(tmp_path: Path) -> Iterator[Any]:
    boxes: list[Sandbox] = []

    def start(name: str) -> Sandbox:
        config = load_config(None, data_dir=tmp_path / name, host="127.0.0.1", ftp_port=0, http_port=0)
        config.clock = ClockConfig(start=DEFAULT_START, frozen=True)
        boxes.append(Sandbox(config).start())
        return boxes[-1]

    yield start
    for box in boxes:
        box.stop()


def _play(box: Sandbox) -> dict[str, Any]:
    """Orders that take every path of the access desk's events, two advances, and what came of them."""
    api = Api(box.http_url)
    api.post("/tenants", {"code": OTHER, "password": "pw"})
    addresses = api.get("/addresses?network=COVA&limit=200")
    ok = [a for a in addresses if _orderable(a)]
    saturated = next(a for a in addresses if not _orderable(a) and a["Escaliers"])
    shared = _free_line(ok[8])
    # The first CR of DEMO is followed by a Notif_Reprov in the same batch: its order is saved twice.
    status, _ = api.call("POST", "/faults?tenant=DEMO", {"action": "reprovision", "motif": "Fibre HS"})
    assert status == 201
    host, port = box.ftp_address
    demo = [
        *(cmd_acces(ok[i], f"S{i}") for i in range(4)),  # CR, Cmd_STOC, then no CR_STOC: the deadline
        cmd_acces(ok[4], "K1", CommentaireCmdAcces="OPSIM:FINT04"),  # a CR KO on demand
        cmd_acces(ok[5], "O1", type_racco="OI"),  # CR, then CR MAD
        cmd_acces(ok[6], "H1", existing=""),  # a Hotline CR (STOC)
        cmd_acces(ok[7], "H2", existing="", type_racco="OI"),  # a Hotline CR, the operator's reprovisioning
        cmd_acces(ok[8], "X1", existing=shared, type_racco="OI"),  # delivered, then overwritten by OTHER's
        cmd_acces(ok[9], "C1"),  # cancelled before its CR: its event does nothing
        cmd_acces(saturated, "F1"),  # a saturated PBO: CR KO FINT01
    ]
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=lambda: date(2026, 11, 24)) as oc:
        oc.send("Cmd_Acces", demo)
        ars = {r["ReferenceCommandePriseInterneOC"]: r for r in oc.receive("AR_Cmd_Acces").records}
        assert all(r["EtatArCommandePrise"] == "OK" for r in ars.values()), ars
        oc.send("Annul_Acces", [annul_acces("C1", ars["C1"]["ReferencePrestationPrise"], date="20261124")])
        oc.receive("CR_Annulation_Acces")
    with OcFtpClient(host, port, OTHER, "pw", OTHER, today=lambda: date(2026, 11, 24)) as oc:
        oc.send("Cmd_Acces", [cmd_acces(ok[8], "X2", existing=shared, type_racco="OI")])
        assert oc.receive("AR_Cmd_Acces").single()["EtatArCommandePrise"] == "OK"
    api.post("/clock/advance", {"working_days": 1})
    api.post("/clock/advance", {"working_days": 12})  # past the Cmd_STOCs' deadline
    answers: dict[str, list[bytes]] = {}  # the data lines of each tenant's flow, in the order they were written
    for tenant in ("DEMO", OTHER):
        for file in box.store.emitted(tenant):  # by id
            content = box.store.outbound_content(tenant, file["id"])
            assert content is not None
            answers.setdefault(f"{tenant} {file['flow']}", []).extend(content.splitlines()[1:])
    orders = {(o["tenant"], o["ReferenceCommandePriseInterneOC"]): (o["state"], o["data"])
              for tenant in ("DEMO", OTHER) for o in api.get(f"/orders?tenant={tenant}&limit=100")}
    histories = {key: [(h["at_virtual"], h["step"], h["state"], h["detail"])
                       for h in box.store.order_history(*key)] for key in orders}
    return {"answers": answers, "orders": orders, "histories": histories}


def test_due_events_in_batches_answer_as_one_at_a_time(sandbox_at, monkeypatch: pytest.MonkeyPatch):
    batched = _play(sandbox_at("batched"))
    monkeypatch.setattr(simulator.engine, "DUE_BATCH", 1)
    alone = _play(sandbox_at("alone"))
    # The scenario took the paths it names: a test of nothing would pass too.
    flows = set(batched["answers"])
    assert {"DEMO CR_Cmd_Acces", "DEMO Cmd_STOC", "DEMO Notif_Reprov", "DEMO CR_MAD_Ligne", "DEMO Notif_Racc_Ko",
            "DEMO Notif_Ecrasement", f"{OTHER} CR_MAD_Ligne"} <= flows, flows
    states = {key[1]: state for key, (state, _) in batched["orders"].items()}
    assert (states["C1"], states["K1"], states["F1"], states["X1"], states["X2"]) == (
        "ANNULE", "CR_KO", "CR_KO", "ECRASE", "MAD"), states
    assert len(batched["answers"]["DEMO CR_Cmd_Acces"]) == 10  # every order but the cancelled one
    assert batched["answers"] == alone["answers"]
    assert batched["orders"] == alone["orders"]
    assert batched["histories"] == alone["histories"]
