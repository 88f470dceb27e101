"""The admin API's bounds: clock moves, list sizes and cursors, request and body sizes, and a data dir
that a bad stored clock can no longer make unusable. Real HTTP (urllib, http.client, raw sockets).
"""

from __future__ import annotations

import ftplib
import http.client
import json
import logging
import socket
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conformance.client import SandboxAdmin
from simulator.clock import MAX_TIMESTAMP, ClockState, restore_state, to_timestamp
from simulator.config import load_config
from simulator.sandbox import Sandbox
from simulator.store import Order, Store
from tests.helpers import Api, cmd_acces, upload, wait_for_files
from tests.test_api_auth import raw


@pytest.fixture
def opsim_config(opsim_config):  # noqa: ANN001, ANN201 - the plugin's Config
    # These tests jump the clock by years: each jump sends a weekly IPE per network. A small network keeps
    # those files (and the test) small.
    opsim_config.operators["covage"] = opsim_config.operators["covage"].with_overrides({"network_size": 300})
    return opsim_config


def post_raw(url: str, path: str, body: bytes) -> tuple[int, dict]:
    status, _, answer = raw(url, "POST", path, body, {"Content-Type": "application/json"})
    return status, json.loads(answer)


# ---------------------------------------------------------------- clock
@pytest.mark.parametrize("body", [b'{"speed": 1e308}', b'{"speed": 1e400}', b'{"speed": Infinity}',
                                  b'{"speed": NaN}', b'{"speed": -Infinity}', b'{"speed": true}',
                                  b'{"speed": "60"}', b'{"speed": 0}', b'{"speed": 0.0001}', b'{"speed": 10001}',
                                  b'{"speed": 1, "extra": 1}', b'[60]', b'"60"', b'60'])
def test_resume_refuses_unusable_speeds(opsim_sandbox, body: bytes):
    status, answer = post_raw(opsim_sandbox.http_url, "/api/clock/resume", body)
    assert status == 400 and answer["error"] == "Bad Request" and answer["detail"]
    assert Api(opsim_sandbox.http_url).get("/clock")["frozen"] is True  # not resumed at the old speed either


@pytest.mark.parametrize("body", [b'{"hours": 1e308}', b'{"hours": Infinity}', b'{"hours": NaN}',
                                  b'{"seconds": 1e300}', b'{"working_days": 1000000000}', b'{"working_days": 1.5}',
                                  b'{"working_days": true}', b'{"hours": "1"}', b'{"hours": -1}',
                                  b'{"hours": 50000}', b'{"working_days": 1' + b'0' * 40 + b'}', b'{}', b'null'])
def test_advance_refuses_unbounded_moves(opsim_sandbox, body: bytes):
    status, answer = post_raw(opsim_sandbox.http_url, "/api/clock/advance", body)
    assert status == 400 and answer["detail"]
    assert Api(opsim_sandbox.http_url).get("/clock")["now"] == "2026-11-24T10:00:00"


def test_clock_bounds_accept_the_extremes_and_stop_before_overflow(api: Api):
    assert api.post("/clock/resume", {"speed": 10000})["speed"] == 10000
    assert api.post("/clock/resume", {"speed": 0.01})["speed"] == 0.01
    api.post("/clock/freeze")
    assert api.post("/clock/advance", {"working_days": 1300})["now"].startswith("2032-01-2")
    for _ in range(300):  # at most five years a call: the bound (year 3000) is reached, then refused
        status, answer = api.call("POST", "/clock/advance", {"hours": 43000})
        if status != 200:
            break
    assert status == 400 and "stops at" in answer["detail"]
    assert api.get("/clock")["now"] < "3000"
    assert api.post("/clock/advance", {"hours": 1})  # still usable


def test_speed_1e308_no_longer_bricks_the_data_dir(opsim_config, tmp_path: Path):
    opsim_config.clock.frozen = False  # as `opsim up` with no [clock] section
    with Sandbox(opsim_config) as box:
        assert Api(box.http_url).call("POST", "/clock/resume", {"speed": 1e308})[0] == 400
        Api(box.http_url).post("/clock/resume", {"speed": 10000})
    with Sandbox(opsim_config) as box:  # the same data dir opens, clock running at the bound
        assert Api(box.http_url).get("/clock")["speed"] == 10000


# ---------------------------------------------------------------- a bad clock already stored
def store_clock(data_dir: Path, text: str) -> None:
    db = sqlite3.connect(data_dir / "opsim.sqlite3")
    db.execute("UPDATE meta SET value = ? WHERE key = 'clock'", (text,))
    db.commit()
    db.close()


