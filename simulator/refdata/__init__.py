"""Seeded, immutable reference network (PMs, PBOs, buildings, sockets) of an FTTH delegation."""

from .generator import generate_network
from .model import IPE_COLUMNS, Address, Line, Pbo, Pm, ReferenceNetwork, Route

__all__ = [
    "IPE_COLUMNS",
    "Address",
    "Line",
    "Pbo",
    "Pm",
    "ReferenceNetwork",
    "Route",
    "generate_network",
]
