"""The e-mail channel (seed 002): an SMTP server (aiosmtpd) where OCs send their files by mail.

Each operator has a mailbox per area of its layout (profile settings mail_<area>: the local
part, at <operator>.opsim.test; GET /api/operators lists them). A mail carries exactly one
document: one CSV attachment whose file name is the subject (other files, such as a Notif_Adduction's photo
and technical sheet, come with it as its attachments). The sender's address says which
tenant it is (the tenants' `email`); an unknown sender or mailbox is refused at RCPT. The file becomes an
InboundDocument of channel "mail", the area from the mailbox, the network from the file name's OI code,
and goes to the engine exactly as an FTP file would, so the same domain code answers it; the answers go
back by mail (transports/mailout.py).

A mail that carries no CSV, several, or a subject that is not the file's name is accepted at SMTP level
and answered by a reply mail saying what is wrong, with a journal line. A mail over the size limit is
refused (552). Before the 250 to DATA, the mail is written to a spool on disk: a stop before the engine
commits it resubmits it (rebuilt from the mail) at the next start, so an accepted mail is never lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from ..documents import Finding, InboundDocument
from ..tenants import Account, TenantRegistry
from .mailbox import is_document
from .mailout import MailOutbox, OperatorMail, build_message

log = logging.getLogger(__name__)

CHANNEL = "mail"
ATTACHMENTS_MAX = 20  # other files a mail may bring with its CSV (a Notif_Adduction's photo and sheet)
MAX_MAIL_BYTES = 10 * 1024 * 1024  # one mail, attachment base64-encoded (a 7 MB CSV)
_SEP = "~"  # separates the spool file name's parts: <ns>~<tenant>~<area>~<network>~<file name>


@dataclass(frozen=True)
class Mailbox:
    """An address of the sandbox: which operator and area it receives for."""

    operator: OperatorMail
    area: str
    address: str


class AnyPortController(Controller):
    """aiosmtpd's controller, able to listen on port 0 (any free port): it learns the port bound before
    its start-up check connects to it."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpTransport:
    def __init__(self, engine: Any, operators: Mapping[str, OperatorMail], tenants: TenantRegistry,
                 outbox: MailOutbox, spool: Path, host: str, port: int, max_bytes: int = MAX_MAIL_BYTES,
                 accepts: Callable[[str, str], bool] = lambda operator, area: True):
        self.engine = engine
        self.operators = operators
        self.tenants = tenants
        self.outbox = outbox
        self.spool = Path(spool).resolve()
        self.accepts = accepts  # (operator, area): does a capability take that area's files by mail?
        self.spool.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.controller = AnyPortController(_Handler(self), hostname=host, port=port, data_size_limit=max_bytes,
                                      server_hostname="opsim", ident="opsim SMTP")

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        self.resubmit()
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def address(self) -> tuple[str, int]:
        return self.controller.hostname, self.controller.port

    # ------------------------------------------------------------------ who and where
    def mailbox(self, address: str) -> Mailbox | None:
        for mail in self.operators.values():
            area = mail.area_of(address)
            if area is not None:
                return Mailbox(mail, area, mail.address(area))
        return None

    def sender(self, address: str, operator: str) -> Account | None:
        """The tenant whose address this is, if it is a client of `operator`."""
        wanted = address.strip().strip("<>").lower()
        return next((a for a in self.tenants.accounts()
                     if a.email and a.email.lower() == wanted and a.client_of(operator)), None)

    # ------------------------------------------------------------------ a mail
    def receive(self, tenant: Account, box: Mailbox, raw: bytes) -> None:
        """One accepted mail to one mailbox: its file to the engine, or a reply saying what is wrong."""
        try:
            subject, problem, filename, content, attachments = self._read(raw)
        except Exception as e:  # a message the email package cannot read is the OC's problem, answered
            subject, problem, filename, content, attachments = (
                "", f"the message cannot be read ({type(e).__name__})", "", b"", {})
        network = ""
        if not problem:
            network = self._network(box.operator, filename)
            if not network:
                problem = (f"the file name {filename} names none of the operator's networks "
                           f"({', '.join(sorted(box.operator.layout.networks))})")
            elif not self.accepts(box.operator.operator, box.area):
                problem = f"{box.address} does not take files by mail in this sandbox yet"
        if problem:
            self._refuse(tenant, box, subject, filename, problem)
            return
        # The spool keeps the mail itself: a restart rebuilds the same document, attachments included.
        path = self._spool(tenant.code, box, network, filename, raw)
        self.engine.submit(self._document(tenant.code, box, network, filename, content, attachments), path)

    def _read(self, raw: bytes) -> tuple[str, str, str, bytes, dict[str, bytes]]:
        """(subject, problem, file name, CSV bytes, other attachments) of a mail."""
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        subject = str(msg.get("subject", "") or "").strip()
        problem, filename, content, attachments = self._file_of(msg, subject)
        return subject, problem, filename, content, attachments

    def _file_of(self, msg: EmailMessage, subject: str) -> tuple[str, str, bytes, dict[str, bytes]]:
        """(problem, file name, bytes, other attachments) of the one document a mail must carry: exactly one
        CSV, its file name as the subject; other files (a Notif_Adduction's photo and technical sheet) come
        with it as its attachments."""
        parts = list(msg.iter_attachments()) if msg.is_multipart() else \
            ([msg] if msg.get_content_disposition() == "attachment" else [])
        if not parts:
            return "the mail has no attachment: attach the CSV file, its file name as the subject", "", b"", {}
        documents = [p for p in parts if is_document(str(p.get_filename() or ""))]
        if len(documents) > 1:
            names = ", ".join(str(p.get_filename()) for p in documents)
            return (f"the mail has {len(documents)} CSV files ({names}): send one file per mail", "", b"", {})
        if not documents and len(parts) > 1:
            names = ", ".join(str(p.get_filename() or "(no name)") for p in parts)
            return f"the mail has {len(parts)} attachments ({names}) and no CSV file", "", b"", {}
        part = documents[0] if documents else parts[0]
        filename = str(part.get_filename() or "").strip()
        if not filename:
            return "the attachment has no file name", "", b"", {}
        if not _plain_name(filename):
            return f"the attachment's file name {filename[:200]!r} is not a file name of the protocol", "", b"", {}
        if subject != filename:
            return (f"the subject {subject[:200]!r} is not the attachment's file name {filename!r}: "
                    "the subject must be the file name", filename, b"", {})
        if not is_document(filename):
            return f"the attachment {filename} is not a .csv file", filename, b"", {}
        others: dict[str, bytes] = {}
        for other in parts:
            name = str(other.get_filename() or "").strip()
            if other is part or not _plain_name(name) or len(others) >= ATTACHMENTS_MAX:
                continue
            data = other.get_payload(decode=True)
            others[name] = data if isinstance(data, bytes) else b""
        payload = part.get_payload(decode=True)
        return "", filename, payload if isinstance(payload, bytes) else b"", others

    @staticmethod
    def _network(mail: OperatorMail, filename: str) -> str:
        """The OI code the file name carries (the first of its tokens that is a network of the layout)."""
        stem = filename.rsplit(".", 1)[0]
        return next((token for token in stem.split("_") if token in mail.layout.networks), "")

    def _document(self, tenant: str, box: Mailbox, network: str, filename: str, content: bytes,
                  attachments: dict[str, bytes] | None = None) -> InboundDocument:
        return InboundDocument(tenant, CHANNEL, network, box.area, filename, content, f"mail:{box.address}",
                               box.operator.operator, attachments=attachments or {})

    def _refuse(self, tenant: Account, box: Mailbox, subject: str, filename: str, problem: str) -> None:
        """A reply mail saying what is wrong with the mail, kept in the outbox, and a journal line."""
        text = (f"Your mail to {box.address} (subject {subject!r}) was not processed: {problem}.\n\n"
                "A mail carries one CSV file, its file name as the subject (a Notif_Adduction's photo and "
                "technical sheet may come beside it).\n")
        message = build_message(box.address, tenant.email, f"Refused: {subject}"[:250], text)
        self.engine.call(lambda: self.outbox.keep(tenant.code, box.operator.operator, box.address, tenant.email,
                                                  f"Refused: {subject}"[:250], message))
        self.engine.note(Finding(tenant.code, CHANNEL, "in", "", filename or subject[:200], "mail refused", problem))

    # ------------------------------------------------------------------ the spool: accepted, not yet committed
    def _spool(self, tenant: str, box: Mailbox, network: str, filename: str, content: bytes) -> Path:
        folder = self.spool / box.operator.operator
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / _SEP.join((f"{time.time_ns():020d}", tenant, box.area, network, filename))
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        return target

    def spooled(self) -> Iterator[tuple[InboundDocument, Path]]:
        for key, mail in self.operators.items():
            folder = self.spool / key
            for path in sorted(folder.iterdir()) if folder.is_dir() else ():
                if path.name.startswith("."):  # cut while being written: never acknowledged
                    path.unlink(missing_ok=True)
                    continue
                parts = path.name.split(_SEP, 4)
                if len(parts) != 5 or parts[2] not in mail.mailboxes:
                    continue
                _, tenant, area, network, filename = parts
                box = Mailbox(mail, area, mail.address(area))
                try:
                    _, problem, _, content, attachments = self._read(path.read_bytes())
                except Exception:  # noqa: BLE001 - read once already: a spool damaged since is kept aside
                    problem, content, attachments = "unreadable", b"", {}
                if problem:
                    log.warning("smtp: spooled mail %s cannot be read again: left in the spool", path.name)
                    continue
                yield self._document(tenant, box, network, filename, content, attachments), path

    def resubmit(self) -> None:
        """Mails accepted before a stop whose file was not committed: to the engine again (a file already
        committed is recognised by the engine and only removed)."""
        for doc, path in self.spooled():
            self.engine.submit(doc, path)