START = to_timestamp(datetime(2026, 11, 24, 10))


@pytest.mark.parametrize(("speed", "real_ago"), [
    (1e308, 60), (float("inf"), 0), (float("nan"), 0), (-5, 0),  # json.dumps writes Infinity, NaN
    (9000, 86400 * 365),  # a sane speed, run for a year: past the year 3000
    (1, "yesterday")], ids=["1e308", "inf", "nan", "negative", "ran-out", "bad-real-anchor"])
def test_bad_stored_clock_is_repaired_frozen_at_its_last_time(opsim_config, speed: float, real_ago, caplog):
    real = time.time() - real_ago if isinstance(real_ago, int) else real_ago
    stored = json.dumps({"anchor_virtual": START, "anchor_real": real, "speed": speed})
    Sandbox(opsim_config).stop()  # a data dir with a clock row (never started: stop frees it)
    store_clock(opsim_config.data_dir, stored)
    opsim_config.clock.frozen = False
    with caplog.at_level(logging.WARNING, logger="simulator.sandbox"), Sandbox(opsim_config) as box:
        clock = Api(box.http_url).get("/clock")
        assert clock["now"] == "2026-11-24T10:00:00" and clock["frozen"] is True
        assert Api(box.http_url).post("/clock/resume")["speed"] == 1.0  # usable again
    assert "clock repaired" in caplog.text
    repaired = json.loads(sqlite3.connect(opsim_config.data_dir / "opsim.sqlite3").execute(
        "SELECT value FROM meta WHERE key = 'clock'").fetchone()[0])
    assert repaired["speed"] == 1.0  # written back as resumed, finite


@pytest.mark.parametrize("stored", [
    '{"anchor_virtual": 1e308, "anchor_real": 0, "speed": 1}',
    '{"anchor_virtual": Infinity, "anchor_real": 0, "speed": 1}', "not json", "[]", "{}"])
def test_unreadable_stored_clock_starts_frozen_at_the_configured_start(opsim_config, stored: str):
    Sandbox(opsim_config).stop()  # never started: closes the store and frees the data dir
    store_clock(opsim_config.data_dir, stored)
    with Sandbox(opsim_config) as box:
        assert Api(box.http_url).get("/clock")["now"] == "2026-11-24T10:00:00"


def test_opsim_up_starts_on_a_data_dir_with_an_infinite_clock(opsim_process, tmp_path: Path):
    opsim_process.stop()
    store_clock(opsim_process.data_dir, json.dumps({"anchor_virtual": START, "anchor_real": 0, "speed": float("inf")}))
    opsim_process.start()  # `opsim up` exited with OverflowError here before
    assert opsim_process.api.get("/clock") == {"now": "2026-11-24T10:00:00", "frozen": True, "speed": 0.0,
                                               "working_day": True, "holiday": None}


def test_restore_state_keeps_a_sane_state_as_it_is():
    state = ClockState(START, 1000.0, 60.0, 60.0)
    assert restore_state(json.dumps(state.__dict__), 1010.0, 0.0) == (state, None)
    frozen, problem = restore_state(json.dumps({**state.__dict__, "speed_before_freeze": 1e308}), 1010.0, 0.0)
    assert frozen.speed_before_freeze == 1.0 and problem
    assert restore_state(json.dumps({**state.__dict__, "anchor_virtual": MAX_TIMESTAMP + 1}), 1010.0, 5.0)[0] \
        == ClockState(5.0, 1010.0, 0.0, 60.0)


# ---------------------------------------------------------------- query parameters
@pytest.mark.parametrize("query", ["/orders?tenant=DEMO&limit=%C2%B2", "/orders?tenant=DEMO&limit=-1",
                                   "/orders?tenant=DEMO&limit=0", "/orders?tenant=DEMO&limit=1.5",
                                   "/journal?limit=%D9%A3", "/journal?since=-1", "/journal?since=99999999999999999999",
                                   "/journal?since=%C2%B2", "/files?limit=abc", "/addresses?limit=%EF%BC%91",
                                   "/orders?tenant=DEMO&cursor=nope", "/journal?cursor=WyJvcmRlcnMiLCJhIiwiYiJd",
                                   "/files?cursor=WyJmaWxlcyIsLTFd", "/addresses?cursor=" + "A" * 2000])
