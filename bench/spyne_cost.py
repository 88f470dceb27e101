"""What spyne costs a web service call: the same operation of the same sandbox answered by spyne (its WSGI
application reads the envelope and writes the answer) and by the direct path (`SoapEndpoint.direct`: lxml on
the envelope the guard parsed), alternately, from one keep-alive client. The measure behind the decision to keep
spyne for the WSDL and the operations off the hot path (docs/architecture.md).

    python -m bench.spyne_cost [--calls N] [--rounds N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from bench.http_bench import RID, calls
from simulator.config import ClockConfig, load_config
from simulator.pytest_plugin import DEFAULT_START
from simulator.sandbox import Sandbox

OPERATIONS = {"communes": "obtentionCommunesOperation", "structure": "obtentionStructureAdresseOperation"}


def per_call_ms(port: int, call: object, count: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.perf_counter()
    for _ in range(count):
        body = call.body.replace(RID.encode(), str(uuid.uuid4()).encode())  # type: ignore[attr-defined]
        connection.request("POST", call.path, body, call.headers)  # type: ignore[attr-defined]
        response = connection.getresponse()
        answer = response.read()
        assert response.status == 200 and b"Fault" not in answer, answer[:300]
    connection.close()
    return (time.perf_counter() - start) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per measure")
    parser.add_argument("--rounds", type=int, default=3, help="measures per path, alternated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(None, data_dir=Path(tmp), host="127.0.0.1", ftp_port=0, http_port=0)
        config.clock = ClockConfig(start=DEFAULT_START, frozen=True)
        config.operators["covage"].settings["ws_rate_limit"] = 1_000_000  # flow control out of the way
        with Sandbox(config) as box:
            port = int(box.http_url.rsplit(":", 1)[1])
            with urllib.request.urlopen(f"{box.http_url}/api/addresses?limit=1") as answer:
                address = json.load(answer)[0]
            scenarios = calls(address["CodeAdresseImmeuble"], address["CodePostalImmeuble"], "none")
            guard = next(g for g in box.soap.values() if "obtentionCommunesOperation" in g.endpoint.direct)
            direct = dict(guard.endpoint.direct)
            print(f"load average {os.getloadavg()[0]:.1f}; {args.calls} calls a measure, {args.rounds} each")
            print(f"{'operation':<38} {'direct ms':>10} {'spyne ms':>10} {'spyne/direct':>13}")
            for name, operation in OPERATIONS.items():
                times: dict[str, list[float]] = {"direct": [], "spyne": []}
                for _ in range(args.rounds):
                    for path in ("direct", "spyne"):
                        guard.endpoint.direct = direct if path == "direct" else {}  # type: ignore[misc]
                        times[path].append(per_call_ms(port, scenarios[name], args.calls))
                guard.endpoint.direct = direct  # type: ignore[misc]
                d, s = statistics.median(times["direct"]), statistics.median(times["spyne"])
                print(f"{operation:<38} {d:>10.2f} {s:>10.2f} {s / d:>12.2f}x")


if __name__ == "__main__":
    main()
