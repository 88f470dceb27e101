"""FTP transport of the reference OC client: one ftplib session on an OC account.

Only what the operators' file protocols need: list the files of a folder, upload, download, delete, rename.
Paths are absolute from the account's home ("/IN/COVA/CV/<name>").
"""

from __future__ import annotations

import ftplib
import io
import socket
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Failures after which the session is dead and a new login may succeed (idle timeout, server restart).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (EOFError, ConnectionError, socket.timeout,
                                                      ftplib.error_temp)
#: ...and those a QUIT may meet on a session in any state: the socket is dropped.
CLOSE_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, OSError, ftplib.Error)


class FtpSession:
    """A lazily opened, passive-mode FTP session; idempotent calls reconnect once if it dropped."""

    def __init__(self, host: str, port: int, login: str, password: str, timeout: float = 10.0):
        self.host = host
        self.port = port
        self.login = login
        self.password = password
        self.timeout = timeout
        self._ftp: ftplib.FTP | None = None

    # ------------------------------------------------------------------ session
    def open(self) -> ftplib.FTP:
        if self._ftp is None:
            ftp = ftplib.FTP(timeout=self.timeout)
            ftp.connect(self.host, self.port)
            try:
                ftp.login(self.login, self.password)
            except BaseException:
                ftp.close()
                raise
            ftp.set_pasv(True)
            self._ftp = ftp
        return self._ftp

    def close(self) -> None:
        if self._ftp is None:
            return
        ftp, self._ftp = self._ftp, None
        try:
            ftp.quit()
        except CLOSE_ERRORS:
            ftp.close()  # the server is gone already: just drop the socket

    def _idempotent(self, action: Callable[[ftplib.FTP], T]) -> T:
        try:
            return action(self.open())
        except CONNECTION_ERRORS:
            self._drop()
            return action(self.open())

    def _drop(self) -> None:
        if self._ftp is not None:
            self._ftp.close()
            self._ftp = None

    # ------------------------------------------------------------------ operations
    def list_files(self, folder: str) -> list[str]:
        """Names of the regular files of `folder` (sub-folders such as PM/ are left out)."""
        def action(ftp: ftplib.FTP) -> list[str]:
            return sorted(name for name, facts in ftp.mlsd(folder, facts=["type"]) if facts.get("type") == "file")
        return self._idempotent(action)

    def download(self, path: str) -> bytes:
        def action(ftp: ftplib.FTP) -> bytes:
            buffer = io.BytesIO()
            ftp.retrbinary(f"RETR {path}", buffer.write)
            return buffer.getvalue()
        return self._idempotent(action)

    def delete(self, path: str) -> None:
        def action(ftp: ftplib.FTP) -> None:
            try:
                ftp.delete(path)
            except ftplib.error_perm as e:
                # A retry after a lost reply finds the file gone already: that is what we wanted.
                if not str(e).startswith("550"):
                    raise
        self._idempotent(action)

    def upload(self, path: str, content: bytes) -> None:
        """STOR; never retried, since a lost reply may hide a completed upload (a retry would duplicate it)."""
        try:
            self.open().storbinary(f"STOR {path}", io.BytesIO(content))
        except CONNECTION_ERRORS:
            self._drop()
            raise

    def rename(self, source: str, target: str) -> None:
        try:
            self.open().rename(source, target)
        except CONNECTION_ERRORS:
            self._drop()
            raise
