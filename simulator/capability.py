"""Capabilities and the operators they make up: the contract between the engine and the domain.

A capability (a file protocol, a web service, feeds, certificates...) is a class under
`simulator/operators/<operator>/` that *declares* what it takes and offers:

- `areas`: the layout areas whose inbound files it receives (a profile's `[layout]` names the folders),
  and `channels`, the channels those files may come by (ftp, sftp, mail);
- `events`: the kinds of scheduled event it handles (it schedules them itself, through its Effects);
- `settings` and `timings`: the profile's keys it reads, with their schema and meaning (the configuration
  checks and documents them from these declarations);
- `actions`: the operator actions it offers to the admin API, and `routes`, the admin API routes of its own
  that perform them (`Route`: one declaration gives the route, the checks of its arguments and its OpenAPI
  operation);
- `web_services`: the SOAP services it offers (`WebService`): the sandbox imports each one's wire module
  and mounts what it builds on its HTTP(S) server.

and implements `receive`, `on_event` and `act` as pure domain code: documents and arguments in,
`Effects` out. An operator is a profile (data) plus the capabilities it names; the engine routes by
these declarations through `Operators` and never imports a concrete operator. Adding a capability is
a new module and a line in the operator's profile.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar, Protocol, TypeVar

from .clock import FrenchCalendar
from .documents import Effects, Finding, InboundDocument, OutboundDocument
from .faults import FaultRules
from .layout import Layout
from .profile import OperatorProfile
from .refdata import ReferenceNetwork, ensure_network, evolution, parse_departments
from .specs.codec import SpecPack, load_pack
from .store import Store


class ActionRefused(Exception):
    """An operator action that cannot be done now (unknown order, wrong state): the message says why."""


class CapabilityError(Exception):
    """A profile names a capability that cannot be built (no such module or class, bad declaration)."""


@dataclass
class OperatorContext:
    """What every capability of one operator is built with."""

    profile: OperatorProfile
    store: Store
    calendar: FrenchCalendar
    seed: int
    _packs: dict[str, SpecPack] = field(default_factory=dict)
    #: The virtual clock's current time (the sandbox's clock), for a capability that must know how far the
    #: clock has moved past an event's due time (e.g. to skip weekly broadcasts the clock jumped over).
    now: Callable[[], datetime] | None = None

    @property
    def operator(self) -> str:
        return self.profile.key

    def pack(self, name_or_path: str) -> SpecPack:
        """A spec pack by name (a packaged one) or folder, loaded once per operator."""
        if name_or_path not in self._packs:
            self._packs[name_or_path] = load_pack(name_or_path)
        return self._packs[name_or_path]

    def __post_init__(self) -> None:
        FaultRules.create_tables(self.store)
        #: The tenants' fault rules (POST /api/faults), which the capabilities ask at each stage.
        self.faults = FaultRules(self.store)

    @cached_property
    def reference_networks(self) -> dict[str, ReferenceNetwork]:
        """The seeded reference network of each of the operator's networks: generated once into the data dir
        (network/<interop>.sqlite3, beside the store), then opened from there at every start, and read with
        the changes of its evolution over virtual time (refdata/evolution.py: overlay tables in the store)."""
        size = int(self.profile.settings.get("network_size", 10_000))
        departments = parse_departments(self.profile.settings.get("departments"))
        folder = self.store.path.parent / "network"
        networks = {n.interop: ensure_network(folder, n.interop, n.arcep, self.seed, size, departments)
                    for n in self.profile.networks}
        evolution.ensure_schema(self.store)
        for network in networks.values():
            evolution.attach(self.store, network)
            network.attach_overlay(self.store.path)
        return networks


T = TypeVar("T")

#: A JSON Schema of one value (its type and bounds), as the admin API checks it and documents it.
Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Route:
    """An admin API route a capability offers, served at `/api/operators/<operator>/<path>` for each operator that
    has the capability: it performs `action` for the tenant of `?tenant=`, with the path's, the query's and the
    body's values as the action's arguments (web/routes.py). The domain declares it; the web layer serves,
    checks and documents it, so that the core's API names no operator's flow."""

    method: str  # GET, POST or DELETE
    path: str  # below the operator, with {name} path parameters: "appointments/{IdRdv}"
    action: str  # one of the capability's `actions`
    summary: str  # "name: what it does" (the OpenAPI operation's id is the name)
    query: Mapping[str, Schema] = field(default_factory=dict)  # query parameters (strings or integers)
    body: Mapping[str, Schema] | None = None  # the JSON object body's fields; None: the route takes no body
    required: tuple[str, ...] = ()  # the query parameters and body fields that must be given
    answer: Schema = field(default_factory=lambda: {"type": "object"})  # what a 200 answers
    admin: bool = False  # the admin token only (otherwise the tenant's token too)
    refused: str = "the action cannot be done now (the detail says why)"  # what its 409 means


@dataclass(frozen=True)
class WebService:
    """A web service a capability offers. `wire` ("module:function") is called with the capability and a
    `ServiceHost` and returns a `SoapEndpoint`; the domain module never imports its wire format."""

    name: str  # "order-help-3.0": flow control and the journal count per service
    version: str
    wire: str


@dataclass
class SoapEndpoint:
    """What a wire module builds and the HTTP transport serves, behind its guard (hostile XML, SOAPAction,
    flow control) at `path`."""

    service: str
    path: str  # mount point, e.g. /interop-opc-30
    wsdl_path: str  # "/wsdl" (GET <path>/wsdl) or "?wsdl" (GET <path>?wsdl)
    app: Callable[..., Any]  # the WSGI application that answers the requests that passed the guard
    build_wsdl: Callable[[str], bytes]  # the WSDL declaring this endpoint URL
    actions: Mapping[str, str]  # local name of a request's body element -> its operation (SOAPAction)
    identify: Callable[[Any, str | None], str | None]  # (parsed envelope, HTTP Basic tenant) -> the OC's code
    fault: Callable[[str, str, str], bytes]  # (kind, detail, operation) -> a SOAP 1.1 fault envelope
    #: Operations answered straight from the guard's parsed envelope, without the WSGI app (hot paths):
    #: (envelope, tenant) -> (HTTP status, SOAP envelope bytes).
    direct: Mapping[str, Callable[[Any, str], tuple[int, bytes]]] = field(default_factory=dict)


class ServiceHost(Protocol):
    """What a web service's wire code may use of the running sandbox (the transport implements it)."""

    operator: str

    def now(self) -> datetime: ...

    def known(self, tenant: str) -> bool: ...

    def note(self, finding: Finding) -> None: ...

    def transact(self, source: Capability, fn: Callable[[datetime], tuple[T, Effects]]) -> T: ...


