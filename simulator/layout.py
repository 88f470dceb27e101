"""An operator's folder layout, as data: where each kind of file is dropped and where it is answered.

A profile names, for each *area* (a protocol's set of files: "orders", "provisioning"...), the folder
where the OC drops (`in`) and the folder where it picks up (`out`), as templates that may use the
network's codes: `IN/{interop}/{arcep}/PM`. The layout expands them for every network into the concrete
folders of an OC's tree; the file transports serve that tree and the engine asks it where an answer goes.
Nothing here touches a disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DIRECTIONS = ("in", "out")


@dataclass(frozen=True)
class Network:
    """One network (delegation) of an operator: its 4-letter Interop code and 2-letter ARCEP code."""

    interop: str
    arcep: str
    name: str = ""


@dataclass(frozen=True)
class Folder:
    """One concrete folder of an OC's tree, relative to its home (posix path)."""

    path: str
    area: str
    direction: str  # "in": the OC drops here; "out": the operator answers here
    network: str = ""  # the Interop code, when the template names one


class LayoutError(ValueError):
    """A layout that cannot be served (unknown direction, two areas in one folder...)."""


class Layout:
    """The folders of one operator's OC tree, expanded for its networks."""

    def __init__(self, areas: Mapping[str, Mapping[str, str]], networks: Iterable[Network] = ()):
        self.networks = {n.interop: n for n in networks}
        self.areas = {area: dict(spec) for area, spec in areas.items()}
        folders: dict[str, Folder] = {}
        for area, spec in self.areas.items():
            for direction, template in spec.items():
                if direction not in DIRECTIONS:
                    raise LayoutError(f"layout.{area}: {direction!r} is not one of {', '.join(DIRECTIONS)}")
                for folder in self._expand(area, direction, template):
                    if folder.path in folders:
                        raise LayoutError(f"layout: {folder.path} is both {folders[folder.path].area} "
                                          f"{folders[folder.path].direction} and {area} {direction}")
                    folders[folder.path] = folder
        self.folders: dict[str, Folder] = folders
        # Every folder above a leaf: listable, nothing to drop there.
        self.ancestors = {"/".join(f.path.split("/")[:i]) for f in folders.values()
                          for i in range(1, f.path.count("/") + 1)}

    def _expand(self, area: str, direction: str, template: str) -> list[Folder]:
        template = template.strip("/")
        if "{" not in template:
            return [Folder(template, area, direction)]
        if not self.networks:
            raise LayoutError(f"layout.{area}.{direction}: {template} names a network but the operator has none")
        try:
            return [Folder(template.format(interop=n.interop, arcep=n.arcep), area, direction, n.interop)
                    for n in self.networks.values()]
        except (KeyError, IndexError, ValueError) as e:
            raise LayoutError(f"layout.{area}.{direction}: {template}: only {{interop}} and {{arcep}} may be "
                              f"named ({e})") from None

    def folder(self, path: str) -> Folder | None:
        """The layout folder at `path` (relative to the home), or None."""
        return self.folders.get(path.strip("/"))

    def location(self, direction: str, area: str, network: str = "") -> str:
        """Where files of `area` go in `direction` for `network`: the folder's path."""
        for folder in self.folders.values():
            if folder.direction == direction and folder.area == area and folder.network in ("", network):
                return folder.path
        raise LayoutError(f"the layout has no {direction} folder for {area}" + (f" on {network}" if network else ""))

    def zone(self, path: str) -> str:
        """What a path inside a home is: "in" or "out" (a layout folder or below it), "root" (a folder
        above the leaves, or the home itself) or "none" (not part of the layout)."""
        path = path.strip("/")
        if not path or path in self.ancestors and path not in self.folders:
            return "root"
        parts = path.split("/")
        for i in range(len(parts), 0, -1):
            folder = self.folders.get("/".join(parts[:i]))
            if folder is not None:
                return folder.direction
        return "none"

    def inbound(self) -> list[Folder]:
        return [f for f in self.folders.values() if f.direction == "in"]