def test_bad_query_parameters_get_400(api: Api, query: str):
    status, answer = api.call("GET", query)
    assert status == 400 and answer["detail"], answer


def test_limit_is_capped_and_huge_limits_are_cheap(api: Api):
    started = time.monotonic()
    status, journal = api.call("GET", "/journal?limit=200000")
    assert status == 200 and len(journal) <= 1000
    status, _ = api.call("GET", "/addresses?limit=" + "9" * 25)
    assert status == 200 and time.monotonic() - started < 5


@pytest.fixture
def five_orders(opsim_sandbox, demo_ftp: ftplib.FTP, addresses, order_file) -> list[str]:
    refs = [f"PG{i}" for i in range(5)]
    for i, ref in enumerate(refs):  # five files: five orders, five AR files
        name, content = order_file([cmd_acces(addresses[i], ref)])
        upload(demo_ftp, "IN/COVA/CV", name, content)
    wait_for_files(demo_ftp, "OUT/COVA/CV", count=5)
    opsim_sandbox.engine.idle()
    return refs


def follow(api: Api, path: str) -> list[list]:
    """Every page of a list, by the Link rel=next header; checks X-Next-Cursor says the same."""
    pages = [api.get(path)]
    while "Link" in api.headers:
        link, rel = api.headers["Link"].split(";")
        assert rel.strip() == 'rel="next"'
        assert f"cursor={api.headers['X-Next-Cursor']}" in link
        status, page = api.call("GET", link.strip(" <>").removeprefix("/api"))
        assert status == 200
        pages.append(page)
    assert "X-Next-Cursor" not in api.headers
    return pages


def test_orders_pages_by_cursor(api: Api, five_orders: list[str]):
    pages = follow(api, "/orders?tenant=DEMO&limit=2")
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [o["ReferenceCommandePriseInterneOC"] for p in pages for o in p] == five_orders
    assert api.get("/orders?tenant=DEMO&limit=5") == [o for p in pages for o in p]
    assert "Link" not in api.headers  # everything fits: no next page
    admin = SandboxAdmin(api.root)
    assert [o["ReferenceCommandePriseInterneOC"] for o in admin.get_all("/orders", tenant="DEMO", limit=1)] \
        == five_orders


def test_the_listing_gives_each_order_as_its_own_page_does_without_history(api: Api, five_orders: list[str]):
    listed = api.get("/orders?tenant=DEMO")
    assert api.headers["Content-Type"] == "application/json"
    for order in listed:
        alone = api.get(f"/orders/{order['ReferenceCommandePriseInterneOC']}?tenant=DEMO")
        assert alone["history"] and order == {**alone, "history": []}


def test_the_listing_writes_stored_data_as_the_json_it_was(tmp_path: Path):
    """The listing's JSON comes from SQLite, not from json.dumps: odd values come back as they went in."""
    store = Store(tmp_path / "opsim.sqlite3")
    odd = {"NomVoie": "Rue de l'Église \"haute\" \\ n°2\t", "Ligne": "a\u2028b\x01", "Emoji": "\U0001f600",
           "Nombre": 1.5, "Entier": 12, "Vide": None, "Liste": [1, {"x": "é"}], "ReferencePrise": "S-1"}
    orders = [Order("DEMO", f"R{i}", f"P{i}", "COVA", "ACK", {**odd, "i": i}, f"2026-11-24T10:00:0{i % 2}",
                    "2026-11-24T10:00:00") for i in range(5)]
    with store.transaction():
        store.add_orders(orders, "AR OK")
    rows = store.orders_json("DEMO", 3)
    assert [(created, ref) for created, ref, _ in rows] == [(o.created, o.ref) for o in store.orders("DEMO", 3)]
    assert [json.loads(doc) for _, _, doc in rows] == [o.as_json() for o in store.orders("DEMO", 3)]
    rest = store.orders_json("DEMO", 10, after=rows[-1][:2])
    assert [ref for _, ref, _ in rows + rest] == [o.ref for o in store.orders("DEMO")] and len(rest) == 2
    assert store.orders_json("ACME") == []


def test_files_page_by_cursor(api: Api, five_orders: list[str]):
    everything = api.get("/files?tenant=DEMO")
    assert len(everything) == 5
    pages = follow(api, "/files?tenant=DEMO&limit=2")
    assert [f for p in pages for f in p] == everything


