"""Fast at every size: the engine's work against a floor that does the same I/O with no domain logic.

1. **Advance with N pending orders**: N new-socket orders (one Cmd_Acces file) wait for their CR; the clock
   advances one working day on the engine thread (as `POST /api/clock/advance` does) until every answer is
   written (the CRs, and the Cmd_STOCs that fall due the same day). Floor: the same answer lines (read back
   from the answer files) written with the spec pack's codec into files of the same sizes, each fsynced.
2. **A file of N orders** (10,000 and 100,000): STOR over FTP until its AR is in OUT. Floor: the same bytes
   read with `csv` and inserted with one `executemany` into a SQLite table of the same columns, committed.
3. **A neighbour's 1-order AR during a 16,000-order file**: DEMO drops the large file, then ACME a 1-order
   file; the time from ACME's STOR to its AR in its OUT, while DEMO's file is answered (no floor: a target of
   1 s; the large file is answered in slices and other tenants' files go between two).

Each measure alternates with its floor (floor, opsim, floor, opsim...), so the ratio holds on a loaded
machine. The CPU time of each is printed beside it (the sandbox process's, every thread; the floor's in this
process): on a shared machine it moves far less than the wall time, which the targets are stated in. The
sandbox is a real `opsim up` subprocess, one per measure (a fresh data dir), and the OC side (building the
files, ftplib, the floors) is this process: its peak RSS (VmHWM in /proc) is the sandbox's own; tracemalloc is
not used (it slows Python down several times). Nothing here fails a build on a timing: the exit code is 1
only if an answer is wrong (a missing CR or AR line, a KO line).

    python -m bench.scale_bench [--advance-orders 10000] [--files 10000,100000] [--neighbour-orders 16000]
                                [--rounds 2] [--json]
"""

from __future__ import annotations

import argparse
import csv
import ftplib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator.specs.codec import load_pack

from .measures import launch_opsim, machine
from .scenarios import TENANT, Progress, _orders

TARGETS = {"advance": 3.0, "file": 2.0, "file_peak_mib": 150.0, "neighbour_s": 1.0}
#: The second tenant of the neighbour measure (its FTP login and password).
NEIGHBOUR = "ACME"
NEIGHBOUR_CONFIG = f'\n[[tenants]]\ncode = "{NEIGHBOUR}"\nlogin = "{NEIGHBOUR}"\npassword = "pw"\n'


def _wait_files(folder: Path, prefix: str, count: int, timeout: float, poll: float = 0.01) -> list[Path]:
    """Wait until `count` files whose name contains `prefix` are in `folder` (answers arrive by rename)."""
    deadline = time.perf_counter() + timeout
    while True:
        found = sorted(p for p in folder.iterdir() if prefix in p.name and p.suffix == ".csv")
        if len(found) >= count:
            return found
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{len(found)} of {count} {prefix} files in {folder} after {timeout:.0f} s")
        time.sleep(poll)


# ---------------------------------------------------------------------- floors
def file_floor(content: bytes, encoding: str, workdir: Path) -> float:
    """Seconds to read `content` with csv and insert every row with one executemany, committed."""
    db_path = workdir / "floor.sqlite3"
    db_path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    rows = csv.reader(io.StringIO(content.decode(encoding), newline=""), delimiter=";")
    header = next(rows)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE orders ({', '.join(f'c{i} TEXT' for i in range(len(header)))})")
    with db:
        db.executemany(f"INSERT INTO orders VALUES ({', '.join('?' * len(header))})", rows)
    db.close()
    return time.perf_counter() - t0


def answers_floor(files: list[tuple[Any, list[dict[str, str]]]], workdir: Path) -> float:
    """Seconds to write the same answer lines (the CRs, and the Cmd_STOCs the same day brings) with the pack's
    codec, one file per answer file, each fsynced."""
    t0 = time.perf_counter()
    for i, (flow, records) in enumerate(files):
        path = workdir / f"floor-cr-{i}.csv"
        with open(path, "wb") as f:
            f.write(flow.write(records))
            f.flush()
            os.fsync(f.fileno())
        path.unlink()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------- the sandbox: a real `opsim up`
