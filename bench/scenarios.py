"""The measured scenarios: sandbox start, single-order drops, one large order file.

The sandbox runs in this process exactly as the pytest plugin starts it (temporary data dir,
loopback, free ports, clock frozen on 2026-11-24 10:00); the OC side is a real ftplib client.
"""

from __future__ import annotations

import ftplib
import importlib
import io
import json
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .probes import EngineProbe, FileTiming

if TYPE_CHECKING:
    from simulator.config import Config
    from simulator.sandbox import Sandbox

START = datetime(2026, 11, 24, 10, 0, 0)  # the pytest plugin's DEFAULT_START
DATE = "20261124"
NETWORK = "COVA"
TENANT, LOGIN, PASSWORD = "DEMO", "DEMO", "demo"


# ---------------------------------------------------------------------- progress
class Progress:
    """Progress lines on stderr (rewritten in place on a terminal)."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()

    def step(self, message: str) -> None:
        if not self.quiet:
            print(f"[bench] {message}", file=sys.stderr, flush=True)

    def count(self, label: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.tty:
            end = "\n" if done == total else ""
            print(f"\r[bench] {label} {done}/{total}", end=end, file=sys.stderr, flush=True)
        elif done == total or done % max(1, total // 10) == 0:
            print(f"[bench] {label} {done}/{total}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- sandbox
@dataclass
class StartTiming:
    """Seconds: import of simulator.sandbox (first only), Sandbox(config), start(), until FTP says 220."""

    imported: float
    construct: float
    start: float
    ready: float

    @property
    def total(self) -> float:
        """Sandbox(config).start() until the FTP server answers a connection with its banner."""
        return self.construct + self.start + self.ready


def _config(data_dir: Path) -> Config:
    """The pytest plugin's configuration: loopback, free ports, clock frozen on START."""
    from simulator.config import ClockConfig, load_config

    config = load_config(None, data_dir=data_dir, host="127.0.0.1", ftp_port=0, http_port=0)
    config.clock = ClockConfig(start=START, frozen=True)
    return config


def start_sandbox(data_dir: Path) -> tuple[Sandbox, StartTiming]:
    """Start a sandbox like the pytest plugin does, timing each phase up to the FTP banner."""
    t0 = time.perf_counter()
    sandbox_module = importlib.import_module("simulator.sandbox")
    t1 = time.perf_counter()
    config = _config(data_dir)
    t2 = time.perf_counter()
    box = sandbox_module.Sandbox(config)
    t3 = time.perf_counter()
    box.start()
    t4 = time.perf_counter()
    host, port = box.ftp_address
    deadline = t4 + 10
    while True:
        try:
            probe = ftplib.FTP(timeout=5)
            probe.connect(host, port)  # returns once the 220 banner is read: the server loop is serving
            probe.close()
            break
        except (OSError, ftplib.Error):
            if time.perf_counter() > deadline:
                box.stop()
                raise
            time.sleep(0.001)
    t5 = time.perf_counter()
    return box, StartTiming(imported=t1 - t0, construct=t3 - t2, start=t4 - t3, ready=t5 - t4)


def extra_starts(count: int, progress: Progress) -> list[StartTiming]:
    """Start and stop `count` more sandboxes, each in a fresh data dir (modules already imported)."""
    timings = []
    for i in range(count):
        with tempfile.TemporaryDirectory(prefix="opsim-bench-") as tmp:
            box, timing = start_sandbox(Path(tmp))
            box.stop()
            timings.append(timing)
        progress.count("sandbox starts", i + 1, count)
    return timings


