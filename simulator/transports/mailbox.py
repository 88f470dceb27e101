"""The tenants' folder trees on disk, one set per operator, shared by its file transports (FTP today,
SFTP next).

Each tenant of an operator has a home laid out as the operator's profile says (`layout.Layout`): the
folders where it drops its files and those where it picks up the answers, per area and network.
Uploads are written to a spool outside every home and moved into IN only once complete, so a
half-received file is never seen as a document. Answer files reach OUT by an atomic rename, so an OC
never reads a half-written one.

What waits in IN is bounded: a per-tenant quota (files and bytes) and an age after which files that
can never be processed (not .csv) are removed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ..documents import InboundDocument
from ..layout import Layout
from ..store import Outbound


@dataclass(frozen=True)
class Drop:
    """Where a file in a tenant's tree sits, in protocol terms."""

    operator: str
    tenant: str
    network: str
    area: str
    location: str  # e.g. IN/COVA/CV or IN/COVA/CV/PM
    filename: str

    def document(self, channel: str, content: bytes, refused: str = "") -> InboundDocument:
        return InboundDocument(self.tenant, channel, self.network, self.area, self.filename, content, self.location,
                               self.operator, refused)

    def read(self, path: Path, channel: str, max_bytes: int) -> InboundDocument:
        """The document of a file dropped here; one over `max_bytes` is not read (its answer says why), so a
        100 MB upload never holds the operator's one engine thread or its memory."""
        size = path.stat().st_size
        if max_bytes and size > max_bytes:
            return self.document(channel, b"", f"file of {size} bytes, over the limit of {max_bytes} bytes a file")
        return replace(self.document(channel, path.read_bytes()), attachments=attachments_beside(path))


#: At most this many files, each at most this size, are handed over as a document's attachments.
ATTACHMENTS_MAX = 20
ATTACHMENT_MAX_BYTES = 16 * 1024 * 1024


def attachments_beside(path: Path) -> dict[str, bytes]:
    """The files waiting beside an inbound document in its folder that are not documents (.csv) nor hidden
    nor partial uploads: what came with it (PM 2.2: the photo and technical sheet of a Notif_Adduction,
    uploaded before it). They stay where they are: the sweep removes what is never processed."""
    found: dict[str, bytes] = {}
    try:  # names first, and only those that may be attachments: most folders hold the document alone
        with os.scandir(path.parent) as listing:
            entries = sorted((e.name, e) for e in listing
                             if not e.name.lower().endswith(".csv") and not e.name.startswith("."))
    except OSError:
        return found
    for name, entry in entries:
        if len(found) >= ATTACHMENTS_MAX:
            break
        try:
            if entry.is_file() and entry.stat().st_size <= ATTACHMENT_MAX_BYTES:
                with open(entry.path, "rb") as f:
                    found[name] = f.read()
        except OSError:  # removed meanwhile
            continue
    return found


@dataclass(frozen=True)
class Usage:
    """What waits in a tenant's IN folders."""

    files: int
    bytes: int


# Defaults of the limits on IN (see Mailboxes): generous for a sandbox, finite for a shared one.
IN_MAX_FILES = 2000
IN_MAX_BYTES = 512 * 1024 * 1024
FILE_MAX_BYTES = 32 * 1024 * 1024  # one file: 80,000 order lines; beyond, one KO answer says why
WAITING_MAX_AGE = 3600.0  # seconds of real time a file that is not a document may wait in IN


