"""Sandbox configuration: defaults, then a TOML file, then the environment, then command-line flags.

With no file at all the sandbox serves every packaged operator's profile to tenant DEMO/demo.

SCHEMA below is the one description of the file: every section and key, its type and checks, its
documentation. It validates a file (an unknown key, a wrong type or a bad value is a one-line
`ConfigError` naming the key) and documents it (`opsim config schema` renders it as a TOML template).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from .clock import Delay
from .profile import MAILBOX_PREFIX, OperatorProfile, ProfileError, packaged_profiles, read_profile

CODE = re.compile(r"^[A-Z0-9]{2,8}$")
ADMIN_TOKEN_ENV = "OPSIM_ADMIN_TOKEN"


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why, on one line."""


@dataclass(frozen=True)
class Tenant:
    code: str
    login: str
    password: str
    email: str = ""
    api_token: str = ""  # Bearer token of this tenant on the admin API (sees only its own data)
    operators: tuple[str, ...] = ()  # the operators it is a client of (empty: every enabled one)


@dataclass
class ClockConfig:
    start: datetime | None = None  # virtual time of a new data dir (default: real time)
    frozen: bool = False
    speed: float = 1.0


@dataclass
class MailConfig:
    """The e-mail channel's [mail] table (the SMTP server itself is --smtp-port)."""

    relay_host: str = ""  # real SMTP host the answer mails are relayed to ("" = kept in the outbox only)
    relay_port: int = 25
    max_bytes: int = 10 * 1024 * 1024  # one inbound mail; a larger one is refused (552)


@dataclass
class Config:
    data_dir: Path = Path(".opsim")
    host: str = "127.0.0.1"  # FTP (and later the other OC-facing endpoints)
    admin_host: str = "127.0.0.1"  # the admin API, apart: it moves the clock and reads every tenant
    admin_token: str = ""  # Bearer token for mutating calls and cross-tenant reads ("" = none)
    admin_open: bool = False  # serve the admin API without a token beyond loopback, when told explicitly
    ftp_port: int | None = None  # the first operator's FTP port, over its profile's (--ftp-port N, [sandbox])
    http_port: int = 8080
    https_port: int = -1  # HTTPS (web services and admin API) with the sandbox CA; -1: no HTTPS
    smtp_port: int = -1  # the e-mail channel's SMTP server (on host); -1: none
    ftp_passive_ports: str = ""  # "30000-30009": a fixed range for containers and firewalls
    ftp_masquerade_address: str = ""  # the address PASV replies give, when clients reach us through NAT
    max_file_bytes: int = 32 * 1024 * 1024  # one inbound file; beyond, it is answered unread (one KO line)
    seed: int = 42
    demo_tenant: bool = True
    tenants: list[Tenant] = field(default_factory=list)
    clock: ClockConfig = field(default_factory=ClockConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    #: Enabled operators by key, their profiles with this configuration's overrides applied.
    operators: dict[str, OperatorProfile] = field(default_factory=lambda: default_operators())

    def ftp_port_of(self, operator: str) -> int:
        """An operator's FTP port: its profile's `[endpoints] ftp_port`, as the configuration and `--ftp-port
        OPERATOR=PORT` override it (0: a free port, kept for the data dir: sandbox.py)."""
        return int(self.operators[operator].endpoints.get("ftp_port", 0))

    def all_tenants(self) -> list[Tenant]:
        tenants = list(self.tenants)
        if self.demo_tenant and not any(t.code == "DEMO" for t in tenants):
            tenants.insert(0, Tenant("DEMO", "DEMO", "demo", "tech@demo.opsim.test"))
        return tenants


# ---------------------------------------------------------------------------------------------- value kinds
@dataclass(frozen=True)
class Kind:
    """A type of value: `convert` returns the Python value or raises ValueError; `expected` names a
    valid value in error messages and in the schema's documentation."""

    expected: str
    convert: Callable[[Any], Any]


def _check(ok: bool) -> None:
    if not ok:
        raise ValueError


def _text(value: Any) -> str:
    _check(isinstance(value, str))
    return value


def _word(value: Any) -> str:
    """Non-empty, no blanks: hosts, logins, tokens (a token travels in an HTTP header)."""
    _check(isinstance(value, str) and bool(value) and not re.search(r"\s", value))
    return value


def _token(value: Any) -> str:
    _check(isinstance(value, str) and not re.search(r"[^\x21-\x7e]", value))
    return value


def _boolean(value: Any) -> bool:
    _check(isinstance(value, bool))
    return value


def _integer(low: int, high: int | None = None) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        # TOML's true is a Python int: refuse it explicitly.
        _check(isinstance(value, int) and not isinstance(value, bool) and low <= value
               and (high is None or value <= high))
        return value
    return convert


def _positive_number(value: Any) -> float:
    _check(isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0)
    return float(value)


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?")


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):  # a TOML date-time, unquoted
        return value
    if isinstance(value, date):  # a TOML date: midnight
        return datetime.combine(value, time())
    _check(isinstance(value, str) and bool(_ISO.fullmatch(value.strip())))
    return datetime.fromisoformat(value.strip())  # still raises ValueError on 2026-13-45


