"""How a user's own OC code plugs into the conformance harness: the adapter contract (docs/adapters.md).

The harness never touches the OC's files itself. It asks the OC to act (business verbs such as
`order_access`), lets it work, and asks what it understood (`order_status`). Every call carries a
`Context`: the scenario's tenant and FTP account, the operator's codes, the virtual date, a state folder.

Three kinds, chosen with `--adapter`:
    reference                     the operator's own OC (its harness names it): must pass with no finding
    python:<module>:<Class>       Class(context), one method per verb: method(args: dict) -> dict
    command:<command line>        `<command line> <verb>` per call; {"context", "args"} on stdin, one JSON
                                  object on stdout; exit 0 ok, 3 verb not implemented, other: the OC failed
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

#: Exit status of a command adapter that does not implement a verb: its scenarios are "not run".
NOT_IMPLEMENTED_EXIT = 3
#: Real seconds a command adapter has for one call.
COMMAND_TIMEOUT = 30.0

@dataclass(frozen=True)
class FtpAccount:
    host: str
    port: int
    user: str
    password: str


@dataclass(frozen=True)
class Context:
    """What every adapter call carries (JSON-serialisable: a command adapter reads it on stdin)."""

    tenant: str  # the scenario's own tenant: scenarios never see each other's files
    oc_code: str  # the OC's Interop code, used in its file names
    operator: str  # the operator's key in GET /api/operators
    oi: str  # the OI network's Interop code ("COVA")
    arcep: str  # its ARCEP code ("CV")
    ftp: FtpAccount
    spec_pack: str  # the spec pack the OC writes its files with (a name or a folder)
    today: str  # the sandbox's virtual date, YYYY-MM-DD
    now: str  # the sandbox's virtual date-time, YYYY-MM-DDTHH:MM:SS
    state_dir: str  # an empty folder per scenario where the OC may keep its state
    #: area (a protocol's set of files) -> {"in": where the OC drops, "out": where it reads}, absolute from its FTP home
    folders: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)  # endpoints later capabilities add

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


class VerbNotImplemented(Exception):
    """The adapter does not implement this verb: the scenarios that need it are reported "not run"."""


class AdapterFailed(Exception):
    """The OC failed the action (an exception, a non-zero exit, no JSON answer); `output` is what it said."""

    def __init__(self, verb: str, message: str, output: str = ""):
        super().__init__(f"{verb}: {message}")
        self.verb = verb
        self.output = output


class Adapter(Protocol):
    def call(self, verb: str, args: Mapping[str, Any], context: Context) -> dict[str, Any]: ...

    def close(self) -> None: ...


class PythonAdapter:
    """`python:<module>:<Class>`: one instance per scenario, built with the context. Before each call its
    `context` attribute is set to that call's context: `today` and `now` move with the virtual clock."""

    def __init__(self, cls: type):
        self.cls = cls
        self._instance: Any = None

    def call(self, verb: str, args: Mapping[str, Any], context: Context) -> dict[str, Any]:
        if self._instance is None:
            self._instance = self.cls(context)
        self._instance.context = context
        method = getattr(self._instance, verb, None)
        if method is None:
            raise VerbNotImplemented(verb)
        try:
            result = method(dict(args))
        except (VerbNotImplemented, NotImplementedError) as e:
            raise VerbNotImplemented(verb) from e
        except Exception as e:  # the OC's own code failed: reported, never a crash of the harness
            raise AdapterFailed(verb, f"{type(e).__name__}: {e}") from e
        if result is None:
            return {}
        if not isinstance(result, dict):
            raise AdapterFailed(verb, f"returned {type(result).__name__}, a dict (JSON object) is expected")
        return result

    def close(self) -> None:
        close = getattr(self._instance, "close", None)
        if callable(close):
            close()


class CommandAdapter:
    """`command:<command line>`: any language; one process per call."""

    def __init__(self, command: str, timeout: float = COMMAND_TIMEOUT):
        self.argv = shlex.split(command)
        self.timeout = timeout

    def call(self, verb: str, args: Mapping[str, Any], context: Context) -> dict[str, Any]:
        request = json.dumps({"context": context.as_json(), "args": dict(args)}, ensure_ascii=False)
        try:
            done = subprocess.run([*self.argv, verb], input=request, capture_output=True, text=True,
                                  timeout=self.timeout, env=os.environ.copy(), cwd=context.state_dir)
        except FileNotFoundError as e:
            raise AdapterFailed(verb, f"cannot run {self.argv[0]}: {e.strerror}") from e
        except subprocess.TimeoutExpired as e:
            raise AdapterFailed(verb, f"no answer within {self.timeout:g} s", _text(e.stderr)) from e
        if done.returncode == NOT_IMPLEMENTED_EXIT:
            raise VerbNotImplemented(verb)
        if done.returncode != 0:
            raise AdapterFailed(verb, f"exit status {done.returncode}", done.stderr)
        try:
            result = json.loads(done.stdout or "{}")
        except json.JSONDecodeError as e:
            raise AdapterFailed(verb, f"stdout is not one JSON object ({e})", done.stdout + done.stderr) from e
        if not isinstance(result, dict):
            raise AdapterFailed(verb, "stdout is JSON but not an object", done.stdout)
        return result

    def close(self) -> None:
        pass


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


class AdapterSpecError(ValueError):
    """`--adapter` names nothing that can be loaded; the message says why."""


def adapter_factory(spec: str, reference: str = "") -> Callable[[], Adapter]:
    """What `--adapter` names, as a factory of one adapter per scenario. `reference` is what `reference` stands
    for: the operator's own OC, as its harness names it (pytest_conformance_reference_adapter)."""
    if spec == "reference":  # our own OC is a Python adapter like any other
        if not reference:
            raise AdapterSpecError("--adapter reference: the operator's harness names no reference OC")
        spec = reference
    kind, _, rest = spec.partition(":")
    if kind == "python":
        module_name, _, class_name = rest.partition(":")
        if not module_name or not class_name:
            raise AdapterSpecError(f"--adapter {spec}: expected python:<module>:<Class>")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as e:
            raise AdapterSpecError(f"--adapter {spec}: {e}") from None
        return lambda: PythonAdapter(cls)
    if kind == "command":
        if not rest.strip():
            raise AdapterSpecError("--adapter command:<command line>: the command line is missing")
        first = shlex.split(rest)[0]
        if "/" in first and not Path(first).exists():
            raise AdapterSpecError(f"--adapter {spec}: {first} does not exist")
        return lambda: CommandAdapter(rest)
    raise AdapterSpecError(f"--adapter {spec}: expected reference, python:<module>:<Class> or "
                           "command:<command line>")