# ---------------------------------------------------------------------- the OC side
class OcClient:
    """A DEMO OC on FTP: drops order files in IN, polls OUT for the answers."""

    def __init__(self, box: Sandbox, poll_sleep: float):
        self.box = box
        self.pack = box.pack
        self.poll_sleep = poll_sleep
        network = box.config.operators["covage"].network(NETWORK)
        self.in_dir = f"IN/{network.interop}/{network.arcep}"
        self.out_dir = f"OUT/{network.interop}/{network.arcep}"
        host, port = box.ftp_address
        self.ftp = ftplib.FTP(timeout=60)
        self.ftp.connect(host, port)
        self.ftp.login(LOGIN, PASSWORD)
        self.cmd_flow = self.pack.flow("Cmd_Acces")

    def close(self) -> None:
        try:
            self.ftp.quit()
        except (OSError, ftplib.Error):
            self.ftp.close()

    def addresses(self, limit: int) -> list[dict[str, Any]]:
        """Deployed addresses of the network, from the admin API."""
        url = f"{self.box.http_url}/api/addresses?network={NETWORK}&limit={limit}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)

    def filename(self, seq: int) -> str:
        return self.pack.render_filename(self.cmd_flow, NETWORK, TENANT, DATE, seq)

    def content(self, records: list[dict[str, str]]) -> bytes:
        """A Cmd_Acces file as an OC writes it: header, ';', CRLF, ISO-8859-1 (the pack's writer)."""
        return self.cmd_flow.write(records)

    def store(self, filename: str, content: bytes) -> None:
        self.ftp.storbinary(f"STOR {self.in_dir}/{filename}", io.BytesIO(content))

    def answers(self) -> list[str]:
        """CSV files now in OUT (NLST; an empty folder may be answered with 550)."""
        try:
            names = self.ftp.nlst(self.out_dir)
        except ftplib.error_perm:
            return []
        return [n.rsplit("/", 1)[-1] for n in names if n.lower().endswith(".csv")]

    def wait_answer(self, timeout: float) -> tuple[str, float]:
        """Poll OUT until an answer appears; its name and the perf_counter time it was seen."""
        deadline = time.perf_counter() + timeout
        while True:
            names = self.answers()
            now = time.perf_counter()
            if names:
                return sorted(names)[0], now
            if now > deadline:
                raise TimeoutError(f"no answer in {self.out_dir} after {timeout:.0f} s")
            if self.poll_sleep:
                time.sleep(self.poll_sleep)

    def fetch(self, name: str, delete: bool = True) -> bytes:
        buf = io.BytesIO()
        self.ftp.retrbinary(f"RETR {self.out_dir}/{name}", buf.write)
        if delete:
            self.ftp.delete(f"{self.out_dir}/{name}")
        return buf.getvalue()


@dataclass
class ArSummary:
    """The data lines of an AR_Cmd_Acces file."""

    lines: int  # physical lines, header included
    records: list[dict[str, str]]
    ok: int = 0
    ko: int = 0
    motifs: Counter[str] = field(default_factory=Counter)


def read_ar(box: Sandbox, content: bytes) -> ArSummary:
    """Parse an AR file with the pack and count OK/KO lines (and KO motifs)."""
    flow = box.pack.flow("AR_Cmd_Acces")
    parsed = flow.parse(content)
    records = [r.values for r in parsed.records]
    summary = ArSummary(lines=len(content.splitlines()), records=records)
    for r in records:
        if r.get("EtatArCommandePrise") == "OK":
            summary.ok += 1
        else:
            summary.ko += 1
            summary.motifs[f"{r.get('MotifKoArCommandePrise', '')} {r.get('Commentaire', '')}"[:120]] += 1
    return summary


def _orders(addresses: list[dict[str, Any]], count: int, prefix: str) -> list[dict[str, str]]:
    """`count` valid new-socket orders, cycling over `addresses`, each with its own reference."""
    from simulator.operators.covage.harness.client.orders import cmd_acces

    return [cmd_acces(addresses[i % len(addresses)], f"{prefix}{i:07d}", date=DATE) for i in range(count)]


# ---------------------------------------------------------------------- 1. single-order drops
@dataclass
class Drop:
    """One single-order file: client-side and sandbox-side times, in seconds."""

    latency: float  # STOR start -> AR listed in OUT
    stor: float  # STOR start -> 226 received
    upload: float  # STOR start -> handed to the engine
    queue: float  # handed -> engine starts
    engine: float  # engine start -> end (answer in OUT)
    seen: float  # engine end -> the client's NLST lists it (negative: listed just before _process returned)
    ok: bool
    timing: FileTiming


