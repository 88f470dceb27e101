"""HTTP against its anchors: `python -m bench.http_bench` (section 8 of `make bench`).

opsim runs as `opsim up` in a process of its own (clock frozen, flow control raised out of the way: the
bench is one OC bursting on purpose), with 1,000 orders made the real way (one Cmd_Acces file over FTP,
answered by its AR). The anchor is another process serving, on the same server (cheroot, the same worker
threads: simulator/transports/http.py), what opsim answers without doing opsim's work:

- `GET /api/orders`: a minimal Flask app holding the same orders as rows (their data as JSON text); each
  request decodes each order's data (`json.loads`), makes one object per order and encodes the list with
  Flask's `jsonify`, the same bytes opsim answers;
- order help WS 3.0 (`obtentionStructureAdresseOperation`, `obtentionCommunesOperation`) and SAV WS 2.1
  (`getTroubleTicketByKey`): a canned spyne service built from the same WSDL types (service, port,
  namespaces), whose operations return the answer opsim gave to the same request, read back once into
  spyne objects: spyne's parsing and writing, no query.

Clients are processes of their own (their GIL is not the server's), each with one keep-alive connection,
posting as fast as they are answered for --seconds; opsim and the anchor alternate (A B A B, --repeats
each) and the table gives requests/s, p50 and p99 of the median run, the ratios opsim / anchor, the
server's CPU per request (/proc user + system) and the TCP connections the clients opened. The exit status
is 1 only when an answer is wrong (not 200, a fault, not the anchor's length), never on a timing.

    python -m bench.http_bench [--seconds 3] [--repeats 3] [--orders 1000] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .measures import distribution, launch_opsim, machine, process_cpu_seconds, stop_process

TENANT, PASSWORD = "DEMO", "demo"
ORDER_HELP = "/interop-opc-30"
NS30 = "http://interop-fibre.fr/OutilAidePriseCommande/3.0/"
SAV = "/interop-sav-21/services/JVTTroubleTicketSessionWSPort"
TT = "http://ossj.org/xml/TroubleTicket/v1-2"
TT_WSDL = "http://ossj.org/wsdl/TroubleTicket/v1-2"  # the request elements' namespace
#: Goals of issue 20: requests/s ratio opsim / anchor at least this; the web services' p99 under P99_GOAL_MS
#: at 8 clients (the listing's 1 MB answers have no latency goal).
RATIO_GOALS = {"orders": 0.5, "structure": 0.8, "communes": 0.8, "sav_read": 0.8}
P99_GOAL_CLIENTS = 8
P99_GOAL_MS = 50.0
RID = "00000000-0000-0000-0000-000000000000"  # replaced by a new identifiantRequete in every request


# ---------------------------------------------------------------------- what a client sends
@dataclass(frozen=True)
class Call:
    """One request of a scenario: `RID` in its body is replaced by a new uuid each time."""

    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _envelope(operation: str, inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
            f'envelope/"><soap:Body><ns:{operation} xmlns:ns="{NS30}"><ns:entete><ns:operateurCommercial>'
            f'<ns:nom>{TENANT}</ns:nom><ns:identifiant>{TENANT}</ns:identifiant></ns:operateurCommercial>'
            f'<ns:versionWS>3.0</ns:versionWS><ns:horodatageRequete>2026-11-24T10:00:00</ns:horodatageRequete>'
            f'<ns:identifiantRequete>{RID}</ns:identifiantRequete></ns:entete>{inner}</ns:{operation}>'
            f'</soap:Body></soap:Envelope>').encode()


def _soap(path: str, action: str, body: bytes, extra: dict[str, str] | None = None) -> Call:
    return Call("POST", path, body, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"',
                                     **(extra or {})})


def calls(hexacle: str, postcode: str, ticket: str) -> dict[str, Call]:
    """The request of each scenario."""
    basic = "Basic " + b64encode(f"{TENANT}:{PASSWORD}".encode()).decode()
    sav = (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
           f'envelope/"><soap:Body><w:getTroubleTicketByKeyRequest xmlns:w="{TT_WSDL}" xmlns:tt="{TT}">'
           f'<w:troubleTicketKey><tt:primaryKey>{ticket}</tt:primaryKey></w:troubleTicketKey>'
           f'</w:getTroubleTicketByKeyRequest>'
           f'</soap:Body></soap:Envelope>').encode()
    return {
        "orders": Call("GET", f"/api/orders?tenant={TENANT}&limit=1000"),
        "structure": _soap(ORDER_HELP, "obtentionStructureAdresseOperation", _envelope(
            "obtentionStructureAdresseOperation",
            f"<ns:referenceAdresse><ns:referenceHexacle>{hexacle}</ns:referenceHexacle></ns:referenceAdresse>")),
        "communes": _soap(ORDER_HELP, "obtentionCommunesOperation", _envelope(
            "obtentionCommunesOperation", f"<ns:codePostal>{postcode}</ns:codePostal>")),
        "sav_read": _soap(SAV, "getTroubleTicketByKey", sav, {"Authorization": basic}),
    }


def send(connection: http.client.HTTPConnection, call: Call) -> tuple[int, bytes]:
    body = call.body.replace(RID.encode(), str(uuid.uuid4()).encode()) if call.body else None
    connection.request(call.method, call.path, body, call.headers)
    response = connection.getresponse()
    return response.status, response.read()


def client(port: int, call: Call, start_at: float, seconds: float) -> dict[str, Any]:
    """One client (its own process): one keep-alive connection, requests back to back from `start_at`
    (wall clock, shared by the clients) for `seconds`; its latencies, errors and connections opened."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    connections, errors, latencies = 1, 0, []
    time.sleep(max(0.0, start_at - time.time()))
    stop = time.perf_counter() + seconds
    while (began := time.perf_counter()) < stop:
        try:
            status, answer = send(connection, call)
            if status != 200 or b"Fault>" in answer:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connections += 1
        latencies.append(time.perf_counter() - began)
        if connection.sock is None:  # the server closed it: the next request opens another
            connections += 1
    connection.close()
    return {"latencies": latencies, "errors": errors, "connections": connections}


