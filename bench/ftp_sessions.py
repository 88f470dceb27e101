"""Capacity benchmark: N concurrent FTP sessions (`python -m bench.ftp_sessions --sessions 500`).

Each session is one OC (its own tenant, created through the admin API beforehand): it
connects, logs in, drops a one-order Cmd_Acces file into IN, polls OUT until its AR is there, checks
the AR answers its own reference with OK, fetches and deletes it, and quits. All sessions start
together (a barrier), each on its own client thread, and (unless --no-hold) wait for each other once
logged in, so that all N control connections are open at once when the N uploads start. The report
gives the errors (any exception or wrong answer; the target is 0), the total time, and per-session
times (p50, p90, p99, max).

The sandbox runs in this process, on loopback, as in `python -m bench.run` (so the client threads and
the server share one interpreter); `--process` runs `opsim up` in a subprocess instead. Exit status 1
when any session failed.
"""

from __future__ import annotations

import argparse
import ftplib
import io
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .measures import distribution, machine
from .scenarios import DATE, NETWORK, Progress

IN = "IN/COVA/CV"
OUT = "OUT/COVA/CV"


@dataclass
class Session:
    """One OC's session; times in seconds from the common start."""

    index: int
    tenant: str
    ref: str
    filename: str
    content: bytes
    connected: float = 0.0  # 220 banner read and logged in
    stored: float = 0.0  # 226 for the order file
    answered: float = 0.0  # AR listed in OUT
    done: float = 0.0  # AR fetched, deleted, QUIT answered
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.done > 0


@dataclass
class Endpoint:
    """Where the sandbox under test listens."""

    ftp: tuple[str, int]
    http: str
    pack: Any
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- the sandbox
@contextmanager
def in_process(progress: Progress) -> Iterator[Endpoint]:
    from . import scenarios

    with scenarios.sandbox(progress) as (box, _):
        yield Endpoint(box.ftp_address, box.http_url, box.pack,
                       {"ftp_max_cons": box.ftp["covage"].server.max_cons if box.ftp else None})


@contextmanager
def subprocess_sandbox(progress: Progress) -> Iterator[Endpoint]:
    """`opsim up` in a subprocess (its own interpreter), clock frozen like the in-process sandbox."""
    from simulator.specs.codec import load_pack

    with tempfile.TemporaryDirectory(prefix="opsim-bench-") as tmp:
        config = Path(tmp) / "opsim.toml"
        config.write_text('[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n', encoding="utf-8")
        progress.step(f"starting opsim up in {tmp}")
        proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "up", "--data-dir", f"{tmp}/data",
                                 "--config", str(config), "--ftp-port", "0", "--http-port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            ready = ""
            assert proc.stdout is not None
            while "http://" not in ready:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"opsim up did not start: {ready}")
                ready += line
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            ftp = re.search(r"ftp://127\.0\.0\.1:(\d+)", ready)
            http = re.search(r"(http://127\.0\.0\.1:\d+)", ready)
            assert ftp and http, ready
            yield Endpoint(("127.0.0.1", int(ftp[1])), http[1], load_pack("acces-1.2"), {"pid": proc.pid})
        finally:
            proc.terminate()
            proc.wait(timeout=15)


