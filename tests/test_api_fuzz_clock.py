"""Property: random clock moves, good and bad, leave a data dir that the next start opens.

Apart from test_api_fuzz.py because two sandboxes alive in one process share pyftpdlib's IOLoop, and
stopping one closes the other's sockets: this test must not overlap that module's long-lived sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.clock import MAX_SPEED
from simulator.sandbox import Sandbox
from tests.helpers import Api
from tests.test_api_fuzz import ADMIN_TOKEN, DOC, check, make_config, requests, send


def test_a_fuzzed_clock_leaves_a_data_dir_that_opens(tmp_path: Path):
    """Random clock moves on one data dir, then a restart on it: the clock is still readable."""
    config = make_config(tmp_path / "data")
    config.clock.frozen = False
    with Sandbox(config) as box:
        clock_moves = st.sampled_from(["/api/clock/resume", "/api/clock/advance", "/api/clock/freeze"]).flatmap(
            lambda path: st.tuples(st.just(path), requests(path, "post")))

        @settings(max_examples=75, deadline=None, database=None)
        @given(move=clock_moves)
        def run(move: tuple[str, dict[str, Any]]) -> None:
            path, request = move
            check(DOC["paths"][path]["post"], request, *send(box.http_url, request))

        run()
        Api(box.http_url, ADMIN_TOKEN).post("/clock/resume", {"speed": MAX_SPEED})
    with Sandbox(config) as box:
        clock = Api(box.http_url, ADMIN_TOKEN).get("/clock")
        assert clock["now"] >= "2026-11-24" and clock["speed"] == MAX_SPEED