def _delay(value: Any) -> Delay:
    _check(isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool) and value >= 0))
    # Delay.parse would round "1.5 working days" down without a word: working days are whole.
    _check(not (isinstance(value, str) and re.search(r"\.\d*[1-9]\d*\s*w", value.lower())))
    return Delay.parse(value)


def _path(value: Any) -> Path:
    _check(isinstance(value, str | Path) and str(value) != "")
    return Path(value)


def _code(pattern: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        _check(isinstance(value, str) and re.fullmatch(pattern, value.upper()) is not None)
        return value.upper()
    return convert


def passive_range(text: str) -> list[int] | None:
    """ "30000-30009" -> the ports; "" -> None (any free port)."""
    if not text:
        return None
    m = re.fullmatch(r"(\d+)-(\d+)", text.strip())
    if not m or not 1024 <= int(m[1]) <= int(m[2]) <= 65535:
        raise ConfigError(f"ftp passive ports {text!r}: expected a range such as 30000-30009")
    return list(range(int(m[1]), int(m[2]) + 1))


def _passive(value: Any) -> str:
    passive_range(_text(value))  # ConfigError is a ValueError
    return value


def _spec_pack(value: Any) -> str:
    from .specs.codec import PACKS_DIR

    _check(isinstance(value, str) and bool(value))
    path = Path(value) if Path(value).is_dir() else PACKS_DIR / value
    _check((path / "pack.yaml").is_file())
    return value


TEXT = Kind("a string", _text)
WORD = Kind("a non-empty string without spaces", _word)
HOST = Kind("an IP address or host name, such as 127.0.0.1 or 0.0.0.0", _word)
TOKEN = Kind("a token of printable characters without spaces (empty: none)", _token)
BOOL = Kind("true or false", _boolean)
PORT = Kind("a port number from 0 to 65535 (0: any free port)", _integer(0, 65535))
OPTIONAL_PORT = Kind("a port number from 0 to 65535 (0: any free port), or -1 for none", _integer(-1, 65535))
SEED = Kind("an integer >= 0", _integer(0))
SIZE = Kind("an integer >= 1", _integer(1))
SPEED = Kind("a number > 0", _positive_number)
MOMENT = Kind("a date-time such as 2026-11-24T10:00:00", _moment)
DELAY = Kind('a delay such as "1 working day", "4 hours", "30 min" or "0"', _delay)
PATH = Kind("a path", _path)
PASSIVE = Kind('a port range such as "30000-30009" (empty: any)', _passive)
SPEC = Kind("a packaged spec pack's name or a folder holding pack.yaml", _spec_pack)
TENANT_CODE = Kind("2 to 8 letters or digits (the OC's Interop code)", _code(r"[A-Z0-9]{2,8}"))
INTEROP = Kind("4 letters (the network's Interop code)", _code(r"[A-Z]{4}"))
ARCEP = Kind("2 letters or digits (the ARCEP code)", _code(r"[A-Z0-9]{2}"))


# ---------------------------------------------------------------------------------------------- the schema
@dataclass(frozen=True)
class Key:
    kind: Kind
    doc: str
    flag: str = ""  # the `opsim up` flag that overrides it
    env: str = ""  # the environment variable that overrides it
    required: bool = False
    example: Any = None  # shown by `opsim config schema` when there is no default
    secret: bool = False  # hidden by `opsim config check` unless asked


@dataclass(frozen=True)
class Table:
    doc: str
    keys: Mapping[str, Key | Table]
    array: bool = False  # [[name]]: any number of entries


_NETWORK = Table("the operator's networks (replace the profile's list)", {
    "interop": Key(INTEROP, "Interop code, folder IN/<interop>/", required=True, example="COVA"),
    "arcep": Key(ARCEP, "ARCEP code, folder IN/<interop>/<arcep>/", required=True, example="CV"),
    "name": Key(TEXT, "a label", example="delegation A"),
}, array=True)


#: What the core reads of every operator's profile; its capabilities declare the rest (Capability.settings).
OPERATOR_SETTINGS: dict[str, Mapping[str, Any]] = {
    "mail_domain": {"type": "string", "description": "domain of the operator's e-mail addresses"},
    "network_size": {"type": "integer", "minimum": 1, "description": "buildings (IPE lines) of the generated "
                     "reference network of each of its networks"},
    "departments": {"type": "string", "pattern": "[0-9AB]{2,3}( *, *[0-9AB]{2,3})*", "description": "departments "
                    "whose communes the networks are drawn in (comma-separated)"},
    "ws_rate_limit": {"type": "integer", "minimum": 1, "description": "web services: requests per second per OC "
                      "and service"},
    "legacy_capability": {"type": "string", "description": "data dirs written before operators were composed "
                          "are this operator's, their pending events this capability's (one operator only)"},
    "ws_tenant_rate_limits": {"type": "string", "pattern": "( *[A-Z0-9]{2,8}=[0-9]+)* *", "description": "web "
                              'services: per OC, e.g. "ACME=5 DEMO=10" (space separated CODE=N)'},
}
#: The endpoints an operator's profile may name.
ENDPOINT_DOCS = {"ftp_port": "FTP control port (0: a free one, chosen at the data dir's first start and kept)"}


def _matching(pattern: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        _check(isinstance(value, str) and re.fullmatch(pattern, value) is not None)
        return value
    return convert


def _share(value: Any) -> str:
    _check(isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", value) is not None and float(value) <= 1)
    return value


TIME_OF_DAY = Kind('a time of day such as "06:00"', _matching(r"([01][0-9]|2[0-3]):[0-5][0-9]"))
SHARE = Kind('a share from 0 to 1, as a string such as "0.10"', _share)


def _default_kind(default: Any) -> Kind:
    """The kind of an undeclared setting: that of its default in the profile."""
    return BOOL if isinstance(default, bool) else SIZE if isinstance(default, int) else TEXT


def _kind_of(schema: Mapping[str, Any]) -> Kind:
    """The configuration's kind of a value a capability declares (a JSON schema: the subset settings use)."""
    if schema.get("type") == "integer":
        low, high = int(schema.get("minimum", 0)), schema.get("maximum")
        return Kind(f"an integer >= {low}" + (f" and <= {high}" if high is not None else ""), _integer(low, high))
    if schema.get("type") == "boolean":
        return BOOL
    by_format = {"spec-pack": SPEC, "time": TIME_OF_DAY, "share": SHARE}
    if schema.get("format") in by_format:
        return by_format[schema["format"]]
    if "pattern" in schema:
        return Kind(f"a string matching {schema['pattern']}", _matching(schema["pattern"]))
    return TEXT


def declared_settings(profile: OperatorProfile) -> tuple[dict[str, Mapping[str, Any]], dict[str, str]]:
    """The settings (name -> schema) and timings (name -> meaning) the profile's capabilities and the core read."""
    from .capability import CapabilityError, capability_class

    settings = dict(OPERATOR_SETTINGS)
    settings.update({f"{MAILBOX_PREFIX}{area}": {"type": "string", "description": f"mailbox (local part) of the "
                                                  f"{area} area's files, on the e-mail channel"}
                     for area in profile.layout})
    timings: dict[str, str] = {}
    for spec in profile.capabilities:
        try:
            cls = capability_class(profile, spec)
        except CapabilityError as e:
            raise ConfigError(str(e)) from None
        for name, schema in cls.settings.items():
            settings.setdefault(name, schema)
        for name, meaning in cls.timings.items():
            timings.setdefault(name, meaning)
    return settings, timings


def operator_table(profile: OperatorProfile) -> Table:
    """What the configuration may override in an operator's profile: the settings and timings its capabilities
    (and the core) declare they read, each checked and documented by its declaration, its networks and its
    endpoints. A setting that nothing declares (a profile of one's own, its capabilities not yet declaring) is
    named by its key and takes a value of its default's type."""
    settings, timings = declared_settings(profile)
    keys: dict[str, Key | Table] = {"name": Key(TEXT, "the operator's name")}
    for name, default in profile.settings.items():
        if isinstance(default, dict | list):
            continue
        schema = settings.get(name)
        keys[name] = Key(_kind_of(schema), str(schema.get("description", name))) if schema is not None else \
            Key(_default_kind(default), name.replace("_", " "))
    if profile.timings:
        keys["timings"] = Table("protocol delays on the virtual clock",
                                {name: Key(DELAY, timings.get(name) or name.replace("_", " "))
                                 for name in profile.timings})
    if profile.networks:
        keys["networks"] = _NETWORK
    if profile.endpoints:
        keys["endpoints"] = Table("where the operator listens", {
            name: Key(PORT if name.endswith("_port") else TEXT, ENDPOINT_DOCS.get(name, name.replace("_", " ")),
                      f"--{name.replace('_', '-')} {profile.key}=PORT" if name == "ftp_port" else "")
            for name in profile.endpoints})
    return Table(f"overrides of the {profile.name} operator profile", keys)


def _packaged() -> dict[str, OperatorProfile]:
    try:
        return {key: read_profile(path, key) for key, path in packaged_profiles().items()}
    except ProfileError as e:  # a broken packaged profile is a bug of ours, said plainly
        raise ConfigError(str(e)) from None


PACKAGED = _packaged()


def default_operators() -> dict[str, OperatorProfile]:
    return dict(PACKAGED)


def _operator_keys(value: Any) -> list[str]:
    _check(isinstance(value, list) and all(isinstance(v, str) and re.fullmatch(r"[a-z][a-z0-9_]*", v)
                                           for v in value))
    return list(value)


def _profile_paths(value: Any) -> list[Path]:
    _check(isinstance(value, list) and all(isinstance(v, str) and v for v in value))
    return [Path(v) for v in value]


#: The operator the schema's examples name: the first packaged one (the default configuration's first).
DEFAULT_OPERATOR_EXAMPLE = next(iter(packaged_profiles()), "myoi")
OPERATOR_KEYS = Kind('a list of operator names (the keys `opsim up` and GET /api/operators show)', _operator_keys)
PROFILE_PATHS = Kind('a list of profile files such as ["ops/myoi/profile.toml"]', _profile_paths)


SCHEMA: dict[str, Table] = {
    "sandbox": Table("the sandbox process", {
        "data_dir": Key(PATH, "where orders, files and the journal are kept (relative to the current directory)",
                        "--data-dir"),
        "host": Key(HOST, "address of FTP and the other OC-facing endpoints", "--host"),
        "admin_host": Key(HOST, "address of the admin API (it moves the clock and reads every tenant)",
                          "--admin-host"),
        "admin_token": Key(TOKEN, "Bearer token of the admin API; required when admin_host is not loopback",
                           "--admin-token", ADMIN_TOKEN_ENV, secret=True),
        "admin_open": Key(BOOL, "serve the admin API beyond loopback without a token (explicit opt-in)",
                          "--admin-open"),
        "ftp_port": Key(PORT, "FTP control port of the first operator, over its profile's [endpoints] ftp_port "
                              "(each operator's: [<operator>.endpoints] ftp_port, or --ftp-port OPERATOR=PORT)",
                        "--ftp-port"),
        "http_port": Key(PORT, "HTTP port of the admin API", "--http-port"),
        "https_port": Key(OPTIONAL_PORT, "HTTPS port of the web services and the admin API (certificate from "
                                         "the sandbox CA in <data dir>/tls/ca.pem); -1: no HTTPS", "--https-port"),
        "smtp_port": Key(OPTIONAL_PORT, "SMTP port of the e-mail channel on host (OCs send files to the operators' "
                                        "mailboxes, answers go back by mail); -1: no SMTP", "--smtp-port"),
        "ftp_passive_ports": Key(PASSIVE, "fixed range for FTP data connections (containers, firewalls)",
                                 "--ftp-passive-ports"),
        "ftp_masquerade_address": Key(TEXT, "address given in PASV replies when clients come through NAT",
                                      "--ftp-masquerade-address"),
        "max_file_bytes": Key(SIZE, "largest inbound file read (bytes); a larger one gets one KO answer saying so"),
        "seed": Key(SEED, "seed of the generated reference network, fixed for a data dir at its first start",
                    "--seed"),
        "demo_tenant": Key(BOOL, "create the demo OC, login DEMO password demo"),
    }),
    "clock": Table("the virtual clock", {
        "start": Key(MOMENT, "virtual time of a new data dir (default: real time)",
                     example="2026-11-24T10:00:00"),
        "frozen": Key(BOOL, "time stands still until advanced or resumed"),
        "speed": Key(SPEED, "virtual seconds per real second"),
    }),
    "mail": Table("the e-mail channel (its SMTP server listens on smtp_port)", {
        "relay_host": Key(TEXT, "real SMTP host the answer mails are relayed to (empty: kept in the outbox only)",
                          example="smtp.example.test"),
        "relay_port": Key(PORT, "port of the relay host"),
        "max_bytes": Key(SIZE, "largest inbound mail (bytes, attachment encoded); a larger one is refused (552)"),
    }),
    "tenants": Table("one entry per OC (commercial operator)", {
        "code": Key(TENANT_CODE, "the OC's Interop code, its folder name", required=True, example="ACME"),
        "login": Key(WORD, "FTP login (default: the code)", example="ACME"),
        "password": Key(WORD, "FTP password", required=True, example="s3cret", secret=True),
        "email": Key(TEXT, "the OC's contact address", example="noc@acme.test"),
        "api_token": Key(TOKEN, "Bearer token of this OC on the admin API (sees only its own data)",
                         example="", secret=True),
        "operators": Key(OPERATOR_KEYS, "the operators it is a client of (default: every enabled one)",
                         example=[DEFAULT_OPERATOR_EXAMPLE]),
    }, array=True),
    "operators": Table("which operators the sandbox runs", {
        "enabled": Key(OPERATOR_KEYS, "the operators served (default: every one known)",
                       example=[DEFAULT_OPERATOR_EXAMPLE]),
        "profiles": Key(PROFILE_PATHS, "profile files of operators of your own (the folder's name is the "
                                       "operator's)", example=[]),
    }),
    **{key: operator_table(profile) for key, profile in PACKAGED.items()},
}


def _paths(table: Mapping[str, Key | Table], prefix: str = "") -> Iterator[str]:
    for name, spec in table.items():
        yield prefix + name
        if isinstance(spec, Table):
            yield from _paths(spec.keys, f"{prefix}{name}.")


def _show(value: Any) -> str:
    """A value as the file wrote it."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return _toml(value)


def _unknown(path: str, name: str, table: Mapping[str, Key | Table], value: Any) -> str:
    what = "section" if isinstance(value, dict) or (isinstance(value, list) and value and
                                                    all(isinstance(v, dict) for v in value)) else "key"
    # A key put in the wrong section or above every section header first, then a typo.
    near = difflib.get_close_matches(name.lower(), list(table), n=1, cutoff=0.8)
    elsewhere = [p for p in _paths(SCHEMA) if p.rsplit(".", 1)[-1] == name.lower() and p != path]
    vague = difflib.get_close_matches(name.lower(), list(table), n=1)
    for guess in (elsewhere, near, vague):
        if guess:
            return f"unknown {what} {path} (did you mean {guess[0]}?)"
    return f"unknown {what} {path} (known: {', '.join(table)})"


def validate(raw: Mapping[str, Any], table: Mapping[str, Key | Table] = SCHEMA, prefix: str = "",
             entry: str = "") -> dict[str, Any]:
    """Checked and converted values of a parsed TOML document; the first mistake is a ConfigError."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        path = prefix + name
        spec = table.get(name)
        if spec is None:
            raise ConfigError(entry + _unknown(path, name, table, value))
        if isinstance(spec, Table) and spec.array:
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                hint = f", not a table [{path}]" if isinstance(value, dict) else f", not {_show(value)}"
                raise ConfigError(f"{entry}{path}: expected an array of tables [[{path}]]{hint}")
            out[name] = [validate(v, spec.keys, path + ".", f"[[{path}]] entry {i}: ")
                         for i, v in enumerate(value, 1)]
        elif isinstance(spec, Table):
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                raise ConfigError(f"{entry}{path}: expected a table [{path}], not an array of tables [[{path}]]")
            if not isinstance(value, dict):
                raise ConfigError(f"{entry}{path} = {_show(value)}: expected a table [{path}]")
            out[name] = validate(value, spec.keys, path + ".", entry)
        else:
            try:
                out[name] = spec.kind.convert(value)
            except (ValueError, TypeError):
                raise ConfigError(f"{entry}{path} = {_show(value)}: expected {spec.kind.expected}") from None
    for name, spec in table.items():
        if isinstance(spec, Key) and spec.required and name not in raw:
            raise ConfigError(f"{entry}missing key {prefix}{name} ({spec.doc})")
    return out


# ---------------------------------------------------------------------------------------------- loading
def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a configuration file") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot read it (permission denied)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (a TOML file is UTF-8)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror or e})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def _own_profiles(raw: Mapping[str, Any], base: Path) -> dict[str, OperatorProfile]:
    """The operators of the user's own profile files ([operators] profiles, relative to the file)."""
    section = raw.get("operators", {})
    if not isinstance(section, dict) or "profiles" not in section:
        return {}
    try:
        paths = PROFILE_PATHS.convert(section["profiles"])
    except (ValueError, TypeError):
        raise ConfigError(f"operators.profiles = {_show(section['profiles'])}: expected {PROFILE_PATHS.expected}") \
            from None
    profiles: dict[str, OperatorProfile] = {}
    for path in paths:
        path = path if path.is_absolute() else base / path
        try:
            profile = read_profile(path, path.parent.name)
        except ProfileError as e:
            raise ConfigError(f"operators.profiles: {e}") from None
        if profile.key in SCHEMA or profile.key in profiles:
            raise ConfigError(f"operators.profiles: {path}: operator {profile.key} already exists (its folder's "
                              "name is the operator's: rename the folder)")
        profiles[profile.key] = profile
    return profiles


def _enabled(values: Mapping[str, Any], known: Mapping[str, OperatorProfile]) -> dict[str, OperatorProfile]:
    enabled = values.get("operators", {}).get("enabled") or list(known)
    for key in enabled:
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=1)
            hint = f"did you mean {near[0]}?" if near else f"known: {', '.join(known)}"
            raise ConfigError(f"operators.enabled: no operator {key} ({hint})")
    return {key: known[key].with_overrides(values.get(key, {})) for key in dict.fromkeys(enabled)}


_SANDBOX_KEYS: Mapping[str, Key | Table] = SCHEMA["sandbox"].keys


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None,
                operator_ports: Mapping[str, Any] | None = None, **flags: Any) -> Config:
    """Defaults, overridden by the file, by the environment `env` (OPSIM_ADMIN_TOKEN), then by flags
    that are not None (named as the [sandbox] keys: ftp_port=0); `operator_ports` are `--ftp-port
    OPERATOR=PORT` flags, by operator."""
    values: dict[str, Any] = {}
    known = dict(PACKAGED)
    if path is not None:
        raw = _read_toml(path)
        try:
            own = _own_profiles(raw, Path(path).parent)
            known.update(own)
            values = validate(raw, {**SCHEMA, **{key: operator_table(p) for key, p in own.items()}})
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
    config = Config()
    for key, value in values.get("sandbox", {}).items():
        setattr(config, key, value)
    overrides: list[tuple[str, str, Any]] = []  # (key, where the value comes from, value)
    for key, spec in _SANDBOX_KEYS.items():
        if isinstance(spec, Key) and spec.env and env and env.get(spec.env):
            overrides.append((key, spec.env, env[spec.env]))
    for key, value in flags.items():
        if value is not None:
            spec = _SANDBOX_KEYS[key]  # a KeyError here is a programming error, not a user's
            overrides.append((key, getattr(spec, "flag", "") or key, value))
    for key, source, value in overrides:
        spec = _SANDBOX_KEYS[key]
        assert isinstance(spec, Key)
        try:
            setattr(config, key, spec.kind.convert(value))
        except (ValueError, TypeError):
            shown = "" if spec.secret else f" {value}"  # never echo a token
            raise ConfigError(f"{source}{shown}: expected {spec.kind.expected}") from None
    config.tenants = [_tenant(t) for t in values.get("tenants", [])]
    config.mail = MailConfig(**values.get("mail", {}))
    clock = values.get("clock", {})
    config.clock = ClockConfig(start=clock.get("start"), frozen=clock.get("frozen", False),
                               speed=clock.get("speed", 1.0))
    try:
        config.operators = _enabled(values, known)
        _check_entries(config)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path is not None else str(e)) from None
    _apply_ports(config, operator_ports or {})
    _check_exposure(config)
    return config


