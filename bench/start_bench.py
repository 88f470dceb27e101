"""`opsim up` on a fresh data dir, as a user or a CI job starts it: the whole process, from launch to its ready
line (the admin API's URL printed), in a new data dir each time.

- **cold**: the machine's cache of networks is empty (a new `OPSIM_CACHE_DIR`): both default networks are drawn;
- **warm**: the cache holds them (a machine that started opsim before): they are copied.

Cold and warm alternate (cold, warm, cold, warm...), each cold run with a cache of its own. The anchor, in the same
run, is the interpreter importing the libraries every start imports (flask, cheroot, pyftpdlib, spyne, faker's
fr_FR provider, holidays): what any sandbox made of them pays before doing anything. It never fails on a timing.

    python -m bench.start_bench [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from .measures import machine

TARGET_S = 1.5
ANCHOR = ("import flask, cheroot.wsgi, pyftpdlib.servers, spyne, holidays; "
          "from faker import Faker; Faker('fr_FR')")


def ready_after(data_dir: Path, cache: Path) -> float:
    """Seconds from launching `opsim up` to its ready line; the sandbox is stopped after."""
    env = {**os.environ, "OPSIM_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "up", "--data-dir", str(data_dir),
                             "--ftp-port", "0", "--http-port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    try:
        seen = ""
        while "http://" not in seen:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"opsim up ended before it was ready: {seen!r}")
            seen += line
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def anchor() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", ANCHOR], check=True)
    return time.perf_counter() - started


def run(rounds: int) -> dict[str, Any]:
    cold: list[float] = []
    warm: list[float] = []
    floor: list[float] = []
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="opsim-start-") as tmp:
        root = Path(tmp)
        for n in range(rounds):
            floor.append(anchor())
            cache = root / f"cache{n}"
            cold.append(ready_after(root / f"cold{n}", cache))
            warm.append(ready_after(root / f"warm{n}", cache))
            print(f"  round {n + 1}: cold {cold[-1]:.2f} s, warm {warm[-1]:.2f} s, anchor {floor[-1]:.2f} s",
                  file=sys.stderr)
    load.append(os.getloadavg()[0])
    return {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "rounds": rounds, "load": load,
            "cold": cold, "warm": warm, "anchor": floor, "target_s": TARGET_S}


def table(r: dict[str, Any]) -> str:
    def row(label: str, values: list[float], target: bool) -> str:
        goal = (" target < 1.5 s: " + ("met" if median(values) < TARGET_S else "MISSED")) if target else ""
        return f"  {label:<44} {median(values):6.2f} s  ({', '.join(f'{v:.2f}' for v in values)}){goal}"

    return "\n".join([
        f"`opsim up` on a fresh data dir -> ready line, median of {r['rounds']} (load {r['load'][0]:.1f} -> "
        f"{r['load'][1]:.1f})",
        row("cold: networks drawn (empty cache)", r["cold"], True),
        row("warm: networks copied from the cache", r["warm"], True),
        row("anchor: importing the same libraries", r["anchor"], False),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.start_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="cold and warm starts each (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = run(max(1, args.rounds))
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