# ---------------------------------------------------------------------- the servers
class Server:
    def __init__(self, name: str, proc: subprocess.Popen[Any], port: int):
        self.name, self.proc, self.port = name, proc, port

    def cpu(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        stop_process(self.proc, timeout=30)


def start_opsim(workdir: Path) -> tuple[Server, int, str]:
    """`opsim up` with the flow control raised: the server, its FTP port and its HTTP base URL."""
    up = launch_opsim(workdir, "\n[covage]\nws_rate_limit = 1000000\n")
    return Server("opsim", up.proc, int(up.http.rsplit(":", 1)[1])), up.ftp_port, up.http


def start_anchor(workdir: Path) -> Server:
    port_file = workdir / "anchor.port"
    proc = subprocess.Popen([sys.executable, "-m", "bench.http_bench", "--serve-anchor", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"the anchor did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    return Server("anchor", proc, int(port_file.read_text()))


def _api(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + "/api" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as answer:
        return json.loads(answer.read())


def make_orders(ftp_port: int, base: str, count: int, data_dir: Path) -> None:
    """`count` orders the real way: one Cmd_Acces file over FTP, until its AR is in OUT."""
    import ftplib

    from simulator.specs.codec import load_pack

    from .scenarios import DATE, _orders

    pack = load_pack("acces-1.2")
    flow = pack.flow("Cmd_Acces")
    content = flow.write(_orders(_api(base, "GET", "/addresses?network=COVA&limit=500"), count, "HTTPB"))
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", ftp_port, timeout=120)
    ftp.login(TENANT, PASSWORD)
    ftp.storbinary(f"STOR IN/COVA/CV/{pack.render_filename(flow, 'COVA', TENANT, DATE, 1)}", io.BytesIO(content))
    ftp.quit()
    out = data_dir / "ftp" / "covage" / TENANT / "OUT" / "COVA" / "CV"
    deadline = time.monotonic() + 600
    while not (out.is_dir() and any("ARCMD" in p.name for p in out.iterdir())):
        if time.monotonic() > deadline:
            raise TimeoutError("no AR for the bench's orders")
        time.sleep(0.05)


def make_ticket(base: str) -> str:
    """A DOMMAGE ticket on a PBO of the network (SAV WS 2.1, as an OC opens one): its key."""
    pbo = _api(base, "GET", "/addresses?network=COVA&limit=1")[0]["Lignes"][0]["ReferencePBO"]
    body = (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
            f'envelope/"><soap:Body><w:createTroubleTicketByValueRequest xmlns:w="{TT_WSDL}" xmlns:tt="{TT}">'
            f'<w:troubleTicketValue><tt:troubleType>DOMMAGE</tt:troubleType>'
            f'<tt:troubleDescription>PBO arrache</tt:troubleDescription>'
            f'<tt:suspectObjectId>{pbo}</tt:suspectObjectId></w:troubleTicketValue>'
            f'</w:createTroubleTicketByValueRequest></soap:Body></soap:Envelope>').encode()
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    basic = "Basic " + b64encode(f"{TENANT}:{PASSWORD}".encode()).decode()
    status, answer = send(connection, _soap(SAV, "createTroubleTicketByValue", body, {"Authorization": basic}))
    connection.close()
    key = re.search(rb"primaryKey[^>]*>([^<]+)<", answer)
    if status != 200 or key is None:
        raise RuntimeError(f"createTroubleTicketByValue: {status} {answer[:500]!r}")
    return key[1].decode()


# ---------------------------------------------------------------------- the anchor (its own process)
def anchor_app(folder: Path) -> Any:
    """The minimal Flask app and the canned spyne services, from the answers opsim gave (in `folder`)."""
    from flask import Flask, jsonify
    from lxml import etree
    from spyne import ServiceBase, Unicode, rpc
    from spyne.util.xml import get_xml_as_object

    from simulator.operators.covage.order_help import load_spec
    from simulator.operators.covage.sav import SPEC as SAV_SPEC
    from simulator.operators.covage.ws import order_help_ws, sav_ws
    from simulator.operators.covage.ws.common import wsgi_app
    from simulator.specs.codec import load_yaml
    from simulator.transports.soap import mount

    orders = json.loads((folder / "orders.json").read_bytes())
    rows = [(o["tenant"], o["ReferenceCommandePriseInterneOC"], o["ReferencePrestationPrise"], o["network"],
             o["state"], json.dumps(o["data"], ensure_ascii=False), o["created"], o["updated"]) for o in orders]
    app = Flask("anchor")
    app.json.sort_keys = False  # type: ignore[attr-defined]  # as opsim's app: the same bytes

    @app.get("/api/orders")
    def listing() -> Any:
        return jsonify([{"tenant": tenant, "ReferenceCommandePriseInterneOC": ref, "ReferencePrestationPrise": p,
                         "network": network, "state": state, "created": created, "updated": updated,
                         "data": json.loads(data), "history": []}
                        for tenant, ref, p, network, state, data, created, updated in rows])

    def parts(name: str, types: dict[str, Any]) -> list[Any]:
        """The answer opsim gave, read back into spyne objects: one per element of the response."""
        response = etree.fromstring((folder / name).read_bytes()).find(".//{*}Body")[0]
        found: dict[str, Any] = {}
        for child in response:
            local = etree.QName(child).localname
            value = get_xml_as_object(child, types[local][0])
            if types[local][1]:
                found.setdefault(local, []).append(value)
            else:
                found[local] = value
        return [found.get(local, [] if many else None) for local, (_, many) in types.items()]

    spec = load_spec()
    version = spec["versions"]["3.0"]
    t = order_help_ws._types(version["namespace"])  # the same WSDL types as the real service
    structure = parts("structure.xml", {"enteteReponse": (t.EnteteReponse, False), "adresse": (t.Adresse, False),
                                        "batiment": (t.Batiment, True)})
    communes = parts("communes.xml", {"enteteReponse": (t.EnteteReponse, False), "commune": (t.Commune, True)})
    port = spec["port"]

    class CannedOrderHelp(ServiceBase):
        __service_name__ = spec["service"]
        __port_types__ = (port,)

        @rpc(t.Entete, t.ReferenceAdresse, _returns=(t.EnteteReponse, t.Adresse, t.BatimentList),
             _port_type=port, _out_variable_names=("enteteReponse", "adresse", "batiment"))
        def obtentionStructureAdresseOperation(ctx, entete, referenceAdresse):  # noqa: N805, N803
            return tuple(structure)

        @rpc(t.Entete, Unicode, Unicode, _returns=(t.EnteteReponse, t.CommuneList),
             _port_type=port, _out_variable_names=("enteteReponse", "commune"))
        def obtentionCommunesOperation(ctx, entete, codePostal, codeInsee):  # noqa: N805, N803
            return tuple(communes)

    sav_spec = load_yaml(SAV_SPEC)
    s = sav_ws._types(sav_spec["namespace"], sav_spec["key_type"])
    ticket = get_xml_as_object(etree.fromstring((folder / "sav_read.xml").read_bytes()).find(".//{*}Body")[0][0],
                               s.TroubleTicketValue)

    class CannedSav(ServiceBase):
        __service_name__ = sav_spec["service"]
        __port_types__ = (sav_spec["port"],)

        @rpc(s.TroubleTicketKey, _returns=s.TroubleTicketValue, _port_type=sav_spec["port"],
             _operation_name="getTroubleTicketByKey", _in_message_name="getTroubleTicketByKeyRequest",
             _out_message_name="getTroubleTicketByKeyResponse", _out_variable_name="troubleTicketValue")
        def getTroubleTicketByKey(ctx, troubleTicketKey):  # noqa: N802, N803, N805
            return ticket

    return mount(app, {ORDER_HELP: wsgi_app([CannedOrderHelp], version["namespace"], spec["service"]),
                       SAV: wsgi_app([CannedSav], sav_spec["wsdl_namespace"], sav_spec["service"])})


def serve_anchor(folder: Path) -> None:
    from simulator.transports.http import HttpTransport

    server = HttpTransport(anchor_app(folder), "127.0.0.1", 0)
    (folder / "anchor.port.tmp").write_text(str(server.address[1]))
    os.replace(folder / "anchor.port.tmp", folder / "anchor.port")
    server.server.serve()


# ---------------------------------------------------------------------- the run
SCENARIOS = (("orders", 1), ("orders", 8), ("structure", 8), ("communes", 8), ("sav_read", 8))
LABELS = {"orders": "GET /api/orders (1,000 orders)", "structure": "order help obtentionStructureAdresse",
          "communes": "order help obtentionCommunes", "sav_read": "SAV getTroubleTicketByKey"}


def measure(pool: Any, server: Server, call: Call, clients: int, seconds: float) -> dict[str, Any]:
    start_at = time.time() + 0.3
    cpu = server.cpu()
    results = pool.starmap(client, [(server.port, call, start_at, seconds)] * clients, chunksize=1)
    used = server.cpu() - cpu
    latencies = [x for r in results for x in r["latencies"]]
    return {"rps": len(latencies) / seconds, "requests": len(latencies),
            "errors": sum(r["errors"] for r in results), "connections": sum(r["connections"] for r in results),
            "cpu_ms": used / max(1, len(latencies)) * 1000, "latency_ms": distribution(latencies)}


def run(seconds: float, repeats: int, orders: int, progress: bool = True) -> dict[str, Any]:
    def say(message: str) -> None:
        if progress:
            print(f"[bench] http: {message}", file=sys.stderr, flush=True)

    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "load_before": os.getloadavg(),
                              "seconds": seconds, "repeats": repeats, "orders": orders, "rows": [], "problems": [],
                              "command": " ".join(["python -m bench.http_bench", *sys.argv[1:]])}
    with tempfile.TemporaryDirectory(prefix="opsim-http-") as tmp:
        workdir = Path(tmp)
        opsim, ftp_port, base = start_opsim(workdir)
        anchor = None
        try:
            say(f"{orders} orders through a Cmd_Acces file over FTP")
            make_orders(ftp_port, base, orders, workdir / "data")
            building = _api(base, "GET", "/addresses?network=COVA&limit=200")
            biggest = max(building, key=lambda a: len(a["Lignes"]))
            requests = calls(biggest["CodeAdresseImmeuble"], biggest["CodePostalImmeuble"], make_ticket(base))
            references: dict[str, bytes] = {}
            for name, call in requests.items():  # opsim's answers: what the anchor serves, and a warm-up
                connection = http.client.HTTPConnection("127.0.0.1", opsim.port, timeout=120)
                status, references[name] = send(connection, call)
                connection.close()
                if status != 200 or b"Fault>" in references[name]:
                    raise RuntimeError(f"{name}: opsim answered {status} {references[name][:300]!r}")
                (workdir / f"{name}.{'json' if name == 'orders' else 'xml'}").write_bytes(references[name])
            if len(json.loads(references["orders"])) != orders:
                result["problems"].append(f"GET /api/orders gave {len(json.loads(references['orders']))} orders")
            anchor = start_anchor(workdir)
            for name, call in requests.items():
                connection = http.client.HTTPConnection("127.0.0.1", anchor.port, timeout=120)
                status, answer = send(connection, call)
                connection.close()
                result.setdefault("answer_bytes", {})[name] = {"opsim": len(references[name]), "anchor": len(answer)}
                if status != 200 or b"Fault>" in answer:
                    raise RuntimeError(f"{name}: the anchor answered {status} {answer[:300]!r}")
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(max(n for _, n in SCENARIOS)) as pool:
                for name, clients in SCENARIOS:
                    runs: dict[str, list[dict[str, Any]]] = {"anchor": [], "opsim": []}
                    for r in range(repeats):  # A B A B: the load of each moment falls on both
                        for server in (anchor, opsim):
                            say(f"{name}, {clients} client(s), {server.name}, run {r + 1}/{repeats}")
                            runs[server.name].append(measure(pool, server, requests[name], clients, seconds))
                    row: dict[str, Any] = {"scenario": name, "clients": clients}
                    for key, measured in runs.items():
                        median_run = sorted(measured, key=lambda m: m["rps"])[len(measured) // 2]
                        row[key] = {**median_run, "rps_runs": [m["rps"] for m in measured],
                                    "p99_runs": [m["latency_ms"]["p99"] for m in measured]}
                        errors = sum(m["errors"] for m in measured)
                        if errors:
                            result["problems"].append(f"{name} x{clients}: {errors} wrong answers from {key}")
                    row["ratio"] = (statistics.median(row["opsim"]["rps_runs"])
                                    / statistics.median(row["anchor"]["rps_runs"]))
                    result["rows"].append(row)
        finally:
            if anchor is not None:
                anchor.stop()
            opsim.stop()
    result["load_after"] = os.getloadavg()
    return result


def table(r: dict[str, Any]) -> str:
    load = f"load average {r['load_before'][0]:.2f} before, {r['load_after'][0]:.2f} after"
    lines = [f"HTTP against its anchors ({r['date']}, {r['machine']['cores']} cores, {load}); clients in processes "
             f"of their own, keep-alive; medians of {r['repeats']} alternated runs of {r['seconds']:g} s",
             f"{'scenario':<38}{'clients':>7} {'opsim/s':>8} {'anchor/s':>9} {'ratio':>7} {'p50':>6} {'p99':>6} "
             f"{'anch p99':>8} {'CPU ms':>7} {'anch CPU':>8} {'conns':>6}  goal", "-" * 132]
    for row in r["rows"]:
        o, a = row["opsim"], row["anchor"]
        goal = RATIO_GOALS[row["scenario"]]
        timed = row["scenario"] != "orders" and row["clients"] >= P99_GOAL_CLIENTS
        met = row["ratio"] >= goal and (not timed or o["latency_ms"]["p99"] < P99_GOAL_MS)
        target = f">= {goal:g}x" + (f", p99 < {P99_GOAL_MS:g}" if timed else "")
        lines.append(f"{LABELS[row['scenario']]:<38}{row['clients']:>7} {o['rps']:>8.1f} {a['rps']:>9.1f} "
                     f"{row['ratio']:>6.2f}x {o['latency_ms']['median']:>6.1f} {o['latency_ms']['p99']:>6.1f} "
                     f"{a['latency_ms']['p99']:>8.1f} {o['cpu_ms']:>7.2f} {a['cpu_ms']:>8.2f} "
                     f"{o['connections']:>6}  {target} {'met' if met else 'MISSED'}")
    sizes = ", ".join(f"{k} {v['opsim']}/{v['anchor']}" for k, v in r.get("answer_bytes", {}).items())
    lines.append(f"answer bytes opsim/anchor: {sizes}; latencies in ms; CPU: the server's per request; conns: the "
                 "TCP connections opsim's clients opened (one each when keep-alive holds)")
    if r["problems"]:
        lines += ["PROBLEMS:", *(f"  - {p}" for p in r["problems"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one measure (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="alternated runs of each target (default 3)")
    parser.add_argument("--orders", type=int, default=1000, help="orders in the store (default 1000)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve-anchor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_anchor:
        serve_anchor(args.serve_anchor)
        return 0
    result = run(args.seconds, args.repeats, args.orders)
    print(json.dumps(result, indent=1) if args.json else table(result))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