# ---------------------------------------------------------------------- the OC side
def _api(base: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{base}/api{path}", data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.load(response)


def prepare(endpoint: Endpoint, count: int, progress: Progress) -> list[Session]:
    """One tenant per session (S0001, S0002...) and its one-order file."""
    from simulator.operators.covage.harness.client.orders import cmd_acces

    addresses = _api(endpoint.http, f"/addresses?network={NETWORK}&limit=50")
    existing = {t["code"] for t in _api(endpoint.http, "/tenants")}
    flow = endpoint.pack.flow("Cmd_Acces")
    sessions = []
    for i in range(count):
        tenant = f"S{i + 1:04d}"
        if tenant not in existing:
            _api(endpoint.http, "/tenants", {"code": tenant, "password": f"pw{tenant}"})
        ref = f"SESS{i + 1:06d}"
        record = cmd_acces(addresses[i % len(addresses)], ref, date=DATE)
        sessions.append(Session(i, tenant, ref, endpoint.pack.render_filename(flow, NETWORK, tenant, DATE, 1),
                                flow.write([record])))
        progress.count("tenants and files", i + 1, count)
    return sessions


def run_session(endpoint: Endpoint, s: Session, start: float, poll: float, timeout: float,
                logged_in: threading.Barrier | None = None) -> None:
    """One OC's whole session; any failure is recorded in s.error, never raised. With `logged_in`, the
    session waits there once logged in (a failed one passes it too, so that the others go on)."""
    ftp = ftplib.FTP(timeout=timeout)
    waiting = logged_in
    try:
        ftp.connect(*endpoint.ftp)
        ftp.login(s.tenant, f"pw{s.tenant}")
        s.connected = time.perf_counter() - start
        if waiting is not None:
            waiting, _ = None, waiting.wait(timeout)
        ftp.storbinary(f"STOR {IN}/{s.filename}", io.BytesIO(s.content))
        s.stored = time.perf_counter() - start
        deadline = time.perf_counter() + timeout
        while True:
            names = [n.rsplit("/", 1)[-1] for n in ftp.nlst(OUT) if n.endswith(".csv")]
            if names:
                break
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no AR in OUT after {timeout:.0f} s")
            time.sleep(poll)
        s.answered = time.perf_counter() - start
        if len(names) != 1:
            raise AssertionError(f"{len(names)} files in OUT: {names}")
        body = io.BytesIO()
        ftp.retrbinary(f"RETR {OUT}/{names[0]}", body.write)
        records = endpoint.pack.flow("AR_Cmd_Acces").parse(body.getvalue()).records
        states = [(r["ReferenceCommandePriseInterneOC"], r["EtatArCommandePrise"]) for r in records]
        if states != [(s.ref, "OK")]:
            raise AssertionError(f"AR {names[0]} says {states}, expected [({s.ref!r}, 'OK')]")
        ftp.delete(f"{OUT}/{names[0]}")
        ftp.quit()
        s.done = time.perf_counter() - start
    except Exception as e:  # the benchmark counts every failure, of any kind
        s.error = f"{type(e).__name__}: {e}"
        ftp.close()
        if waiting is not None:
            with suppress(threading.BrokenBarrierError):
                waiting.wait(timeout)


def run_sessions(endpoint: Endpoint, sessions: list[Session], poll: float, timeout: float,
                 progress: Progress, hold: bool = True) -> float:
    """All sessions at once (a barrier); with `hold`, all logged in before any upload. The wall time
    from the start to the last session's end."""
    barrier = threading.Barrier(len(sessions) + 1)
    logged_in = threading.Barrier(len(sessions)) if hold else None
    start_box: list[float] = []

    def worker(s: Session) -> None:
        barrier.wait()
        run_session(endpoint, s, start_box[0], poll, timeout, logged_in)

    threads = [threading.Thread(target=worker, args=(s,), name=f"oc-{s.tenant}", daemon=True) for s in sessions]
    for t in threads:
        t.start()
    start_box.append(time.perf_counter())
    barrier.wait()
    progress.step(f"{len(sessions)} sessions started")
    for i, t in enumerate(threads):
        t.join(timeout + 60)
        progress.count("sessions finished", i + 1, len(threads))
    return time.perf_counter() - start_box[0]


def report(sessions: list[Session], wall: float, options: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    ok = [s for s in sessions if s.ok]
    errors = Counter(re.sub(r"\d{3,}", "N", s.error or "did not finish") for s in sessions if not s.ok)
    return {
        "date": time.strftime("%Y-%m-%d"), "machine": machine(),
        "command": " ".join(["python -m bench.ftp_sessions", *sys.argv[1:]]), "options": options, **extra,
        "sessions": len(sessions), "ok": len(ok), "errors": len(sessions) - len(ok),
        "error_kinds": dict(errors.most_common(10)), "total_ms": wall * 1000,
        "session": distribution([s.done for s in ok]) if ok else {},
        "login": distribution([s.connected for s in ok]) if ok else {},
        "stored": distribution([s.stored for s in ok]) if ok else {},
        "answered": distribution([s.answered for s in ok]) if ok else {},
    }


def table(r: dict[str, Any]) -> str:
    m = r["machine"]
    head = f"{'':44} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}"
    lines = [f"opsim FTP sessions, {r['date']}: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['os']}",
             f"command: {r['command']}", "",
             f"{r['sessions']} concurrent sessions ({r['options']['mode']} sandbox"
             f"{', all logged in before the uploads' if r['options']['hold'] else ''}): {r['ok']} OK, "
             f"{r['errors']} errors; all done in {r['total_ms'] / 1000:.2f} s", head, "-" * len(head)]
    rows = (("session: connect .. QUIT answered", "session"), ("  logged in (the last one: all)", "login"),
            ("  order file stored (226)", "stored"), ("  its AR listed in OUT", "answered"))
    for label, key in rows:
        d = r[key]
        if d:
            lines.append(f"{label:44} " + " ".join(f"{d[k]:8.0f}" for k in ("median", "p90", "p99", "max")))
    lines.append("(ms from the common start of all sessions)")
    for kind, n in r["error_kinds"].items():
        lines.append(f"  {n} x {kind}")
    return "\n".join(lines)


def measure(count: int, poll_ms: float, timeout: float, mode: str, hold: bool,
            progress: Progress) -> dict[str, Any]:
    sandbox = subprocess_sandbox if mode == "process" else in_process
    with sandbox(progress) as endpoint:
        sessions = prepare(endpoint, count, progress)
        wall = run_sessions(endpoint, sessions, poll_ms / 1000, timeout, progress, hold)
        return report(sessions, wall, {"sessions": count, "poll_ms": poll_ms, "timeout_s": timeout, "mode": mode,
                                       "hold": hold}, endpoint.extra)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ftp_sessions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=500, help="concurrent FTP sessions (default 500)")
    parser.add_argument("--poll-ms", type=float, default=50.0, help="sleep between two NLST polls of OUT (default 50)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-session socket and answer timeout, s")
    parser.add_argument("--process", action="store_true", help="run `opsim up` in a subprocess")
    parser.add_argument("--no-hold", dest="hold", action="store_false",
                        help="do not wait for all sessions to be logged in before the uploads")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= 5000:
        parser.error("--sessions: 1 to 5000")
    result = measure(args.sessions, args.poll_ms, args.timeout, "process" if args.process else "in-process",
                     args.hold, Progress())
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