@dataclass
class SliceProgress:
    """How far a capability has answered an inbound file it takes slice by slice (`receive_slices`). The engine
    stores it with each slice, so a file cut by a stop resumes after its last committed slice."""

    lines: int = 0  # data lines answered in the committed slices
    #: What the next slices need of the earlier ones (counts, refs a later line may not reuse...): JSON, small.
    carry: dict[str, Any] = field(default_factory=dict)
    finished: bool = False  # set by the capability with the file's last slice


class Capability:
    """Base of every capability; subclasses set the declarations and override what they handle."""

    name: ClassVar[str] = ""
    areas: ClassVar[tuple[str, ...]] = ()
    channels: ClassVar[tuple[str, ...]] = ("ftp",)
    events: ClassVar[tuple[str, ...]] = ()
    actions: ClassVar[tuple[str, ...]] = ()
    routes: ClassVar[tuple[Route, ...]] = ()
    #: The profile settings it reads: name -> schema with its `description` (the values are the profile's). The
    #: configuration checks an override against it, and `opsim config schema` documents it from it.
    settings: ClassVar[Mapping[str, Schema]] = {}
    #: The profile timings it reads: name -> what it times (a delay on the virtual clock).
    timings: ClassVar[Mapping[str, str]] = {}
    web_services: ClassVar[tuple[WebService, ...]] = ()

    def __init__(self, context: OperatorContext):
        self.context = context

    #: The spec pack whose flows this capability writes (None: it writes no file).
    pack: SpecPack | None = None

    def receive(self, doc: InboundDocument, now: datetime) -> Effects:
        raise NotImplementedError(f"{type(self).__name__} declares areas but does not receive files")

    def receive_slices(self, doc: InboundDocument, now: datetime, progress: SliceProgress) -> Iterator[Effects]:
        """Answer an inbound file slice by slice, so that a large one does not hold the engine: each item is one
        slice's effects, committed in its own transaction with `progress` as it then stands, and the engine takes
        other work between two slices. The last item comes with `progress.finished` set; the answer files of all
        the slices are emitted then, as one file per destination and flow, and their events put on the clock.
        A `progress` read back from the store (a stop cut the file) says how many lines are already answered.
        By default the file is answered whole, by `receive`."""
        effects = self.receive(doc, now)
        progress.finished = True
        yield effects

    def on_event(self, kind: str, tenant: str, ref: str, payload: dict[str, Any], now: datetime) -> Effects:
        raise NotImplementedError(f"{type(self).__name__} declares events but does not handle them")

    def act(self, action: str, tenant: str, args: Mapping[str, Any], now: datetime) -> Effects:
        raise NotImplementedError(f"{type(self).__name__} declares actions but does not perform them")

    def batch(self) -> AbstractContextManager[Any]:
        """A scope the engine opens around one transaction's work for this capability (an inbound file, the
        due events of one moment): the capability may keep what it reads within it (AccessDesk keeps what it
        read of its reference networks). Nothing by default."""
        return nullcontext()

    def on_start(self, now: datetime) -> Effects:
        """Standing work set up when the sandbox starts, e.g. the first event of a weekly broadcast.
        Called at every start, in the engine's thread: it must not set up the same work twice."""
        return Effects()