class OpsimUp:
    """`opsim up` in a subprocess (clock frozen on 2026-11-24 10:00, free ports): the OC side (this process:
    building files, ftplib, the floors) never shares its interpreter, and its peak RSS is its own (VmHWM)."""

    def __init__(self, folder: Path, extra_config: str = ""):
        self.data_dir = folder / "data"
        up = launch_opsim(folder, extra_config)
        self.proc, self.ftp_port, self.http = up.proc, up.ftp_port, up.http
        self.out = self.out_of(TENANT)
        self.pack = load_pack("acces-1.2")

    def out_of(self, tenant: str) -> Path:
        return self.data_dir / "ftp" / "covage" / tenant / "OUT" / "COVA" / "CV"

    def cpu_s(self) -> float:
        """CPU seconds the sandbox process has used so far (user + system, every thread): on a shared machine
        its difference around a measure moves far less with the load than the wall time does."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mib(self, field: str) -> float:
        """VmRSS (now) or VmHWM (peak) of the sandbox process, in MiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.http + "/api" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.loads(resp.read())

    def ftp(self, login: str = TENANT, password: str = "demo") -> ftplib.FTP:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", self.ftp_port, timeout=600)
        ftp.login(login, password)
        return ftp

    def drop(self, name: str, content: bytes, login: str = TENANT, password: str = "demo") -> None:
        ftp = self.ftp(login, password)
        ftp.storbinary(f"STOR IN/COVA/CV/{name}", io.BytesIO(content))
        ftp.quit()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _records(box: OpsimUp, orders: int, prefix: str) -> list[dict[str, str]]:
    return _orders(box.api("GET", "/addresses?network=COVA&limit=500"), orders, prefix)


def _filename(box: OpsimUp, seq: int, tenant: str = TENANT) -> str:
    return box.pack.render_filename(box.pack.flow("Cmd_Acces"), "COVA", tenant, "20261124", seq)


def _ar_ok(box: OpsimUp, path: Path) -> int:
    records = box.pack.flow("AR_Cmd_Acces").parse(path.read_bytes()).records
    return sum(r["EtatArCommandePrise"] == "OK" for r in records)


# ---------------------------------------------------------------------- children
@contextmanager
def measured_sandbox(orders: int, extra_config: str = "") -> Iterator[tuple[OpsimUp, dict[str, Any], Path]]:
    """A fresh `opsim up` in a temporary folder and the result its measures fill: its RSS once started and
    its peak once done (the sandbox's own memory), then it stops."""
    result: dict[str, Any] = {"orders": orders, "floor_s": [], "opsim_s": [], "problems": [], "floor_cpu_s": [],
                              "opsim_cpu_s": []}
    with tempfile.TemporaryDirectory(prefix="opsim-scale-") as tmp:
        box = OpsimUp(Path(tmp), extra_config)
        try:
            result["rss_started_mib"] = box.memory_mib("VmRSS")
            yield box, result, Path(tmp)
            result["peak_mib"] = box.memory_mib("VmHWM")
        finally:
            box.stop()


def measure_advance(orders: int, rounds: int, progress: Progress) -> dict[str, Any]:
    """`rounds` times: a file of `orders` orders, its AR, then one working day's advance until every answer."""
    with measured_sandbox(orders) as (box, result, tmp):
        for r in range(rounds):
            box.drop(_filename(box, 100 + r), box.pack.flow("Cmd_Acces").write(_records(box, orders, f"ADV{r}")))
            ar = _wait_files(box.out, "ARCMD", 1, 600)[0]
            if _ar_ok(box, ar) != orders:
                result["problems"].append(f"round {r}: AR {_ar_ok(box, ar)} OK of {orders}")
            ar.unlink()
            progress.step(f"advance round {r + 1}/{rounds}: {orders} orders pending, advancing 1 working day")
            t0, cpu0 = time.perf_counter(), box.cpu_s()
            try:
                state = box.api("POST", "/clock/advance", {"working_days": 1, "wait": 5})
            except urllib.error.HTTPError as e:  # a sandbox before the 202 handle: it answers when done
                if e.code != 400:
                    raise
                state = box.api("POST", "/clock/advance", {"working_days": 1})
            while state.get("state") == "running":  # the 202 handle of a long advance
                time.sleep(0.05)
                state = box.api("GET", state["poll"].removeprefix("/api"))
            opsim = time.perf_counter() - t0
            result["opsim_cpu_s"].append(box.cpu_s() - cpu0)
            answers = sorted(p for p in box.out.iterdir() if p.suffix == ".csv")
            written = [(box.pack.check_filename(p.name).flow, p.read_bytes()) for p in answers]
            files = [(flow, [rec.values for rec in flow.parse(content).records]) for flow, content in written]
            crs = [records for flow, records in files if flow.name == "CR_Cmd_Acces"]
            lines = sum(len(f) for f in crs)
            refs = {rec["ReferenceCommandePriseInterneOC"] for f in crs for rec in f}
            if lines != orders or len(refs) != orders:  # a KO line (a saturated PBO) is an answer too
                result["problems"].append(f"round {r}: {lines} CR lines, {len(refs)} orders, for {orders}")
            result["cr_lines"] = lines
            result["cr_ok"] = sum(rec.get("EtatCrCommandePrise") == "OK" for f in crs for rec in f)
            result["answer_files"] = {flow.name: sum(1 for fl, _ in files if fl is flow) for flow, _ in files}
            result["answer_lines"] = sum(len(records) for _, records in files)
            cpu0 = time.process_time()
            floor = answers_floor(files, tmp)
            result["floor_cpu_s"].append(time.process_time() - cpu0)
            for p in answers:
                p.unlink()
            result["floor_s"].append(floor)
            result["opsim_s"].append(opsim)
            progress.step(f"  opsim {opsim:.2f} s, floor {floor:.3f} s ({result['answer_files']}, "
                          f"{result['answer_lines']} lines)")
    return result


