"""FTP round trips against an anchor: `python -m bench.ftp_roundtrip` (also a section of `make bench`).

A round trip is what an OC's poller does for one order: STOR a one-order Cmd_Acces into IN, NLST OUT until
the answer is there, RETR it, DELE it. Each client is its own OC (its own account and tree).

The anchor is a bare pyftpdlib server in a process of its own, whose upload hook writes a reply file into
OUT the way opsim delivers one (temporary file, fsync, rename): what FTP and a durable answer cost at the
least. opsim runs as `opsim up` in a process of its own. Both are measured alternately (A B A B) with 1, 8
and 32 clients, each client in a process of its own (logged in before the clock starts), and the table gives
round trips per second, the server's CPU per round trip (its /proc/<pid>/stat user + system time), the ratios
opsim / anchor (the machine's load moves both), and how many listings (NLST) a round trip took on each.
"""

from __future__ import annotations

import argparse
import ftplib
import io
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .measures import launch_opsim, process_cpu_seconds, stop_process

CLIENTS = (1, 8, 32)
ORDER_LINE_BYTES = 160  # about the size of a one-order Cmd_Acces


# ---------------------------------------------------------------------- the anchor server (its own process)
def serve_bare(root: Path, users: int, port_file: Path) -> None:
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    authorizer = DummyAuthorizer()
    for i in range(users):
        home = root / f"OC{i}"
        for folder in ("IN", "OUT"):
            (home / folder).mkdir(parents=True, exist_ok=True)
        authorizer.add_user(f"OC{i}", "pw", str(home), perm="elradfmw")
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)

    class Replying(FTPHandler):
        def on_file_received(self, file: str) -> None:
            # The answer, durable before it appears: the same write, fsync and rename as opsim's delivery.
            home = Path(file).parent.parent
            answer = tmp / f"{os.getpid()}-{time.monotonic_ns()}.tmp"
            with open(answer, "wb") as f:
                f.write(Path(file).read_bytes())
                f.flush()
                os.fsync(f.fileno())
            os.replace(answer, home / "OUT" / ("AR_" + Path(file).name))
            os.unlink(file)

    Replying.authorizer = authorizer
    server = FTPServer(("127.0.0.1", 0), Replying)
    port_file.write_text(str(server.address[1]))
    server.serve_forever()


