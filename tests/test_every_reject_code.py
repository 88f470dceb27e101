"""Every code of the reject catalogue (Annexe 5f) produced on demand through real FTP, at the stage the
catalogue gives it, by a fault rule; docs/rejects.md is the catalogue's page and must not be stale."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import annul_acces, cmd_acces
from simulator.specs.codec import load_pack
from simulator.specs.rejects_doc import rejects_markdown
from tests.helpers import Api

ROOT = Path(__file__).resolve().parent.parent
PACK = load_pack("acces-1.2")
CODES = sorted(PACK.rejects)


def test_docs_rejects_md_is_the_catalogue_page():
    assert (ROOT / "docs" / "rejects.md").read_text(encoding="utf-8") == rejects_markdown(PACK), (
        "docs/rejects.md is stale: run `opsim rejects > docs/rejects.md`")
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rejects"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0 and done.stdout == rejects_markdown(PACK)
    assert len(CODES) >= 50 and all(f"| `{code}` |" in done.stdout for code in CODES)


def test_the_reject_scenarios_have_one_row_per_code():
    feature = (ROOT / "features" / "rejects" / "every_code.feature").read_text(encoding="utf-8")
    rows = re.findall(r"^\s*\|\s*(F[A-Z]{3}\d{2})\s*\|", feature, flags=re.M)
    assert sorted(rows) == CODES, set(CODES) ^ set(rows)


@pytest.mark.parametrize("code", CODES)
def test_each_code_is_produced_on_demand_at_its_stage(code: str, api: Api, opsim_sandbox, orderable):
    stage = PACK.rejects[code]["stage"]
    tenant = "R" + secrets.token_hex(3).upper()
    api.post("/tenants", {"code": tenant, "password": "pw"})
    status, rule = api.call("POST", f"/faults?tenant={tenant}", {"code": code, "stage": stage})
    assert status == 201 and rule["stage"] == stage, rule
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, tenant, "pw", tenant, today=lambda: date(2026, 11, 24)) as oc:
        oc.send("Cmd_Acces", [cmd_acces(orderable[6], "REF1", type_racco="OI")])
        ar = oc.receive("AR_Cmd_Acces").single()
        if stage == "AR":
            assert (ar["EtatArCommandePrise"], ar["MotifKoArCommandePrise"]) == ("KO", code)
            return
        assert ar["EtatArCommandePrise"] == "OK", ar
        if stage == "ANNUL":
            oc.send("Annul_Acces", [annul_acces("REF1", ar["ReferencePrestationPrise"], date="20261124")])
            answer = oc.receive("CR_Annulation_Acces").single()
            assert (answer["EtatCrAnnResCommandePrise"], answer["MotifKoCrAnnResCommandePrise"]) == ("KO", code)
            return
        api.post("/clock/advance", {"working_days": 1})
        cr = oc.receive("CR_Cmd_Acces").single()
        if stage == "CR":
            assert (cr["EtatCrCommandePrise"], cr["MotifKoCrCommandePrise"]) == ("KO", code)
            return
        assert cr["EtatCrCommandePrise"] == "OK", cr
        api.post("/clock/advance", {"working_days": 5})
        ko = oc.receive("Notif_Racc_Ko").single()
        assert (ko["MotifKoRaccordement"], ko["Commentaire"]) == (code, PACK.reject_label(code))


@pytest.mark.timeout(900)  # 50 whole scenarios in one conformance run: minutes on a loaded 2-core machine
def test_the_reference_oc_passes_one_scenario_per_code(tmp_path: Path):
    """`opsim conformance run --only rejects --adapter reference`: every code, each a passing scenario."""
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "conformance", "run", "--adapter", "reference",
                           "--only", "rejects", "--seed", "5", "--report-dir", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    codes = sorted(re.search(r"F[A-Z]{3}\d{2}", s["scenario"])[0] for s in results["scenarios"])
    assert codes == CODES
    assert all(s["outcome"] == "passed" and s["findings"] == [] for s in results["scenarios"])
    assert (report / "junit.xml").is_file() and (report / "report.html").is_file()
