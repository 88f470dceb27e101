"""The reference OC client of Protocole PM 2.2: its files over FTP (IN/<OI>/<ARCEP>/PM, OUT/.../PM) or by
e-mail (one mail per file to the operator's PM mailbox, the CSV as the attachment named in the subject).

    pm = OcPmClient(ftp_session, "DEMO", "COVA", "CV", mail=MailAccount(...))
    pm.send("Cmd_Info_Pm", [record], pm="PM0001", channel="mail")
    for answer in pm.receive_all():   # the PM folder over FTP, then the answer mails not read yet
        ...

Files are written and read with the pm-2.2 spec pack (simulator.specs.codec), like the Accès client does:
the per-PM names COVAGE_ZMD_<OI>_<OC>_PM_<ReferencePM>_<TYPE>_V22_<AAAAMMJJ>_<seq>.csv come from the pack,
the broadcast names (IPE, CPN: no OC in them) from each flow's own `filename` pattern.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from conformance.client.admin import SandboxAdmin
from conformance.client.ftp import FtpSession
from simulator.operators.covage.harness.client.oc import ReceivedFile
from simulator.specs.codec import FlowSpec, SpecPack, UnreadableFile, load_pack

DEFAULT_PM_PACK = "pm-2.2"
CHANNELS = ("ftp", "mail")


@dataclass(frozen=True)
class MailAccount:
    """What the OC needs to send its files by mail and read the answers: the SMTP server, its own address
    (the sandbox knows a tenant by its sender), the operator's PM mailbox, and the admin API where the
    answer mails wait (GET /api/mail?tenant=)."""

    smtp_host: str
    smtp_port: int
    sender: str
    mailbox: str
    admin: SandboxAdmin
    tenant: str


def broadcast_patterns(pack: SpecPack) -> list[tuple[re.Pattern[str], FlowSpec]]:
    """A regex per flow that names its files itself (IPE, CPN: no OC code in the name)."""
    fields = {"oi": r"(?P<oi>[A-Za-z0-9]+)", "date": r"(?P<date>\d{8})", "seq": r"(?P<seq>\d+)"}
    found = []
    for flow in pack.flows.values():
        if not flow.filename or "{oc}" in flow.filename:
            continue
        pattern = re.escape(flow.filename).replace(r"\{code\}", re.escape(flow.code)).replace(
            r"\{version\}", re.escape(pack.version))
        for name, regex in fields.items():
            pattern = pattern.replace(rf"\{{{name}\}}", regex)
        found.append((re.compile(f"^{pattern}$", re.IGNORECASE), flow))
    return found


class OcPmClient:
    """The OC side of PM 2.2 on one OI network: FTP always (the IPE and CPN come there), mail when given."""

    def __init__(self, session: FtpSession, oc_code: str, oi: str = "COVA", arcep: str = "CV", *,
                 pack: SpecPack | str = DEFAULT_PM_PACK, today: Callable[[], date] = date.today,
                 mail: MailAccount | None = None, folders: Mapping[str, str] | None = None):
        """`folders` ({"in", "out"}: the operator's PM folders) default to seed 002's IN/<OI>/<ARCEP>/PM."""
        self.session = session
        folders = folders or {"in": f"/IN/{oi}/{arcep}/PM", "out": f"/OUT/{oi}/{arcep}/PM"}
        self._in, self._out = folders["in"], folders["out"]
        self.oc_code = oc_code
        self.oi = oi
        self.arcep = arcep
        self.pack = pack if isinstance(pack, SpecPack) else load_pack(pack)
        self.today = today
        self.mail = mail
        self._broadcasts = broadcast_patterns(self.pack)
        self._sequences: dict[tuple[str, str], int] = {}
        self._mails_read: set[int] = set()

    @property
    def in_folder(self) -> str:
        return self._in

    @property
    def out_folder(self) -> str:
        return self._out

    # ------------------------------------------------------------------ names
    def next_filename(self, flow_name: str, pm: str) -> str:
        """The next file name of a per-PM flow: sequences increase per flow and day (over both channels)."""
        flow = self.pack.flow(flow_name)
        day = self.today().strftime("%Y%m%d")
        key = (flow.code, day)
        self._sequences[key] = self._sequences.get(key, 0) + 1
        return self.pack.render_filename(flow, self.oi, self.oc_code, day, self._sequences[key], pm=pm)

    def flow_of(self, filename: str) -> tuple[FlowSpec | None, str]:
        """(flow, date+seq sort key) of a file name of the pack, per-PM or broadcast; (None, "") otherwise."""
        parsed = self.pack.parse_filename(filename)
        if parsed is not None:
            return parsed.flow, f"{parsed.date}{int(parsed.seq):06d}"
        for regex, flow in self._broadcasts:
            if m := regex.match(filename):
                return flow, f"{m['date']}{int(m['seq']):06d}"
        return None, ""

    # ------------------------------------------------------------------ sending
    def send(self, flow_name: str, records: Iterable[Mapping[str, str]], *, pm: str, channel: str = "ftp",
             attachments: Mapping[str, bytes] | None = None) -> str:
        """Write `records` as a file of `flow_name` for PM `pm` and send it with its attachments (a
        Notif_Adduction's photo and technical sheet); returns the file's name."""
        if channel not in CHANNELS:
            raise ValueError(f"channel {channel!r}: expected one of {', '.join(CHANNELS)}")
        name = self.next_filename(flow_name, pm)
        content = self.pack.flow(flow_name).write(records)
        if channel == "mail":
            self._mail(name, content, attachments or {})
        else:
            # The documents first: the operator looks for them beside the CSV when it reads it.
            for other, data in (attachments or {}).items():
                self.session.upload(f"{self.in_folder}/{other}", data)
            self.session.upload(f"{self.in_folder}/{name}", content)
        return name

    def _mail(self, name: str, content: bytes, attachments: Mapping[str, bytes]) -> None:
        if self.mail is None:
            raise RuntimeError("this OC has no e-mail account (the sandbox serves no SMTP): cannot send by mail")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.mail.sender, self.mail.mailbox, name
        msg.set_content(f"{name} attached.")
        msg.add_attachment(content, maintype="text", subtype="csv", filename=name)
        for other, data in attachments.items():
            msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=other)
        with smtplib.SMTP(self.mail.smtp_host, self.mail.smtp_port, timeout=30) as smtp:
            smtp.send_message(msg, from_addr=self.mail.sender, to_addrs=[self.mail.mailbox])

    # ------------------------------------------------------------------ receiving
    def receive_all(self, unparsed: frozenset[str] = frozenset()) -> list[ReceivedFile]:
        """Every file now in OUT/.../PM (downloaded, then deleted: the reader deletes) and every answer mail
        of the PM mailbox not read yet, oldest first by the date and sequence of their names. Files of the
        `unparsed` flows come with their bytes only (the weekly IPE: parsed when first needed)."""
        files = []
        for name in self.session.list_files(self.out_folder):
            path = f"{self.out_folder}/{name}"
            content = self.session.download(path)
            self.session.delete(path)
            flow, _ = self.flow_of(name)
            if flow is not None and flow.name in unparsed:
                files.append(ReceivedFile(name, flow.name, [], [], content))
            else:
                files.append(self.parse(name, content))
        files += self._read_mails()
        return sorted(files, key=lambda f: self.flow_of(f.name)[1])

    def _read_mails(self) -> list[ReceivedFile]:
        if self.mail is None:
            return []
        files = []
        for item in self.mail.admin.get_all("/mail", tenant=self.mail.tenant):
            if item["id"] in self._mails_read or str(item.get("sender", "")).lower() != self.mail.mailbox.lower():
                continue
            self._mails_read.add(item["id"])
            raw = self.mail.admin.raw(f"/mail/{item['id']}.eml", tenant=self.mail.tenant)
            message = BytesParser(policy=policy.default).parsebytes(raw)
            parts = [p for p in message.iter_attachments() if str(p.get_filename() or "").lower().endswith(".csv")]
            if not parts:  # a reply about a mail it could not take: nothing to read but the text
                files.append(ReceivedFile(str(message["Subject"] or ""), None, [],
                                          [str(message.get_body(("plain",)).get_content())[:500]]))  # type: ignore[union-attr]
            for part in parts:
                payload = part.get_payload(decode=True)
                files.append(self.parse(str(part.get_filename()), payload if isinstance(payload, bytes) else b""))
        return files

    def parse(self, name: str, content: bytes) -> ReceivedFile:
        flow, _ = self.flow_of(name)
        if flow is None:
            return ReceivedFile(name, None, [], [f"{name}: not a file name of spec pack {self.pack.name}"], content)
        try:
            parsed = flow.parse(content)
        except UnreadableFile as e:
            return ReceivedFile(name, flow.name, [], [f"{name}: {e}"], content)
        problems = [*parsed.warnings, *(f"line {r.line}: {e}" for r in parsed.records for e in r.errors)]
        return ReceivedFile(name, flow.name, [dict(r.values) for r in parsed.records], problems, content)
