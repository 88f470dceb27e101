"""What transports hand to the domain, and what the domain hands back: no sockets, no folders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class InboundDocument:
    """A complete file received from an OC, whatever the channel (FTP, SFTP, e-mail)."""

    tenant: str
    channel: str
    network: str  # the OI's Interop code of the folder (or mailbox) it came through
    area: str  # the layout's area of the folder it came through (a protocol's set of files)
    filename: str
    content: bytes
    location: str = ""  # where it was found, for the journal (e.g. IN/COVA/CV)
    operator: str = ""  # the operator whose endpoint received it (its key): it routes the document
    refused: str = ""  # why the transport did not read the content (over the size limit): the file is
    # answered as unreadable, with this reason, and its bytes are not kept
    #: Files that came with the document and are not documents themselves, by name: over FTP the other
    #: files already in its folder (a Notif_Adduction's photo and technical sheet, uploaded before it),
    #: by mail its other attachments.
    attachments: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundDocument:
    """One answer file to emit: a flow of the spec pack and its records."""

    tenant: str
    network: str
    flow: str
    records: list[dict[str, str]]
    area: str = ""  # the layout's area of its folder: always named (a default sent answers to the wrong folder)
    channel: str = "ftp"
    #: A file the capability wrote itself (a large broadcast such as the IPE, streamed by its writer): its
    #: bytes and line count; `records` is then empty.
    content: bytes | None = None
    lines: int = 0
    #: The ReferencePM a per-PM flow's file name carries (PM 2.2: ..._PM_<ReferencePM>_<TYPE>_...).
    pm: str = ""

    def __post_init__(self) -> None:
        if not self.area:
            raise ValueError(f"{self.flow} for {self.tenant}: an answer file names the area of its folder (area=)")

    @property
    def line_count(self) -> int:
        return self.lines if self.content is not None else len(self.records)


@dataclass(frozen=True)
class ScheduledEvent:
    """Something the operator does later, on the virtual clock."""

    due: datetime
    kind: str
    tenant: str
    ref: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """A journal line: what happened to one exchange, and how it ended."""

    tenant: str
    channel: str
    direction: str  # "in", "out" or "admin"
    flow: str
    filename: str
    outcome: str
    detail: str = ""


@dataclass
class Effects:
    """Everything one inbound document or one event produced, committed together."""

    outbound: list[OutboundDocument] = field(default_factory=list)
    events: list[ScheduledEvent] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: What an operator action answers its caller (e.g. the hotline's décharge number); not stored.
    reply: dict[str, Any] = field(default_factory=dict)

    def extend(self, other: Effects) -> None:
        self.outbound.extend(other.outbound)
        self.events.extend(other.events)
        self.findings.extend(other.findings)
