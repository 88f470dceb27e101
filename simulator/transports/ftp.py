"""FTP access to the tenants' trees (pyftpdlib), extended through its hooks only.

Each OC logs in to its own home and sees nothing else. It may write only in the IN leaves and
read and delete in the OUT leaves. Every upload to IN (STOR, APPE, STOU, REST then STOR) is written
to the spool and moved into IN only once complete: a complete upload becomes an inbound document,
an aborted one is journaled and dropped, and nothing partial ever reaches IN. Bad input (odd names,
NUL bytes, the tree's own folders) gets a protocol reply, never a traceback or a dropped session.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import shutil
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS, FilesystemError
from pyftpdlib.handlers import DTPHandler, FTPHandler
from pyftpdlib.ioloop import AsyncChat, IOLoop
from pyftpdlib.servers import FTPServer
from pyftpdlib.utils import strerror

from ..documents import Finding
from ..engine import Engine
from ..tenants import OperatorTenants
from .mailbox import Mailboxes, is_document

try:
    import resource
except ImportError:  # not POSIX: no descriptor limit to raise
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
# pyftpdlib configures its own stderr logging unless its logger has a handler: ours goes through logging.
logging.getLogger("pyftpdlib").addHandler(logging.NullHandler())

PERMS = {"root": "el", "in": "elrwadf", "out": "elrd", "outside": ""}
NAME_MAX = 255  # bytes in one file name on the usual file systems (ext4, xfs, tmpfs, APFS)

# Capacity defaults. pyftpdlib's max_cons counts every socket of its loop: control connections,
# passive listeners and data connections, so a session that transfers holds up to three.
MAX_CONS = 4096
BACKLOG = 1024
SWEEP_EVERY = 5.0  # seconds between two sweeps of IN for files that waited too long
# A session that lists a folder again less than this after its last listing of it, with no change opsim knows
# of in between (but its own), gets its listing when the folder changes or when this interval ends: a poller in
# a tight loop costs one listing per change (or per interval), not one per millisecond taken from others. Short:
# a client that lists, acts and lists again (an OC's sync, the harness's checks) must not wait for it (at 0.5 s,
# a conformance run of 31 file scenarios took 113 s instead of 14 s).
LISTING_INTERVAL = 0.02
# While a tenant's files are with the engine, a listing of one of its OUT folders that would show nothing new is
# held until the folder changes (the answer is delivered) or the engine is through with them, at most this long: an
# OC polling OUT for its answer gets it with its first listing rather than one empty listing every interval.
ANSWER_WAIT = 0.5
LISTED_MAX = 256  # folders whose last listing a session remembers


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def bad_name(name: str) -> str | None:
    """Why `name` cannot be a file name in IN, or None."""
    if len(os.fsencode(name)) > NAME_MAX:
        return f"longer than {NAME_MAX} bytes"
    if _CONTROL.search(name):
        return "control characters in the name"
    return None


class TenantFS(AbstractedFS):
    """pyftpdlib's virtual file system, with a `chdir` that never changes the process's working
    directory: pyftpdlib's `os.chdir` is process-wide, so it raced with the engine and HTTP threads
    and, with a relative data dir, mapped every later path wrongly.

    `validpath` answers as pyftpdlib's (the path's real location, symbolic links followed, is in the home)
    without resolving the home and every folder above it on each command: the home is resolved once a
    session, and a folder of the home once it was found free of links (the layout's folders cannot be
    removed, renamed or created over FTP); the last component is checked on every call."""

    def __init__(self, root: str, cmd_channel: object):
        super().__init__(root, cmd_channel)
        real_root = os.path.realpath(root)
        # A home that is itself a link (or not normalized) is checked the slow way, by pyftpdlib.
        self._lexical_ok = real_root == os.path.normpath(root)
        self._root_prefix = real_root.rstrip(os.sep) + os.sep
        self._plain_folders: set[str] = {real_root}  # folders of the home with no link on their way

    def validpath(self, path: str) -> bool:
        if not self._lexical_ok:
            return super().validpath(path)
        full = os.path.normpath(path)
        if full + os.sep == self._root_prefix:
            return True
        if not full.startswith(self._root_prefix):
            return False
        folder, _ = os.path.split(full)
        if folder not in self._plain_folders and not self._free_of_links(folder):
            return super().validpath(path)
        try:
            is_link = stat.S_ISLNK(os.lstat(full).st_mode)
        except (OSError, ValueError):  # not there (yet): its folder decides
            return True
        return not is_link or super().validpath(path)

    def _free_of_links(self, folder: str) -> bool:
        """Whether no component of `folder` below the home is a symbolic link (a missing one is not); the
        folders found on the way, links excepted, are remembered."""
        current = self._root_prefix.rstrip(os.sep)
        for part in folder[len(self._root_prefix):].split(os.sep):
            current = os.path.join(current, part)
            if current in self._plain_folders:
                continue
            try:
                mode = os.lstat(current).st_mode
            except (OSError, ValueError):
                return True
            if stat.S_ISLNK(mode):
                return False
            if stat.S_ISDIR(mode):
                self._plain_folders.add(current)
        return True

    def chdir(self, path: str) -> None:
        if not os.path.isdir(path):
            raise FilesystemError("Not a directory" if os.path.lexists(path) else "No such directory")
        self.cwd = self.fs2ftp(path)


class ListingWaits(AsyncChat):
    """The listings held until their folder changes (see LISTING_INTERVAL), and how they are woken: opsim's
    threads report each change of a folder (`Mailboxes.changed`) through a socket pair the FTP loop reads, so
    a delivery by the engine thread wakes the loop at once, with no polling."""

    def __init__(self, ioloop: IOLoop):
        reader, self._writer = socket.socketpair()
        reader.setblocking(False)
        self._writer.setblocking(False)
        super().__init__(reader, ioloop=ioloop)
        self._changed: collections.deque[str] = collections.deque()
        self.waiting: dict[str, set[Callable[[], None]]] = {}  # folder -> the releases of its held listings

    def notify(self, folder: str) -> None:
        """From any thread: `folder` changed."""
        self._changed.append(folder)
        with contextlib.suppress(BlockingIOError, OSError):  # full: the loop has a wake-up to read already
            self._writer.send(b"\0")

    def handle_read(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            self.socket.recv(4096)
        while self._changed:
            for release in self.waiting.pop(self._changed.popleft(), ()):
                release()

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        super().close()
        self._writer.close()


class TenantAuthorizer(DummyAuthorizer):
    """Logins and rights come from the tenant registry, not from a static user table."""

    def __init__(self, tenants: OperatorTenants, mailboxes: Mailboxes):
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
        # Mailboxes.root is absolute and resolved: pyftpdlib maps real <-> virtual paths by prefix.
        return str(self.mailboxes.home(code))

    def has_perm(self, username: str, perm: str, path: str | None = None) -> bool:
        if path is None:
            return perm in PERMS["in"]
        zone = self.mailboxes.zone(self._code(username), path)
        return perm in PERMS[zone]

    def get_perms(self, username: str) -> str:
        return PERMS["in"]

    def get_msg_login(self, username: str) -> str:
        folders = self.mailboxes.layout.folders.values()
        drop = next((f.path for f in folders if f.direction == "in"), "")
        pick = next((f.path for f in folders if f.direction == "out"), "")
        return f"Welcome {self._code(username)}: drop in {drop}/, pick up in {pick}/ (and their siblings)."

    def get_msg_quit(self, username: str) -> str:
        return "Goodbye."


class SpoolingDTPHandler(DTPHandler):
    """Moves a finished upload into IN *before* the 226 reply: once the OC is told its file is
    stored, a crash cannot lose it (pyftpdlib replies first and calls on_file_received after).
    If the move is refused (quota, file system error), the reply says so and the upload counts as
    incomplete: the spooled file is dropped and journaled."""

    transfer_finished: bool  # pyftpdlib's own attributes, untyped there

    def close(self) -> None:
        if not self._closed and self.receive and self.transfer_finished and self.file_obj is not None:
            if not self.file_obj.closed:
                self.file_obj.close()
            refused = self.cmd_channel.commit_upload(self.file_obj.name)
            if refused is not None:
                self.transfer_finished = False
                self._resp = (refused, log.info)
        super().close()


class HeldListing:
    """A session's listing waiting for its folder to change or its interval to end; a command the session
    sends meanwhile (pipelined, or a QUIT) releases it first, so replies keep their order."""

    def __init__(self, session: TenantFTPHandler, listing: Callable[[str], str | None], path: str, wait: float):
        self.session, self.listing, self.path = session, listing, path
        self._timer = session.ioloop.call_later(wait, self.release)
        session.listing_waits.waiting.setdefault(path, set()).add(self.release)

    def _detach(self) -> bool:
        """Forget this hold; False if it was already released or cancelled."""
        if self.session._held is not self:
            return False
        self.session._held = None
        if not self._timer.cancelled:
            self._timer.cancel()
        waiting = self.session.listing_waits.waiting
        releases = waiting.get(self.path)
        if releases is not None:
            releases.discard(self.release)
            if not releases:
                del waiting[self.path]
        return True

    def release(self) -> None:
        if not self._detach() or self.session._closed:
            return
        try:
            self.session._list_now(self.listing, self.path)
        except Exception:  # as for any command (pre_process_command): answered, the session goes on
            log.exception("ftp: held listing of %r failed", self.path)
            self.session.respond("451 Requested action aborted: local error in processing.")

    def cancel(self) -> None:
        self._detach()


class TenantFTPHandler(FTPHandler):
    """Uploads to IN go to the spool first; the finished file is moved into IN and submitted."""

    engine: Engine
    mailboxes: Mailboxes
    tenants: OperatorTenants
    listing_waits: ListingWaits
    listing_interval = LISTING_INTERVAL
    _restart_position: int  # pyftpdlib's own attributes, untyped there
    _rnfr: str | None
    _held: HeldListing | None = None  # set per session; a session refused before on_connect closes with none
    channel = "ftp"
    dtp_handler = SpoolingDTPHandler
    abstracted_fs = TenantFS

    def on_connect(self) -> None:
        self._spooled: dict[str, str] = {}  # spool path -> its target in IN
        self._listed: dict[str, tuple[float, int]] = {}  # folder -> when this session last listed it, its stamp

    # ------------------------------------------------------------------ every command
    def pre_process_command(self, line: str, cmd: str, arg: str) -> None:
        if self._held is not None:  # a command sent behind a held listing (pipelined): the listing first
            self._held.release()
        # A NUL byte makes os.* raise ValueError deep in pyftpdlib, which dropped the session.
        if "\x00" in line:
            self.respond("501 Syntax error: NUL byte in the command.")
            return
        try:
            super().pre_process_command(line, cmd, arg)
        except Exception:  # a bug of ours or pyftpdlib's: answer it and keep the session
            log.exception("ftp: %s %r failed", cmd, arg)
            self.respond("451 Requested action aborted: local error in processing.")

    # ------------------------------------------------------------------ uploads
    def _refuse(self, reply: str, target: str = "", outcome: str = "upload refused") -> None:
        self.respond(reply)
        self.engine.note(Finding(self._tenant(), self.channel, "in", "", Path(target).name if target else "",
                                 outcome, reply))

    def _drop_folders(self) -> str:
        """The folders of this operator's layout where an OC drops its files, as a refusal names them."""
        folders = sorted(f"/{f.path}/" for f in self.mailboxes.layout.folders.values() if f.direction == "in")
        return folders[0] if len(folders) == 1 else ", ".join(folders[:-1]) + " or " + folders[-1]

    def _check_target(self, file: str) -> bool:
        """Whether `file` may receive an upload; if not, the refusal was sent."""
        drop = self.mailboxes.drop_of(Path(file))
        if drop is None:  # deeper than the IN leaves, or not a folder of the tree
            self.respond(f"550 Uploads go in {self._drop_folders()}.")
            return False
        reason = bad_name(drop.filename)
        if reason is not None:
            self._refuse(f"553 File name not allowed: {reason}.", "")
            return False
        if os.path.isdir(file):
            self.respond("550 That name is a folder of the exchange layout.")
            return False
        over = self.mailboxes.over_quota(self._tenant(), extra_files=0 if os.path.isfile(file) else 1)
        if over is not None:
            self._refuse(f"552 Quota exceeded: {over}. Files not ending in .csv are never processed; "
                         "delete or rename them.", file)
            return False
        return True

    def _spool(self, target: str) -> str:
        spooled = str(self.mailboxes.spool_path(self._tenant()))
        self._spooled[spooled] = target
        return spooled

    def ftp_STOR(self, file: str, mode: str = "w"):  # noqa: ANN201 - pyftpdlib API
        """STOR, APPE (mode 'a') and REST+STOR: all written to the spool, moved into IN when complete.
        Appending or resuming copies what is in IN to the spool first (REST: its first n bytes)."""
        rest = self._restart_position
        self._restart_position = 0
        if not self._check_target(file):
            return None
        exists = os.path.isfile(file)
        if (mode == "a" or rest) and exists and is_document(Path(file).name):
            # A .csv in IN is already a document handed to the engine, which deletes it once read:
            # appending to it would process its first part twice.
            self.respond("550 This .csv file was already received and is being processed: "
                         "it cannot be appended to or resumed. Upload the whole file under a new name.")
            return None
        if rest:
            if not exists:
                self.respond("550 No such file to resume.")
                return None
            size = os.path.getsize(file)
            if rest > size:
                self.respond(f"554 REST position ({rest}) > file size ({size}).")
                return None
        spooled = self._spool(file)
        try:
            if exists and (mode == "a" or rest):
                with open(file, "rb") as src, open(spooled, "wb") as dst:
                    if rest:
                        dst.write(src.read(rest))
                    else:
                        shutil.copyfileobj(src, dst)
                mode = "a"
            result = super().ftp_STOR(spooled, mode)
        except OSError as e:
            result = None
            self.respond(f"451 Requested action aborted: {strerror(e)}.")
        if result is None:
            self._spooled.pop(spooled, None)
            Path(spooled).unlink(missing_ok=True)
            return None
        return file

    def ftp_STOU(self, line: str):  # noqa: ANN201 - pyftpdlib API
        """STOU: a unique name in the folder (of `line`, or the current one), through the spool."""
        if self._restart_position:
            self.respond("450 Can't STOU while REST request is pending.")
            return None
        if line:
            folder, prefix = os.path.split(self.fs.ftp2fs(line))
            prefix += "."
        else:
            folder, prefix = self.fs.ftp2fs(self.fs.cwd), "ftpd."
        target = os.path.join(folder, prefix + uuid.uuid4().hex[:8])
        if not self.fs.validpath(target) or not self.authorizer.has_perm(self.username, "w", target):
            self.respond("550 Not enough privileges.")
            return None
        if not self._check_target(target):
            return None
        spooled = self._spool(target)
        try:
            fd = open(spooled, "wb")  # noqa: SIM115 - the data channel closes it
        except OSError as e:
            self._spooled.pop(spooled, None)
            self.respond(f"450 {strerror(e)}.")
            return None
        filename = os.path.basename(target)
        if self.data_channel is not None:
            self.respond(f"125 FILE: {filename}")
            self.data_channel.file_obj = fd
            self.data_channel.enable_receiving(self._current_type, "STOU")
        else:
            self.respond(f"150 FILE: {filename}")
            self._in_dtp_queue = (fd, "STOU")
        return filename

    def commit_upload(self, spooled: str) -> str | None:
        """Move a complete upload into IN; None, or the reply refusing it (the spool file is kept
        for on_incomplete_file_received to drop)."""
        target = self._spooled.get(spooled)
        if target is None:
            return None
        replacing = os.path.isfile(target)
        try:
            size = os.path.getsize(spooled)
        except OSError as e:
            return f"451 Requested action aborted: {strerror(e)}; file not stored."
        over = self.mailboxes.over_quota(self._tenant(), 0 if replacing else 1,
                                         size - (os.path.getsize(target) if replacing else 0))
        if over is not None:
            return f"552 Quota exceeded: {over}; file not stored."
        try:
            os.replace(spooled, target)
        except OSError as e:
            return f"451 Requested action aborted: {strerror(e)}; file not stored."
        del self._spooled[spooled]
        self.mailboxes.added_to_in(self._tenant(), 0 if replacing else 1, size)
        self._changed(os.path.dirname(target))
        # Handed to the engine before the 226 too: once the OC is told "stored", its file is queued, so
        # anything it asks afterwards (the journal, an engine barrier) sees the file as received.
        self._submit(Path(target))
        return None

    def _tenant(self) -> str:
        account = self.tenants.by_login(self.username or "")
        return account.code if account else (self.username or "?")

    def on_file_received(self, file: str) -> None:
        pass  # every upload to IN was spooled and submitted by commit_upload, before the 226

    def on_incomplete_file_received(self, file: str) -> None:
        target = self._spooled.pop(file, file)
        Path(file).unlink(missing_ok=True)
        self.engine.note(Finding(self._tenant(), self.channel, "in", "", Path(target).name,
                                 "upload aborted", "transfer interrupted or refused: the file is ignored"))

    # ------------------------------------------------------------------ the tree's folders
    def ftp_RMD(self, path: str) -> None:
        # MKD is refused, so every folder of a home is a folder of the protocol's layout.
        self.respond("550 Folders of the exchange layout cannot be removed.")

    def ftp_RNFR(self, path: str) -> None:
        if os.path.isdir(path):
            self.respond("550 Folders of the exchange layout cannot be renamed.")
            return
        super().ftp_RNFR(path)

    def ftp_RNTO(self, path: str):  # noqa: ANN201 - pyftpdlib API
        if self._rnfr:
            reason = bad_name(os.path.basename(path))
            if os.path.isdir(path):
                reason = "that name is a folder of the exchange layout"
            elif self.mailboxes.drop_of(Path(path)) is None:
                reason = f"files stay in {self._drop_folders()}"
            if reason is not None:
                self._rnfr = None
                self.respond(f"553 File name not allowed: {reason}.")
                return None
        result = super().ftp_RNTO(path)
        if result is not None:
            source, target = result
            self._changed(os.path.dirname(source))
            self._changed(os.path.dirname(target))
            self._submit(Path(target))
        return result

    def _submit(self, path: Path) -> None:
        drop = self.mailboxes.drop_of(path)
        if drop is None or not path.is_file():
            return
        if not is_document(drop.filename):
            hours = self.mailboxes.waiting_max_age / 3600
            self.engine.note(Finding(drop.tenant, self.channel, "in", "", drop.filename, "waiting",
                                     f"not a .csv file: processed once renamed to .csv, removed after {hours:g} h"))
            return
        try:
            document = drop.read(path, self.channel, self.mailboxes.file_max_bytes)
        except OSError:  # deleted or renamed by the OC meanwhile: nothing to process
            return
        self.engine.submit(document, path, self.mailboxes.handed(drop.tenant))

    # ------------------------------------------------------------------ listings
    def ftp_LIST(self, path: str):  # noqa: ANN201 - pyftpdlib API
        return self._list_when_due(super().ftp_LIST, path)

    def ftp_NLST(self, path: str):  # noqa: ANN201 - pyftpdlib API
        return self._list_when_due(super().ftp_NLST, path)

    def ftp_MLSD(self, path: str):  # noqa: ANN201 - pyftpdlib API
        return self._list_when_due(super().ftp_MLSD, path)

    def _list_when_due(self, listing: Callable[[str], str | None], path: str) -> str | None:
        """List `path` now, or hold the listing (LISTING_INTERVAL) when nothing changed in it since this
        session's last listing of it but the session's own changes (it knows them)."""
        last = self._listed.get(path)
        if last is not None and last[1] == self.mailboxes.change_stamp(path):
            wait = last[0] + self.listing_interval - time.monotonic()
            tenant = self._tenant()
            if self.mailboxes.answering(tenant) and self.mailboxes.zone(tenant, path) == "out":
                wait = max(wait, ANSWER_WAIT)
            if wait > 0:
                self._held = HeldListing(self, listing, path, wait)
                return None
        return self._list_now(listing, path)

    def _list_now(self, listing: Callable[[str], str | None], path: str) -> str | None:
        # The stamp before the listing: a change while it is read makes the next listing due at once.
        listed = (time.monotonic(), self.mailboxes.change_stamp(path))
        result = listing(path)
        if result is not None:  # only what exists is remembered, and not without end
            if len(self._listed) >= LISTED_MAX:
                self._listed.clear()
            self._listed[path] = listed
        return result

    def _changed(self, folder: str) -> None:
        """This session put a file in `folder` or removed one: news to the others, not to itself."""
        before, stamp = self.mailboxes.changed(folder)
        seen = self._listed.get(folder)
        if seen is not None and seen[1] == before:
            self._listed[folder] = (seen[0], stamp)

    def close(self) -> None:
        if self._held is not None:
            self._held.cancel()
        super().close()

    # ------------------------------------------------------------------ directories
    def ftp_CWD(self, path: str):  # noqa: ANN201 - pyftpdlib API
        # pyftpdlib's CWD saves and restores os.getcwd() around a real chdir: TenantFS never chdirs.
        try:
            self.fs.chdir(path)
        except (OSError, FilesystemError) as err:
            self.respond(f"550 {strerror(err)}.")
            return None
        self.respond(f'250 "{self.fs.cwd}" is the current directory.')
        return path

    # ------------------------------------------------------------------ downloads, journal
    def on_file_sent(self, file: str) -> None:
        self.engine.note(Finding(self._tenant(), self.channel, "out", "", os.path.basename(file), "downloaded"))

    def ftp_DELE(self, path: str):  # noqa: ANN201 - pyftpdlib API
        result = super().ftp_DELE(path)
        if result is not None:
            self._changed(os.path.dirname(path))
            direction = "in" if self.mailboxes.drop_of(Path(path)) else "out"
            self.engine.note(Finding(self._tenant(), self.channel, direction, "", os.path.basename(path), "deleted"))
        return result

    def handle_auth_failed(self, msg: str, password: str) -> None:
        # Journaled now, before pyftpdlib's delayed 530: a client that reads the journal after its
        # refusal always finds it (pyftpdlib calls on_login_failed only after the reply is sent).
        self.engine.note(Finding(self.username or "?", self.channel, "in", "", "", "login refused",
                                 f"from {self.remote_ip}"))
        super().handle_auth_failed(msg, password)

    def log(self, msg: str, logfun=None) -> None:  # noqa: ANN001 - quieter than pyftpdlib's INFO lines
        log.debug(msg)

    def logline(self, msg: str, logfun=None) -> None:  # noqa: ANN001
        log.debug(msg)

    def logerror(self, msg: str) -> None:
        log.warning(msg)


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft limit on open descriptors towards `wanted` (up to the hard limit); the new limit."""
    if resource is None:
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError) as e:
            log.warning("ftp: cannot raise the open files limit from %s to %s: %s", soft, new, e)
    return wanted if soft == resource.RLIM_INFINITY else soft


class FtpTransport:
    """The FTP server on its own thread.

    max_cons: sockets of the FTP loop (control + passive listeners + data), pyftpdlib's max_cons;
    lowered if the open files limit cannot be raised to fit it. max_cons_per_ip: control connections
    from one address (0: unlimited; loopback clients all share 127.0.0.1). backlog: listen() queue.
    timeout: seconds an idle control connection is kept. sweep_every: seconds between two sweeps of
    IN for files that can never be processed (their age limit is Mailboxes.waiting_max_age).
    """

    def __init__(self, engine: Engine, mailboxes: Mailboxes, tenants: OperatorTenants, host: str, port: int,
                 passive_ports: list[int] | None = None, masquerade_address: str | None = None, *,
                 max_cons: int = MAX_CONS, max_cons_per_ip: int = 0, backlog: int = BACKLOG,
                 timeout: float = 300, sweep_every: float = SWEEP_EVERY, banner_name: str = "operator"):
        self.engine = engine
        self.mailboxes = mailboxes
        # Its own loop: pyftpdlib's default is one IOLoop per process, which two sandboxes in one process
        # (two pytest fixtures, a benchmark) would then poll from two threads at once.
        ioloop = IOLoop.factory()
        self.listing_waits = ListingWaits(ioloop)
        mailboxes.watch_changes(self.listing_waits.notify)
        handler = type("OpsimFTPHandler", (TenantFTPHandler,), {
            "engine": engine, "mailboxes": mailboxes, "tenants": tenants, "listing_waits": self.listing_waits,
            "authorizer": TenantAuthorizer(tenants, mailboxes),
            "banner": f"opsim FTP ({banner_name} sandbox) ready.",
            "auth_failed_timeout": 0.5,
            "permit_foreign_addresses": False,
            "passive_ports": passive_ports,
            "masquerade_address": masquerade_address or None,
            "timeout": timeout,
        })
        reserve = 256  # SQLite, HTTP, the spool and the files being served
        if max_cons:
            limit = raise_fd_limit(max_cons + reserve)
            if limit < max_cons + reserve:
                log.warning("ftp: open files limit %s: at most %s FTP sockets", limit, limit - reserve)
                max_cons = max(64, limit - reserve)
        self.server = FTPServer((host, port), handler, ioloop=ioloop, backlog=backlog)
        self.server.max_cons = max_cons
        self.server.max_cons_per_ip = max_cons_per_ip
        self.sweep_every = sweep_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.socket.getsockname()[:2]
        return host, port

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._serve, name=f"opsim-ftp-{self.mailboxes.operator}", daemon=True)
        self._thread.start()

    def recover(self) -> None:
        """At start-up: drop the uploads a stop cut (never acknowledged), hand over what waits in IN."""
        for tenant, path in self.mailboxes.unfinished_uploads():
            path.unlink(missing_ok=True)
            self.engine.note(Finding(tenant, "ftp", "in", "", "", "upload aborted",
                                     "transfer cut by a server stop (never acknowledged): the file is ignored"))
        for drop, path in self.mailboxes.inbound_files():
            self.engine.submit(drop.read(path, "ftp", self.mailboxes.file_max_bytes), path,
                               self.mailboxes.handed(drop.tenant))

    def _serve(self) -> None:
        # One poll at a time, so stop() is seen within 50 ms and close_all runs on this thread; sooner when a
        # call is scheduled (the end of a held listing's interval).
        next_sweep, timeout = 0.0, 0.05
        while not self._stop.is_set():
            next_call = self.server.ioloop.loop(timeout=timeout, blocking=False)
            timeout = 0.05 if next_call is None else min(0.05, next_call)
            if self.sweep_every > 0 and time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.sweep_every
                self.sweep()
        self.server.close_all()

    def sweep(self) -> int:
        """Remove the files of IN that can never be processed and waited too long; how many."""
        removed = 0
        self.mailboxes.forget_usage()  # files the host put in IN count from the next upload on
        try:
            for drop, path, age in list(self.mailboxes.expired_waiting()):
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                removed += 1
                self.mailboxes.changed(path.parent)
                self.engine.note(Finding(drop.tenant, "ftp", "in", "", drop.filename, "removed",
                                         f"not a .csv file: never processed; removed after {_duration(age)} "
                                         f"in {drop.location} (limit {_duration(self.mailboxes.waiting_max_age)})"))
        except OSError as e:  # a sweep must never stop the server
            log.warning("ftp: sweep of IN failed: %s", e)
        return removed

    def stop(self) -> None:
        self.mailboxes.unwatch_changes(self.listing_waits.notify)
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"