@dataclass(frozen=True)
class RenderedFile:
    """An outbound document as a file: the folder it goes to, its name and its bytes."""

    location: str
    filename: str
    content: bytes


class Operator:
    """One operator at run time: its profile, its folder layout and its capabilities."""

    def __init__(self, profile: OperatorProfile, capabilities: list[Capability]):
        self.profile = profile
        self.key = profile.key
        self.layout: Layout = profile.folder_layout()
        self.capabilities = {c.name: c for c in capabilities}
        self._by_area: dict[str, Capability] = {}
        for capability in capabilities:
            for area in capability.areas:
                if area in self._by_area:
                    raise CapabilityError(f"{self.key}: {capability.name} and {self._by_area[area].name} "
                                          f"both take the files of area {area}")
                if area not in self.layout.areas:
                    raise CapabilityError(f"{self.key}: {capability.name} takes area {area}, which the "
                                          f"profile's layout does not have")
                self._by_area[area] = capability

    def receiver(self, area: str, channel: str) -> Capability | None:
        capability = self._by_area.get(area)
        if capability is None or channel not in capability.channels:
            return None
        return capability

    def owner_of(self, filename: str, channel: str) -> Capability | None:
        """The capability whose spec pack names this file, for a file dropped in a folder no capability
        takes: it refuses it with a clear answer in its own flow rather than leaving it unanswered."""
        for capability in self.capabilities.values():
            if capability.pack is not None and channel in capability.channels \
                    and capability.pack.parse_filename(filename) is not None:
                return capability
        return None

    def render(self, source: Capability, out: OutboundDocument, now: datetime,
               sequence: Callable[[str], int], style: Mapping[str, str] | None = None) -> RenderedFile:
        """Name and write an answer file with the source capability's spec pack, in the tenant's answer
        style (specs/variations.py; none: as the capability wrote it)."""
        location, filename = self.name_file(source, out, now, sequence)
        flow = self._pack(source, out).flow(out.flow)
        content = out.content if out.content is not None else flow.write_styled(out.records, style or {})
        return RenderedFile(location, filename, content)

    def name_file(self, source: Capability, out: OutboundDocument, now: datetime,
                  sequence: Callable[[str], int]) -> tuple[str, str]:
        """The folder and name of an answer file (its sequence number is taken now)."""
        pack = self._pack(source, out)
        flow = pack.flow(out.flow)
        date = now.strftime("%Y%m%d")
        seq = sequence(f"file:{out.tenant}:{out.network}:{flow.code}:{date}")
        filename = pack.render_filename(flow, out.network, out.tenant, date, seq, pm=out.pm)
        return self.layout.location("out", out.area, out.network), filename

    def render_lines(self, source: Capability, out: OutboundDocument, style: Mapping[str, str] | None = None,
                     header: bool = False) -> bytes:
        """The encoded lines of an answer file written slice by slice (the header only if asked)."""
        return self._pack(source, out).flow(out.flow).write_styled(out.records, style or {}, header=header)

    def _pack(self, source: Capability, out: OutboundDocument) -> SpecPack:
        if source.pack is None:
            raise CapabilityError(f"{self.key}.{source.name} emitted {out.flow} but has no spec pack")
        return source.pack


