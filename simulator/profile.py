"""An operator is data plus capabilities.

Its profile (`profile.toml`, one per operator folder, or a file of the user's) names the capability
modules it is made of, its networks, its folder layout, its timings on the virtual clock, its endpoints
and its own settings (spec packs, reference codes, mail domain...). The sandbox configuration may
override any of these per operator; `simulator/config.py` checks the overrides against the profile.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clock import Delay
from .layout import Layout, Network

OPERATORS_DIR = Path(__file__).parent / "operators"
#: Settings of an operator's profile naming the mailbox (local part) of each area: mail_<area>.
MAILBOX_PREFIX = "mail_"
#: Keys of a profile that are structure, not settings (everything else lands in `settings`).
STRUCTURE = ("name", "capabilities", "networks", "layout", "timings", "endpoints")


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and the key."""


@dataclass
class OperatorProfile:
    key: str  # short name: the configuration table ([<key>]) and the operator's name in the API
    name: str
    capabilities: list[str]  # "module:Class" of each capability, in the order they are built
    networks: list[Network]
    layout: dict[str, dict[str, str]]  # area -> {"in": template, "out": template}
    timings: dict[str, Delay]
    endpoints: dict[str, Any] = field(default_factory=dict)  # ftp_port...
    settings: dict[str, Any] = field(default_factory=dict)  # the operator's own keys (its capabilities' settings)
    source: Path | None = None  # the profile file, for messages and relative paths

    def __getattr__(self, name: str) -> Any:
        # profile.refinterne1 reads the operator's own settings (only called when no attribute matches)
        settings = self.__dict__.get("settings", {})
        if name in settings:
            return settings[name]
        raise AttributeError(f"operator profile {self.__dict__.get('key', '?')} has no setting {name!r}")

    def network(self, interop: str) -> Network:
        for n in self.networks:
            if n.interop == interop:
                return n
        raise KeyError(interop)

    def folder_layout(self) -> Layout:
        return Layout(self.layout, self.networks)

    def with_overrides(self, overrides: Mapping[str, Any]) -> OperatorProfile:
        """A copy with checked overrides applied (timings as Delays, networks as Network entries)."""
        values = dict(overrides)
        timings = {**self.timings, **values.pop("timings", {})}
        endpoints = {**self.endpoints, **values.pop("endpoints", {})}
        networks = self.networks
        if "networks" in values:
            networks = [_network(n) for n in values.pop("networks")]
        layout = {**self.layout, **values.pop("layout", {})}
        name = values.pop("name", self.name)
        return OperatorProfile(self.key, name, list(self.capabilities), networks, layout, timings, endpoints,
                               {**self.settings, **values}, self.source)


def _network(entry: Any) -> Network:
    if isinstance(entry, Network):
        return entry
    return Network(str(entry["interop"]).upper(), str(entry["arcep"]).upper(), str(entry.get("name", "")))


def read_profile(path: Path, key: str | None = None) -> OperatorProfile:
    """Read a profile file. Its own values are trusted less than code: each is checked for its shape."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"operator profile not found: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ProfileError(f"{path}: {e}") from None
    key = key or path.parent.name
    capabilities = data.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, str) and ":" in c for c in capabilities):
        raise ProfileError(f"{path}: capabilities is a list of \"module:Class\" strings")
    layout = data.get("layout", {})
    if not isinstance(layout, dict) or not all(isinstance(v, dict) for v in layout.values()):
        raise ProfileError(f"{path}: layout maps each area to {{in = \"folder\", out = \"folder\"}}")
    try:
        timings = {name: Delay.parse(text) for name, text in data.get("timings", {}).items()}
        networks = [_network(n) for n in data.get("networks", [])]
    except (ValueError, KeyError, TypeError) as e:
        raise ProfileError(f"{path}: {e}") from None
    settings = {k: v for k, v in data.items() if k not in STRUCTURE}
    return OperatorProfile(key, str(data.get("name", key)), capabilities, networks, layout, timings,
                           dict(data.get("endpoints", {})), settings, path)


def packaged_profiles() -> dict[str, Path]:
    """The operators that ship with opsim: every `simulator/operators/<key>/profile.toml`."""
    return {p.parent.name: p for p in sorted(OPERATORS_DIR.glob("*/profile.toml"))}
