"""Sandbox configuration: defaults, then a TOML file, then command-line flags.

With no file at all the sandbox serves the Covage profile's two networks to tenant DEMO/demo.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .clock import Delay

PROFILE_FILE = Path(__file__).parent / "operators" / "covage" / "profile.toml"
CODE = re.compile(r"^[A-Z0-9]{2,8}$")


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class Network:
    interop: str  # 4-letter Interop code of the OI network (folder IN/<interop>/...)
    arcep: str  # 2-letter ARCEP code
    name: str = ""


@dataclass(frozen=True)
class Tenant:
    code: str
    login: str
    password: str
    email: str = ""
    api_token: str = ""  # Bearer token of this tenant on the admin API (sees only its own data)


@dataclass
class CovageProfile:
    name: str
    refinterne1: str
    refinterne2: str
    mail_domain: str
    acces_spec: str
    network_size: int
    networks: list[Network]
    timings: dict[str, Delay]

    def network(self, interop: str) -> Network:
        for n in self.networks:
            if n.interop == interop:
                return n
        raise KeyError(interop)


@dataclass
class ClockConfig:
    start: datetime | None = None  # virtual time of a new data dir (default: real time)
    frozen: bool = False
    speed: float = 1.0


@dataclass
class Config:
    data_dir: Path = Path(".opsim")
    host: str = "127.0.0.1"  # FTP (and later the other OC-facing endpoints)
    admin_host: str = "127.0.0.1"  # the admin API, apart: it moves the clock and reads every tenant
    admin_token: str = ""  # Bearer token for mutating calls and cross-tenant reads ("" = none)
    admin_open: bool = False  # serve the admin API without a token beyond loopback, when told explicitly
    ftp_port: int = 2121
    http_port: int = 8080
    ftp_passive_ports: str = ""  # "30000-30009": a fixed range for containers and firewalls
    ftp_masquerade_address: str = ""  # the address PASV replies give, when clients reach us through NAT
    seed: int = 42
    demo_tenant: bool = True
    tenants: list[Tenant] = field(default_factory=list)
    clock: ClockConfig = field(default_factory=ClockConfig)
    covage: CovageProfile = field(default_factory=lambda: load_profile({}))

    def all_tenants(self) -> list[Tenant]:
        tenants = list(self.tenants)
        if self.demo_tenant and not any(t.code == "DEMO" for t in tenants):
            tenants.insert(0, Tenant("DEMO", "DEMO", "demo", "tech@demo.opsim.test"))
        return tenants


def load_profile(overrides: dict[str, Any]) -> CovageProfile:
    data = tomllib.loads(PROFILE_FILE.read_text(encoding="utf-8"))
    timings = {**data.pop("timings"), **overrides.pop("timings", {})}
    data.update(overrides)
    networks = [Network(str(n["interop"]).upper(), str(n["arcep"]).upper(), n.get("name", ""))
                for n in data.pop("networks")]
    for n in networks:
        if not re.fullmatch(r"[A-Z]{4}", n.interop) or not re.fullmatch(r"[A-Z0-9]{2}", n.arcep):
            raise ConfigError(f"covage.networks: {n.interop}/{n.arcep}: Interop code is 4 letters, ARCEP 2")
    try:
        parsed = {k: Delay.parse(v) for k, v in timings.items()}
    except ValueError as e:
        raise ConfigError(f"covage.timings: {e}") from e
    return CovageProfile(networks=networks, timings=parsed, **data)


def load_config(path: Path | None = None, **flags: Any) -> Config:
    """Defaults, overridden by the file, overridden by flags that are not None."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"configuration file not found: {path}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: {e}") from e
    sandbox = raw.get("sandbox", {})
    config = Config()
    for key in ("host", "ftp_port", "http_port", "ftp_passive_ports", "ftp_masquerade_address", "seed",
                "demo_tenant"):
        if key in sandbox:
            setattr(config, key, sandbox[key])
    if "data_dir" in sandbox:
        config.data_dir = Path(sandbox["data_dir"])
    for key, value in flags.items():
        if value is not None:
            setattr(config, key, Path(value) if key == "data_dir" else value)
    passive_range(config.ftp_passive_ports)  # refuse a bad range now, not at the first transfer
    config.tenants = [_tenant(t) for t in raw.get("tenants", [])]
    clock = raw.get("clock", {})
    start = clock.get("start")
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    config.clock = ClockConfig(start=start, frozen=bool(clock.get("frozen", False)),
                               speed=float(clock.get("speed", 1.0)))
    config.covage = load_profile(dict(raw.get("covage", {})))
    return config


def passive_range(text: str) -> list[int] | None:
    """ "30000-30009" -> the ports; "" -> None (any free port)."""
    if not text:
        return None
    m = re.fullmatch(r"(\d+)-(\d+)", text.strip())
    if not m or not 1024 <= int(m[1]) <= int(m[2]) <= 65535:
        raise ConfigError(f"ftp passive ports {text!r}: expected a range such as 30000-30009")
    return list(range(int(m[1]), int(m[2]) + 1))


def _tenant(entry: dict[str, Any]) -> Tenant:
    code = str(entry.get("code", "")).upper()
    if not CODE.match(code):
        raise ConfigError(f"tenants: code {code!r} must be 2 to 8 letters or digits (the OC's Interop code)")
    if not entry.get("password"):
        raise ConfigError(f"tenants: {code} has no password")
    return Tenant(code, str(entry.get("login", code)), str(entry["password"]), str(entry.get("email", "")))
