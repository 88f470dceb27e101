"""A neighbour's order while hostile files arrive: how long one OC waits for its AR (upload of a one-line
Cmd_Acces until the AR is in its OUT) when it is alone, and while another OC uploads 100 MB files (answered
unread: over max_file_bytes) and garbage files back to back. `python -m bench.hostile_bench --orders 30`.

The sandbox runs in this process on loopback; the neighbour uses ftplib, the hostile OC another thread.
"""

from __future__ import annotations

import argparse
import ftplib
import io
import json
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from .measures import distribution, machine

IN, OUT = "IN/COVA/CV", "OUT/COVA/CV"
BIG = 100 * 1024 * 1024


class Zeros(io.RawIOBase):
    """`size` bytes of one long order line, never held in memory at once."""

    def __init__(self, header: bytes, size: int):
        self.header, self.left = header, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            return 0
        data = self.header or b"X" * min(len(buffer), self.left)
        self.header = b""
        data = data[:len(buffer)]
        buffer[:len(data)] = data
        self.left -= len(data)
        return len(data)


def neighbour_latencies(box: Any, tenant: str, orders: int, address: dict[str, Any]) -> list[float]:
    from simulator.operators.covage.harness.client.orders import cmd_acces

    pack, seconds = box.pack, []
    flow = pack.flow("Cmd_Acces")
    with ftplib.FTP() as ftp:
        ftp.connect(*box.ftp_address, timeout=30)
        ftp.login(tenant, "pw")
        for n in range(orders):
            name = pack.render_filename(flow, "COVA", tenant, "20261124", n + 1)
            body = flow.write([cmd_acces(address, f"N{time.monotonic_ns()}")])
            started = time.perf_counter()
            ftp.storbinary(f"STOR {IN}/{name}", io.BytesIO(body))
            while not (answers := [f for f in ftp.nlst(OUT) if f.endswith(".csv")]):
                time.sleep(0.002)
            seconds.append(time.perf_counter() - started)
            for answer in answers:
                ftp.delete(answer if "/" in answer else f"{OUT}/{answer}")
    return seconds


def hostile(box: Any, tenant: str, stop: threading.Event, sent: list[int]) -> None:
    pack = box.pack
    flow = pack.flow("Cmd_Acces")
    header = (";".join(flow.column_names) + "\r\n").encode()
    with ftplib.FTP() as ftp:
        ftp.connect(*box.ftp_address, timeout=60)
        ftp.login(tenant, "pw")
        n = 0
        while not stop.is_set():
            n += 1
            name = pack.render_filename(flow, "COVA", tenant, "20261124", n)
            if n % 2:
                ftp.storbinary(f"STOR {IN}/{name}", io.BufferedReader(Zeros(header, BIG), 1 << 20), 1 << 20)
                sent[0] += BIG
            else:
                ftp.storbinary(f"STOR {IN}/{name}", io.BytesIO(b"\x00\xff garbage \x89PNG" * 10_000))
            for answer in [f for f in ftp.nlst(OUT) if f.endswith(".csv")]:
                ftp.delete(answer if "/" in answer else f"{OUT}/{answer}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from simulator.config import load_config
    from simulator.sandbox import Sandbox

    with tempfile.TemporaryDirectory() as data:
        config = load_config(None, data_dir=Path(data), ftp_port=0, http_port=0)
        with Sandbox(config) as box:
            facade = box.facade()
            for code in ("NEIGH", "HOSTILE"):
                assert facade.call(lambda c=code: facade.add_tenant(c, "pw")) is None
            with urllib.request.urlopen(f"{box.http_url}/api/addresses?network=COVA&limit=200") as answer:
                listed = json.loads(answer.read())
            address = next(a for a in listed if a["TypeImmeuble"] == "PAVILLON")  # a house: never FADR03/04
            alone = neighbour_latencies(box, "NEIGH", args.orders, address)
            stop, sent = threading.Event(), [0]
            attacker = threading.Thread(target=hostile, args=(box, "HOSTILE", stop, sent), daemon=True)
            attacker.start()
            time.sleep(0.5)
            loaded = neighbour_latencies(box, "NEIGH", args.orders, address)
            stop.set()
            attacker.join(timeout=120)
    figures = {"machine": machine(), "orders": args.orders, "alone_ms": distribution(alone),
               "beside_hostile_ms": distribution(loaded), "hostile_megabytes_sent": sent[0] // (1 << 20)}
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