def measure_file(orders: int, rounds: int, progress: Progress) -> dict[str, Any]:
    """`rounds` times: the floor on a file of `orders` orders, then that file over FTP until its AR."""
    with measured_sandbox(orders) as (box, result, tmp):
        for r in range(rounds):
            content = box.pack.flow("Cmd_Acces").write(_records(box, orders, f"F{r}"))
            result["bytes"] = len(content)
            cpu0 = time.process_time()
            floor = file_floor(content, box.pack.write_encoding, tmp)
            result["floor_cpu_s"].append(time.process_time() - cpu0)
            progress.step(f"file round {r + 1}/{rounds}: {orders} orders ({len(content) / 1e6:.1f} MB), "
                          f"floor {floor:.2f} s")
            t0, cpu0 = time.perf_counter(), box.cpu_s()
            box.drop(_filename(box, 200 + r), content)
            ar = _wait_files(box.out, "ARCMD", 1, 1800)[0]
            opsim = time.perf_counter() - t0
            result["opsim_cpu_s"].append(box.cpu_s() - cpu0)
            ok = _ar_ok(box, ar)
            if ok != orders:
                result["problems"].append(f"round {r}: AR {ok} OK of {orders}")
            ar.unlink()
            result["floor_s"].append(floor)
            result["opsim_s"].append(opsim)
            progress.step(f"  opsim {opsim:.2f} s ({opsim / floor:.1f}x the floor)")
    return result


def measure_neighbour(orders: int, rounds: int, progress: Progress) -> dict[str, Any]:
    """`rounds` times: DEMO drops a file of `orders` orders, then ACME a 1-order file; ACME's STOR -> its AR in its
    OUT, and whether it came before DEMO's AR."""
    with measured_sandbox(orders, NEIGHBOUR_CONFIG) as (box, result, _):
        result.update(delay_s=[], large_s=[])
        neighbour_out = box.out_of(NEIGHBOUR)
        for r in range(rounds):
            large = box.pack.flow("Cmd_Acces").write(_records(box, orders, f"N{r}"))
            small = box.pack.flow("Cmd_Acces").write(_records(box, 1, f"M{r}"))
            t_large = time.perf_counter()
            box.drop(_filename(box, 300 + r), large)
            time.sleep(0.2)  # the large file is under way
            t0 = time.perf_counter()
            box.drop(_filename(box, 300 + r, NEIGHBOUR), small, NEIGHBOUR, "pw")
            ar = _wait_files(neighbour_out, "ARCMD", 1, 600, poll=0.005)[0]
            delay = time.perf_counter() - t0
            if any("ARCMD" in p.name for p in box.out.iterdir()):
                result["problems"].append(f"round {r}: the neighbour's AR came after the large file's")
            ar.unlink()
            large_ar = _wait_files(box.out, "ARCMD", 1, 1800)[0]
            result["large_s"].append(time.perf_counter() - t_large)
            if _ar_ok(box, large_ar) != orders:
                result["problems"].append(f"round {r}: AR {_ar_ok(box, large_ar)} OK of {orders}")
            large_ar.unlink()
            result["delay_s"].append(delay)
            progress.step(f"neighbour round {r + 1}/{rounds}: its AR {delay:.2f} s after its STOR; the "
                          f"{orders}-order file's AR {result['large_s'][-1]:.2f} s after its STOR")
    return result


def _ratio(r: dict[str, Any]) -> float:
    """Sum of the opsim runs over the sum of their floors (each floor measured beside its run)."""
    return sum(r["opsim_s"]) / sum(r["floor_s"]) if sum(r["floor_s"]) else float("nan")


def run(args: argparse.Namespace) -> dict[str, Any]:
    progress = Progress()
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "machine": machine(),
                              "load_before": os.getloadavg(), "command": " ".join(
                                  ["python -m bench.scale_bench", *sys.argv[1:]]), "targets": TARGETS}
    if args.advance_orders:
        progress.step(f"advance with {args.advance_orders} pending orders")
        result["advance"] = measure_advance(args.advance_orders, args.rounds, progress)
    result["files"] = []
    for size in args.files:
        progress.step(f"a file of {size} orders")
        result["files"].append(measure_file(size, args.rounds, progress))
    if args.neighbour_orders:
        progress.step(f"a neighbour's 1-order file during a file of {args.neighbour_orders} orders")
        result["neighbour"] = measure_neighbour(args.neighbour_orders, args.rounds, progress)
    result["load_after"] = os.getloadavg()
    return result


