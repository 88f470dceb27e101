"""The sandbox: one process that wires the store, the clock, the operators (profiles and their
capabilities), the engine and the transports together, each operator on its own endpoints.
`opsim up`, the pytest plugin and the benchmarks all start it the same way.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version

from .capability import OperatorContext, Operators, build_operator, build_web_service
from .clock import ClockState, VirtualClock, restore_state, to_timestamp
from .config import Config, ConfigError, is_loopback, passive_range
from .engine import Engine
from .facade import SandboxFacade
from .refdata import ReferenceNetwork
from .specs.codec import SpecPack
from .startup import PORTS_FILE, DataDirLock, KeptPorts, check_port, check_ports
from .store import Store
from .tenants import TenantRegistry, hash_password, hash_token
from .transports.ftp import FtpTransport
from .transports.http import HttpTransport
from .transports.mailbox import FolderDelivery, Mailboxes, migrate_legacy_homes
from .transports.mailout import ChannelDelivery, MailDelivery, MailOutbox, OperatorMail, Relay
from .transports.smtp import SmtpTransport
from .transports.soap import SoapGuard, SoapHost, mount, tenant_limits
from .transports.tls import SandboxTls
from .web.api import create_app

log = logging.getLogger(__name__)

#: The admin API token of the built-in demo tenant DEMO (it sees only DEMO's orders, journal and files).
DEMO_API_TOKEN = "demo"

try:
    VERSION = version("opsim")
except PackageNotFoundError:  # running from a source tree
    VERSION = "0.0.0"


class Sandbox:
    def __init__(self, config: Config):
        self.config = config
        self.version = VERSION
        self._lock = DataDirLock(config.data_dir).acquire()  # one sandbox per data dir, held until stop()
        try:
            self._build(config)
        except BaseException:  # a sandbox that cannot be built must not keep its data dir locked
            self._lock.release()
            raise

    def _build(self, config: Config) -> None:
        self.store = Store(config.data_dir / "opsim.sqlite3")
        self.seed = self._seed()
        self.clock = self._clock()
        contexts = {key: OperatorContext(profile, self.store, self.clock.calendar, self.seed, now=self.clock.now)
                    for key, profile in config.operators.items()}
        self.operators = Operators([build_operator(profile, contexts[key])
                                    for key, profile in config.operators.items()])
        self.networks: dict[str, ReferenceNetwork] = {
            interop: network for key, context in contexts.items() if config.operators[key].networks
            for interop, network in context.reference_networks.items()}
        legacy = next(((key, str(p.settings["legacy_capability"])) for key, p in config.operators.items()
                       if p.settings.get("legacy_capability")), None)
        if legacy is not None:  # a data dir of a version before operators were composed: whose it is
            self.store.adopt_legacy(*legacy)
            migrate_legacy_homes(config.data_dir, legacy[0])
        self.trees = {key: Mailboxes(config.data_dir, key, operator.layout, file_max_bytes=config.max_file_bytes)
                      for key, operator in self.operators.items() if operator.layout.folders}
        builtin_demo = config.demo_tenant and not any(t.code == "DEMO" for t in config.tenants)
        for tenant in config.all_tenants():  # the file is the truth for the tenants it names
            token = tenant.api_token or (DEMO_API_TOKEN if builtin_demo and tenant.code == "DEMO" else "")
            self.store.upsert_tenant(tenant.code, tenant.login, hash_password(tenant.password), tenant.email,
                                     hash_token(token) if token else "", tenant.operators)
        self.tenants = TenantRegistry(self.store, on_rehash=self._rehash)
        for account in self.tenants.accounts():
            self.ensure_folders(account.code)
        self.mail = self._mail_outbox()
        delivery = ChannelDelivery(FolderDelivery(self.trees), MailDelivery(self.mail, self._email_of))
        self.engine = Engine(self.store, self.clock, self.operators, delivery, config.data_dir / "quarantine")
        self.smtp: SmtpTransport | None = None  # with --smtp-port: the e-mail channel
        self.relay: Relay | None = None  # with [mail] relay_host: answer mails relayed to a real host
        self.ftp: dict[str, FtpTransport] = {}
        self.http: HttpTransport | None = None
        self.https: HttpTransport | None = None  # with --https-port: the same app over TLS
        self.tls: SandboxTls | None = None
        self.soap: dict[str, SoapGuard] = {}

    def ensure_folders(self, code: str) -> list[str]:
        """Create a tenant's tree at every operator it is a client of; the folders, operator by operator."""
        account = next((a for a in self.tenants.accounts() if a.code == code), None)
        folders: list[str] = []
        for key, mailboxes in self.trees.items():
            if account is None or account.client_of(key):
                mailboxes.ensure_tree(code)
                folders.extend(mailboxes.layout.folders)
        return folders

    # ------------------------------------------------------------------ life
    def start(self, progress: Callable[[str], None] | None = None) -> Sandbox:
        """Start the engine (it first finishes what a stop left: recovery, told to `progress`, however long
        it takes), then the transports."""
        admin_host = self.config.admin_host
        try:
            if not self.config.admin_token and not self.config.admin_open and not is_loopback(admin_host):
                # Defence in depth (the CLI refuses first): anyone reaching it would read every tenant.
                raise ConfigError(f"the admin API would listen on {admin_host} with no admin token: set an "
                                  "admin token, keep it on 127.0.0.1, or say admin_open explicitly")
            check_ports(self.config)
        except BaseException:
            self.store.close()  # a sandbox that cannot start leaves its data dir free
            self._lock.release()
            raise
        self.engine.start()
        self.engine.recover(progress)
        ports = KeptPorts(self.config.data_dir / PORTS_FILE)
        for key, mailboxes in self.trees.items():
            self.ftp[key] = FtpTransport(
                self.engine, mailboxes, self.tenants.of(key), self.config.host,
                ports.port(f"ftp:{key}", self.config.host, self.config.ftp_port_of(key)),
                passive_range(self.config.ftp_passive_ports), self.config.ftp_masquerade_address,
                banner_name=self.config.operators[key].name)
        self._start_mail()
        self.soap = self.web_services()
        app = mount(create_app(self.facade()), self.soap)
        self.http = HttpTransport(app, admin_host, self.config.http_port)
        if self.config.https_port >= 0:
            self.tls = SandboxTls(self.config.data_dir / "tls").ensure([admin_host, self.config.host])
            self.https = HttpTransport(app, admin_host, self.config.https_port, self.tls.context(),
                                       (self.tls.server_cert, self.tls.server_key))
        for key, ftp in self.ftp.items():
            ftp.start()
            ports.keep(f"ftp:{key}", ftp.address[1])
        ports.save()
        self.http.start()
        if self.https is not None:
            self.https.start()
        return self

    def web_services(self) -> dict[str, SoapGuard]:
        """Every web service the operators' capabilities declare, behind the SOAP guard, by mount path."""
        guards: dict[str, SoapGuard] = {}
        for key, operator in self.operators.items():
            settings = operator.profile.settings
            host = SoapHost(key, self.engine, self.clock, self.tenants.of(key),
                            tenant_limits(int(settings.get("ws_rate_limit", 2)),
                                          str(settings.get("ws_tenant_rate_limits", ""))))
            for capability in operator.capabilities.values():
                for service in capability.web_services:
                    endpoint = build_web_service(capability, service, host)
                    guards[endpoint.path] = SoapGuard(endpoint, host)
        return guards

    def facade(self) -> SandboxFacade:
        """What the admin API may see and do."""
        return SandboxFacade(self.config, self.version, self.store, self.clock, self.tenants, self.operators,
                             self.engine, self.endpoints, self.networks, self.ensure_folders)

    def stop(self) -> None:
        for transport in (self.smtp, self.relay, *self.ftp.values(), self.http, self.https):
            if transport is not None:
                transport.stop()
        self.engine.stop()
        self.store.close()
        self._lock.release()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _rehash(self, code: str, password_hash: str, api_token_hash: str) -> None:
        """A tenant's secret found under an older hash: its new hash is written by the engine, on a thread of its
        own so that the login (on the FTP thread, or a request) does not wait for the engine's queue."""
        def write() -> None:
            self.store.replace_hashes(code, password_hash, api_token_hash)
            self.tenants.reload()

        def run() -> None:
            with contextlib.suppress(Exception):  # stopped meanwhile: the next login rehashes it again
                self.engine.call(write)

        threading.Thread(target=run, name="opsim-rehash", daemon=True).start()

    @property
    def ftp_address(self) -> tuple[str, int]:
        """The first operator's FTP endpoint (in the profiles' order)."""
        return self.ftp_address_of(next(iter(self.ftp)))

    @property
    def mailboxes(self) -> Mailboxes:
        """The first operator's tenant trees (tests and benchmarks look into them)."""
        return next(iter(self.trees.values()))

    @property
    def pack(self) -> SpecPack:
        """The spec pack of the first operator's first capability that takes files (tests and users' fixtures
        write files with it)."""
        operator = self.operators[next(iter(self.operators))]
        pack = next((c.pack for c in operator.capabilities.values() if c.areas and c.pack is not None), None)
        if pack is None:
            raise LookupError(f"operator {operator.key} takes no file with a spec pack")
        return pack

    def ftp_address_of(self, operator: str) -> tuple[str, int]:
        assert self.ftp, "the sandbox is not started"
        return self.ftp[operator].address

    @property
    def http_url(self) -> str:
        assert self.http is not None, "the sandbox is not started"
        host, port = self.http.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def https_url(self) -> str:
        assert self.https is not None, "the sandbox serves no HTTPS (--https-port)"
        host, port = self.https.address
        return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"

    def endpoints(self) -> dict[str, str]:
        """Every endpoint: "ftp" is the first operator's, "ftp:<operator>" each operator's."""
        found: dict[str, str] = {}
        for key, ftp in self.ftp.items():
            host, port = ftp.address
            if not found:
                found["ftp"] = f"ftp://{host}:{port}"
            found[f"ftp:{key}"] = f"ftp://{host}:{port}"
        found.update({f"soap:{g.endpoint.service}": f"{self.http_url}{path}" for path, g in self.soap.items()})
        if self.https is not None:
            found["https"] = self.https_url
        if self.smtp is not None:  # the e-mail channel: every operator with mailboxes takes mail there
            host, port = self.smtp.address
            found.update({f"smtp:{key}": f"smtp://{host}:{port}" for key in self.mail.operators})
        return {**found, "http": self.http_url, "api": f"{self.http_url}/api"}

    # ------------------------------------------------------------------ the e-mail channel
    def _mail_outbox(self) -> MailOutbox:
        """Every operator's mail identity (domain, a mailbox per area) and the outbox of answer mails."""
        identities = {key: mail for key, operator in self.operators.items()
                      if (mail := OperatorMail.of(key, operator.profile.settings, operator.layout)) is not None}
        return MailOutbox(self.store, identities)  # its table is created here, at start-up

    def _email_of(self, code: str) -> str:
        return next((a.email for a in self.tenants.accounts() if a.code == code), "")

    def _start_mail(self) -> None:
        """The SMTP server (--smtp-port) and the relay ([mail] relay_host), when configured."""
        mail = self.config.mail
        if mail.relay_host:
            def mark(mail_id: int, relayed: bool, error: str) -> None:
                self.engine.call(lambda: self.mail.mark(mail_id, relayed, error))
            self.relay = Relay(self.mail, mail.relay_host, mail.relay_port, mark)
            self.relay.start()
        if self.config.smtp_port >= 0:
            check_port("SMTP", self.config.host, self.config.smtp_port, "--smtp-port", "--host")
            self.smtp = SmtpTransport(
                self.engine, self.mail.operators, self.tenants, self.mail, self.config.data_dir / "spool" / "mail",
                self.config.host, self.config.smtp_port, mail.max_bytes,
                accepts=lambda operator, area: self.operators[operator].receiver(area, "mail") is not None)
            self.smtp.start()

    def mail_addresses(self) -> list[str]:
        """The operators' mailboxes (where OCs send their files by mail)."""
        return [mail.address(area) for mail in self.mail.operators.values() for area in mail.mailboxes]

    # ------------------------------------------------------------------ persisted settings
    def _seed(self) -> int:
        stored = self.store.get_meta("seed")
        if stored is None:
            self.store.set_meta("seed", str(self.config.seed))
            return self.config.seed
        if int(stored) != self.config.seed:
            log.warning("data dir was created with seed %s: keeping it (seed %s ignored)", stored, self.config.seed)
        return int(stored)

    def _clock(self) -> VirtualClock:
        stored = self.store.get_meta("clock")
        start = self.config.clock.start
        state = None
        if stored:
            # Whatever is stored (an infinite speed once was), the data dir must open.
            fallback = to_timestamp(start) if start is not None else time.time()
            state, repaired = restore_state(stored, time.time(), fallback)
            if repaired:
                log.warning("data dir clock repaired: %s", repaired)
                self.store.set_meta("clock", json.dumps(asdict(state)))
        if state is None and start is not None:
            # A new data dir may start at a fixed date (reproducible tests), even in the past.
            # Frozen from the first instant, so a frozen start is exactly `start`.
            state = ClockState(anchor_virtual=to_timestamp(start), anchor_real=time.time(),
                               speed=0.0 if self.config.clock.frozen else 1.0)
        clock = VirtualClock(state, on_change=lambda s: self.store.set_meta("clock", json.dumps(asdict(s))))
        if stored is None:
            self.store.set_meta("clock", json.dumps(asdict(clock.state)))
        if self.config.clock.speed != 1.0:
            clock.set_speed(self.config.clock.speed)
        if self.config.clock.frozen:
            clock.freeze()
        return clock

