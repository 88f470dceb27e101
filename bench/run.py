"""Benchmark of the sandbox as an OC sees it: `python -m bench.run` (`make bench`).

1. FTP drop -> AR latency over --drops single-order Cmd_Acces files (target: median < 50 ms);
2. a Cmd_Acces file of --orders orders -> AR, --bulk-runs times (target: median < 1 s), with the
   engine's share and where it goes;
3. sandbox start: Sandbox(config).start() until the FTP server answers (target: < 1.5 s);
4. with --sessions N: N concurrent FTP sessions, each an OC dropping one order and fetching its AR
   (target: 0 errors; `python -m bench.ftp_sessions` runs this one alone);
5. an advance and order files against their floors (`bench/scale_bench.py`);
6. FTP round trips with 1, 8 and 32 clients against a bare pyftpdlib server that fsyncs its reply
   (`bench/ftp_roundtrip.py`; goal >= 0.8x and server CPU <= 1.5x per round trip);
7. `opsim up` on a fresh data dir, launch to ready line, networks drawn and copied from the machine's cache
   (`bench/start_bench.py`; target < 1.5 s).
8. the admin API's `GET /api/orders` against a minimal Flask app, order help and SAV against a canned spyne
   service, on the same server (`bench/http_bench.py`; goals >= 0.5x, >= 0.8x and p99 < 50 ms at 8 clients).

The table goes to stdout (or JSON with --json), progress to stderr. Exit status 1 when an answer
is wrong (missing lines, KO lines), never because a target is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import scenarios
from .measures import distribution, machine
from .probes import EngineProbe, FileTiming

TARGETS = {"drop_median_ms": 50.0, "bulk_latency_ms": 1000.0, "start_ms": 1500.0}


# ---------------------------------------------------------------------- figures
# ---------------------------------------------------------------------- the run
def _parts(timings: Sequence[FileTiming]) -> dict[str, dict[str, float]]:
    """Distributions of the engine's share of each file, by part."""
    return {
        "engine": distribution([t.engine for t in timings]),
        "receive": distribution([t.receive for t in timings]),
        "apply": distribution([t.apply for t in timings]),
        "write": distribution([t.write for t in timings]),
        "effects": distribution([t.apply - t.write for t in timings]),
        "deliver": distribution([t.deliver for t in timings]),
        "other": distribution([t.other for t in timings]),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the three scenarios; every figure in the result is in milliseconds."""
    progress = scenarios.Progress()
    profiles: dict[str, cProfile.Profile] = {}
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "machine": machine(),
                              "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
                              "options": {k: getattr(args, k) for k in
                                          ("drops", "orders", "bulk_runs", "starts", "poll_ms", "bulk_poll_ms",
                                           "sessions")},
                              "targets": TARGETS, "problems": []}
    with scenarios.sandbox(progress) as (box, start):
        probe = EngineProbe(box.engine)
        if args.drops:
            progress.step(f"{args.drops} single-order drops, one at a time, polling OUT every {args.poll_ms:g} ms")
            if args.profile:
                probe.profiler = profiles["drops"] = cProfile.Profile()
            drops, problems = scenarios.drops(box, probe, args.drops, args.poll_ms / 1000, progress)
            probe.profiler = None
            result["problems"] += problems
            result["drops"] = {
                "count": len(drops), "ok": sum(d.ok for d in drops),
                "latency": distribution([d.latency for d in drops]),
                "stor": distribution([d.stor for d in drops]),
                "upload": distribution([d.upload for d in drops]),
                "queue": distribution([d.queue for d in drops]),
                **_parts([d.timing for d in drops]),
                "seen": distribution([d.seen for d in drops]),
            }
        runs: list[scenarios.BulkResult] = []
        for i in range(args.bulk_runs if args.orders else 0):
            progress.step(f"file of {args.orders} orders, run {i + 1}/{args.bulk_runs}")
            if args.profile and i == 0:
                probe.profiler = profiles["bulk"] = cProfile.Profile()
            b = scenarios.bulk(box, probe, args.orders, args.bulk_poll_ms / 1000, progress,
                               seq=args.drops + 1 + i, prefix=f"BBULK{i}")
            probe.profiler = None
            runs.append(b)
            if len(b.ar.records) != b.orders:
                result["problems"].append(f"{b.answer}: {len(b.ar.records)} data lines for {b.orders} orders")
            if b.ar.ko:
                result["problems"].append(f"{b.answer}: {b.ar.ko} KO lines: {dict(b.ar.motifs.most_common(5))}")
        if runs:
            result["bulk"] = {
                "orders": args.orders, "runs": len(runs), "bytes": runs[0].size,
                "answers": [{"file": b.answer, "latency_ms": b.latency * 1000, "engine_ms": b.timing.engine * 1000,
                             "lines": b.ar.lines, "records": len(b.ar.records), "ok": b.ar.ok, "ko": b.ar.ko,
                             "ko_motifs": dict(b.ar.motifs), "journal": b.journal} for b in runs],
                "build": distribution([b.build for b in runs]),
                "latency": distribution([b.latency for b in runs]),
                "stor": distribution([b.stor for b in runs]),
                "upload": distribution([b.upload for b in runs]),
                "queue": distribution([b.queue for b in runs]),
                **_parts([b.timing for b in runs]),
                "seen": distribution([b.seen for b in runs]),
            }
        if args.sessions:
            from . import ftp_sessions

            progress.step(f"{args.sessions} concurrent FTP sessions, one tenant each")
            endpoint = ftp_sessions.Endpoint(box.ftp_address, box.http_url, box.pack)
            sessions = ftp_sessions.prepare(endpoint, args.sessions, progress)
            wall = ftp_sessions.run_sessions(endpoint, sessions, 0.05, 120.0, progress)
            result["sessions"] = ftp_sessions.report(sessions, wall, {"mode": "in-process", "hold": True}, {})
            if result["sessions"]["errors"]:
                result["problems"].append(f"{result['sessions']['errors']} of {args.sessions} FTP sessions failed: "
                                          f"{result['sessions']['error_kinds']}")
    if args.starts:
        progress.step(f"{args.starts} more sandbox starts in fresh data dirs")
    starts = [start, *scenarios.extra_starts(args.starts, progress)]
    result["start"] = {
        "import_ms": start.imported * 1000,
        "first": {k: v * 1000 for k, v in
                  (("construct", start.construct), ("start", start.start), ("ready", start.ready),
                   ("total", start.total))},
        "runs": len(starts),
        "total": distribution([s.total for s in starts]),
        "construct": distribution([s.construct for s in starts]),
        "start": distribution([s.start for s in starts]),
        "ready": distribution([s.ready for s in starts]),
    }
    result["met"] = met(result)
    if args.profile:
        result["profiles"] = write_profiles(profiles, Path(args.profile))
    return result


def met(result: dict[str, Any]) -> dict[str, bool]:
    """Which targets the run met (the large file: its median over the runs)."""
    out = {}
    if "drops" in result:
        out["drop_median_ms"] = result["drops"]["latency"]["median"] < TARGETS["drop_median_ms"]
    if "bulk" in result:
        out["bulk_latency_ms"] = result["bulk"]["latency"]["median"] < TARGETS["bulk_latency_ms"]
    out["start_ms"] = result["start"]["first"]["total"] < TARGETS["start_ms"]
    if "sessions" in result:
        out["session_errors"] = result["sessions"]["errors"] == 0
    return out


def write_profiles(profiles: dict[str, cProfile.Profile], folder: Path, top: int = 30) -> dict[str, str]:
    """Save each engine-thread profile (.prof, for pstats/snakeviz) and print its top functions on stderr."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, profile in profiles.items():
        path = folder / f"engine-{name}.prof"
        profile.dump_stats(path)
        paths[name] = str(path)
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        print(f"\n===== engine thread profile: {name} ({path})\n{out.getvalue()}", file=sys.stderr)
    return paths


# ---------------------------------------------------------------------- the table
HEAD = f"{'':48} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8}  target"


def _row(label: str, d: dict[str, float] | float, target: str = "", ok: bool | None = None,
         only: Sequence[str] = ("median", "p90", "p99", "max")) -> str:
    """One table line: a distribution (the `only` columns of it) or a single value in the median column."""
    d = d if isinstance(d, dict) else {"median": d}
    cells = " ".join(f"{d[k]:8.1f}" if k in only and k in d else f"{'':8}" for k in ("median", "p90", "p99", "max"))
    verdict = "" if ok is None else ("met" if ok else "MISSED")
    return f"{label:48} {cells}  {target:<14} {verdict}".rstrip()


def _engine_rows(d: dict[str, Any], only: Sequence[str]) -> list[str]:
    return [_row("  engine: file -> AR in OUT", d["engine"], only=only),
            _row("    desk: read, check, order rows (its slices)", d["receive"], only=only),
            _row("    engine._apply", d["apply"], only=only),
            _row("      FlowSpec.write (the AR CSV)", d["write"], only=only),
            _row("      journal, outbox and event inserts", d["effects"], only=only),
            _row("    engine._deliver (write, fsync, rename)", d["deliver"], only=only),
            _row("    rest (sha256, COMMITs, a sliced AR's parts)", d["other"], only=only)]


def table(r: dict[str, Any]) -> str:
    """The human-readable report."""
    m, met_ = r["machine"], r["met"]
    rule = "-" * len(HEAD)
    lines = [f"opsim benchmark, {r['date']}: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, "
             f"Python {m['python']}, {m['os']}", f"command: {r['command']}", ""]
    if "drops" in r:
        d = r["drops"]
        lines += [f"1. FTP drop -> AR: {d['count']} single-order Cmd_Acces files, one at a time; "
                  f"NLST poll every {r['options']['poll_ms']:g} ms (ms)", HEAD, rule,
                  _row("STOR start -> AR listed in OUT", d["latency"], "median < 50", met_["drop_median_ms"]),
                  _row("  STOR start -> 226 received", d["stor"]),
                  _row("  STOR start -> file handed to the engine", d["upload"]),
                  _row("  engine queue wait", d["queue"]),
                  *_engine_rows(d, ("median", "p90", "p99", "max")),
                  _row("  engine done -> AR seen (<0: before last commit)", d["seen"]),
                  f"answers: {d['ok']}/{d['count']} ARs with one OK line for the order's reference", ""]
    if "bulk" in r:
        b = r["bulk"]
        only = ("median", "max")
        lines += [f"2. One Cmd_Acces file of {b['orders']} orders ({b['bytes'] / 1e6:.2f} MB) -> AR: "
                  f"median and max of {b['runs']} runs; NLST poll every {r['options']['bulk_poll_ms']:g} ms (ms)",
                  HEAD, rule,
                  _row("STOR start -> AR complete in OUT", b["latency"], "< 1000", met_["bulk_latency_ms"], only),
                  _row("  STOR start -> 226 received", b["stor"], only=only),
                  _row("  STOR start -> file handed to the engine", b["upload"], only=only),
                  _row("  engine queue wait", b["queue"], only=only),
                  *_engine_rows(b, only),
                  _row("  engine done -> AR seen (<0: before last commit)", b["seen"], only=only),
                  _row("(not counted) client builds the file", b["build"], only=only)]
        lines += [f"{a['file']} ({a['latency_ms']:.0f} ms): {a['lines']} lines = header + {a['records']} records, "
                  f"{a['ok']} OK, {a['ko']} KO; journal: {a['journal']}" for a in b["answers"]]
        lines.append("")
    s = r["start"]
    f = s["first"]
    lines += [f"3. Sandbox start: the benchmark's sandbox, then {s['runs']} runs in fresh data dirs (ms)", HEAD, rule,
              _row("Sandbox(config).start() -> FTP 220 banner", f["total"], "< 1500", met_["start_ms"]),
              _row("  Sandbox(config): store, reference networks", f["construct"]),
              _row("  .start(): engine, FTP and HTTP threads", f["start"]),
              _row("  until the FTP banner is read", f["ready"]),
              _row(f"Sandbox(config).start() -> FTP 220, {s['runs']} runs", s["total"], only=("median", "max")),
              _row("(not counted) first import of simulator.sandbox", s["import_ms"]), ""]
    if "sessions" in r:
        c = r["sessions"]
        lines += [f"4. {c['sessions']} concurrent FTP sessions, one tenant each: login, drop one order, fetch its AR "
                  f"(ms from their common start)", HEAD, rule,
                  _row("connect .. QUIT answered", c["session"] or float("nan"), "0 errors", met_["session_errors"]),
                  _row("  order file stored (226)", c["stored"] or float("nan")),
                  _row("  its AR listed in OUT", c["answered"] or float("nan")),
                  f"{c['ok']} OK, {c['errors']} errors, all done in {c['total_ms'] / 1000:.2f} s", ""]
    if r["problems"]:
        lines += ["PROBLEMS:", *(f"  - {p}" for p in r["problems"])]
    return "\n".join(lines)


# ---------------------------------------------------------------------- CLI
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--drops", type=int, default=200, help="single-order files for the latency (default 200)")
    parser.add_argument("--orders", type=int, default=10_000, help="orders in the large file (default 10000)")
    parser.add_argument("--bulk-runs", type=int, default=3, help="how many such files, one after the other (default 3)")
    parser.add_argument("--starts", type=int, default=3, help="extra sandbox starts for the start time (default 3)")
    parser.add_argument("--poll-ms", type=float, default=0.5,
                        help="single-order drops: sleep between two NLST polls of OUT, in ms (default 0.5; 0 = none)")
    parser.add_argument("--bulk-poll-ms", type=float, default=10.0,
                        help="large file: sleep between two NLST polls of OUT, in ms (default 10)")
    parser.add_argument("--sessions", type=int, default=0,
                        help="concurrent FTP sessions, one tenant each (default 0: skipped; 500 for the target)")
    parser.add_argument("--scale-advance", type=int, default=10_000,
                        help="section 5: pending orders of the advance against its floor (default 10000; 0 skips)")
    parser.add_argument("--scale-files", type=lambda v: [int(x) for x in v.split(",") if x], default=[10_000, 100_000],
                        help="section 5: order files against their floor, comma-separated (default 10000,100000; "
                             "'' skips)")
    parser.add_argument("--scale-neighbour", type=int, default=16_000,
                        help="section 5: orders of the large file beside a neighbour's 1-order file (0 skips)")
    parser.add_argument("--scale-rounds", type=int, default=2, help="section 5: runs of each, each beside its floor")
    parser.add_argument("--ftp-clients", type=int, nargs="*", default=[1, 8, 32],
                        help="section 6: FTP round trips against a bare pyftpdlib server, with these numbers of "
                             "clients (default 1 8 32; none skips)")
    parser.add_argument("--ftp-rounds", type=int, default=96, help="section 6: round trips per measure")
    parser.add_argument("--start-rounds", type=int, default=3,
                        help="section 7: `opsim up` starts on a fresh data dir, cold and warm (default 3; 0 skips)")
    parser.add_argument("--http-seconds", type=float, default=3.0,
                        help="section 8: seconds of each HTTP measure against its anchor (default 3; 0 skips)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--profile", metavar="DIR",
                        help="profile the engine thread (cProfile): DIR/engine-*.prof and a summary on stderr")
    args = parser.parse_args(argv)
    if min(args.drops, args.orders, args.bulk_runs, args.starts, args.poll_ms, args.bulk_poll_ms, args.sessions) < 0:
        parser.error("counts and --poll-ms must not be negative")
    return args


def _rounded(value: Any) -> Any:
    """Floats to 3 decimals (microseconds when in ms), for a readable JSON."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    text = table(result)
    problems = list(result["problems"])
    if args.scale_advance or args.scale_files or args.scale_neighbour:  # section 5 (bench/scale_bench.py)
        from . import scale_bench

        result["scale"] = scale_bench.run(argparse.Namespace(
            advance_orders=args.scale_advance, files=args.scale_files, rounds=args.scale_rounds,
            neighbour_orders=args.scale_neighbour))
        problems += scale_bench.problems_of(result["scale"])
        text += "\n\n5. " + scale_bench.table(result["scale"])
    if args.ftp_clients:  # section 6: FTP round trips against a bare server (bench/ftp_roundtrip.py)
        from . import ftp_roundtrip

        result["ftp_roundtrip"] = ftp_roundtrip.run(args.ftp_clients, args.ftp_rounds, repeats=3)
        text += "\n\n6. " + ftp_roundtrip.table(result["ftp_roundtrip"])
    if args.start_rounds > 0:  # section 7: `opsim up` on a fresh data dir (bench/start_bench.py)
        from . import start_bench

        result["start_process"] = start_bench.run(args.start_rounds)
        text += "\n\n7. " + start_bench.table(result["start_process"])
    if args.http_seconds:  # section 8: the admin API and the web services against their anchors
        from . import http_bench

        result["http"] = http_bench.run(args.http_seconds, repeats=3, orders=1000)
        problems += result["http"]["problems"]
        text += "\n\n8. " + http_bench.table(result["http"])
    print(json.dumps(_rounded(result), indent=2) if args.json else text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