def drops(box: Sandbox, probe: EngineProbe, count: int, poll_sleep: float, progress: Progress,
          first_seq: int = 1) -> tuple[list[Drop], list[str]]:
    """Drop `count` single-order Cmd_Acces files one after the other; each waits for its AR."""
    client = OcClient(box, poll_sleep)
    problems: list[str] = []
    try:
        addresses = client.addresses(count)
        if not addresses:
            raise RuntimeError(f"no deployed address on {NETWORK}")
        orders = _orders(addresses, count, "BDROP")
        results = []
        for i, order in enumerate(orders):
            name = client.filename(first_seq + i)
            content = client.content([order])
            t0 = time.perf_counter()
            client.store(name, content)
            t1 = time.perf_counter()
            answer, seen = client.wait_answer(timeout=30)
            ar = read_ar(box, client.fetch(answer))
            timing = probe.wait_finished(name)
            ok = ar.ok == 1 and ar.ko == 0 and ar.records[0]["ReferenceCommandePriseInterneOC"] == order[
                "ReferenceCommandePriseInterneOC"]
            if not ok:
                problems.append(f"{name}: {answer} has {ar.ok} OK, {ar.ko} KO {dict(ar.motifs)}")
            results.append(Drop(latency=seen - t0, stor=t1 - t0, upload=timing.submitted - t0,
                                queue=timing.started - timing.submitted, engine=timing.engine,
                                seen=seen - timing.finished, ok=ok, timing=timing))
            progress.count("single-order drops", i + 1, count)
        return results, problems
    finally:
        client.close()


# ---------------------------------------------------------------------- 2. one large file
@dataclass
class BulkResult:
    """One file of many orders, in seconds (and the AR's counts)."""

    orders: int
    size: int  # bytes of the Cmd_Acces file
    build: float  # client: building and encoding the file (not part of the latency)
    latency: float  # STOR start -> AR listed in OUT
    stor: float  # STOR start -> 226 received
    upload: float  # STOR start -> handed to the engine
    queue: float  # handed -> engine starts
    timing: FileTiming
    seen: float  # engine end -> the client's NLST lists it
    ar: ArSummary
    answer: str
    journal: str  # the journal's outcome for the inbound file, e.g. "10000 lines: 10000 OK, 0 KO"


def bulk(box: Sandbox, probe: EngineProbe, orders: int, poll_sleep: float, progress: Progress, seq: int,
         prefix: str = "BBULK") -> BulkResult:
    """One Cmd_Acces file of `orders` new-socket orders (addresses reused, references distinct)."""
    client = OcClient(box, poll_sleep)
    try:
        progress.step(f"building a {orders}-order Cmd_Acces file")
        b0 = time.perf_counter()
        addresses = client.addresses(min(orders, 500))
        content = client.content(_orders(addresses, orders, prefix))
        build = time.perf_counter() - b0
        name = client.filename(seq)
        progress.step(f"uploading {name} ({len(content) / 1e6:.1f} MB), polling OUT every "
                      f"{poll_sleep * 1000:g} ms for the AR")
        t0 = time.perf_counter()
        client.store(name, content)
        t1 = time.perf_counter()
        answer, seen = client.wait_answer(timeout=300)
        timing = probe.wait_finished(name, timeout=300)
        progress.step(f"reading the AR ({time.perf_counter() - t0:.2f} s after STOR)")
        ar = read_ar(box, client.fetch(answer))
        return BulkResult(orders=orders, size=len(content), build=build, latency=seen - t0, stor=t1 - t0,
                          upload=timing.submitted - t0, queue=timing.started - timing.submitted, timing=timing,
                          seen=seen - timing.finished, ar=ar, answer=answer, journal=journal_outcome(box, name))
    finally:
        client.close()


def journal_outcome(box: Sandbox, filename: str) -> str:
    """What GET /api/journal says about an inbound file (its "N lines: x OK, y KO" line)."""
    url = f"{box.http_url}/api/journal?tenant={TENANT}&limit=50"
    with urllib.request.urlopen(url, timeout=30) as response:
        entries = json.load(response)
    return next((e["outcome"] for e in reversed(entries) if e["filename"] == filename and e["direction"] == "in"),
                "not in the journal")


# ---------------------------------------------------------------------- helpers
@contextmanager
def sandbox(progress: Progress) -> Iterator[tuple[Sandbox, StartTiming]]:
    """The benchmark's sandbox, started (and timed) in a temporary data dir, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="opsim-bench-") as tmp:
        progress.step(f"starting the sandbox in {tmp}")
        box, timing = start_sandbox(Path(tmp))
        try:
            yield box, timing
        finally:
            box.stop()

