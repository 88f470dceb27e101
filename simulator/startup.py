"""What the sandbox makes sure of before serving: its data dir is its own, and its ports are free.

Both failures are `StartupError`s whose one-line message names the port or the PID and the flag to change.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from pathlib import Path

from .config import Config

LOCK_FILE = "opsim.lock"


class StartupError(RuntimeError):
    """The sandbox cannot start; the message says why and what to change, on one line."""


class DataDirLock:
    """An exclusive `flock` on <data dir>/opsim.lock for the life of the sandbox; the file holds its PID.

    The kernel releases a flock when its holder dies, even by kill -9: a stale file never blocks.
    """

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise StartupError(f"data dir {self.data_dir} is not a directory (choose another with --data-dir)")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # No O_TRUNC: the PID in the file is the holder's until we hold the lock ourselves.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise StartupError(f"cannot use data dir {self.data_dir}: {e.strerror or e} "
                               f"(choose another with --data-dir)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            pid = f"PID {holder}" if holder.isdigit() else "PID unknown"
            raise StartupError(f"data dir {self.data_dir} is in use by another opsim ({pid}): stop it, "
                               f"or choose another --data-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        # The file stays: removing it would let a newcomer lock a fresh inode while another waits on the old.
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def check_ports(config: Config) -> None:
    """Refuse a port that is taken before the servers try it, with a message naming the flag that changes it."""
    for key in config.operators:
        check_port(f"{config.operators[key].name} FTP", config.host, config.ftp_port_of(key),
                   f"--ftp-port {key}=PORT", "--host")
    check_port("HTTP", config.admin_host, config.http_port, "--http-port", "--admin-host")


PORTS_FILE = "ports.json"


class KeptPorts:
    """Ports asked as 0 (any free one) stay the same for a data dir: the one chosen at its first start is kept
    in <data dir>/ports.json and asked again at the next, so an OC's configuration keeps working across restarts.
    A kept port that another program took meanwhile gives way to a new free one."""

    def __init__(self, path: Path):
        self.path = path
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
            self._kept: dict[str, int] = {k: v for k, v in kept.items() if isinstance(v, int) and 0 < v < 65536}
        except (OSError, ValueError, AttributeError):
            self._kept = {}  # none yet, or unreadable: chosen anew
        self._changed = False

    def port(self, name: str, host: str, asked: int) -> int:
        """The port to listen on for endpoint `name`: `asked`, unless it is 0 and one is kept and free."""
        kept = self._kept.get(name)
        if asked or kept is None:
            return asked
        try:
            check_port(name, host, kept, "", "")
        except StartupError:
            return 0
        return kept

    def keep(self, name: str, port: int) -> None:
        if self._kept.get(name) != port:
            self._kept[name] = port
            self._changed = True

    def save(self) -> None:
        if not self._changed:
            return
        part = self.path.with_name(self.path.name + ".part")
        part.write_text(json.dumps(self._kept, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(part, self.path)


def check_port(what: str, host: str, port: int, port_flag: str, host_flag: str) -> None:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        raise StartupError(f"{what} address {host} is unknown (change it with {host_flag})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as both servers do
        try:
            probe.bind(address)
        except OSError as e:
            raise StartupError(bind_error(what, host, port, port_flag, host_flag, e)) from None


def bind_error(what: str, host: str, port: int, port_flag: str, host_flag: str, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"{what} port {port} on {host} is already in use (change it with {port_flag})"
    if error.errno == errno.EACCES:
        return f"{what} port {port} on {host} needs privileges (choose one above 1023 with {port_flag})"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{what} address {host} is not an address of this machine (change it with {host_flag})"
    return f"{what} on {host} port {port}: {error.strerror or error} (change {host_flag} or {port_flag})"
