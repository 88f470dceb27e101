"""Benchmark of the network's evolution at scale: `python -m bench.evolution_bench` (docs/performance.md).

1. A network of --size buildings (1,000,000 by default) generated into its SQLite file (not timed here:
   bench/network_bench.py times that), a store with the evolution overlay (refdata/evolution.py) attached
   as the sandbox attaches it, then --weeks weekly steps, each in its own store transaction: wall time of
   each (target: one step < 2 s at 1,000,000 addresses), and how many buildings each moved.
2. With the overlay those steps left: the IPE written (pm-2.2 pack) and a few lookups through the overlay's
   views (a building by IdentifiantImmeuble, by hexacle, a page of /api/addresses).
3. `opsim up` on a data dir holding that network and that store (overlay included): time from launching
   the process to its ready line, --starts times (target: < 1.5 s whatever the size).

Prints a table (or JSON with --json). Never fails because a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .measures import machine
from .network_bench import SEED, time_start

TARGETS = {"step_s": 2.0, "start_s": 1.5}
FIRST_MONDAY = date(2026, 11, 30)


def run(size: int, weeks: int, work: Path) -> dict[str, Any]:
    from simulator.refdata import DEFAULT_DEPARTMENTS, ensure_network, evolution
    from simulator.refdata.ipe import write_ipe
    from simulator.specs.codec import load_pack
    from simulator.store import Store

    data = work / "data"
    started = time.perf_counter()
    network = ensure_network(data / "network", "COVA", "CV", SEED, size, DEFAULT_DEPARTMENTS)
    figures: dict[str, Any] = {"generate_s": time.perf_counter() - started}
    store = Store(data / "opsim.sqlite3")
    started = time.perf_counter()
    evolution.ensure_schema(store)
    evolution.attach(store, network)
    network.attach_overlay(store.path)
    figures["attach_ms"] = (time.perf_counter() - started) * 1000
    steps = []
    for week in range(weeks):
        day = FIRST_MONDAY + timedelta(days=7 * week)
        started = time.perf_counter()
        with store.transaction():
            result = evolution.step(store, network, day, SEED, evolution.Rates())
        steps.append({"day": result.day, "s": time.perf_counter() - started,
                      "moved": sum(result.changed.values()), "opened_pms": len(result.opened_pms),
                      "gone": result.gone})
    figures["steps"] = steps
    figures["overlay_rows"] = store.query("SELECT count(*) FROM net_building")[0][0]
    started = time.perf_counter()
    out = io.BytesIO()
    figures["ipe_lines"] = write_ipe(network, load_pack("pm-2.2").flow("IPE"), out)
    figures["ipe_s"] = time.perf_counter() - started
    changed = store.query("SELECT identifiant FROM net_building WHERE etat = 'DEPLOYE' LIMIT 1")[0][0]
    address = network.address_by_id(changed)
    assert address is not None and address.deployed
    lookups = {
        "address_by_id": lambda: network.address_by_id(changed),
        "addresses_by_hexacle": lambda: network.addresses_by_hexacle(address.hexacle),
        "deployed page (50)": lambda: network.deployed(51, offset=0),
    }
    figures["lookups_ms"] = {}
    for name, call in lookups.items():
        started = time.perf_counter()
        for _ in range(100):
            call()
        figures["lookups_ms"][name] = (time.perf_counter() - started) * 10  # per call, ms
    store.close()
    return figures


def run_starts(size: int, work: Path, starts: int) -> list[float]:
    """`opsim up` on the data dir the steps left (its network file and its store, overlay included)."""
    config = work / "opsim.toml"
    config.write_text(f'[clock]\nstart = "2026-12-22T10:00:00"\nfrozen = true\n\n[covage]\nnetwork_size = {size}\n'
                      '\n[[covage.networks]]\ninterop = "COVA"\narcep = "CV"\n', encoding="utf-8")
    stored = work / "data" / "network" / "COVA.sqlite3"
    before = (stored.stat().st_ino, stored.stat().st_mtime_ns)
    times = [time_start(work / "data", config) for _ in range(starts)]
    if (stored.stat().st_ino, stored.stat().st_mtime_ns) != before:
        raise RuntimeError("opsim up generated the network again instead of opening it")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="opsim-evolution-bench-") as tmp:
        work = Path(tmp)
        print(f"generating {args.size:,} addresses, then {args.weeks} evolution steps...", file=sys.stderr)
        load_before = os.getloadavg()[0]
        figures = run(args.size, args.weeks, work)
        print(f"timing {args.starts} starts of opsim up on that data dir...", file=sys.stderr)
        figures["starts_s"] = run_starts(args.size, work, args.starts)
        figures["load_before"], figures["load_after"] = load_before, os.getloadavg()[0]
        shutil.rmtree(work, ignore_errors=True)
    figures["size"] = args.size
    figures["machine"] = machine()
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0

    def verdict(value: float, target: float) -> str:
        return "met" if value < target else f"MISSED by {value - target:.2f} ({value / target - 1:.0%})"

    worst = max(s["s"] for s in figures["steps"])
    print(f"Evolution of a network of {args.size:,} addresses (one network, seed {SEED})")
    print(f"  generate (not the measure)  {figures['generate_s']:8.2f} s")
    print(f"  attach the overlay          {figures['attach_ms']:8.1f} ms")
    for s in figures["steps"]:
        print(f"  step {s['day']}            {s['s']:8.3f} s   ({s['moved']:,} buildings moved, "
              f"{s['opened_pms']} PMs opened, {s['gone']} gone)")
    print(f"  slowest step                {worst:8.3f} s   target < {TARGETS['step_s']} s: "
          f"{verdict(worst, TARGETS['step_s'])}")
    print(f"  overlay rows                {figures['overlay_rows']:8,}")
    print(f"  IPE with the overlay        {figures['ipe_s']:8.2f} s   ({figures['ipe_lines']:,} lines)")
    for name, ms in figures["lookups_ms"].items():
        print(f"  {name:<27} {ms:8.3f} ms")
    print(f"  load average before/after   {figures['load_before']:.2f} / {figures['load_after']:.2f}")
    print(f"  opsim up -> ready line      {', '.join(f'{s:.2f}' for s in figures['starts_s'])} s   "
          f"target < {TARGETS['start_s']} s: {verdict(max(figures['starts_s']), TARGETS['start_s'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
