"""Our own OC, as an adapter (`--adapter reference`): what a correct OC integration of Accès 1.2 does.

It is built on the reference client (conformance/client): it drops its files in IN/<OI>/<ARCEP>/ on the
scenario's FTP account, reads and deletes what the OI left in OUT/ when asked to synchronise, and keeps
what it understood of each order (state, ReferencePrestationPrise, reject code, route optique) for
`order_status`. It must pass every scenario with no finding: it is the harness's own proof.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from conformance.adapters import Context
from simulator.operators.covage.harness.client import OcFtpClient, ReceivedFile, orders
from simulator.operators.covage.harness.verbs import VerbMixin

#: The columns of the CR_Cmd_Acces that make the route of an order (also carried by a Notif_Reprov).
ROUTE_COLUMNS = ("ReferencePrise", "ReferencePBO", "NomModulePm1", "PositionModulePm1", "ReferenceCableModulePm1",
                 "InformationTubeModulePm1", "InformationFibreModulePm1", "ReferenceCablePBO1", "InformationTubePBO1",
                 "InformationFibrePBO1", "ConnecteurPriseNumero1", "ConnecteurPriseCouleur1")

#: The address columns of a Cmd_Acces that `order_access` receives (spec names).
ADDRESS_COLUMNS = ("CommuneImmeuble", "CodePostalImmeuble", "CodeInseeImmeuble", "CodeVoieRivoliImmeuble",
                   "NumeroVoieImmeuble", "ComplementNumeroVoieImmeuble", "TypeVoieImmeuble", "LibelleVoieImmeuble",
                   "CodeAdresseImmeuble", "Batiment", "Escalier", "Etage", "ReferencePm", "ReferencePrestationPm")

#: Within one synchronisation, answers are handled in the protocol's order (an AR before its CR, a CR before
#: the Cmd_STOC...), whatever the alphabetical order of their file names.
FLOW_RANK = {flow: rank for rank, flow in enumerate((
    "AR_Cmd_Acces", "CR_Cmd_Acces", "Notif_Reprov", "Cmd_STOC", "Notif_Racc_Ko", "CR_MAD_Ligne",
    "CR_Annulation_Acces", "Notif_Ecrasement"))}

#: States after which nothing the OI sends changes the order any more.
FINAL = ("cancelled", "terminated", "overwritten")


@dataclass
class Order:
    """What the OC knows of one of its orders."""

    ref: str
    mode: str
    state: str = "sent"
    prestation: str | None = None
    reject_code: str | None = None
    route: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(ROUTE_COLUMNS))
    cmd_stoc: dict[str, str] | None = None  # the OI's Cmd_STOC line: its CR_STOC answers it
    discharge: str = ""  # NumeroDecharge of a Notif_Reprov: the technician reports it in the CR_STOC
    cr_mad: dict[str, str] | None = None
    stoc_outcome: tuple[str, str] | None = None  # (OK|KO, motif) of a technician done before the Cmd_STOC came
    in_service_asked: bool = False  # the customer's box is up: send the CR MES once the CR MAD allows it
    hotline_called: bool = False  # its technician called the hotline: the CR_STOC says NotificationReprovisioningHL


def verb_mixins() -> tuple[type[VerbMixin], ...]:
    """The verb mixins of every `*_reference` module beside this one, by module name (pm_reference: PmVerbs,
    ws_reference: WsVerbs, and a scaffolded capability's): a capability adds its verbs with its module, no
    list to edit."""
    found: list[type[VerbMixin]] = []
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.endswith("_reference"):
            module = importlib.import_module(f"{__package__}.{info.name}")
            found += [c for c in vars(module).values()
                      if isinstance(c, type) and issubclass(c, VerbMixin) and c.__module__ == module.__name__]
    return tuple(found)


VERB_MIXINS = verb_mixins()


class ReferenceOc(*VERB_MIXINS):  # type: ignore[misc]  # bases found at import: mypy cannot follow them
    """One OC per scenario (PythonAdapter builds it with the first call's context); the Accès verbs are its own,
    the others come from the mixins (VERB_MIXINS: the web services' WsVerbs, Protocole PM 2.2's PmVerbs...)."""

    def __init__(self, context: Context):
        self.context = context
        self.orders: dict[str, Order] = {}
        self.client = OcFtpClient(context.ftp.host, context.ftp.port, context.ftp.user, context.ftp.password,
                                  context.oc_code, context.oi, context.arcep, pack=context.spec_pack,
                                  today=self._today, folders=context.folders.get("acces"))
        self._state_file = Path(context.state_dir) / "reference-oc.json"
        self._counter = 0

    # ------------------------------------------------------------------ adapter plumbing
    # PythonAdapter sets self.context before each call: its `today` and `now` follow the virtual clock.
    def close(self) -> None:
        self.client.close()
        for mixin in VERB_MIXINS:
            if mixin.CLOSE:
                getattr(self, mixin.CLOSE)()

    def _today(self) -> date:
        return date.fromisoformat(self.context.today)

    def _stamp(self) -> str:
        return datetime.fromisoformat(self.context.now).strftime("%Y%m%d%H%M%S")

    def _order(self, ref: str) -> Order:
        if ref not in self.orders:
            raise KeyError(f"no order {ref} was sent by this OC")
        return self.orders[ref]

    def _save(self) -> None:
        # What it understood, in its state folder: for a person reading a failed scenario's evidence.
        self._state_file.write_text(json.dumps({r: asdict(o) for r, o in self.orders.items()}, indent=1),
                                    encoding="utf-8")

    # ------------------------------------------------------------------ verbs
    def order_access(self, args: Mapping[str, Any]) -> dict[str, Any]:
        address: Mapping[str, str] = args["address"]
        socket = args.get("socket")
        mode = args.get("mode", "STOC")
        customer: Mapping[str, str] = args.get("customer") or {}
        self._counter += 1
        ref = f"{self.context.oc_code}-{self.context.today.replace('-', '')}-{self._counter:04d}"
        record = {column: str(address.get(column, "") or "") for column in ADDRESS_COLUMNS}
        record.update(
            ReferenceCommandePriseInterneOC=ref, TypeRacco=mode,
            NomClient=customer.get("NomClient", ""), PrenomClient=customer.get("PrenomClient", ""),
            ContactClient1=customer.get("ContactClient1", ""),
            # "existing": a socket is there but the customer cannot name it (Hotline): PriseExistante=O, no reference.
            ReferencePrise="" if socket in (None, "existing") else str(socket),
            PriseExistante="N" if socket is None else "O",
            TypeCommandeDemande="AUTO", DateCommandePrise=self.context.today.replace("-", ""),
            IdRdv=str(args.get("appointment") or ""))  # the IdRdv book_appointment gave, if any
        self.client.send("Cmd_Acces", [record])
        self.orders[ref] = Order(ref, mode)
        self._save()
        return {"ref": ref}

    def cancel_access(self, args: Mapping[str, Any]) -> dict[str, Any]:
        order = self._order(args["ref"])
        self.client.send("Annul_Acces", [orders.annul_acces(order.ref, order.prestation or "",
                                                            date=self.context.today.replace("-", ""))])
        return {}

    def complete_stoc(self, args: Mapping[str, Any]) -> dict[str, Any]:
        order = self._order(args["ref"])
        order.stoc_outcome = (args.get("outcome", "OK"), args.get("motif") or "")
        # The technician may report before the OC has read the Cmd_STOC: it is answered when it comes.
        if order.cmd_stoc is not None:
            self._send_cr_stoc(order)
        self._save()
        return {}

    def report_in_service(self, args: Mapping[str, Any]) -> dict[str, Any]:
        order = self._order(args["ref"])
        order.in_service_asked = True
        if order.state == "available":  # a CR MES before the CR MAD OK is a protocol error: wait for it
            self._send_cr_mes(order)
        self._save()
        return {}

    def call_hotline(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Its technician on site calls the operator's hotline (an HTTP endpoint, `args["hotline"]`) with the
        socket found; the décharge number answered goes in the CR_STOC."""
        order = self._order(args["ref"])
        body = {"ref": order.ref, "socket": str(args.get("socket") or ""), "kind": str(args.get("kind") or "hotline")}
        if args.get("motif"):
            body["motif"] = str(args["motif"])
        request = urllib.request.Request(str(args["hotline"]), data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        if answer.get("NumeroDecharge"):
            order.discharge = answer["NumeroDecharge"]
        order.hotline_called = order.hotline_called or body["kind"] == "hotline"
        self._save()
        return {"decharge": answer.get("NumeroDecharge", "")}

    def book_appointment(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Books a connection appointment with the operator's booking service (`args["booking"]`, HTTP): the
        first free slot for the address; its IdRdv then goes in the Cmd_Acces."""
        address: Mapping[str, str] = args["address"]
        base = str(args["booking"])
        sep = "&" if "?" in base else "?"
        query = urllib.parse.urlencode({"address": address.get("CodeAdresseImmeuble", ""), "network": self.context.oi})
        with urllib.request.urlopen(f"{base}{sep}{query}", timeout=30) as response:
            free = json.loads(response.read())["slots"]
        if not free:
            raise RuntimeError("the booking service offers no free slot")
        body = {"address": address.get("CodeAdresseImmeuble", ""), "network": self.context.oi,
                "slot": free[0]["slot"]}
        request = urllib.request.Request(base, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            booked = json.loads(response.read())
        return {"IdRdv": booked["IdRdv"], "slot": booked["slot"]}

    def sync(self, args: Mapping[str, Any]) -> dict[str, Any]:
        received = self.client.receive_all()  # downloads and deletes everything now in OUT
        for file in sorted(received, key=lambda f: (self._name_date(f), FLOW_RANK.get(f.flow_name or "", 99))):
            for line in file.records:
                self._handle(file, line)
        for mixin in VERB_MIXINS:  # their folders and mails: PmVerbs reads the PM folder and answer mails
            if mixin.SYNC:
                getattr(self, mixin.SYNC)()
        self._save()
        return {}

    def order_status(self, args: Mapping[str, Any]) -> dict[str, Any]:
        order = self._order(args["ref"])
        return {"state": order.state, "prestation": order.prestation, "reject_code": order.reject_code,
                "route": dict(order.route)}

    # ------------------------------------------------------------------ answers
    def _name_date(self, file: ReceivedFile) -> str:
        parsed = self.client.pack.parse_filename(file.name)
        return f"{parsed.date}{int(parsed.seq):06d}" if parsed else ""

    def _handle(self, file: ReceivedFile, line: dict[str, str]) -> None:
        order = self.orders.get(line.get("ReferenceCommandePriseInterneOC", ""))
        if order is None:  # an answer to an order this OC never sent (or a whole-file reject): nothing to update
            return
        flow = file.flow_name
        if line.get("ReferencePrestationPrise"):
            order.prestation = line["ReferencePrestationPrise"]
        if flow == "CR_Annulation_Acces":
            if line["EtatCrAnnResCommandePrise"] == "OK":
                order.state = "terminated" if line["TypeOperation"] == "RESIL" else "cancelled"
            return  # a refused cancellation leaves the order as it was
        if order.state in FINAL:
            return  # e.g. the CR MAD KO answering a CR_STOC of a cancelled order
        if flow == "AR_Cmd_Acces":
            self._ok_or_reject(order, line, "EtatArCommandePrise", "MotifKoArCommandePrise", "acknowledged")
        elif flow == "CR_Cmd_Acces":
            if self._ok_or_reject(order, line, "EtatCrCommandePrise", "MotifKoCrCommandePrise", "confirmed"):
                order.route = {c: line.get(c) or None for c in ROUTE_COLUMNS}
        elif flow == "Notif_Reprov":
            # A new route (reprovisioning, or the socket a Hotline found): only the columns it fills change.
            order.route.update({c: line[c] for c in ROUTE_COLUMNS if line.get(c)})
            order.discharge = line.get("NumeroDecharge", "")
        elif flow == "Cmd_STOC":
            order.cmd_stoc = line
            order.state = "stoc_requested"
            if order.stoc_outcome is not None:
                self._send_cr_stoc(order)
        elif flow == "CR_MAD_Ligne":
            if self._ok_or_reject(order, line, "EtatCrMadPrise", "MotifKoCrMadPrise", "available"):
                order.cr_mad = line
                if order.in_service_asked:
                    self._send_cr_mes(order)
        elif flow == "Notif_Ecrasement":  # another OC took the socket: this line has ended
            order.state = "overwritten"
        elif flow == "Notif_Racc_Ko":
            order.state = "connection_failed"
            order.reject_code = line.get("MotifKoRaccordement") or None

    @staticmethod
    def _ok_or_reject(order: Order, line: Mapping[str, str], state: str, motif: str, ok_state: str) -> bool:
        if line.get(state) == "OK":
            order.state = ok_state
            return True
        order.state = "rejected"
        order.reject_code = line.get(motif) or None
        return False

    def _send_cr_stoc(self, order: Order) -> None:
        assert order.cmd_stoc is not None and order.stoc_outcome is not None
        outcome, motif = order.stoc_outcome
        # After a reprovisioning (the hotline's above all) the CR_STOC carries its décharge number.
        record = orders.cr_stoc(order.cmd_stoc, ok=outcome == "OK", motif=motif, when=self._stamp(),
                                NumeroDecharge=order.discharge,
                                NotificationReprovisioningHL="OUI" if order.discharge else "NON")
        if order.route.get("ReferencePrise"):  # the socket it connected: the one of the latest route
            record["ReferencePrise"] = order.route["ReferencePrise"] or ""
        self.client.send("CR_STOC", [record])
        order.stoc_outcome = None
        if outcome == "OK" and order.state not in FINAL:  # a cancelled order stays cancelled
            order.state = "connected"

    def _send_cr_mes(self, order: Order) -> None:
        assert order.cr_mad is not None
        cr_mad = {**order.cr_mad, "ReferencePrise": order.route.get("ReferencePrise") or order.cr_mad["ReferencePrise"]}
        self.client.send("CR_MES_Ligne", [orders.cr_mes(cr_mad, date=self.context.today.replace("-", ""))])
        order.in_service_asked = False
        order.state = "in_service"
