"""Covage's reference OC client: builds, drops and picks up Protocole Accès 1.2 files like an OC's integration.

    from simulator.operators.covage.harness.client import OcFtpClient, orders

    with OcFtpClient(host, port, "DEMO", "demo", "DEMO") as oc:
        oc.send("Cmd_Acces", [orders.cmd_acces(address, "CMD-1")])
        ar = oc.receive("AR_Cmd_Acces").single()
"""

from conformance.client import AdminError, SandboxAdmin

from . import orders
from .oc import OcFtpClient, ReceivedFile, ReceiveTimeout

__all__ = ["AdminError", "OcFtpClient", "ReceiveTimeout", "ReceivedFile", "SandboxAdmin", "orders"]