def _apply_ports(config: Config, operator_ports: Mapping[str, Any]) -> None:
    """The first operator's port from [sandbox] ftp_port / --ftp-port N, then each --ftp-port OPERATOR=PORT."""
    ports: dict[str, Any] = {}
    if config.ftp_port is not None and config.operators:
        ports[next(iter(config.operators))] = config.ftp_port
    for key, value in operator_ports.items():
        if key not in config.operators:
            near = difflib.get_close_matches(key, list(config.operators), n=1)
            hint = f"did you mean {near[0]}?" if near else f"enabled: {', '.join(config.operators)}"
            raise ConfigError(f"--ftp-port {key}={value}: no operator {key} is enabled ({hint})")
        try:
            ports[key] = PORT.convert(value)
        except (ValueError, TypeError):
            raise ConfigError(f"--ftp-port {key}={value}: expected {PORT.expected}") from None
    for key, port in ports.items():
        config.operators[key] = config.operators[key].with_overrides({"endpoints": {"ftp_port": port}})


def _tenant(entry: Mapping[str, Any]) -> Tenant:
    code = entry["code"]
    return Tenant(code, entry.get("login", code), entry["password"], entry.get("email", ""),
                  entry.get("api_token", ""), tuple(entry.get("operators", ())))


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve beyond this machine


