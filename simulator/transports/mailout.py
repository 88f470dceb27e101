"""The mail outbox: answers of documents that came by e-mail go back by e-mail.

The engine hands every committed answer file to its delivery port (`engine.Delivery`). `ChannelDelivery`
sends a file of channel "mail" here and any other to the tenants' folders. Here it becomes a real MIME
message (the CSV attached, its file name as subject, from the operator's mailbox of the file's area, to
the tenant's address), kept in the `mail_outbox` table: one row per answer file (the outbox id is unique),
so a file handed over again after a stop is not kept twice, and the outbox survives restarts. When a
relay host is configured ([mail] relay_host), a thread relays each message once to it.

Replies the SMTP transport writes itself (a mail with no attachment...) are kept here too.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from ..layout import Layout
from ..profile import MAILBOX_PREFIX
from ..store import Outbound, Store

log = logging.getLogger(__name__)

MAIL_SCHEMA = """
CREATE TABLE IF NOT EXISTS mail_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbound_id INTEGER UNIQUE,          -- the answer file it carries (NULL: a reply about a bad mail)
    tenant TEXT NOT NULL,
    operator TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    filename TEXT NOT NULL DEFAULT '',
    message BLOB NOT NULL,               -- the whole RFC 5322 message (the .eml)
    at_real REAL NOT NULL,
    relayed INTEGER NOT NULL DEFAULT 0,  -- 1 once the relay host took it
    relay_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS mail_outbox_tenant ON mail_outbox (tenant, id);
"""



@dataclass(frozen=True)
class OperatorMail:
    """An operator's e-mail identity: its domain and the mailbox of each area of its layout."""

    operator: str
    domain: str
    mailboxes: Mapping[str, str]  # area -> local part (the profile's mail_<area>)
    layout: Layout

    @classmethod
    def of(cls, operator: str, settings: Mapping[str, Any], layout: Layout) -> OperatorMail | None:
        domain = str(settings.get("mail_domain", ""))
        boxes = {area: str(settings[MAILBOX_PREFIX + area]) for area in layout.areas
                 if settings.get(MAILBOX_PREFIX + area)}
        return cls(operator, domain.lower(), boxes, layout) if domain and boxes else None

    def address(self, area: str) -> str:
        return f"{self.mailboxes[area]}@{self.domain}"

    def area_of(self, address: str) -> str | None:
        """The area whose mailbox this address is (case-insensitive), or None."""
        local, _, domain = address.strip().strip("<>").rpartition("@")
        if domain.lower() != self.domain:
            return None
        return next((area for area, box in self.mailboxes.items() if box.lower() == local.lower()), None)


def build_message(sender: str, recipient: str, subject: str, text: str, filename: str = "",
                  content: bytes | None = None) -> bytes:
    """A MIME message; with `content`, the CSV attached under `filename` (base64: its bytes exactly)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(text)
    if content is not None:
        msg.add_attachment(content, maintype="text", subtype="csv", filename=filename)
    return bytes(msg)


class MailOutbox:
    """The `mail_outbox` table: written on the engine thread, read by the API threads."""

    def __init__(self, store: Store, operators: Mapping[str, OperatorMail]):
        self.store = store
        self.operators = operators
        store.ensure_schema(MAIL_SCHEMA)  # at start-up, outside any transaction
        self.changed = threading.Event()  # set when a message is kept: wakes the relay

    def keep(self, tenant: str, operator: str, sender: str, recipient: str, subject: str, message: bytes,
             filename: str = "", outbound_id: int | None = None) -> None:
        """Keep one message (engine thread); the same answer file kept twice stays one row."""
        self.store.execute(
            "INSERT OR IGNORE INTO mail_outbox (outbound_id, tenant, operator, sender, recipient, subject, filename, "
            "message, at_real) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (outbound_id, tenant, operator, sender, recipient, subject, filename, message, time.time()))
        self.changed.set()

    def mark(self, mail_id: int, relayed: bool, error: str) -> None:
        """The relay's outcome for one message (engine thread)."""
        self.store.execute("UPDATE mail_outbox SET relayed = ?, relay_error = ? WHERE id = ?",
                           (int(relayed), error[:500], mail_id))

    def mails(self, tenant: str, limit: int = -1, after_id: int = 0) -> list[dict[str, Any]]:
        return mails(self.store, tenant, limit, after_id)

    def message(self, tenant: str, mail_id: int) -> bytes | None:
        return message(self.store, tenant, mail_id)

    def unrelayed(self) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT id, sender, recipient, message FROM mail_outbox WHERE relayed = 0 "
                                "AND relay_error = '' AND recipient != '' ORDER BY id LIMIT 100", reader=True)
        return [dict(r) for r in rows]


