"""Benchmark of the reference network at scale: `python -m bench.network_bench` (docs/performance.md).

1. Generate a network of --size buildings (1,000,000 by default) into its SQLite file and write its IPE
   (pm-2.2 pack) to a file, in a child process: wall time of each part and of the whole, peak RSS of the
   child (targets: < 20 s and < 300 MB for 1,000,000 addresses).
2. `opsim up` on a data dir that already holds that network (the file from step 1, copied where the
   sandbox keeps it, made with the sandbox's seed and departments): time from launching the process to
   its ready line, --starts times (target: < 1.5 s whatever the size).

Prints a table (or JSON with --json). Never fails because a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .measures import machine

TARGETS = {"total_s": 20.0, "peak_rss_mb": 300.0, "start_s": 1.5}
SEED = 42  # the sandbox's default seed (simulator.config.Config.seed)


def child(size: int, folder: Path) -> dict[str, Any]:
    """Step 1, in its own process so that its peak RSS is its own."""
    from simulator.refdata import DEFAULT_DEPARTMENTS, ensure_network
    from simulator.refdata.ipe import write_ipe
    from simulator.specs.codec import load_pack

    started = time.perf_counter()
    network = ensure_network(folder, "COVA", "CV", SEED, size, DEFAULT_DEPARTMENTS)
    generated = time.perf_counter()
    with (folder / "ipe.csv").open("wb") as out:
        lines = write_ipe(network, load_pack("pm-2.2").flow("IPE"), out)
    written = time.perf_counter()
    return {"generate_s": generated - started, "ipe_s": written - generated, "lines": lines,
            "ipe_bytes": (folder / "ipe.csv").stat().st_size,
            "db_bytes": (folder / "COVA.sqlite3").stat().st_size}


def run_child(size: int, folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "bench.network_bench", "--child", "--size", str(size),
                          "--dir", str(folder)], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    # ru_maxrss of the children waited for (KiB on Linux): the only child so far is this one.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["peak_rss_mb"] = usage.ru_maxrss / 1024
    # CPU time (user + system): what the work costs whatever else shares the machine's cores.
    figures["cpu_s"] = usage.ru_utime + usage.ru_stime
    figures["total_s"] = figures["generate_s"] + figures["ipe_s"]
    figures["process_wall_s"] = wall  # including the interpreter's start and imports
    return figures


def time_start(data_dir: Path, config: Path) -> float:
    """Seconds from launching `opsim up` to its ready line (the HTTP endpoint printed)."""
    args = [sys.executable, "-m", "simulator.cli", "up", "--data-dir", str(data_dir), "--config", str(config),
            "--ftp-port", "0", "--http-port", "0"]
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        seen = ""
        for line in proc.stdout:
            seen += line
            if "http://" in line:
                return time.perf_counter() - started
        raise RuntimeError(f"opsim up stopped before it was ready: {seen}")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_starts(size: int, network_file: Path, work: Path, starts: int) -> list[float]:
    data = work / "data"
    (data / "network").mkdir(parents=True)
    shutil.copyfile(network_file, data / "network" / "COVA.sqlite3")
    config = work / "opsim.toml"
    config.write_text(f'[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n\n[covage]\nnetwork_size = {size}\n'
                      '\n[[covage.networks]]\ninterop = "COVA"\narcep = "CV"\n', encoding="utf-8")
    stored = data / "network" / "COVA.sqlite3"
    before = (stored.stat().st_ino, stored.stat().st_mtime_ns)
    times = [time_start(data, config) for _ in range(starts)]
    if (stored.stat().st_ino, stored.stat().st_mtime_ns) != before:
        raise RuntimeError("opsim up generated the network again instead of opening it")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.size, args.dir)))
        return 0
    with tempfile.TemporaryDirectory(prefix="opsim-network-bench-") as tmp:
        work = Path(tmp)
        print(f"generating {args.size:,} addresses and writing their IPE...", file=sys.stderr)
        load_before = os.getloadavg()[0]
        figures = run_child(args.size, work / "gen")
        figures["load_before"], figures["load_after"] = load_before, os.getloadavg()[0]
        print(f"timing {args.starts} starts of opsim up on that network...", file=sys.stderr)
        figures["starts_s"] = run_starts(args.size, work / "gen" / "COVA.sqlite3", work / "up", args.starts)
    figures["size"] = args.size
    figures["machine"] = machine()
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    start = max(figures["starts_s"])

    def verdict(value: float, target: float) -> str:
        return "met" if value < target else f"MISSED by {value - target:.2f} ({value / target - 1:.0%})"

    print(f"Reference network of {args.size:,} addresses (one network, seed {SEED})")
    print(f"  generate into SQLite       {figures['generate_s']:8.2f} s   ({figures['db_bytes'] / 2**20:,.0f} MiB)")
    print(f"  write the IPE              {figures['ipe_s']:8.2f} s   ({figures['lines']:,} lines, "
          f"{figures['ipe_bytes'] / 2**20:,.0f} MiB)")
    print(f"  generate + IPE             {figures['total_s']:8.2f} s   target < {TARGETS['total_s']:.0f} s: "
          f"{verdict(figures['total_s'], TARGETS['total_s'])}")
    print(f"  child process, wall        {figures['process_wall_s']:8.2f} s   (with interpreter start and imports)")
    print(f"  child process, CPU         {figures['cpu_s']:8.2f} s   (user + system)")
    print(f"  load average before/after  {figures['load_before']:.2f} / {figures['load_after']:.2f}")
    print(f"  peak RSS                   {figures['peak_rss_mb']:8.1f} MB  target < {TARGETS['peak_rss_mb']:.0f} MB: "
          f"{verdict(figures['peak_rss_mb'], TARGETS['peak_rss_mb'])}")
    print(f"  opsim up -> ready line     {', '.join(f'{s:.2f}' for s in figures['starts_s'])} s   "
          f"target < {TARGETS['start_s']} s: {verdict(start, TARGETS['start_s'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
