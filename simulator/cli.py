"""`opsim`: start the sandbox, check its configuration, and drive a running one from a shell.

Exit codes: 0 done, 1 the sandbox cannot start or answered an error, 2 a usage or configuration error.
Every error is one line on stderr starting with `opsim:`; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import (
    ADMIN_TOKEN_ENV,
    Config,
    ConfigError,
    effective_values,
    is_loopback,
    load_config,
    render,
    schema_of,
    schema_template,
)

DEFAULT_URL = f"http://127.0.0.1:{Config.http_port}"
log = logging.getLogger("opsim")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):  # `opsim` or `opsim config` alone
        (getattr(args, "help_of", None) or parser).print_help()
        return 2
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `opsim ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsim",
        description="Wholesale operator sandbox: the operators of its profiles (`opsim up` lists them with "
                    "their protocols), each on its own endpoints (FTP, e-mail, web services over HTTP(S)), with a "
                    "virtual clock, faults on demand, an admin API, and a conformance harness that certifies your "
                    "own OC.",
        epilog="Exit codes: 0 done, 1 cannot start or the sandbox answered an error, 2 usage or configuration "
               "error.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    up = sub.add_parser(
        "up", help="start the sandbox in the foreground (Ctrl-C stops it)",
        description="Start the sandbox in the foreground: FTP for the OC files on --host, the admin API on "
                    "--admin-host. Prints one ready line per endpoint, then each tenant's login (and the demo "
                    "tenant's password). Flags override the --config file.",
        epilog=f"The admin API moves the clock and reads every tenant: on an address other than loopback it needs "
               f"a token (--admin-token, {ADMIN_TOKEN_ENV} or [sandbox] admin_token) or an explicit --admin-open. "
               f"Exits 1 when a port or the data dir is taken, 2 on a configuration error. "
               f"`opsim config schema` documents the configuration file.")
    _config_flags(up)
    up.add_argument("-v", "--verbose", action="store_true", help="log every FTP command and HTTP request")
    up.set_defaults(run=cmd_up)

    status = sub.add_parser("status", help="ask a running sandbox how it is (GET /api/health)",
                            description="Print a running sandbox's health: endpoints, tenants, networks, clock.")
    _remote_flags(status)
    status.set_defaults(run=cmd_status)

    clock = sub.add_parser(
        "clock", help="show or move a running sandbox's virtual clock",
        description="Show the virtual clock, or freeze, resume (optionally accelerated) or advance it.",
        epilog="Examples: opsim clock advance --working-days 1; opsim clock advance --hours 4; "
               "opsim clock resume --speed 60; opsim clock freeze")
    clock.add_argument("action", nargs="?", default="show", choices=["show", "freeze", "resume", "advance"],
                       help="default: show")
    clock.add_argument("--hours", type=_non_negative(float), default=0,
                       help="with advance: hours to move forward")
    clock.add_argument("--working-days", type=_non_negative(int), default=0,
                       help="with advance: French working days to move forward")
    clock.add_argument("--speed", type=_positive_float, default=None,
                       help="with resume: virtual seconds per real second (e.g. 60)")
    _remote_flags(clock)
    clock.set_defaults(run=cmd_clock)

    config = sub.add_parser("config", help="check a configuration file, or document the file's keys",
                            description="Check a configuration file, or print the documented schema.")
    config.set_defaults(help_of=config)
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION")
    check = config_sub.add_parser(
        "check", help="validate a file and print the effective configuration",
        description="Validate FILE as `opsim up --config FILE` would, with the same flags and environment, and "
                    "print the effective configuration (defaults, then the file, then the environment, then "
                    "flags) as TOML. Passwords and tokens are hidden unless --show-secrets. Exits 2 on an error.")
    check.add_argument("file", type=Path, nargs="?", default=None, metavar="FILE",
                       help="the TOML file (none: the defaults)")
    _config_flags(check, with_file=False)
    check.add_argument("--show-secrets", action="store_true", help="print passwords and tokens too")
    check.set_defaults(run=cmd_config_check)
    schema = config_sub.add_parser(
        "schema", help="print every section and key, documented, with its default",
        description="Print every section and key of the configuration file with its type, default, flag and "
                    "environment variable, as a TOML file that is itself valid.")
    schema.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="document the operators of this file too (its [operators] profiles and enabled)")
    schema.set_defaults(run=cmd_config_schema)

    rejects = sub.add_parser("rejects", help="print the reject codes (Annexe 5f) of a spec pack as Markdown",
                             description="Every reject code of the pack: label, the stage that sends it and how to "
                                         "trigger it in the sandbox (docs/rejects.md is this output).")
    rejects.add_argument("--pack", default=None, metavar="NAME_OR_DIR",
                         help="a packaged spec pack or the folder of your own (default: the one packaged pack "
                              "with a reject catalogue)")
    rejects.set_defaults(run=cmd_rejects)
    conformance = sub.add_parser("conformance", help="certify your own OC: play the scenarios against it",
                                 description="The conformance harness: drives your OC through the BDD "
                                             "scenarios via an adapter and reports what it does wrong.")
    conformance.set_defaults(help_of=conformance)
    conformance_sub = conformance.add_subparsers(dest="conformance_command", metavar="ACTION")
    crun = conformance_sub.add_parser(
        "run", help="play the scenarios against your OC and write the reports",
        description="Play the scenarios (pytest-bdd) against your OC through --adapter, one progress line per "
                    "scenario, then write junit.xml and report.html (flows x scenarios, every failure with its "
                    "check id and the files exchanged) into --report-dir and print a summary.",
        epilog="Exit codes: 0 every scenario that ran passed (not run is allowed), 1 a scenario failed, 2 bad "
               "usage (e.g. an --adapter that cannot be loaded), 130 or 143 stopped by SIGINT or SIGTERM (the "
               "sandbox is stopped and the reports hold what ran).")
    crun.add_argument("--adapter", default="reference", metavar="SPEC",
                      help="reference (our own OC), python:<module>:<Class> or command:<command line> "
                           "(default reference; docs/adapters.md)")
    crun.add_argument("--target", default=None, metavar="URL",
                      help="admin API of a running sandbox, e.g. one in Docker (default: start one on free ports)")
    crun.add_argument("--report-dir", type=Path, default=Path("opsim-report"), metavar="DIR",
                      help="where results.json, junit.xml, report.html and pytest.log go (default ./opsim-report)")
    crun.add_argument("--only", default=None, metavar="SELECTION",
                      help="a feature folder (access), a tag (@smoke), or else a pytest -k expression "
                           "(\"cancel and not RESIL\")")
    crun.add_argument("--seed", type=int, default=None,
                      help="seed of the run, printed in the report (default: a random one, printed to replay)")
    crun.add_argument("--fuzz", type=int, default=0, metavar="N",
                      help="also play N operator variations drawn by Hypothesis (several answers in one file, "
                           "free text at its maximum, empty informational columns, a public holiday, a "
                           "Notif_Reprov right after the CR); a failure is shrunk to a minimal case (default 0)")
    crun.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                      help="play N scenarios at a time, each job on a sandbox of its own (default 1; not with "
                           "--target: the scenarios move the sandbox's one virtual clock)")
    crun.add_argument("--sandbox-dir", type=Path, default=None, metavar="DIR",
                      help="start the harness's sandbox in DIR and keep it after the run, to look at its data dir "
                           "and the tenants' FTP trees (default: a temporary folder, removed)")
    crun.add_argument("--sandbox-config", type=Path, default=None, metavar="FILE",
                      help="start the harness's sandbox with this configuration file (an operator of your own: "
                           "its [operators] profiles); not with --target")
    crun.add_argument("--operator", default=None, metavar="KEY",
                      help="play the scenarios of this operator (its folder of the features: the one whose "
                           "conftest.py names its harness); default: the features folder's own")
    crun.add_argument("--features", type=Path, default=None, metavar="DIR",
                      help="the scenarios' folder (default: the ones shipped with opsim); its "
                           "conftest.py names the operator's harness (docs/architecture.md)")
    crun.set_defaults(run=cmd_conformance_run)

    new = sub.add_parser("new", help="write a new capability or operator into this checkout, passing at once",
                         description="Write what docs/architecture.md's recipe (\"Adding a capability\") asks "
                                     "for, rendered from simulator/scaffold/templates/, into the checkout opsim "
                                     "runs from. Nothing is written when a name is refused (exit 2).")
    new.set_defaults(help_of=new)
    new_sub = new.add_subparsers(dest="new_command", metavar="WHAT")
    ncap = new_sub.add_parser(
        "capability", help="a capability of an operator: module, spec pack, profile lines, scenario, steps, "
                           "reference OC verbs, check ids, docs",
        description="A working capability NAME of OPERATOR (a file dropped in its area is answered at once, "
                    "confirmed later by a due event, notified by an admin action), enabled in the operator's "
                    "profile, with a scenario its reference OC passes: `opsim conformance run --only NAME`.")
    ncap.add_argument("operator", metavar="OPERATOR", help="an operator of simulator/operators/: its folder's name")
    ncap.add_argument("name", metavar="NAME", help="a lower-case Python identifier (e.g. ping)")
    ncap.add_argument("--dry-run", action="store_true", help="list the files it would write and edit")
    ncap.set_defaults(run=cmd_new)
    nop = new_sub.add_parser(
        "operator", help="an operator: profile, harness, features folder and a starter capability",
        description="An operator NAME in simulator/operators/NAME/ (a profile with its own FTP port, 0: a free "
                    "one kept for the data dir), its conformance harness, features/NAME/ and a starter "
                    "capability NAME; served by default as a packaged operator ([operators] enabled selects).")
    nop.add_argument("name", metavar="NAME", help="a lower-case Python identifier (e.g. origyne)")
    nop.add_argument("--dry-run", action="store_true", help="list the files it would write and edit")
    nop.set_defaults(run=cmd_new)
    return parser


def _config_flags(p: argparse.ArgumentParser, with_file: bool = True) -> None:
    """The flags of `opsim up`, also taken by `opsim config check` to show what `up` would use."""
    d = Config
    p.add_argument("--data-dir", type=Path, default=None,
                   help=f"where orders, files and the journal are kept (default ./{d.data_dir})")
    p.add_argument("--host", default=None, metavar="ADDRESS",
                   help=f"address of FTP and the OC-facing endpoints (default {d.host}; 0.0.0.0 for every "
                        f"interface); the admin API listens on --admin-host")
    p.add_argument("--admin-host", default=None, metavar="ADDRESS",
                   help=f"address of the admin API (default {d.admin_host}); any other than loopback needs "
                        f"--admin-token or --admin-open")
    p.add_argument("--admin-token", default=None, metavar="TOKEN",
                   help=f"Bearer token the admin API requires (default: ${ADMIN_TOKEN_ENV}, then the file; "
                        f"prefer the variable: flags show in `ps`)")
    p.add_argument("--admin-open", action="store_true", default=None,
                   help="serve the admin API beyond loopback without a token (anyone reaching it can move the "
                        "clock and read every tenant)")
    p.add_argument("--ftp-port", action="append", default=None, metavar="[OPERATOR=]PORT",
                   help="an operator's FTP port, 0 for a free one kept for the data dir (default: its profile's, "
                        "as `opsim up` prints it); a bare PORT is the first operator's; repeat for each operator")
    p.add_argument("--http-port", type=int, default=None,
                   help=f"admin API (HTTP) port, 0 for a free one (default {d.http_port})")
    p.add_argument("--https-port", type=int, default=None,
                   help="HTTPS port of the web services and the admin API, 0 for a free one (default: no HTTPS); "
                        "its certificate comes from the sandbox CA, whose path is printed at start")
    p.add_argument("--smtp-port", type=int, default=None,
                   help="SMTP port of the e-mail channel, 0 for a free one (default: no SMTP); OCs mail their files "
                        "to the operators' mailboxes (one per area: GET /api/operators), answers go back by mail")
    p.add_argument("--ftp-passive-ports", default=None, metavar="FIRST-LAST",
                   help="fixed range for FTP data connections, e.g. 30000-30009 in a container (default: any)")
    p.add_argument("--ftp-masquerade-address", default=None, metavar="IP",
                   help="address given in PASV replies when clients connect through NAT (e.g. Docker on a Mac)")
    p.add_argument("--seed", type=int, default=None,
                   help=f"seed of the generated reference network, fixed at the first start (default {d.seed})")
    if with_file:
        p.add_argument("--config", type=Path, default=None, metavar="FILE",
                       help="TOML file: tenants, operators, clock (`opsim config schema` lists its keys)")


_FLAG_KEYS = ("data_dir", "host", "admin_host", "admin_token", "admin_open", "ftp_port", "http_port", "https_port",
              "ftp_passive_ports", "ftp_masquerade_address", "seed", "smtp_port")


def _load(args: argparse.Namespace, path: Path | None) -> Config | None:
    flags = {k: getattr(args, k) for k in _FLAG_KEYS}
    operator_ports: dict[str, int | str] = {}
    for value in flags.pop("ftp_port") or []:  # --ftp-port PORT, --ftp-port OPERATOR=PORT
        key, named, port = value.rpartition("=")
        port = port.strip()
        number: int | str = int(port) if port.lstrip("-").isdigit() else port  # not a number: said by the check
        if named:
            operator_ports[key.strip()] = number
        else:
            flags["ftp_port"] = number
    try:
        return load_config(path, env=os.environ, operator_ports=operator_ports, **flags)
    except ConfigError as e:
        _error(str(e))
        return None


def _error(message: str) -> None:
    print(f"opsim: {message}", file=sys.stderr, flush=True)


def _non_negative(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)  # argparse reports a ValueError as "invalid <kind> value"
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text}: the virtual clock only moves forward")
        return value
    parse.__name__ = kind.__name__
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: expected a number > 0") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: expected a number > 0")
    return value


# ---------------------------------------------------------------------------------------------- up
def cmd_up(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = _load(args, args.config)
    if config is None:
        return 2
    from .sandbox import Sandbox  # heavy imports only when serving
    from .startup import StartupError

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # `docker stop`, systemd, kill: a clean stop
    box = None
    try:
        box = Sandbox(config)
        # Recovery after a stop (a kill during a long advance) runs before the servers: say what it does.
        box.start(progress=lambda message: print(f"opsim: {message}", file=sys.stderr, flush=True))
    except StartupError as e:
        _error(f"cannot start: {e}")
        return _abandon(box)
    except SystemExit:  # werkzeug exits when it cannot listen (a port taken between our probe and its bind)
        _error(f"cannot start: the admin API cannot listen on {config.admin_host} port {config.http_port}")
        return _abandon(box)
    except KeyboardInterrupt:
        _abandon(box)
        return 130
    except Exception as e:  # noqa: BLE001 - a data dir or spec pack we cannot use: one line, details with -v
        log.debug("start-up failed", exc_info=True)
        _error(f"cannot start: {type(e).__name__}: {e}" + ("" if args.verbose else " (-v for details)"))
        return _abandon(box)
    try:  # from here on, Ctrl-C at any moment stops the sandbox cleanly
        _print_ready(box, config)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        try:
            print("opsim: stopping", flush=True)
        finally:  # even when nobody reads our output any more
            box.stop()
    return 0


def _print_ready(box: Any, config: Config) -> None:
    print(f"opsim {box.version} ready (data dir {config.data_dir}, seed {box.seed}, clock "
          f"{box.clock.now().isoformat(timespec='seconds')}{' frozen' if box.clock.frozen else ''})")
    for key, operator in box.operators.items():  # one FTP endpoint per operator, in the profiles' order
        if key not in box.ftp:
            continue
        host, port = box.ftp_address_of(key)
        capabilities = ", ".join(f"{c.name} ({c.pack.name})" if c.pack else c.name
                                 for c in operator.capabilities.values())
        networks = ", ".join(f"{n.interop}/{n.arcep}" for n in operator.profile.networks)
        print(f"  ftp   ftp://{host}:{port}  {operator.profile.name}: {capabilities}"
              + (f", networks {networks}" if networks else ""))
    print(f"  http  {box.http_url}/api  admin API (health, clock, addresses, orders, journal, tenants)"
          + (", Bearer token required" if config.admin_token else ""))
    demo = config.demo_tenant and not any(t.code == "DEMO" for t in config.tenants)
    for tenant in config.all_tenants():
        # Only the demo tenant's password is public; the others' stay in their file (and out of CI logs).
        secret = f" password {tenant.password}" if demo and tenant.code == "DEMO" else ""
        print(f"  tenant {tenant.code}: login {tenant.login}{secret}")
    _print_web_services(box)
    sys.stdout.flush()
    if not is_loopback(config.admin_host) and not config.admin_token:
        _error(f"warning: the admin API on {config.admin_host} has no token (--admin-open)")


def _print_web_services(box: Any) -> None:
    """The SOAP services (HTTP, and HTTPS with the CA certificate an OC's client must trust)."""
    for path, guard in box.soap.items():
        wsdl = f"{path}{guard.endpoint.wsdl_path}"
        print(f"  soap  {box.http_url}{wsdl}  {guard.endpoint.service}"
              + (f" (also {box.https_url}{wsdl})" if box.https else ""))
    if getattr(box, "smtp", None) is not None:
        host, port = box.smtp.address
        print(f"  smtp  {host}:{port}  e-mail channel: " + ", ".join(sorted(box.mail_addresses())))
    if box.https:
        print(f"  https {box.https_url}  web services and admin API over TLS; CA certificate {box.tls.ca_cert}")


def _abandon(box: Any) -> int:
    """Stop what a failed start left running; exit code 1."""
    if box is not None:
        try:
            box.stop()
        except Exception:  # noqa: BLE001 - already reporting the first error
            log.debug("stop after a failed start", exc_info=True)
    return 1


# ---------------------------------------------------------------------------------------------- config
def cmd_config_check(args: argparse.Namespace) -> int:
    config = _load(args, args.file)
    if config is None:
        return 2
    source = f"{args.file} is valid" if args.file else "no file: the defaults"
    print(f"# {source}; effective configuration (defaults, file, {ADMIN_TOKEN_ENV}, flags):")
    print(render(effective_values(config), show_secrets=args.show_secrets, schema=schema_of(config)), end="")
    return 0


def cmd_config_schema(args: argparse.Namespace) -> int:
    config = None
    if args.config is not None:
        try:
            config = load_config(args.config)
        except ConfigError as e:
            _error(str(e))
            return 2
    print(schema_template(config), end="")
    return 0


def cmd_rejects(args: argparse.Namespace) -> int:
    from .specs.codec import load_pack
    from .specs.rejects_doc import rejects_markdown

    if args.pack is None:
        from .specs.codec import packaged_packs

        with_rejects = [name for name in packaged_packs() if load_pack(name).rejects]
        if len(with_rejects) != 1:
            print(f"opsim: name the pack with --pack (packaged with reject codes: {', '.join(with_rejects)})",
                  file=sys.stderr)
            return 2
        args.pack = with_rejects[0]
    try:
        pack = load_pack(args.pack)
    except (OSError, ValueError, KeyError) as e:
        print(f"opsim: --pack {args.pack}: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(rejects_markdown(pack))
    return 0


# ---------------------------------------------------------------------------------------------- conformance
#: What the harness needs beyond the sandbox: the `conformance` extra of the package (pyproject.toml).
HARNESS_MODULES = ("pytest", "pytest_bdd", "pytest_timeout", "xdist", "hypothesis", "zeep", "requests", "jinja2")


def cmd_conformance_run(args: argparse.Namespace) -> int:
    import importlib.util

    missing = [name for name in HARNESS_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        _error(f"conformance run needs the harness's libraries ({', '.join(missing)} missing): "
               "pip install 'opsim[conformance]'")
        return 2
    from conformance.runner import run  # the harness: loaded only when asked for

    return run(adapter=args.adapter, target=args.target, report_dir=args.report_dir, only=args.only,
               seed=args.seed, features=args.features, fuzz=args.fuzz, jobs=args.jobs,
               sandbox_dir=args.sandbox_dir, sandbox_config=args.sandbox_config, operator=args.operator)


# ---------------------------------------------------------------------------------------------- new
def cmd_new(args: argparse.Namespace) -> int:
    from .scaffold import ScaffoldError, new_capability, new_operator

    try:
        plan = new_operator(args.name) if args.new_command == "operator" else new_capability(args.operator, args.name)
    except ScaffoldError as e:
        _error(str(e))
        return 2
    if not args.dry_run:
        plan.apply()
    for line in plan.lines():
        print(("would " if args.dry_run else "") + line)
    return 0


# ---------------------------------------------------------------------------------------------- remote
def _remote_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=DEFAULT_URL, help=f"the sandbox's admin API address (default {DEFAULT_URL})")
    p.add_argument("--token", default=None,
                   help=f"admin API Bearer token (default ${ADMIN_TOKEN_ENV}); needed when the sandbox has one")


def _call(args: argparse.Namespace, path: str, method: str = "GET", body: dict | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    token = args.token if args.token is not None else os.environ.get(ADMIN_TOKEN_ENV, "")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(args.url.rstrip("/") + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _remote(fn: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], int]:
    """The HTTP sub-commands: print the JSON answer, or one line saying what went wrong."""
    def run(args: argparse.Namespace) -> int:
        try:
            answer = fn(args)
        except _UsageError as e:
            _error(str(e))
            return 2
        except urllib.error.HTTPError as e:
            _error(f"{e.code} {_http_detail(e)}" + (
                f" (give the admin token with --token or {ADMIN_TOKEN_ENV})" if e.code in (401, 403) else ""))
            return 1
        except urllib.error.URLError as e:
            _error(f"no sandbox at {args.url} ({e.reason}); start one with `opsim up`")
            return 1
        except (OSError, ValueError) as e:  # a timeout, a reset, a URL that is not http://, a non-JSON answer
            _error(f"{args.url}: {e}")
            return 1
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return 0
    return run


class _UsageError(Exception):
    pass


def _http_detail(e: urllib.error.HTTPError) -> str:
    text = e.read().decode(errors="replace")
    try:
        body = json.loads(text)
        return f"{body.get('error', e.reason)}: {body['detail']}" if body.get("detail") else str(body.get("error"))
    except (ValueError, AttributeError, KeyError):
        return f"{e.reason}: {' '.join(text.split())[:200]}"


@_remote
def cmd_status(args: argparse.Namespace) -> Any:
    return _call(args, "/api/health")


@_remote
def cmd_clock(args: argparse.Namespace) -> Any:
    if args.action != "advance" and (args.hours or args.working_days):
        raise _UsageError("--hours and --working-days go with `opsim clock advance`")
    if args.action != "resume" and args.speed is not None:
        raise _UsageError("--speed goes with `opsim clock resume`")
    if args.action == "show":
        return _call(args, "/api/clock")
    if args.action == "advance":
        if not (args.hours or args.working_days):
            raise _UsageError("clock advance needs --hours N or --working-days N")
        answer = _call(args, "/api/clock/advance", "POST", {"hours": args.hours, "working_days": args.working_days})
        while isinstance(answer, dict) and answer.get("state") == "running":  # a long advance: its handle
            print(f"opsim: advancing, {answer.get('due_events', '?')} due events left", file=sys.stderr, flush=True)
            time.sleep(2)
            answer = _call(args, answer["poll"])
        if isinstance(answer, dict) and answer.get("state") == "failed":
            raise ValueError(f"the advance failed: {answer.get('error')}")
        return answer.get("clock", answer) if isinstance(answer, dict) and "state" in answer else answer
    body = {"speed": args.speed} if args.speed is not None else {}
    return _call(args, f"/api/clock/{args.action}", "POST", body)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("opsim")
    except PackageNotFoundError:
        return "0.0.0"


if __name__ == "__main__":
    sys.exit(main())