class Mailboxes:
    """The tenants' trees under `root`.

    in_max_files, in_max_bytes: quota on what waits in a tenant's IN folders (0: no limit); the file
    transports refuse an upload that would exceed it (FTP: 552).
    waiting_max_age: seconds (real time, on the file's mtime) after which a file in IN that can never
    be processed (not a .csv name) is removed by `expired_waiting`'s caller.
    """

    def __init__(self, root: Path, operator: str, layout: Layout, in_max_files: int = IN_MAX_FILES,
                 in_max_bytes: int = IN_MAX_BYTES, waiting_max_age: float = WAITING_MAX_AGE,
                 file_max_bytes: int = FILE_MAX_BYTES):
        # Absolute and resolved: FTP maps virtual paths onto it, and a relative root would follow
        # whatever the process's working directory is (a relative --data-dir broke CWD).
        root = Path(root).resolve()
        self.root = root
        self.operator = operator
        self.layout = layout
        self.homes = root / "ftp" / operator
        self.spool = root / "spool" / operator
        self.tmp = root / "tmp"
        self.shared = root / "shared" / operator  # broadcasts, hard-linked into the tenants' OUT folders
        self.in_max_files = in_max_files
        self.in_max_bytes = in_max_bytes
        self.waiting_max_age = waiting_max_age
        self.file_max_bytes = file_max_bytes
        for folder in (self.homes, self.spool, self.tmp, self.shared):
            folder.mkdir(parents=True, exist_ok=True)
        self._homes_str, self._tmp_str = str(self.homes), str(self.tmp)
        self._homes_real = self.homes.resolve()  # resolved once: permission checks run on every command
        self._homes_prefix = str(self._homes_real) + os.sep
        # The last change opsim made to each folder (a stamp from one counter) and who wants to know: a
        # transport holds a listing of a folder a session has just listed until the folder changes.
        self._change_stamps: dict[str, int] = {}
        self._stamps = itertools.count(1)
        self._stamp_lock = threading.Lock()  # the engine and FTP threads both stamp
        self._change_watchers: list[Callable[[str], None]] = []
        # Per tenant, an upper bound of what waits in IN: the last walk plus every upload since. Files only
        # leave IN behind its back (the engine reads and removes them, DELE, the sweep), so while the bound is
        # within the quota the walk is not needed; a refusal always walks first.
        self._usage_bounds: dict[str, Usage] = {}
        self._usage_lock = threading.Lock()
        # Per tenant, the files handed to the engine and not yet answered: a listing of OUT that would show nothing
        # new is held while one is (transports/ftp.py), and released when the last is answered.
        self._answering: dict[str, int] = {}

    def home(self, tenant: str) -> Path:
        return self.homes / tenant

    def ensure_tree(self, tenant: str) -> None:
        for folder in self.layout.folders:
            (self.home(tenant) / folder).mkdir(parents=True, exist_ok=True)

    def _relative(self, path: Path | str, tenant: str = "") -> tuple[str, ...] | None:
        """The parts of `path` below the tenant's home (every home with no tenant), or None outside it.

        Lexical (normpath), not resolved: it runs on every FTP command, and the file system layer has already
        refused any path whose real location leaves the home (pyftpdlib's validpath resolves symbolic links);
        the trees hold no link of their own."""
        base = self._homes_prefix + (tenant + os.sep if tenant else "")
        full = os.path.normpath(os.fspath(path))
        if not (full + os.sep).startswith(base):
            return None
        rest = full[len(base):]
        return tuple(rest.split(os.sep)) if rest else ()

    def drop_of(self, path: Path) -> Drop | None:
        """The protocol meaning of a file path inside a home, or None if it is not an IN drop."""
        parts = self._relative(path)
        if not parts or len(parts) < 3:  # tenant / folder... / name
            return None
        folder = self.layout.folder("/".join(parts[1:-1]))
        if folder is None or folder.direction != "in":
            return None
        return Drop(self.operator, parts[0], folder.network, folder.area, folder.path, parts[-1])

    def zone(self, tenant: str, path: Path | str) -> str:
        """'root' (folders above the leaves), 'in', 'out', or 'outside' for a path in a home."""
        rel = self._relative(path, tenant)
        if rel is None:
            return "outside"
        zone = self.layout.zone("/".join(rel))
        return "root" if zone == "none" else zone

    def is_layout(self, tenant: str, path: Path) -> bool:
        """Whether path is the tenant's home or one of the folders of its tree (never to be removed)."""
        rel = self._relative(path, tenant)
        if rel is None:
            return False
        where = "/".join(rel)
        return rel == () or where in self.layout.folders or where in self.layout.ancestors

    def in_folders(self, tenant: str) -> Iterator[Path]:
        for folder in self.layout.inbound():
            yield self.home(tenant) / folder.path

    def usage(self, tenant: str) -> Usage:
        """Files and bytes now waiting in the tenant's IN folders."""
        files = size = 0
        for folder in self.in_folders(tenant):
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False):
                        files += 1
                        size += entry.stat(follow_symlinks=False).st_size
                except OSError:  # removed meanwhile (the engine deletes what it read)
                    continue
        return Usage(files, size)

    def over_quota(self, tenant: str, extra_files: int = 0, extra_bytes: int = 0) -> str | None:
        """Why `extra` more files/bytes in IN would exceed the tenant's quota, or None. The IN folders are
        walked only when the tenant's usage bound (see `added_to_in`) would exceed it, or after `forget_usage`."""
        if not self.in_max_files and not self.in_max_bytes:
            return None
        with self._usage_lock:
            bound = self._usage_bounds.get(tenant)
            if bound is not None and self._excess(bound, extra_files, extra_bytes) is None:
                return None
            used = self.usage(tenant)
            self._usage_bounds[tenant] = used
            return self._excess(used, extra_files, extra_bytes)

    def _excess(self, used: Usage, extra_files: int, extra_bytes: int) -> str | None:
        if self.in_max_files and used.files + extra_files > self.in_max_files:
            return f"{used.files} files already wait in IN (limit {self.in_max_files})"
        if self.in_max_bytes and used.bytes + extra_bytes > self.in_max_bytes:
            return (f"{used.bytes + extra_bytes} bytes would wait in IN (limit {self.in_max_bytes}); "
                    f"{used.files} files wait there now")
        return None

    def added_to_in(self, tenant: str, files: int, size: int) -> None:
        """A transport put `files` new files (0 when it replaced one) of `size` bytes into the tenant's IN."""
        with self._usage_lock:
            bound = self._usage_bounds.get(tenant)
            if bound is not None:
                self._usage_bounds[tenant] = Usage(bound.files + files, bound.bytes + size)

    def forget_usage(self) -> None:
        """The next quota check of every tenant walks its IN folders (files added behind the transports'
        back, by hand on the host, count from then on)."""
        with self._usage_lock:
            self._usage_bounds.clear()

    # ------------------------------------------------------------------ changes to folders
    def watch_changes(self, watcher: Callable[[str], None]) -> None:
        """`watcher(folder)` is called, on the thread that made it, after each change `changed` is told of."""
        self._change_watchers.append(watcher)

    def unwatch_changes(self, watcher: Callable[[str], None]) -> None:
        with contextlib.suppress(ValueError):
            self._change_watchers.remove(watcher)

    def changed(self, folder: Path | str) -> tuple[int, int]:
        """opsim put a file in `folder` or removed one from it (deliveries, FTP uploads, deletes, renames): the
        folder's stamps before and after this change."""
        key = os.path.normpath(os.fspath(folder))
        with self._stamp_lock:
            before, stamp = self._change_stamps.get(key, 0), next(self._stamps)
            self._change_stamps[key] = stamp
        for watcher in self._change_watchers:
            watcher(key)
        return before, stamp

    def handed(self, tenant: str) -> Callable[[], None]:
        """A transport hands one of the tenant's files to the engine: what to call once the engine is through with
        it (Engine.submit's `done`); then, if none of the tenant's files is left, its OUT folders' watchers are
        told, as if they changed (a listing held for an answer that went elsewhere, or none)."""
        with self._stamp_lock:
            self._answering[tenant] = self._answering.get(tenant, 0) + 1

        def answered() -> None:
            with self._stamp_lock:
                left = self._answering.get(tenant, 1) - 1
                if left > 0:
                    self._answering[tenant] = left
                else:
                    self._answering.pop(tenant, None)
            if left <= 0:
                for folder in self.layout.folders.values():
                    if folder.direction == "out":
                        key = os.path.normpath(os.fspath(self.home(tenant) / folder.path))
                        for watcher in self._change_watchers:
                            watcher(key)
        return answered

    def answering(self, tenant: str) -> bool:
        """Whether files of the tenant were handed to the engine and are not answered yet."""
        return tenant in self._answering

    def change_stamp(self, folder: str) -> int:
        """The stamp of the last change opsim made to `folder` (a normalized absolute path); 0 if none."""
        return self._change_stamps.get(folder, 0)

    def expired_waiting(self, now: float | None = None) -> Iterator[tuple[Drop, Path, float]]:
        """Files in IN that can never be processed (not .csv) and older than waiting_max_age: (drop,
        path, age in seconds). The caller removes them and journals it."""
        if self.waiting_max_age <= 0:
            return
        now = time.time() if now is None else now
        for home in sorted(self.homes.iterdir()):
            for folder in self.in_folders(home.name):
                try:
                    entries = list(os.scandir(folder))
                except OSError:
                    continue
                for entry in entries:
                    if is_document(entry.name):
                        continue
                    try:
                        if not entry.is_file(follow_symlinks=False):
                            continue
                        age = now - entry.stat(follow_symlinks=False).st_mtime
                    except OSError:
                        continue
                    drop = self.drop_of(Path(entry.path))
                    if drop is not None and age > self.waiting_max_age:
                        yield drop, Path(entry.path), age

    def inbound_files(self) -> Iterator[tuple[Drop, Path]]:
        """Files waiting in every IN folder (at start-up: what arrived before a stop)."""
        for home in sorted(self.homes.iterdir()):
            for folder in self.in_folders(home.name):
                if folder.is_dir():
                    for path in sorted(folder.iterdir()):
                        drop = self.drop_of(path)
                        if drop and path.is_file() and is_document(path.name):
                            yield drop, path

    def spool_path(self, tenant: str) -> Path:
        return self.spool / f"{tenant}.{uuid.uuid4().hex}.part"

    def unfinished_uploads(self) -> Iterator[tuple[str, Path]]:
        """Uploads cut by a stop: never acknowledged to the OC, so they are dropped (tenant, path)."""
        for path in sorted(self.spool.glob("*.part")):
            yield path.name.split(".", 1)[0], path

    def out_path(self, tenant: str, location: str, filename: str) -> Path:
        return self.home(tenant) / location / filename

    def deliver(self, out: Outbound) -> None:
        """Put an answer file in OUT; a file already there was written before a stop that came before
        the outbox row was marked delivered: it is not written twice."""
        folder = os.path.join(self._homes_str, out.tenant, out.location)  # strings: once per answer file
        target = os.path.join(folder, out.filename)
        if os.path.exists(target):
            return
        if out.shared:
            self.link_shared(Path(target), out.shared, out.content)
        else:
            self.write_atomically(target, out.content)
        self.changed(folder)

    def link_shared(self, target: Path, sha: str, content: bytes) -> None:
        """A broadcast (the same bytes to every tenant) is written and fsynced once, under shared/, and each
        tenant's copy is a hard link to it: a Monday's IPE costs one file, not one per OC. Each tenant still
        deletes its own copy (a link); OUT is read-only to tenants (no STOR, APPE or SITE CHMOD there), so no
        tenant can change the bytes others read. Where links are refused (another file system), a copy."""
        source = self.shared / sha
        if not source.exists():
            self.write_atomically(source, content)
            self._collect_shared(keep=source)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{uuid.uuid4().hex}.tmp"
        try:
            os.link(source, tmp)
        except OSError:
            self.write_atomically(target, content)
            return
        os.replace(tmp, target)

    def _collect_shared(self, keep: Path) -> None:
        """Shared broadcasts every tenant has deleted (no link left but ours) go: they can be written again
        from the store if a delivery still needs them."""
        for path in self.shared.iterdir():
            with contextlib.suppress(OSError):
                if path != keep and path.stat().st_nlink == 1:
                    path.unlink()

    def write_atomically(self, target: Path | str, content: bytes) -> None:
        tmp = os.path.join(self._tmp_str, f"{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, target)
        except FileNotFoundError:  # its folder is not there yet (checked only then: a syscall less per file)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(tmp, target)


def is_document(filename: str) -> bool:
    """Only .csv files are documents: others (a .tmp being uploaded before a rename) wait in IN."""
    return filename.lower().endswith(".csv") and not filename.startswith(".")


class FolderDelivery:
    """The engine's delivery port for files: each operator's answers land in its own tenants' trees."""

    def __init__(self, mailboxes: dict[str, Mailboxes]):
        self.mailboxes = mailboxes

    def deliver(self, out: Outbound) -> None:
        self.mailboxes[out.operator].deliver(out)


def migrate_legacy_homes(root: Path, operator: str) -> None:
    """Data dirs written before operators were composed kept homes at ftp/<TENANT> (the only operator's, whose
    profile names a `legacy_capability`); they move to ftp/<operator>/<TENANT>, where each operator keeps its
    tenants' trees."""
    homes = Path(root) / "ftp"
    if not homes.is_dir():
        return
    for home in homes.iterdir():
        if home.is_dir() and ((home / "IN").is_dir() or (home / "OUT").is_dir()):
            target = homes / operator / home.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.replace(home, target)
    old_spool = Path(root) / "spool"
    for part in old_spool.glob("*.part") if old_spool.is_dir() else ():
        (old_spool / operator).mkdir(exist_ok=True)
        os.replace(part, old_spool / operator / part.name)
