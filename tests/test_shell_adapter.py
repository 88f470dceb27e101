"""The shell OC of docs/adapters.md (conformance/examples/shell_oc.sh: curl, jq, awk), driven as a
`command:` adapter against a real `opsim up` through the whole STOC happy path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conformance.adapters import CommandAdapter, Context, FtpAccount, VerbNotImplemented, adapter_factory
from conformance.plugin import folders_of
from conformance.waiting import poll_until
from tests.helpers import Api

SHELL_OC = Path(__file__).parents[1] / "conformance" / "examples" / "shell_oc.sh"
ROUTE = ("ReferencePrise", "ReferencePBO", "NomModulePm1", "PositionModulePm1", "ReferenceCableModulePm1",
         "InformationTubeModulePm1", "InformationFibreModulePm1", "ReferenceCablePBO1", "InformationTubePBO1",
         "InformationFibrePBO1", "ConnecteurPriseNumero1", "ConnecteurPriseCouleur1")


def context(api: Api, port: int, tenant: str, state_dir: Path) -> Context:
    now = api.get("/clock")["now"]
    covage = next(o for o in api.get("/operators") if o["operator"] == "covage")
    return Context(tenant=tenant, oc_code=tenant, operator="covage", oi="COVA", arcep="CV",
                   ftp=FtpAccount("127.0.0.1", port, tenant, "pw-" + tenant), spec_pack="acces-1.2",
                   today=now[:10], now=now, state_dir=str(state_dir), folders=folders_of(covage, "COVA"))


def test_the_shell_oc_runs_the_stoc_happy_path(opsim_process, tmp_path: Path):
    for tool in ("curl", "jq", "iconv"):
        assert shutil.which(tool), f"{tool} is needed by the shell OC (Debian package {tool})"
    api = opsim_process.api
    api.post("/tenants", {"code": "SHELL", "password": "pw-SHELL"})
    ctx = context(api, opsim_process.ftp_port, "SHELL", tmp_path)
    oc = adapter_factory(f"command:{SHELL_OC}")()
    address = next(a for a in api.get("/addresses?network=COVA&limit=40") if a.get("Escaliers"))
    columns = ("CommuneImmeuble", "CodePostalImmeuble", "CodeInseeImmeuble", "CodeVoieRivoliImmeuble",
               "NumeroVoieImmeuble", "TypeVoieImmeuble", "CodeAdresseImmeuble", "ReferencePM")
    order_address = {c: address[c] for c in columns} | {
        "LibelleVoieImmeuble": address["NomVoieImmeuble"], "Batiment": address["BatimentImmeuble"],
        "Escalier": address["Escaliers"][0], "Etage": address["Etages"][-1], "ReferencePm": address["ReferencePM"]}

    ref = oc.call("order_access", {"address": order_address, "socket": None, "mode": "STOC",
                                   "customer": {"NomClient": "DUPONT", "PrenomClient": "MARIE",
                                                "ContactClient1": "0601020304"}}, ctx)["ref"]
    oc.call("sync", {}, ctx)
    status = oc.call("order_status", {"ref": ref}, ctx)
    assert status["state"] == "acknowledged" and status["prestation"], status

    api.post("/clock/advance", {"working_days": 1})
    ctx = context(api, opsim_process.ftp_port, "SHELL", tmp_path)  # the harness gives each call the virtual date
    oc.call("sync", {}, ctx)  # the CR with its route, then the Cmd_STOC
    status = oc.call("order_status", {"ref": ref}, ctx)
    assert status["state"] == "stoc_requested", status
    order = api.get(f"/orders/{ref}?tenant=SHELL")
    assert status["route"]["ReferencePrise"] == order["data"]["ReferencePrise"]
    assert set(status["route"]) == set(ROUTE) and all(status["route"].values())

    oc.call("complete_stoc", {"ref": ref, "outcome": "OK", "motif": ""}, ctx)
    oc.call("report_in_service", {"ref": ref}, ctx)  # asked early: sent once the CR MAD is there
    def in_service() -> bool:  # as a poller would: ask, else read what came
        if oc.call("order_status", {"ref": ref}, ctx)["state"] == "in_service":
            return True
        oc.call("sync", {}, ctx)
        return False

    assert poll_until(in_service, 10, every=0), api.get(f"/orders/{ref}?tenant=SHELL")["history"]
    assert api.get(f"/orders/{ref}?tenant=SHELL")["state"] == "MES"  # the operator saw the CR MES
    assert api.get("/journal?tenant=SHELL&limit=1000")  # and journaled every exchange
    files = {f["flow"] for f in api.get("/files?tenant=SHELL")}
    assert files >= {"AR_Cmd_Acces", "CR_Cmd_Acces", "Cmd_STOC", "CR_MAD_Ligne"}


def test_a_verb_the_shell_oc_lacks_is_not_implemented(tmp_path: Path):
    ctx = Context("X", "X", "covage", "COVA", "CV", FtpAccount("127.0.0.1", 1, "X", "x"), "acces-1.2",
                  "2026-11-24", "2026-11-24T10:00:00", str(tmp_path))
    with pytest.raises(VerbNotImplemented):
        CommandAdapter(str(SHELL_OC)).call("open_ticket", {"ref": "R", "description": "no light"}, ctx)


def test_docs_show_the_shell_oc_as_it_is():
    docs = (Path(__file__).parents[1] / "docs" / "adapters.md").read_text(encoding="utf-8")
    assert SHELL_OC.read_text(encoding="utf-8") in docs, "docs/adapters.md must show conformance/examples/shell_oc.sh"


@pytest.mark.timeout(900)
def test_opsim_conformance_run_passes_the_shell_oc_on_every_access_scenario(tmp_path: Path):
    """The Done line of the harness issue, `opsim conformance run --adapter command:<shell script>`, over the
    whole of Protocole Accès: hotline calls and appointment bookings included (curl to the operator's
    hotline and booking service)."""
    import json
    import subprocess
    import sys

    from tests.helpers import scenario_count

    access = Path(__file__).parents[1] / "features" / "access"
    run = subprocess.run([sys.executable, "-m", "simulator.cli", "conformance", "run",
                          "--adapter", f"command:{SHELL_OC}", "--report-dir", str(tmp_path / "report"),
                          "--only", "access", "--seed", "7"],
                         capture_output=True, text=True, timeout=840, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((tmp_path / "report" / "results.json").read_text(encoding="utf-8"))
    scenarios = results["scenarios"]
    assert len(scenarios) == scenario_count(access), [s["scenario"] for s in scenarios]
    assert {s["outcome"] for s in scenarios} == {"passed"}, [s for s in scenarios if s["outcome"] != "passed"]
    stoc = next(s for s in scenarios if s["scenario"].startswith("STOC mode"))
    assert {"Cmd_Acces", "Cmd_STOC", "CR_STOC", "CR_MAD_Ligne", "CR_MES_Ligne"} <= set(stoc["flows"])
    hotline = next(s for s in scenarios if "hotline call, Notif_Reprov with décharge" in s["scenario"])
    assert "CR_STOC" in hotline["flows"], hotline
    assert (tmp_path / "report" / "junit.xml").is_file() and (tmp_path / "report" / "report.html").is_file()
