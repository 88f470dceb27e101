"""The sandbox: one process that wires the store, the clock, the operator domain, the engine and the
transports together. `opsim up`, the pytest plugin and the benchmarks all start it the same way.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

from .clock import ClockState, VirtualClock, restore_state, to_timestamp
from .config import Config, ConfigError, is_loopback, passive_range
from .documents import Effects, Finding
from .engine import Engine
from .operators.covage.access import AccessDesk, Reject
from .refdata import ReferenceNetwork, generate_network
from .specs.codec import load_pack
from .startup import DataDirLock, check_ports
from .store import Store
from .tenants import TenantRegistry, hash_password
from .transports.ftp import FtpTransport
from .transports.http import HttpTransport
from .transports.mailbox import Mailboxes
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
        profile = config.covage
        self.pack = load_pack(profile.acces_spec)
        self.networks: dict[str, ReferenceNetwork] = {
            n.interop: generate_network(n.interop, n.arcep, self.seed, profile.network_size) for n in profile.networks}
        self.mailboxes = Mailboxes(config.data_dir, profile.networks)
        builtin_demo = config.demo_tenant and not any(t.code == "DEMO" for t in config.tenants)
        for tenant in config.all_tenants():  # the file is the truth for the tenants it names
            token = tenant.api_token or (DEMO_API_TOKEN if builtin_demo and tenant.code == "DEMO" else "")
            self.store.upsert_tenant(tenant.code, tenant.login, hash_password(tenant.password), tenant.email,
                                     hash_password(token) if token else "")
            self.mailboxes.ensure_tree(tenant.code)
        self.tenants = TenantRegistry(self.store)
        self.desk = AccessDesk(profile, self.pack, self.networks, self.store, self.clock.calendar)
        self.engine = Engine(self.store, self.clock, self.desk, self.pack, self.mailboxes)
        self.ftp: FtpTransport | None = None
        self.http: HttpTransport | None = None

    # ------------------------------------------------------------------ life
    def start(self) -> Sandbox:
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
        self.engine.recover()
        self.ftp = FtpTransport(self.engine, self.mailboxes, self.tenants, self.config.host, self.config.ftp_port,
                                passive_range(self.config.ftp_passive_ports), self.config.ftp_masquerade_address)
        self.http = HttpTransport(create_app(self), admin_host, self.config.http_port)
        self.ftp.start()
        self.http.start()
        return self

    def stop(self) -> None:
        for transport in (self.ftp, self.http):
            if transport is not None:
                transport.stop()
        self.engine.stop()
        self.store.close()
        self._lock.release()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def ftp_address(self) -> tuple[str, int]:
        assert self.ftp is not None, "the sandbox is not started"
        return self.ftp.address

    @property
    def http_url(self) -> str:
        assert self.http is not None, "the sandbox is not started"
        host, port = self.http.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def endpoints(self) -> dict[str, str]:
        host, port = self.ftp_address
        return {"ftp": f"ftp://{host}:{port}", "http": self.http_url, "api": f"{self.http_url}/api"}

    # ------------------------------------------------------------------ operations (engine thread)
    def add_tenant(self, code: str, password: str, email: str = "", login: str | None = None,
                   api_token: str = "") -> str | None:
        """Create an OC account and its folders; returns an error message or None."""
        login = login or code
        if not re.fullmatch(r"[A-Z0-9]{2,8}", code):
            return "code must be 2 to 8 capital letters or digits (the OC's Interop code)"
        if code in self.tenants or self.tenants.by_login(login):
            return f"tenant {code} (login {login}) already exists"
        self.store.upsert_tenant(code, login, hash_password(password), email,
                                 hash_password(api_token) if api_token else "")
        self.mailboxes.ensure_tree(code)
        self.tenants.reload()
        self.engine.note(Finding(code, "api", "admin", "", "", "tenant created", email))
        return None

    def mailboxes_for(self, code: str) -> list[str]:
        return [self.mailboxes.location(d, n.interop, a) for n in self.config.covage.networks
                for d in ("IN", "OUT") for a in ("acces", "pm")]

    def reprovision(self, tenant: str, ref: str, motif: str) -> str | None:
        """Operator action: a new route optique for an order (Notif_Reprov); returns an error or None."""
        def action(now: datetime) -> Effects:
            order = self.store.get_order(tenant, ref)
            if order is None:
                raise Reject("FIMP14", f"no order {ref} for {tenant}")
            return self.desk.reprovision(order, motif, now)

        try:
            self.engine.perform(action)
        except Reject as r:
            return r.comment
        return None

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