def test_journal_pages_walk_back_from_the_newest(api: Api, five_orders: list[str]):
    everything = api.get("/journal?tenant=DEMO")
    assert len(everything) > 6
    pages = follow(api, "/journal?tenant=DEMO&limit=3")
    assert pages[0] == everything[-3:]  # the first page is the newest lines, oldest first, as before
    assert [j for p in reversed(pages) for j in p] == everything
    since = everything[2]["id"]
    assert [j for p in reversed(follow(api, f"/journal?tenant=DEMO&limit=2&since={since}")) for j in p] \
        == everything[3:]


def test_addresses_page_by_cursor(api: Api):
    pages = follow(api, "/addresses?network=COVB&limit=1000")
    everything = [a for p in pages for a in p]
    assert [len(p) for p in pages[:-1]] == [1000] * (len(pages) - 1) and 0 < len(pages[-1]) <= 1000
    small = follow(api, "/addresses?network=COVB&limit=400")
    assert [a for p in small for a in p] == everything
    assert len({a["IdentifiantImmeuble"] for a in everything}) == len(everything)
    api.get("/addresses?network=COVB&limit=1")
    status, answer = api.call("GET", "/addresses?network=COVA&cursor=" + api.headers["X-Next-Cursor"])
    assert status == 400 and "network" in answer["detail"]


# ---------------------------------------------------------------- request and body sizes
def send_raw(url: str, data: bytes) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_request_line_over_64k_gets_414_and_the_server_lives(opsim_sandbox):
    for _ in range(3):
        answer = send_raw(opsim_sandbox.http_url, b"GET /api/orders?tenant=" + b"A" * 70_000 + b" HTTP/1.1\r\n"
                          b"Host: 127.0.0.1\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 414") and b"application/json" in head
        assert json.loads(body)["error"] == "Request-URI Too Long"
    assert Api(opsim_sandbox.http_url).get("/clock")["frozen"] is True


def test_oversized_or_garbage_headers_answer_json(opsim_sandbox):
    answer = send_raw(opsim_sandbox.http_url, b"GET /api/clock HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + b"a" * 70_000
                      + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431") and json.loads(answer.partition(b"\r\n\r\n")[2])["detail"]
    answer = send_raw(opsim_sandbox.http_url, b"GET /api/clock HTTP/9.9\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 505") and json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
    answer = send_raw(opsim_sandbox.http_url, b"\x16\x03\x01 garbage\r\n\r\n")  # a TLS hello, say
    assert answer.startswith(b"HTTP/1.1 400") and json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
    assert Api(opsim_sandbox.http_url).get("/clock")["frozen"] is True


def test_deep_huge_and_odd_bodies_get_400_or_413(opsim_sandbox):
    url = opsim_sandbox.http_url
    for body, expected in [(b"[" * 100_000 + b"]" * 100_000, 400), (b'{"a":' * 50 + b"1" + b"}" * 50, 400),
                           (b'{"code": "X", "password": "' + b"x" * (2 * 1024 * 1024) + b'"}', 413),
                           (b'{"code": "AB", "password": "\\ud800"}', 400), (b"\xff\xfe{}", 400),
                           (b'{"code": "AB", "password": "x"', 400), (b'"just a string"', 400), (b"[]", 400),
                           (b'{"code": 12, "password": "x"}', 400), (b'{"code": "AB", "password": 1}', 400),
                           (b'{"code": "AB", "password": "x", "login": "has space"}', 400)]:
        status, _, answer = raw(url, "POST", "/api/tenants", body, {"Content-Type": "application/json"})
        assert status == expected, (body[:60], answer[:200])
        assert json.loads(answer)["detail"]
    assert {t["code"] for t in Api(url).get("/tenants")} == {"DEMO"}


def test_chunked_body_over_the_cap_gets_413(opsim_sandbox):
    parts = urlsplit(opsim_sandbox.http_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = [b'{"code": "BIG", "password": "', *[b"x" * 65536] * 20, b'"}']  # no Content-Length: chunked
    conn.request("POST", "/api/tenants", body=iter(body), headers={"Content-Type": "application/json"},
                 encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 413 and "over" in json.loads(response.read())["detail"]
    conn.close()
    assert "BIG" not in Api(opsim_sandbox.http_url).get("/health")["tenants"]


def test_config_speed_is_bounded_too(tmp_path: Path):
    config = load_config(None, data_dir=tmp_path, host="127.0.0.1", ftp_port=0, http_port=0)
    config.clock.speed = float("inf")
    with pytest.raises(ValueError, match="speed"):
        Sandbox(config)
