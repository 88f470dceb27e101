"""An OC of the echo operator, as a user's own code would be: a Python adapter (docs/adapters.md) that drops
Ping files in the folder its context names and reads (then deletes) what the operator leaves in the other."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from conformance.adapters import Context
from conformance.client.ftp import FtpSession
from simulator.specs.codec import load_pack


class EchoOc:
    def __init__(self, context: Context):
        self.context = context
        self.pack = load_pack(context.spec_pack)
        self.session = FtpSession(context.ftp.host, context.ftp.port, context.ftp.user, context.ftp.password, 10.0)
        self.sent = 0

    def ping(self, args: Mapping[str, Any]) -> dict[str, Any]:
        flow = self.pack.flow("Ping")
        self.sent += 1
        name = self.pack.render_filename(flow, "ECHO", self.context.oc_code, self.context.today.replace("-", ""),
                                         self.sent)
        folder = self.context.folders["echo"]["in"]
        self.session.upload(f"{folder}/{name}", flow.write([{"Id": args["id"], "Texte": args["text"]}]))
        return {"sent": name}

    def sync(self, args: Mapping[str, Any]) -> dict[str, Any]:
        folder = self.context.folders["echo"]["out"]
        received = []
        for name in sorted(self.session.list_files(folder)):
            content = self.session.download(f"{folder}/{name}")
            code = name.split("_")[2]
            flow = next(f for f in self.pack.flows.values() if f.code == code)
            received += [{"flow": flow.name, "text": r.values.get("Texte", "")}
                         for r in flow.parse(io.BytesIO(content).getvalue()).records]
            self.session.delete(f"{folder}/{name}")
        return {"received": received}

    def close(self) -> None:
        self.session.close()