def table(r: dict[str, Any]) -> str:
    load = f"load average {r['load_before'][0]:.2f} before, {r['load_after'][0]:.2f} after"
    lines = [f"Fast at every size ({r['date']}, {r['machine']['cores']} cores, {load})",
             f"{'measure':<44}{'opsim (s)':>16}{'floor (s)':>16}{'ratio':>8}  target", "-" * 100]

    def row(label: str, m: dict[str, Any], target: float) -> str:
        if not m.get("opsim_s"):
            return f"{label:<44}  (no result: {m.get('problems')})"
        ratio = _ratio(m)
        verdict = "met" if ratio <= target else "MISSED"
        opsim = ", ".join(f"{v:.2f}" for v in m["opsim_s"])
        floor = ", ".join(f"{v:.3f}" for v in m["floor_s"])
        line = f"{label:<44}{opsim:>16}{floor:>16}{ratio:>7.1f}x  <= {target:g}x {verdict}"
        if m.get("opsim_cpu_s") and sum(m.get("floor_cpu_s", ())):
            # CPU beside the wall time (not the target's ratio): the sandbox's process CPU (every thread, the
            # FTP and HTTP servers' too), the floor's CPU in this process.
            cpu_ratio = sum(m["opsim_cpu_s"]) / sum(m["floor_cpu_s"])
            line += (f"\n  CPU: opsim {', '.join(f'{v:.2f}' for v in m['opsim_cpu_s'])} s, floor "
                     f"{', '.join(f'{v:.3f}' for v in m['floor_cpu_s'])} s: {cpu_ratio:.1f}x")
        return line

    if "advance" in r:
        a = r["advance"]
        lines.append(row(f"advance 1 working day, {a['orders']} pending", a, TARGETS["advance"]))
        if a.get("cr_lines"):
            lines.append(f"  {a['cr_lines']} CR lines ({a['cr_ok']} OK); answer files {a['answer_files']}, "
                         f"{a['answer_lines']} lines; peak RSS {a['peak_mib']:.0f} MiB")
    for f in r["files"]:
        lines.append(row(f"file of {f['orders']} orders -> AR", f, TARGETS["file"]))
        if "peak_mib" in f:
            peak_ok = "met" if f["peak_mib"] < TARGETS["file_peak_mib"] else "MISSED"
            lines.append(f"  {f.get('bytes', 0) / 1e6:.1f} MB; RSS after start {f['rss_started_mib']:.0f} MiB, "
                         f"peak {f['peak_mib']:.0f} MiB (< {TARGETS['file_peak_mib']:g} MiB: {peak_ok})")
    if r.get("neighbour", {}).get("delay_s"):
        n = r["neighbour"]
        worst = max(n["delay_s"])
        verdict = "met" if worst <= TARGETS["neighbour_s"] else "MISSED"
        label = f"a neighbour's 1-order AR during a {n['orders']:,}-order file"
        lines.append(f"{label:<44}{', '.join(f'{v:.2f}' for v in n['delay_s']):>16}{'':>16}{'':>8}  "
                     f"<= {TARGETS['neighbour_s']:g} s {verdict}")
        lines.append(f"  the large file's AR after {', '.join(f'{v:.2f}' for v in n['large_s'])} s; "
                     f"peak RSS {n['peak_mib']:.0f} MiB")
    problems = problems_of(r)
    if problems:
        lines += ["PROBLEMS:", *(f"  - {p}" for p in problems)]
    return "\n".join(lines)


def problems_of(r: dict[str, Any]) -> list[str]:
    return [p for m in [r.get("advance", {}), *r["files"], r.get("neighbour", {})] for p in m.get("problems", [])]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--advance-orders", type=int, default=10_000,
                        help="pending orders for the advance (default 10000; 0 skips it)")
    parser.add_argument("--files", type=lambda s: [int(x) for x in s.split(",") if x], default=[10_000, 100_000],
                        help="order counts of the files, comma-separated (default 10000,100000; empty skips)")
    parser.add_argument("--neighbour-orders", type=int, default=16_000,
                        help="orders of the large file beside which a neighbour's 1-order file is timed (default "
                             "16000; 0 skips)")
    parser.add_argument("--rounds", type=int, default=2, help="measures per size, each after its floor (default 2)")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 1 if problems_of(result) else 0


if __name__ == "__main__":
    sys.exit(main())
