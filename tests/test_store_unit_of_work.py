"""The store's unit of work: the orders and sequence numbers of a batch stay in memory, are read and written in
one round, and the batch sees its own writes as it would without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.store import Order, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "opsim.sqlite3")
    store.add_orders([Order("T", f"R{i}", f"P{i}", "N", "AR_OK", {"ReferencePrise": f"S{i}", "n": i},
                            "2026-11-24T10:00:00", "2026-11-24T10:00:00") for i in range(3)], "AR OK")
    yield store
    store.close()


def _steps(store: Store, ref: str) -> list[tuple[str, str]]:
    return [(h["step"], h["state"]) for h in store.order_history("T", ref)]


def test_a_batch_reads_its_orders_once_and_writes_them_when_it_ends(store: Store):
    with store.transaction(), store.unit_of_work(prefetch=[("T", "R0"), ("T", "R1"), ("T", "NONE")]):
        order = store.get_order("T", "R0")
        assert order is not None and order is store.get_order("T", "R0")  # one object per order
        assert store.get_order("T", "NONE") is None
        order.state, order.data["n"] = "CR_OK", 10
        store.save_order(order, "CR OK")
        order.state = "STOC_COMMANDE"
        store.save_order(order, "Cmd STOC")
        # Staged, not yet written: another connection sees the order as it was.
        assert store.get_order("T", "R0", reader=True).state == "AR_OK"  # type: ignore[union-attr]
        # SQL of the batch sees what the batch did.
        assert store.orders_on_socket("T", "S0", ["STOC_COMMANDE"]) == ["R0"]
        assert [r["state"] for r in store.query("SELECT state FROM orders WHERE ref = 'R0'")] == ["STOC_COMMANDE"]
    written = store.get_order("T", "R0", reader=True)
    assert written is not None and (written.state, written.data["n"]) == ("STOC_COMMANDE", 10)
    assert _steps(store, "R0") == [("AR OK", "AR_OK"), ("CR OK", "CR_OK"), ("Cmd STOC", "STOC_COMMANDE")]


def test_sequences_give_the_same_numbers_in_a_batch_and_out_of_one(store: Store):
    assert store.next_sequence("stoc") == 1
    with store.transaction(), store.unit_of_work():
        assert [store.next_sequence("stoc") for _ in range(3)] == [2, 3, 4]
        assert store.reserve_sequence("stoc", 10) == 5
        assert store.next_sequence("route") == 1
    assert store.next_sequence("stoc") == 15
    assert store.next_sequence("route") == 2


def test_a_failed_batch_writes_nothing(store: Store):
    with pytest.raises(RuntimeError), store.transaction(), store.unit_of_work():
        order = store.get_order("T", "R1")
        assert order is not None
        order.state = "CR_KO"
        store.save_order(order, "CR KO")
        store.next_sequence("stoc")
        raise RuntimeError("the batch fails")
    assert store.get_order("T", "R1").state == "AR_OK"  # type: ignore[union-attr]
    assert _steps(store, "R1") == [("AR OK", "AR_OK")]
    assert store.next_sequence("stoc") == 1
    with store.transaction(), store.unit_of_work():  # the next batch starts afresh
        assert store.get_order("T", "R1").state == "AR_OK"  # type: ignore[union-attr]


def test_a_scope_opened_inside_another_joins_it(store: Store):
    with store.transaction(), store.unit_of_work():
        outer = store.get_order("T", "R2")
        with store.unit_of_work(prefetch=[("T", "R2")]):
            assert store.get_order("T", "R2") is outer
            assert outer is not None
            outer.state = "CR_OK"
            store.save_order(outer, "CR OK")
        assert store.get_order("T", "R2", reader=True).state == "AR_OK"  # type: ignore[union-attr]
    assert store.get_order("T", "R2", reader=True).state == "CR_OK"  # type: ignore[union-attr]


def test_orders_added_in_a_batch_are_read_back(store: Store):
    with store.transaction(), store.unit_of_work(prefetch=[("T", "NEW")]):
        assert store.get_order("T", "NEW") is None
        store.add_orders([Order("T", "NEW", "PNEW", "N", "AR_OK", {}, "x", "x")], "AR OK")
        added = store.get_order("T", "NEW")
        assert added is not None and added.prestation == "PNEW"
        assert store.existing_refs("T", ["NEW", "R0", "GONE"]) == {"NEW", "R0"}


def test_units_keep_the_orders_they_wrote_for_the_next_ones(store: Store):
    with store.keeping_orders():
        with store.transaction(), store.unit_of_work(prefetch=[("T", "R0"), ("T", "R1")]):
            written = store.get_order("T", "R0")
            read_only = store.get_order("T", "R1")
            assert written is not None and read_only is not None
            written.state = "CR_OK"
            store.save_order(written, "CR OK")
            read_only.data["n"] = 99  # changed and never saved: not kept, the next unit reads the row again
        with store.transaction(), store.unit_of_work(prefetch=[("T", "R0"), ("T", "R1")]):
            assert store.get_order("T", "R0") is written  # kept, decoded, as its flush wrote it
            again = store.get_order("T", "R1")
            assert again is not read_only and again is not None and again.data["n"] == 1
            written.state = "STOC_COMMANDE"
            store.save_order(written, "Cmd STOC")
        with pytest.raises(RuntimeError), store.transaction(), store.unit_of_work(prefetch=[("T", "R0")]):
            assert store.get_order("T", "R0") is written
            written.state = "CR_KO"
            store.save_order(written, "CR KO")
            raise RuntimeError("the batch fails")
        with store.transaction(), store.unit_of_work(prefetch=[("T", "R0")]):  # a failure drops what was kept
            fresh = store.get_order("T", "R0")
            assert fresh is not written and fresh is not None and fresh.state == "STOC_COMMANDE"
    assert _steps(store, "R0") == [("AR OK", "AR_OK"), ("CR OK", "CR_OK"), ("Cmd STOC", "STOC_COMMANDE")]


def test_the_socket_column_follows_the_order_and_old_data_dirs_get_it(tmp_path: Path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)  # the orders table before the socket column, with its index on the JSON
    old.executescript(
        "CREATE TABLE orders (tenant TEXT NOT NULL, ref TEXT NOT NULL, prestation TEXT NOT NULL UNIQUE, "
        "network TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL, created TEXT NOT NULL, "
        "updated TEXT NOT NULL, PRIMARY KEY (tenant, ref));"
        "CREATE INDEX orders_socket ON orders (json_extract(data, '$.ReferencePrise'));"
        "INSERT INTO orders VALUES ('T', 'A', 'PA', 'N', 'MAD', '{\"ReferencePrise\": \"S1\"}', 'x', 'x');"
        "INSERT INTO orders VALUES ('T', 'B', 'PB', 'N', 'MAD', '{}', 'x', 'x');")
    old.close()
    store = Store(path)
    try:
        assert store.orders_on_socket(None, "S1", ["MAD"]) == ["A"]
        assert {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'index'")} >= {"orders_prise"}
        assert "orders_socket" not in {r[0] for r in store.query("SELECT name FROM sqlite_master")}
        order = store.get_order("T", "B")
        assert order is not None
        order.data["ReferencePrise"] = "S2"
        with store.transaction(), store.unit_of_work():
            store.save_order(order, "CR OK")
        assert store.orders_on_socket("T", "S2", ["MAD"]) == ["B"]
        store.add_orders([Order("T", "C", "PC", "N", "MAD", {"ReferencePrise": "S3"}, "x", "x")], "AR OK")
        assert store.orders_on_socket(None, "S3", ["MAD"]) == ["C"]
    finally:
        store.close()
