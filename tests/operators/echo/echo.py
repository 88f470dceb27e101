"""A test-only capability: answers each Ping line with a Pong at once, rings one working day later
(a due event), and shouts on demand (an operator action)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.capability import ActionRefused, Capability, OperatorContext
from simulator.documents import Effects, Finding, InboundDocument, OutboundDocument, ScheduledEvent
from simulator.specs.codec import UnreadableFile

OI = "ECHO"  # the OI code in the file names


class EchoDesk(Capability):
    name = "echo"
    areas = ("echo",)
    channels = ("ftp",)
    events = ("ring",)
    actions = ("shout",)
    settings = {"pack": {"type": "string", "description": "the capability's spec pack, a folder beside its module"}}
    timings = {"ring": "a Ping -> a Ring"}

    def __init__(self, context: OperatorContext):
        super().__init__(context)
        self.pack = context.pack(str(Path(__file__).parent / context.profile.settings["pack"]))

    def receive(self, doc: InboundDocument, now: datetime) -> Effects:
        effects = Effects()
        try:
            parsed = self.pack.flow("Ping").parse(doc.content)
        except UnreadableFile as e:
            effects.findings.append(Finding(doc.tenant, doc.channel, "in", "Ping", doc.filename, "unreadable", str(e)))
            return effects
        pongs = [{"Id": r["Id"], "Etat": "KO" if r.errors else "OK", "Texte": r["Texte"].upper(),
                  "Motif": self.pack.code_for(r.errors) if r.errors else ""} for r in parsed.records]
        effects.outbound.append(OutboundDocument(doc.tenant, OI, "Pong", pongs, area="echo"))
        due = self.context.profile.timings["ring"].after(now, self.context.calendar)
        effects.events.extend(ScheduledEvent(due, "ring", doc.tenant, r["Id"], {"texte": r["Texte"]})
                              for r in parsed.records if not r.errors)
        effects.findings.append(Finding(doc.tenant, doc.channel, "in", "Ping", doc.filename, f"{len(pongs)} pings"))
        return effects

    def on_event(self, kind: str, tenant: str, ref: str, payload: dict[str, Any], now: datetime) -> Effects:
        return Effects(outbound=[OutboundDocument(tenant, OI, "Ring", [{"Id": ref, "Texte": payload["texte"]}],
                                                  area="echo")])

    def act(self, action: str, tenant: str, args: Mapping[str, Any], now: datetime) -> Effects:
        text = args.get("text")
        if not isinstance(text, str) or not text:
            raise ActionRefused("shout needs a text")
        return Effects(outbound=[OutboundDocument(tenant, OI, "Shout", [{"Texte": text}], area="echo")])