def _check_entries(config: Config) -> None:
    """What one entry cannot show: tenants and networks must be distinct, operators known."""
    for key, profile in config.operators.items():
        if not profile.networks and any("{" in t for area in profile.layout.values() for t in area.values()):
            raise ConfigError(f"{key}.networks: expected at least one [[{key}.networks]] entry")
        interops = [n.interop for n in profile.networks]
        for code in interops:
            if interops.count(code) > 1:
                raise ConfigError(f"{key}.networks: {code} is defined twice")
    tenants = config.all_tenants()
    for t in tenants:
        for key in t.operators:
            if key not in config.operators:
                raise ConfigError(f"tenants: {t.code} is a client of {key}, which is not enabled "
                                  f"(enabled: {', '.join(config.operators)})")
    for what in ("code", "login", "api_token"):
        owners: dict[str, str] = {}
        for t in tenants:
            value = getattr(t, what)
            if value in owners:
                if what == "code":
                    raise ConfigError(f"tenants: {value} is defined twice")
                shown = "" if what == "api_token" else f" {value}"  # never print a token
                raise ConfigError(f"tenants: {owners[value]} and {t.code} have the same {what}{shown}")
            if value:
                owners[value] = t.code
        if what == "api_token" and config.admin_token in owners:
            raise ConfigError(f"tenants: {owners[config.admin_token]}'s api_token is the admin token: give each "
                              f"its own")


