"""A data dir written before operators were composed (one operator, one capability, homes at ftp/<TENANT>) opens
as the operator whose profile names a `legacy_capability`: its files, pending events and FTP homes become that
operator's, and nothing of it is lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from simulator.config import load_config
from simulator.sandbox import Sandbox


def test_a_data_dir_of_before_the_operators_is_the_legacy_operators(tmp_path: Path):
    data = tmp_path / "data"
    (data / "ftp" / "DEMO" / "OUT" / "COVA" / "CV").mkdir(parents=True)
    (data / "ftp" / "DEMO" / "OUT" / "COVA" / "CV" / "kept.csv").write_bytes(b"an answer not yet read\n")
    old = sqlite3.connect(data / "opsim.sqlite3")
    with old:
        old.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, channel TEXT NOT NULL, "
                    "location TEXT NOT NULL, filename TEXT NOT NULL, flow TEXT NOT NULL, content BLOB NOT NULL, "
                    "lines INTEGER NOT NULL, at_virtual TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, "
                    "UNIQUE (tenant, location, filename))")
        old.execute("INSERT INTO outbox VALUES (1, 'DEMO', 'ftp', 'OUT/COVA/CV', 'kept.csv', 'AR_Cmd_Acces', "
                    "x'00', 1, '2026-11-24T10:00:00', 1)")
        old.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, due REAL NOT NULL, kind TEXT NOT NULL, "
                    "tenant TEXT NOT NULL, ref TEXT NOT NULL, payload TEXT NOT NULL DEFAULT '{}', "
                    "done INTEGER NOT NULL DEFAULT 0)")
        old.execute("INSERT INTO events VALUES (1, 4102444800, 'cr_cmd', 'DEMO', 'CMD1', '{}', 0)")  # in 2100
    old.close()
    config = load_config(None, data_dir=data, host="127.0.0.1", ftp_port=0, http_port=0)
    with Sandbox(config):
        pass
    db = sqlite3.connect(data / "opsim.sqlite3")
    assert db.execute("SELECT operator, filename FROM outbox").fetchall() == [("covage", "kept.csv")]
    assert db.execute("SELECT kind FROM events WHERE id = 1").fetchone() == ("covage:access:cr_cmd",)
    assert (data / "ftp" / "covage" / "DEMO" / "OUT" / "COVA" / "CV" / "kept.csv").read_bytes() == \
        b"an answer not yet read\n"
    assert not (data / "ftp" / "DEMO").exists()
