"""FTP access to the tenants' trees (pyftpdlib), extended through its hooks only.

Each OC logs in to its own home and sees nothing else. It may write only in the IN leaves and
read and delete in the OUT leaves. A complete upload becomes an inbound document; an aborted
one is journaled and dropped.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.handlers import DTPHandler, FTPHandler
from pyftpdlib.servers import FTPServer

from ..documents import Finding, InboundDocument
from ..engine import Engine
from ..tenants import TenantRegistry
from .mailbox import Mailboxes, is_document

log = logging.getLogger(__name__)
# pyftpdlib configures its own stderr logging unless its logger has a handler: ours goes through logging.
logging.getLogger("pyftpdlib").addHandler(logging.NullHandler())

PERMS = {"root": "el", "in": "elrwadf", "out": "elrd", "outside": ""}


class TenantAuthorizer(DummyAuthorizer):
    """Logins and rights come from the tenant registry, not from a static user table."""

    def __init__(self, tenants: TenantRegistry, mailboxes: Mailboxes):
        super().__init__()
        self.tenants = tenants
        self.mailboxes = mailboxes

    def validate_authentication(self, username, password, handler):  # noqa: ANN001, ANN201 - pyftpdlib API
        if self.tenants.authenticate(username, password) is None:
            raise AuthenticationFailed("Authentication failed.")

    def _code(self, username: str) -> str:
        account = self.tenants.by_login(username)
        if account is None:
            raise AuthenticationFailed("Unknown account.")
        return account.code

    def has_user(self, username: str) -> bool:
        return self.tenants.by_login(username) is not None

    def get_home_dir(self, username: str) -> str:
        code = self._code(username)
        self.mailboxes.ensure_tree(code)
        return str(self.mailboxes.home(code))

    def has_perm(self, username: str, perm: str, path: str | None = None) -> bool:
        if path is None:
            return perm in PERMS["in"]
        zone = self.mailboxes.zone(self._code(username), Path(path))
        return perm in PERMS[zone]

    def get_perms(self, username: str) -> str:
        return PERMS["in"]

    def get_msg_login(self, username: str) -> str:
        return f"Welcome {self._code(username)}: drop in IN/<OI>/<ARCEP>/, pick up in OUT/<OI>/<ARCEP>/."

    def get_msg_quit(self, username: str) -> str:
        return "Goodbye."


class SpoolingDTPHandler(DTPHandler):
    """Moves a finished upload into IN *before* the 226 reply: once the OC is told its file is
    stored, a crash cannot lose it (pyftpdlib replies first and calls on_file_received after)."""

    def close(self) -> None:
        if not self._closed and self.receive and self.transfer_finished and self.file_obj is not None:
            if not self.file_obj.closed:
                self.file_obj.close()
            self.cmd_channel.commit_upload(self.file_obj.name)
        super().close()


class TenantFTPHandler(FTPHandler):
    """Uploads to IN go to the spool first; the finished file is moved into IN and submitted."""

    engine: Engine
    mailboxes: Mailboxes
    tenants: TenantRegistry
    channel = "ftp"
    dtp_handler = SpoolingDTPHandler

    def on_connect(self) -> None:
        self._spooled: dict[str, str] = {}
        self._committed: dict[str, str] = {}

    def commit_upload(self, spooled: str) -> None:
        target = self._spooled.pop(spooled, None)
        if target is not None:
            os.replace(spooled, target)
            self._committed[spooled] = target

    def _tenant(self) -> str:
        account = self.tenants.by_login(self.username or "")
        return account.code if account else (self.username or "?")

    def ftp_STOR(self, file: str, mode: str = "w"):  # noqa: ANN201 - pyftpdlib API
        if mode != "w" or self._restart_position or self.mailboxes.drop_of(Path(file)) is None:
            return super().ftp_STOR(file, mode)
        spooled = str(self.mailboxes.spool_path(self._tenant()))
        self._spooled[spooled] = file
        if super().ftp_STOR(spooled, mode) is None:
            self._spooled.pop(spooled, None)
            return None
        return file

    def on_file_received(self, file: str) -> None:
        # A spooled upload was moved into IN by commit_upload; APPE or a resumed STOR wrote in place.
        self._submit(Path(self._committed.pop(file, file)))

    def on_incomplete_file_received(self, file: str) -> None:
        target = self._spooled.pop(file, file)
        Path(file).unlink(missing_ok=True)
        self.engine.note(Finding(self._tenant(), self.channel, "in", "", Path(target).name,
                                 "upload aborted", "transfer interrupted: the file is ignored"))

    def ftp_RNTO(self, path: str):  # noqa: ANN201 - pyftpdlib API
        result = super().ftp_RNTO(path)
        if result is not None:
            self._submit(Path(result[1]))
        return result

    def _submit(self, path: Path) -> None:
        drop = self.mailboxes.drop_of(path)
        if drop is None:
            return
        if not is_document(drop.filename):
            self.engine.note(Finding(drop.tenant, self.channel, "in", "", drop.filename, "waiting",
                                     "not a .csv file: processed once renamed to .csv"))
            return
        doc = InboundDocument(drop.tenant, self.channel, drop.network, drop.area, drop.filename,
                              path.read_bytes(), drop.location)
        self.engine.submit(doc, path)

    def on_file_sent(self, file: str) -> None:
        self.engine.note(Finding(self._tenant(), self.channel, "out", "", Path(file).name, "downloaded"))

    def ftp_DELE(self, path: str):  # noqa: ANN201 - pyftpdlib API
        result = super().ftp_DELE(path)
        if result is not None:
            self.engine.note(Finding(self._tenant(), self.channel, "out", "", Path(path).name, "deleted"))
        return result

    def on_login_failed(self, username: str, password: str) -> None:
        self.engine.note(Finding(username or "?", self.channel, "in", "", "", "login refused",
                                 f"from {self.remote_ip}"))

    def log(self, msg: str, logfun=None) -> None:  # noqa: ANN001 - quieter than pyftpdlib's INFO lines
        log.debug(msg)

    def logline(self, msg: str, logfun=None) -> None:  # noqa: ANN001
        log.debug(msg)

    def logerror(self, msg: str) -> None:
        log.warning(msg)


class FtpTransport:
    def __init__(self, engine: Engine, mailboxes: Mailboxes, tenants: TenantRegistry, host: str, port: int,
                 passive_ports: list[int] | None = None, masquerade_address: str | None = None):
        handler = type("OpsimFTPHandler", (TenantFTPHandler,), {
            "engine": engine, "mailboxes": mailboxes, "tenants": tenants,
            "authorizer": TenantAuthorizer(tenants, mailboxes),
            "banner": "opsim FTP (Covage-style OI sandbox) ready.",
            "auth_failed_timeout": 0.5,
            "permit_foreign_addresses": False,
            "passive_ports": passive_ports,
            "masquerade_address": masquerade_address or None,
        })
        self.server = FTPServer((host, port), handler)
        self.server.max_cons = 256
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.socket.getsockname()[:2]
        return host, port

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="opsim-ftp", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        # One poll at a time, so stop() is seen within 50 ms and close_all runs on this thread.
        while not self._stop.is_set():
            self.server.ioloop.loop(timeout=0.05, blocking=False)
        self.server.close_all()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
