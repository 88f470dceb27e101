"""The tenants' folder trees on disk, shared by the file transports (FTP today, SFTP next).

Each tenant has a home with IN/<OI>/<ARCEP>/ (+ PM/) where it drops and OUT/<OI>/<ARCEP>/ (+ PM/)
where it picks up. Uploads are written to a spool outside every home and moved into IN only once
complete, so a half-received file is never seen as a document. Answer files reach OUT by an atomic
rename, so an OC never reads a half-written one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..config import Network

AREAS = {"acces": "", "pm": "PM"}


@dataclass(frozen=True)
class Drop:
    """Where a file in a tenant's tree sits, in protocol terms."""

    tenant: str
    network: str
    area: str
    location: str  # e.g. IN/COVA/CV or IN/COVA/CV/PM
    filename: str


class Mailboxes:
    def __init__(self, root: Path, networks: list[Network]):
        self.root = root
        self.homes = root / "ftp"
        self.spool = root / "spool"
        self.tmp = root / "tmp"
        self.networks = {n.interop: n for n in networks}
        for folder in (self.homes, self.spool, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self._homes_real = self.homes.resolve()  # resolved once: permission checks run on every command

    def home(self, tenant: str) -> Path:
        return self.homes / tenant

    def location(self, direction: str, network: str, area: str) -> str:
        n = self.networks[network]
        return "/".join(p for p in (direction, n.interop, n.arcep, AREAS[area]) if p)

    def ensure_tree(self, tenant: str) -> None:
        for network in self.networks:
            for area in AREAS:
                for direction in ("IN", "OUT"):
                    (self.home(tenant) / self.location(direction, network, area)).mkdir(parents=True, exist_ok=True)

    def drop_of(self, path: Path) -> Drop | None:
        """The protocol meaning of a file path inside a home, or None if it is not an IN drop."""
        try:
            rel = path.resolve().relative_to(self._homes_real)
        except ValueError:
            return None
        parts = rel.parts
        # tenant / IN / OI / ARCEP / [PM /] name
        if len(parts) not in (5, 6) or parts[1] != "IN" or parts[2] not in self.networks:
            return None
        network = self.networks[parts[2]]
        if parts[3] != network.arcep:
            return None
        area = "pm" if len(parts) == 6 and parts[4] == "PM" else "acces"
        if len(parts) == 6 and area != "pm":
            return None
        return Drop(parts[0], network.interop, area, "/".join(parts[1:-1]), parts[-1])

    def zone(self, tenant: str, path: Path) -> str:
        """'root' (folders above the leaves), 'in', 'out', or 'outside' for a path in a home."""
        try:
            rel = path.resolve().relative_to(self._homes_real / tenant).parts
        except ValueError:
            return "outside"
        if len(rel) < 3 or rel[0] not in ("IN", "OUT") or rel[1] not in self.networks:
            return "root"
        if rel[2] != self.networks[rel[1]].arcep:
            return "root"
        return rel[0].lower()

    def inbound_files(self) -> Iterator[tuple[Drop, Path]]:
        """Files waiting in every IN folder (at start-up: what arrived before a stop)."""
        for home in sorted(self.homes.iterdir()):
            for network in self.networks:
                for area in AREAS:
                    folder = home / self.location("IN", network, area)
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

    def write_atomically(self, target: Path, content: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)


def is_document(filename: str) -> bool:
    """Only .csv files are documents: others (a .tmp being uploaded before a rename) wait in IN."""
    return filename.lower().endswith(".csv") and not filename.startswith(".")