def _plain_name(filename: str) -> bool:
    """A file name of one path component, printable, not too long (never a path trick)."""
    return bool(filename) and not ("/" in filename or "\\" in filename or _SEP in filename
                                   or any(ord(c) < 32 for c in filename) or len(filename) > 200)


class _Handler:
    """aiosmtpd hooks: refuse what is not ours at RCPT, take the mail at DATA."""

    def __init__(self, transport: SmtpTransport):
        self.transport = transport

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        box = self.transport.mailbox(address)
        if box is None:
            return f"550 5.1.1 <{address}>: no such mailbox here (files go to the operator's area mailboxes)"
        sender = envelope.mail_from or ""
        if self.transport.sender(sender, box.operator.operator) is None:
            return (f"550 5.7.1 <{sender}> is not the address of any OC of {box.operator.operator}: "
                    "send from the e-mail address of your tenant")
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            for address in envelope.rcpt_tos:
                box = self.transport.mailbox(address)
                tenant = self.transport.sender(envelope.mail_from or "", box.operator.operator) if box else None
                if box is None or tenant is None:  # checked at RCPT; the tenant may be gone since
                    return "550 5.7.1 sender or mailbox no longer known"
                # The engine and the disk are blocking: off the event loop.
                await loop.run_in_executor(None, self.transport.receive, tenant, box, raw)
        except Exception:
            log.exception("smtp: cannot take a mail from %s", envelope.mail_from)
            return "451 4.3.0 the mail could not be taken now: try again later"
        return "250 2.0.0 OK: taken"
