"""`opsim`: start the sandbox and drive it from a shell."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from .config import ConfigError, load_config

DEFAULT_URL = "http://127.0.0.1:8080"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return args.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsim",
        description="Wholesale operator sandbox: a Covage-style FTTH OI (Protocole Accès 1.2 over FTP) "
                    "with a virtual clock and an admin API.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    up = sub.add_parser("up", help="start the sandbox in the foreground (Ctrl-C stops it)",
                        description="Start the sandbox in the foreground: FTP for the OC files, HTTP for the "
                                    "admin API. Prints one ready line per endpoint and the demo credentials.")
    up.add_argument("--data-dir", type=Path, default=None,
                    help="where orders, files and the journal are kept (default ./.opsim)")
    up.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    up.add_argument("--ftp-port", type=int, default=None, help="FTP port, 0 for a free one (default 2121)")
    up.add_argument("--http-port", type=int, default=None, help="HTTP port, 0 for a free one (default 8080)")
    up.add_argument("--ftp-passive-ports", default=None, metavar="FIRST-LAST",
                    help="fixed range for FTP data connections, e.g. 30000-30009 in a container (default: any)")
    up.add_argument("--ftp-masquerade-address", default=None, metavar="IP",
                    help="address given in PASV replies when clients connect through NAT (e.g. Docker on a Mac)")
    up.add_argument("--seed", type=int, default=None,
                    help="seed of the generated reference network, fixed at the first start (default 42)")
    up.add_argument("--config", type=Path, default=None, help="TOML file: tenants, Covage profile, clock")
    up.add_argument("-v", "--verbose", action="store_true", help="log every FTP command and HTTP request")
    up.set_defaults(run=cmd_up)

    status = sub.add_parser("status", help="ask a running sandbox how it is")
    status.add_argument("--url", default=DEFAULT_URL, help=f"sandbox HTTP address (default {DEFAULT_URL})")
    status.set_defaults(run=cmd_status)

    clock = sub.add_parser("clock", help="show or move a running sandbox's virtual clock",
                           description="Show the virtual clock, or freeze, resume or advance it.")
    clock.add_argument("action", nargs="?", default="show", choices=["show", "freeze", "resume", "advance"])
    clock.add_argument("--hours", type=float, default=0, help="with advance: hours to move forward")
    clock.add_argument("--working-days", type=int, default=0,
                       help="with advance: French working days to move forward")
    clock.add_argument("--url", default=DEFAULT_URL, help=f"sandbox HTTP address (default {DEFAULT_URL})")
    clock.set_defaults(run=cmd_clock)
    return parser


def cmd_up(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config, data_dir=args.data_dir, host=args.host, ftp_port=args.ftp_port,
                             http_port=args.http_port, ftp_passive_ports=args.ftp_passive_ports,
                             ftp_masquerade_address=args.ftp_masquerade_address, seed=args.seed)
    except ConfigError as e:
        print(f"opsim: {e}", file=sys.stderr)
        return 2
    from .sandbox import Sandbox  # heavy imports only when serving

    try:
        box = Sandbox(config).start()
    except OSError as e:
        print(f"opsim: cannot start: {e}", file=sys.stderr)
        return 1
    host, ftp_port = box.ftp_address
    networks = ", ".join(f"{n.interop}/{n.arcep}" for n in config.covage.networks)
    print(f"opsim {box.version} ready (data dir {config.data_dir}, seed {box.seed}, clock "
          f"{box.clock.now().isoformat(timespec='seconds')}{' frozen' if box.clock.frozen else ''})")
    print(f"  ftp   ftp://{host}:{ftp_port}  Protocole Accès 1.2, Covage profile, networks {networks}")
    print(f"  http  {box.http_url}/api  admin API (health, clock, addresses, orders, journal, tenants)")
    for tenant in config.all_tenants():
        print(f"  tenant {tenant.code}: login {tenant.login} password {tenant.password}")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    print("opsim: stopping", flush=True)
    box.stop()
    return 0


def _call(url: str, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _remote(fn):  # noqa: ANN001, ANN202 - wraps the HTTP sub-commands' error handling
    def run(args: argparse.Namespace) -> int:
        try:
            print(json.dumps(fn(args), indent=2, ensure_ascii=False))
            return 0
        except urllib.error.HTTPError as e:
            print(f"opsim: {e.code} {e.read().decode(errors='replace')}", file=sys.stderr)
        except urllib.error.URLError as e:
            print(f"opsim: no sandbox at {args.url} ({e.reason}); start one with `opsim up`", file=sys.stderr)
        return 1
    return run


@_remote
def cmd_status(args: argparse.Namespace) -> dict:
    return _call(f"{args.url}/api/health")


@_remote
def cmd_clock(args: argparse.Namespace) -> dict:
    base = f"{args.url}/api/clock"
    if args.action == "show":
        return _call(base)
    if args.action == "advance":
        return _call(f"{base}/advance", "POST", {"hours": args.hours, "working_days": args.working_days})
    return _call(f"{base}/{args.action}", "POST", {})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("opsim")
    except PackageNotFoundError:
        return "0.0.0"


if __name__ == "__main__":
    sys.exit(main())
