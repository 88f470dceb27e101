"""The states of an access order and what the desk's modules share (access.py, hotline.py, failures.py,
appointments.py): `Desk`, the part of the access desk they use, so that none imports access.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from ...capability import OperatorContext
from ...clock import FrenchCalendar
from ...documents import Effects
from ...profile import OperatorProfile
from ...refdata import Line, ReferenceNetwork
from ...specs.codec import SpecPack
from ...store import Order, Store


class State(StrEnum):
    ACKNOWLEDGED = "AR_OK"  # AR OK sent, CR pending
    CR_KO = "CR_KO"
    ROUTED = "CR_OK"  # route optique given
    STOC_ORDERED = "STOC_COMMANDE"  # Cmd_STOC sent, CR_STOC awaited
    CONNECTED = "RACCORDE"  # CR_STOC OK received, CR MAD pending
    RACCO_KO = "RACCO_KO"
    DELIVERED = "MAD"  # CR MAD sent: billing starts
    IN_SERVICE = "MES"  # CR MES received
    CANCELLED = "ANNULE"
    TERMINATED = "RESILIE"
    OVERWRITTEN = "ECRASE"  # another OC's order took the socket (Notif_Ecrasement): the line ended


BEFORE_MAD = {State.ACKNOWLEDGED, State.ROUTED, State.STOC_ORDERED, State.CONNECTED}
AFTER_MAD = {State.DELIVERED, State.IN_SERVICE}
REPROVISIONABLE = {State.ROUTED, State.STOC_ORDERED, State.CONNECTED}
ORDER_TYPES = {"AUTO": "LOCA", "LOCA": "LOCA", "COFI": "COFI"}  # asked -> retained
PRODUCTION_STAGES = ("CR", "RACCO")  # Annexe 5f stages of the codes a connection may fail with


class Reject(Exception):
    """A line refused with an Annexe 5f code."""

    def __init__(self, code: str, comment: str = ""):
        super().__init__(code)
        self.code = code
        self.comment = comment


class Desk(Protocol):
    """What hotline.py, failures.py and appointments.py use of the access desk."""

    context: OperatorContext
    profile: OperatorProfile
    @property
    def pack(self) -> SpecPack: ...
    @property
    def networks(self) -> Mapping[str, ReferenceNetwork]: ...
    store: Store
    calendar: FrenchCalendar
    failure_rates: dict[str, dict[str, Any]]

    def _touch(self, order: Order, now: datetime, step: str, detail: str = "") -> None: ...

    def _later(self, effects: Effects, now: datetime, kind: str, order: Order, timing: str,
               payload: dict[str, Any] | None = None, cache: dict[str, datetime] | None = None) -> None: ...

    def reprovision(self, order: Order, motif: str, now: datetime, comment: str = "",
                    socket: Line | None = None) -> Effects: ...