class Operators(Mapping[str, Operator]):
    """Every enabled operator, by key: the engine's routing table."""

    def __init__(self, operators: list[Operator]):
        self._operators = {o.key: o for o in operators}

    def __getitem__(self, key: str) -> Operator:
        return self._operators[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._operators)

    def __len__(self) -> int:
        return len(self._operators)

    def capability(self, operator: str, name: str) -> Capability:
        try:
            return self._operators[operator].capabilities[name]
        except KeyError:
            raise CapabilityError(f"no capability {operator}.{name}") from None

    def event_handler(self, qualified: str) -> tuple[Capability, str]:
        """The capability and kind of a stored event kind "operator:capability:kind"."""
        operator, name, kind = qualified.split(":", 2)
        capability = self.capability(operator, name)
        if kind not in capability.events:
            raise CapabilityError(f"{operator}.{name} does not handle events of kind {kind}")
        return capability, kind

    def action(self, operator: str, name: str, action: str) -> Capability:
        capability = self.capability(operator, name)
        if action not in capability.actions:
            raise CapabilityError(f"{operator}.{name} offers no action {action} "
                                  f"(it offers: {', '.join(capability.actions) or 'none'})")
        return capability


def qualified_kind(capability: Capability, kind: str) -> str:
    """How an event is stored: which operator and capability handle it, then its kind."""
    if kind not in capability.events:
        raise CapabilityError(f"{capability.name} schedules an event of kind {kind} it does not declare")
    return f"{capability.context.operator}:{capability.name}:{kind}"


def capability_class(profile: OperatorProfile, spec: str) -> type[Capability]:
    """The class a profile names ("package.module:Class"), imported, not built: its declarations."""
    module_name, _, class_name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise CapabilityError(f"{profile.key}: capability {spec} cannot be loaded: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, Capability) and cls.name):
        raise CapabilityError(f"{profile.key}: {spec} is not a named Capability subclass")
    return cls


def declared_routes(profiles: Mapping[str, OperatorProfile]) -> Iterator[tuple[str, str, Route]]:
    """(operator, capability, route) for every admin API route the profiles' capabilities declare."""
    for key, profile in profiles.items():
        for spec in profile.capabilities:
            cls = capability_class(profile, spec)
            for route in cls.routes:
                yield key, cls.name, route


def build_operator(profile: OperatorProfile, context: OperatorContext) -> Operator:
    """Import and build the capabilities a profile names ("package.module:Class")."""
    return Operator(profile, [capability_class(profile, spec)(context) for spec in profile.capabilities])


def build_web_service(capability: Capability, service: WebService, host: ServiceHost) -> SoapEndpoint:
    """Import a declared web service's wire module and build its endpoint."""
    module_name, _, function = service.wire.partition(":")
    try:
        build = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as e:
        raise CapabilityError(f"{capability.name}: web service {service.name} cannot be loaded: {e}") from None
    return build(capability, service, host)
