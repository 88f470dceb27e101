"""Order help WS 3.0 under load: obtentionStructureAdresseOperation with 8 concurrent clients, side by side
in the same run with a static SOAP stub (a minimal WSGI app answering a fixed body of the same size, on the
same kind of HTTP server). `python -m bench.soap_bench --clients 8 --seconds 10`.

Each client is a thread with one keep-alive HTTP/1.1 connection that posts the same request (a new
identifiantRequete each time) as fast as it is answered. Reported per target: requests, errors (any
status other than 200, or a fault), requests/s, latency median, p90, p99, max (ms). The sandbox runs in
this process with the flow control raised out of the way (the benchmark is one OC bursting on purpose).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from .measures import distribution, machine

NS = "http://interop-fibre.fr/OutilAidePriseCommande/3.0/"
ACTION = '"obtentionStructureAdresseOperation"'


def request_body(hexacle: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
            f'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            f'<ns:obtentionStructureAdresseOperation xmlns:ns="{NS}"><ns:entete><ns:operateurCommercial>'
            f'<ns:nom>DEMO</ns:nom><ns:identifiant>DEMO</ns:identifiant></ns:operateurCommercial>'
            f'<ns:versionWS>3.0</ns:versionWS><ns:horodatageRequete>2026-11-24T10:00:00</ns:horodatageRequete>'
            f'<ns:identifiantRequete>{uuid.uuid4()}</ns:identifiantRequete></ns:entete><ns:referenceAdresse>'
            f'<ns:referenceHexacle>{hexacle}</ns:referenceHexacle></ns:referenceAdresse>'
            f'</ns:obtentionStructureAdresseOperation></soap:Body></soap:Envelope>').encode()


def stub_app(body: bytes) -> Callable[..., Any]:
    """The static SOAP stub: reads the request, answers the same bytes every time."""
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"].read(length)
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]
    return app


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any) -> None:  # the sandbox's server logs nothing per request either
        pass


def load(host: str, port: int, path: str, hexacle: str, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start_line = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        start_line.wait()
        while time.perf_counter() < stop_at[0]:
            body = request_body(hexacle)
            began = time.perf_counter()
            try:
                connection.request("POST", path, body, {"Content-Type": "text/xml; charset=utf-8",
                                                        "SOAPAction": ACTION})
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200 or b"Fault>" in answer:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
            latencies[i].append(time.perf_counter() - began)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start_line.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    every = [x for per in latencies for x in per]
    return {"requests": len(every), "errors": sum(errors), "rps": len(every) / elapsed,
            "latency_ms": distribution(every)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    from simulator.config import load_config
    from simulator.sandbox import Sandbox

    with tempfile.TemporaryDirectory() as data:
        config = load_config(None, data_dir=Path(data), host="127.0.0.1", ftp_port=0, http_port=0)
        config.operators["covage"] = config.operators["covage"].with_overrides({"ws_rate_limit": 1_000_000})
        with Sandbox(config) as box:
            network = box.networks["COVA"]
            building = max(network.deployed(), key=lambda a: len(a.lines))
            host, port = box.http.address
            connection = http.client.HTTPConnection(host, port, timeout=30)
            connection.request("POST", "/interop-opc-30", request_body(building.hexacle),
                               {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": ACTION})
            reference = connection.getresponse().read()
            connection.close()
            assert b"Fault>" not in reference, reference[:500]
            stub = make_server("127.0.0.1", 0, stub_app(reference), threaded=True, request_handler=_Quiet)
            stub_thread = threading.Thread(target=stub.serve_forever, daemon=True)
            stub_thread.start()
            try:
                service = load(host, port, "/interop-opc-30", building.hexacle, args.clients, args.seconds)
                static = load("127.0.0.1", stub.server_port, "/interop-opc-30", building.hexacle, args.clients,
                              args.seconds)
            finally:
                stub.shutdown()
    report = {"machine": machine(), "command": " ".join(["python -m bench.soap_bench", *(argv or sys.argv[1:])]),
              "clients": args.clients, "seconds": args.seconds, "answer_bytes": len(reference),
              "lines_in_answer": len(building.lines), "opsim": service, "stub": static,
              "ratio_rps": service["rps"] / static["rps"] if static["rps"] else None}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if service["errors"] or static["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
