"""The verbs an adapter of Covage's OC answers (docs/adapters.md), and what `order_status` may report."""

#: The verbs of Protocole Accès 1.2 (docs/adapters.md); later capabilities add theirs.
ACCESS_VERBS = ("order_access", "cancel_access", "complete_stoc", "report_in_service", "sync", "order_status",
                "call_hotline", "book_appointment")
#: The verbs of Protocole PM 2.2 (docs/adapters.md); `sync` reads the PM folder and answer mails too.
PM_VERBS = ("order_pm", "announce_works", "report_works", "pm_status", "works_status", "ipe_summary", "pm_opening",
            "sync")

#: What `order_status` may report as `state`.
STATES = ("sent", "acknowledged", "rejected", "confirmed", "stoc_requested", "connected", "available",
          "in_service", "cancelled", "terminated", "connection_failed", "overwritten")