def mails(store: Store, tenant: str, limit: int = -1, after_id: int = 0) -> list[dict[str, Any]]:
    """The tenant's kept mails by id, from the one after `after_id` (API threads); `limit` -1: all."""
    rows = store.query(
        "SELECT id, tenant, operator, sender, recipient, subject, filename, outbound_id, at_real, relayed, "
        "relay_error, length(message) AS size FROM mail_outbox WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?",
        (tenant, after_id, limit), reader=True)
    return [{**dict(r), "relayed": bool(r["relayed"])} for r in rows]


def message(store: Store, tenant: str, mail_id: int) -> bytes | None:
    """One kept mail of the tenant, the whole message (.eml), or None."""
    rows = store.query("SELECT message FROM mail_outbox WHERE tenant = ? AND id = ?", (tenant, mail_id),
                       reader=True)
    return bytes(rows[0][0]) if rows else None


class MailDelivery:
    """The delivery of answer files of channel "mail": one message each, to the tenant's address."""

    def __init__(self, outbox: MailOutbox, email_of: Callable[[str], str]):
        self.outbox = outbox
        self.email_of = email_of  # tenant code -> its address ('' if it has none)

    def deliver(self, out: Outbound) -> bool:
        """Keep the answer's mail; False when its operator has no mailbox for the file's area."""
        mail = self.outbox.operators.get(out.operator)
        folder = mail.layout.folder(out.location) if mail else None
        if mail is None or folder is None or folder.area not in mail.mailboxes:
            return False
        sender = mail.address(folder.area)
        recipient = self.email_of(out.tenant)
        message = build_message(sender, recipient, out.filename, f"{out.flow}: {out.filename}\n",
                                out.filename, out.content)
        self.outbox.keep(out.tenant, out.operator, sender, recipient, out.filename, message, out.filename, out.id)
        return True


class ChannelDelivery:
    """The engine's delivery port, by channel: "mail" answers by e-mail, the others to the folders."""

    def __init__(self, files: Any, mail: MailDelivery):
        self.files = files
        self.mail = mail

    def deliver(self, out: Outbound) -> None:
        # An answer that cannot go by mail (no mailbox for its area) is never lost: it goes to the folders.
        if out.channel != "mail" or not self.mail.deliver(out):
            self.files.deliver(out)


class Relay:
    """Relays the outbox to a real SMTP host, each message once, in its own thread. A host that does not
    answer is retried later; a message it refuses for good (5xx) is marked with the error and not retried."""

    def __init__(self, outbox: MailOutbox, host: str, port: int, mark: Callable[[int, bool, str], None],
                 retry_seconds: float = 30.0):
        self.outbox = outbox
        self.host = host
        self.port = port
        self.mark = mark  # (id, relayed, error): written on the engine thread
        self.retry_seconds = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="opsim-mail-relay", daemon=True)
        self._thread.start()
        self.outbox.changed.set()  # what was left unrelayed before a stop goes now

    def stop(self) -> None:
        self._stop.set()
        self.outbox.changed.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.outbox.changed.wait(self.retry_seconds)
            self.outbox.changed.clear()
            if self._stop.is_set():
                return
            try:
                self.relay_pending()
            except Exception:  # a relay fault must never end the thread; next round retries
                log.exception("mail relay: round failed")

    def relay_pending(self) -> None:
        for row in self.outbox.unrelayed():
            try:
                with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                    smtp.sendmail(row["sender"], [row["recipient"]], row["message"])
            except smtplib.SMTPResponseException as e:
                if 500 <= e.smtp_code < 600:  # refused for good: say so, do not retry forever
                    self.mark(row["id"], False, f"{e.smtp_code} {e.smtp_error!r}")
                    continue
                return
            except (OSError, smtplib.SMTPException) as e:
                log.warning("mail relay %s:%s: %s (retried later)", self.host, self.port, e)
                return
            self.mark(row["id"], True, "")
