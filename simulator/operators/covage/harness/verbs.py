"""The verbs an adapter of Covage's OC answers (docs/adapters.md), what `order_status` may report, and the base
of the reference OC's verb mixins."""

from typing import ClassVar

#: The verbs of Protocole Accès 1.2 (docs/adapters.md); later capabilities add theirs.
ACCESS_VERBS = ("order_access", "cancel_access", "complete_stoc", "report_in_service", "sync", "order_status",
                "call_hotline", "book_appointment")
#: The verbs of Protocole PM 2.2 (docs/adapters.md); `sync` reads the PM folder and answer mails too.
PM_VERBS = ("order_pm", "announce_works", "report_works", "pm_status", "works_status", "ipe_summary", "pm_opening",
            "sync")

#: What `order_status` may report as `state`.
STATES = ("sent", "acknowledged", "rejected", "confirmed", "stoc_requested", "connected", "available",
          "in_service", "cancelled", "terminated", "connection_failed", "overwritten")


class VerbMixin:
    """A part of the reference OC's verbs: reference.py mixes in every subclass defined in a `*_reference`
    module of the harness (pm_reference.py, ws_reference.py, a scaffolded capability's), so a capability adds
    its verbs by adding its module. `SYNC` and `CLOSE` name the methods of it the OC's `sync` and `close` call
    ("": none)."""

    SYNC: ClassVar[str] = ""
    CLOSE: ClassVar[str] = ""