# ---------------------------------------------------------------------- the servers under measure
class Server:
    def __init__(self, name: str, proc: subprocess.Popen[Any], port: int, accounts: list[tuple[str, str]],
                 drop: str, pick: str, content: list[bytes], filename: str):
        self.name, self.proc, self.port, self.accounts = name, proc, port, accounts
        self.drop, self.pick, self.content, self.filename = drop, pick, content, filename

    def cpu(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        stop_process(self.proc, timeout=15)


def start_bare(workdir: Path, users: int) -> Server:
    port_file = workdir / "bare.port"
    proc = subprocess.Popen([sys.executable, "-m", "bench.ftp_roundtrip", "--serve-bare", str(workdir / "bare"),
                             "--users", str(users), "--port-file", str(port_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("the bare FTP server did not start")
        time.sleep(0.05)
    accounts = [(f"OC{i}", "pw") for i in range(users)]
    content = [b"x" * ORDER_LINE_BYTES for _ in range(users)]
    return Server("bare pyftpdlib + fsync", proc, int(port_file.read_text()), accounts, "IN", "OUT", content,
                  "ORDER_{seq}.csv")


def start_opsim(workdir: Path, users: int) -> Server:
    from simulator.operators.covage.harness.client.orders import cmd_acces
    from simulator.specs.codec import load_pack

    up = launch_opsim(workdir)
    proc, ftp_port, http = up.proc, up.ftp_port, up.http
    accounts = []
    for i in range(users):
        code = f"OC{i:02d}"
        request = urllib.request.Request(f"{http}/api/tenants", json.dumps({"code": code, "password": "pw"}).encode(),
                                         {"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass
        accounts.append((code, "pw"))
    with urllib.request.urlopen(f"{http}/api/addresses?network=COVA&limit={users * 3}", timeout=30) as answer:
        addresses = json.loads(answer.read())
    flow = load_pack("acces-1.2").flow("Cmd_Acces")
    # Every round trip orders a new socket at one address per client (new references, never a reject).
    content = [flow.write([cmd_acces(addresses[i % len(addresses)], f"RT{i:02d}QZQZ")]) for i in range(users)]
    return Server("opsim", proc, ftp_port, accounts, "IN/COVA/CV", "OUT/COVA/CV", content,
                  "COVA_{code}_CMD_ACCES_V12_20261124_{seq}.csv")


# ---------------------------------------------------------------------- the OC side
@dataclass(frozen=True)
class ClientPlan:
    """What one client process needs (picklable: no Popen, no socket)."""

    port: int
    user: str
    password: str
    drop: str
    pick: str
    content: bytes
    filename: str
    numbered: bool  # opsim's orders need a new reference each round trip (QZQZ -> the round's number)
    count: int


def round_trips(plan: ClientPlan, ready: Any, go: Any, results: Any) -> None:
    """One OC in a process of its own: logs in, waits for the start, does `count` round trips, reports
    (how many listings it made, or an error)."""
    ftp = ftplib.FTP()
    try:
        ftp.connect("127.0.0.1", plan.port, timeout=30)
        ftp.login(plan.user, plan.password)
    except (OSError, ftplib.Error) as e:
        ready.release()
        results.put(("error", f"{plan.user}: login: {e}"))
        return
    ready.release()
    go.wait()
    listings = 0
    try:
        for seq in range(1, plan.count + 1):
            content = plan.content.replace(b"QZQZ", str(seq).encode()) if plan.numbered else plan.content
            name = plan.filename.format(code=plan.user, seq=seq)
            ftp.storbinary(f"STOR {plan.drop}/{name}", io.BytesIO(content))
            deadline = time.monotonic() + 30
            while True:
                answers = [n for n in ftp.nlst(plan.pick) if n.lower().endswith(".csv")]
                listings += 1
                if answers:
                    break
                if time.monotonic() > deadline:
                    results.put(("error", f"{plan.user}: no answer to {name}"))
                    return
                time.sleep(0.001)
            for answer in answers:
                path = answer if "/" in answer else f"{plan.pick}/{answer}"
                ftp.retrbinary(f"RETR {path}", lambda _: None)
                ftp.delete(path)
        results.put(("done", listings))
    except (OSError, ftplib.Error) as e:
        results.put(("error", f"{plan.user}: {e}"))
    finally:
        ftp.close()


def measure(server: Server, clients: int, per_client: int) -> dict[str, float]:
    """`clients` OCs, each in a process of its own (32 client threads in one process were bound by its one
    GIL, and measured the bench rather than the servers). They log in first; the clock and the server's CPU
    count from the moment all are released together to the moment the last one is done."""
    context = multiprocessing.get_context("forkserver")
    ready, go, results = context.Semaphore(0), context.Event(), context.Queue()
    plans = [ClientPlan(server.port, *server.accounts[c], server.drop, server.pick, server.content[c],
                        server.filename, server.name == "opsim", per_client) for c in range(clients)]
    processes = [context.Process(target=round_trips, args=(plan, ready, go, results), daemon=True) for plan in plans]
    for p in processes:
        p.start()
    for _ in processes:
        if not ready.acquire(timeout=60):
            raise RuntimeError(f"{server.name}: the clients did not log in")
    cpu, start = server.cpu(), time.perf_counter()
    go.set()
    outcomes = [results.get(timeout=300) for _ in processes]
    wall, used = time.perf_counter() - start, server.cpu() - cpu
    for p in processes:
        p.join(timeout=30)
    errors = [detail for kind, detail in outcomes if kind == "error"]
    if errors:
        raise RuntimeError(f"{server.name}: {errors[:3]}")
    total = clients * per_client
    listings = sum(detail for kind, detail in outcomes if kind == "done")
    return {"per_s": total / wall, "cpu_ms": used / total * 1000, "listings": listings / total}


def run(clients: Sequence[int], rounds: int, repeats: int, progress: bool = True) -> dict[str, Any]:
    users = max(clients)
    results: dict[str, Any] = {"clients": {}, "load": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="opsim-ftp-rt-") as tmp:
        bare, opsim = start_bare(Path(tmp), users), start_opsim(Path(tmp), users)
        try:
            for n in clients:
                per_client = max(2, rounds // n)
                runs: dict[str, list[dict[str, float]]] = {"bare": [], "opsim": []}
                for r in range(repeats):  # A B A B: the load of each moment falls on both
                    for key, server in (("bare", bare), ("opsim", opsim)):
                        if progress:
                            print(f"[bench] ftp round trips: {n} client(s), {server.name}, run {r + 1}/{repeats}",
                                  file=sys.stderr, flush=True)
                        runs[key].append(measure(server, n, per_client))
                row = {key: {k: statistics.median(m[k] for m in ms) for k in ("per_s", "cpu_ms", "listings")}
                       for key, ms in runs.items()}
                row["ratio"] = row["opsim"]["per_s"] / row["bare"]["per_s"]
                row["cpu_ratio"] = row["opsim"]["cpu_ms"] / row["bare"]["cpu_ms"]
                results["clients"][n] = row
        finally:
            bare.stop()
            opsim.stop()
    return results


def table(results: dict[str, Any]) -> str:
    lines = ["FTP round trips (STOR one order, NLST OUT until the answer, RETR, DELE) vs a bare pyftpdlib server that",
             "writes its reply with the same fsync; medians of alternated runs",
             f"{'clients':>8} {'opsim/s':>9} {'bare/s':>9} {'ratio':>7} {'opsim CPU ms':>13} {'bare CPU ms':>12} "
             f"{'CPU ratio':>10} {'NLST/trip':>10}  goal: ratio >= 0.8, CPU ratio <= 1.5"]
    for n, row in results["clients"].items():
        lines.append(f"{n:>8} {row['opsim']['per_s']:>9.1f} {row['bare']['per_s']:>9.1f} {row['ratio']:>6.2f}x "
                     f"{row['opsim']['cpu_ms']:>13.2f} {row['bare']['cpu_ms']:>12.2f} {row['cpu_ratio']:>9.2f}x "
                     f"{row['opsim']['listings']:>4.1f}/{row['bare']['listings']:<4.1f}")
    lines.append("load average at the start: " + ", ".join(f"{x:.2f}" for x in results["load"]))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ftp_roundtrip", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=list(CLIENTS))
    parser.add_argument("--rounds", type=int, default=96, help="round trips per measure, shared by the clients")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--users", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.users, args.port_file)
        return 0
    results = run(args.clients, args.rounds, args.repeats)
    print(json.dumps(results, indent=1) if args.json else table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