def _check_exposure(config: Config) -> None:
    if not is_loopback(config.admin_host) and not config.admin_token and not config.admin_open:
        raise ConfigError(
            f"the admin API on {config.admin_host} needs a token (whoever reaches it can move the clock and read "
            f"every tenant): give one with --admin-token, {ADMIN_TOKEN_ENV} or [sandbox] admin_token, "
            f"or pass --admin-open to serve it without one")


# ---------------------------------------------------------------------------------------------- rendering
def delay_text(delay: Delay) -> str:
    """A Delay as the profile writes it ("1 working day", "4 hours", "0")."""
    if delay.working_days:
        return f"{delay.working_days} working day{'s' if delay.working_days != 1 else ''}"
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if delay.seconds and delay.seconds % size == 0:
            n = delay.seconds / size
            return f"{n:g} {unit}{'s' if n != 1 else ''}"
    return "0" if not delay.seconds else f"{delay.seconds:g} seconds"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return json.dumps(value.isoformat())
    if isinstance(value, Delay):
        return json.dumps(delay_text(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Path):
        return json.dumps(str(value))
    return json.dumps(str(value), ensure_ascii=False)  # JSON string escapes are TOML basic-string escapes


def effective_values(config: Config) -> dict[str, Any]:
    """The configuration in the file's shape (what `render` writes)."""
    values: dict[str, Any] = {
        "sandbox": {k: getattr(config, k) for k in _SANDBOX_KEYS if getattr(config, k) is not None},
        "clock": {k: v for k, v in vars(config.clock).items() if v is not None},
        "mail": dict(vars(config.mail)),
        "tenants": [{k: list(v) if isinstance(v, tuple) else v for k, v in vars(t).items()
                     if v or k in ("code", "password")} for t in config.tenants],
        "operators": {"enabled": list(config.operators),
                      **({"profiles": own} if (own := [str(p.source.resolve()) for key, p in config.operators.items()
                                                       if key not in PACKAGED and p.source]) else {})},
    }
    for key, p in config.operators.items():
        values[key] = {"name": p.name, **{k: v for k, v in p.settings.items() if not isinstance(v, dict | list)},
                       "timings": dict(p.timings), "networks": [vars(n) for n in p.networks],
                       "endpoints": dict(p.endpoints)}
    return values


def schema_of(config: Config) -> dict[str, Table]:
    """The file's schema for a configuration: the sandbox's tables, then one per enabled operator (packaged or
    the user's own profiles), each read from its profile."""
    return {**{name: table for name, table in SCHEMA.items() if name not in PACKAGED},
            **{key: operator_table(profile) for key, profile in config.operators.items()}}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def render(values: Mapping[str, Any], docs: bool = False, show_secrets: bool = True,
           schema: Mapping[str, Table] = SCHEMA) -> str:
    """A TOML document of `values` in the schema's order; with `docs`, every key's documentation."""
    lines: list[str] = []

    documented: set[str] = set()  # the entries of an array are documented once

    def comment(spec: Key | Table, where: str) -> None:
        if not docs or where in documented:
            return
        documented.add(where)
        if isinstance(spec, Table):
            lines.append(f"# {_sentence(spec.doc)}.")
            return
        extra = [spec.kind.expected] + ["required"] * spec.required + [f"flag {spec.flag}"] * bool(spec.flag) \
            + [f"env {spec.env}"] * bool(spec.env)
        lines.append(f"# {_sentence(spec.doc) or where.rsplit('.', 1)[-1]}: {'; '.join(extra)}.")

    def table(header: str, schema: Mapping[str, Key | Table], data: Mapping[str, Any], spec: Table) -> None:
        lines.append("")
        comment(spec, header)
        lines.append(header)
        for name, key in schema.items():
            if isinstance(key, Table):
                continue
            comment(key, f"{header}.{name}")
            if name not in data:
                if docs and key.example is not None:
                    lines.append(f"# {name} = {_toml(key.example)}")
            elif key.secret and not show_secrets and data[name]:
                lines.append(f"# {name} = (hidden: --show-secrets)")
            else:
                lines.append(f"{name} = {_toml(data[name])}")
        for name, sub in schema.items():
            if isinstance(sub, Table):
                entries = data.get(name, [] if sub.array else {})
                path = f"{header.strip('[]')}.{name}"
                for entry in entries if sub.array else [entries]:
                    table(f"[[{path}]]" if sub.array else f"[{path}]", sub.keys, entry, sub)

    for name, spec in schema.items():
        data = values.get(name, [] if spec.array else {})
        if spec.array and not data and docs:
            # Document an empty array with an example entry, commented out: it is not a default.
            start = len(lines)
            table(f"[[{name}]]", spec.keys, {k: s.example for k, s in spec.keys.items()
                                             if isinstance(s, Key) and s.example}, spec)
            lines[start:] = [line if not line or line.startswith("#") else f"# {line}" for line in lines[start:]]
        for entry in data if spec.array else [data]:
            table(f"[[{name}]]" if spec.array else f"[{name}]", spec.keys, entry, spec)
    return "\n".join(lines).lstrip("\n") + "\n"


def schema_template(config: Config | None = None) -> str:
    """Every section and key with its documentation and default: a valid configuration file itself. With a
    configuration, its operators' tables (its own profiles too) instead of the packaged ones."""
    head = ("# opsim configuration file (TOML), given with `opsim up --config FILE`. Every key is optional;\n"
            "# the values below are the defaults. Flags of `opsim up` override the file, and so does the\n"
            f"# environment variable {ADMIN_TOKEN_ENV}.\n\n")
    defaults = Config()
    schema: Mapping[str, Table] = SCHEMA
    if config is not None:
        # The profiles as they ship or as their files say, without this file's overrides: the defaults.
        defaults.operators = {key: PACKAGED.get(key) or (read_profile(p.source, key) if p.source else p)
                              for key, p in config.operators.items()}
        schema = schema_of(config)
    return head + render(effective_values(defaults), docs=True, schema=schema)
