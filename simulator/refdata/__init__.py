"""Seeded reference network (PMs, PBOs, buildings, sockets) of an FTTH delegation, stored in SQLite."""

from .generator import DEFAULT_DEPARTMENTS, ensure_network, generate_network, parse_departments
from .model import IPE_COLUMNS, Address, Line, Pbo, Pm, ReferenceNetwork, Route

__all__ = [
    "DEFAULT_DEPARTMENTS",
    "IPE_COLUMNS",
    "Address",
    "Line",
    "Pbo",
    "Pm",
    "ReferenceNetwork",
    "Route",
    "ensure_network",
    "generate_network",
    "parse_departments",
]
