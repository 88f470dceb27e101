"""The checks on the OC (Covage's harness, checks.py): for each, an OC that behaves (no finding) and one that
does not (exactly the expected check id). A real sandbox, real FTP (the reference OC client, or raw
uploads for what it would never do) and the evidence read over real HTTP by `observe`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.results import Finding
from conformance.waiting import wait_until
from simulator.config import Tenant
from simulator.operators.covage.harness.checks import CHECKS, Observation, observe, run_checks
from simulator.operators.covage.harness.client import AdminError, OcFtpClient, ReceivedFile, SandboxAdmin, orders

ROUTE = ("ReferencePrise", "ReferencePBO", "NomModulePm1", "PositionModulePm1", "InformationTubeModulePm1",
         "InformationFibreModulePm1", "InformationTubePBO1", "InformationFibrePBO1", "ConnecteurPriseNumero1")


@pytest.fixture
def admin(opsim_sandbox: Any) -> SandboxAdmin:
    return SandboxAdmin(opsim_sandbox.http_url)


@pytest.fixture
def oc(opsim_sandbox: Any, admin: SandboxAdmin) -> Iterator[OcFtpClient]:
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=admin.today) as client:
        yield client


@pytest.fixture
def address(admin: SandboxAdmin) -> dict[str, Any]:
    return admin.addresses("COVA", limit=1)[0]


def checked(admin: SandboxAdmin, statuses: dict[str, Any] | None = None) -> list[Finding]:
    return run_checks(observe(admin, "DEMO", statuses or {}))


def ids(findings: list[Finding]) -> list[str]:
    return sorted(f.check for f in findings)


def route_of(received: ReceivedFile, ref: str) -> dict[str, str]:
    line = received.line_for(ref)
    return {c: line[c] for c in ROUTE if c in line}


def order_to_cr(oc: OcFtpClient, admin: SandboxAdmin, address: dict[str, Any], ref: str,
                type_racco: str = "STOC") -> tuple[ReceivedFile, ReceivedFile]:
    """An order up to its CR OK (and its Cmd_STOC picked up when STOC): (AR, CR)."""
    oc.send("Cmd_Acces", [orders.cmd_acces(address, ref, type_racco=type_racco)])
    ar = oc.receive("AR_Cmd_Acces")
    admin.advance(working_days=1)
    return ar, oc.receive("CR_Cmd_Acces")


def status(state: str, ar: ReceivedFile, ref: str, **more: Any) -> dict[str, Any]:
    return {"state": state, "prestation": ar.line_for(ref)["ReferencePrestationPrise"], **more}


# ---------------------------------------------------------------------- the whole life, well behaved
def test_an_oc_that_follows_the_protocol_has_no_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                        address: dict[str, Any]) -> None:
    ar, cr = order_to_cr(oc, admin, address, "GOOD-1")
    stoc = oc.receive("Cmd_STOC").line_for("GOOD-1")
    asked = {"GOOD-1": [{**status("stoc_requested", ar, "GOOD-1", route=route_of(cr, "GOOD-1")),
                         "asked_at": admin.now().isoformat(), "asked_real": time.time()}]}
    oc.send("CR_STOC", [orders.cr_stoc(stoc, when=admin.now().strftime("%Y%m%d%H%M%S"))])
    mad = oc.receive("CR_MAD_Ligne")
    assert mad.line_for("GOOD-1")["EtatCrMadPrise"] == "OK"
    name = oc.send("CR_MES_Ligne", [cr_mes_line(cr.line_for("GOOD-1"), admin)])
    oc.wait_consumed(name)
    asked["GOOD-1"].append(status("in_service", ar, "GOOD-1", route=route_of(cr, "GOOD-1")))

    observation = observe(admin, "DEMO", asked)

    assert [f.filename for f in observation.sent] and len(observation.answers) == 4
    assert observation.sent[0].content.startswith(b"ReferenceCommandePriseInterneOC;")
    assert run_checks(observation) == []


def test_every_check_is_documented_with_its_clause() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "checks.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(ACCES-[A-Z-]+)` \|", doc, re.MULTILINE))
    assert documented == set(CHECKS)
    assert all(c.clause.startswith("Accès 1.2") and c.title and c.description for c in CHECKS.values())


# ---------------------------------------------------------------------- file names
def test_a_name_dated_another_day_is_a_name_date_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                         address: dict[str, Any]) -> None:
    flow = oc.flow("Cmd_Acces")
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "D-1")],
            filename=oc.pack.render_filename(flow, "COVA", "DEMO", "20261123", 1))
    oc.receive_all(timeout=3)

    findings = checked(admin)

    assert ids(findings) == ["ACCES-NAME-DATE"]
    assert "20261123" in findings[0].message and findings[0].evidence[0].kind == "file in"
    assert "D-1" in findings[0].evidence[0].content


def test_a_reused_sequence_is_a_name_seq_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                 address: dict[str, Any]) -> None:
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "S-1")])
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "S-2")])  # sequence 2: fine
    oc.receive_all(timeout=3)
    assert checked(admin) == []
    name = oc.pack.render_filename(oc.flow("Cmd_Acces"), "COVA", "DEMO", "20261124", 1)
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "S-3")], filename=name)  # sequence 1 again
    oc.receive_all(timeout=3)

    findings = checked(admin)

    assert ids(findings) == ["ACCES-NAME-SEQ"]
    assert [e.content.count("S-1") + e.content.count("S-3") for e in findings[0].evidence] == [1, 1]


def test_a_name_without_a_known_oc_flow_is_a_name_flow_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                               address: dict[str, Any]) -> None:
    content = oc.flow("Cmd_Acces").write([orders.cmd_acces(address, "F-1")])
    oc.send_raw("COVA_DEMO_COMMANDE_V12_20261124_000001.csv", content)  # no such flow code
    oc.send_raw(oc.pack.render_filename(oc.flow("AR_Cmd_Acces"), "COVA", "DEMO", "20261124", 1), content)
    oc.receive_all(timeout=3)

    assert ids(checked(admin)) == ["ACCES-NAME-FLOW", "ACCES-NAME-FLOW"]


def test_another_ocs_code_in_the_name_is_a_name_parties_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                                address: dict[str, Any]) -> None:
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "P-1")], filename=oc.next_filename("Cmd_Acces", oc="ACME"))
    oc.receive_all(timeout=3)

    assert ids(checked(admin)) == ["ACCES-NAME-PARTIES"]


# ---------------------------------------------------------------------- contents
def test_utf8_is_an_encoding_finding(oc: OcFtpClient, admin: SandboxAdmin, address: dict[str, Any]) -> None:
    flow = oc.flow("Cmd_Acces")
    latin = flow.write([orders.cmd_acces(address, "E-1", NomClient="HÉLÈNE")])
    oc.send_raw(oc.next_filename("Cmd_Acces"), latin)
    oc.receive_all(timeout=3)
    assert checked(admin) == []  # ISO-8859-1 with accents: right

    oc.send_raw(oc.next_filename("Cmd_Acces"), latin.decode("latin-1").replace("E-1", "E-2").encode("utf-8"))
    oc.receive_all(timeout=3)

    findings = checked(admin)
    assert ids(findings) == ["ACCES-FILE-ENCODING"] and "UTF-8" in findings[0].message
    assert "HÉLÈNE" in findings[0].evidence[0].content  # shown as the OC meant it


def test_a_missing_column_is_a_columns_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                               address: dict[str, Any]) -> None:
    text = oc.flow("Cmd_Acces").write([orders.cmd_acces(address, "C-1")]).decode("latin-1")
    rows = [line.split(";") for line in text.split("\r\n") if line]
    column = rows[0].index("NomClient")
    oc.send_raw(oc.next_filename("Cmd_Acces"),
                "\r\n".join(";".join(r[:column] + r[column + 1:]) for r in rows).encode("latin-1") + b"\r\n")
    oc.receive_all(timeout=3)

    findings = checked(admin)
    assert ids(findings) == ["ACCES-FILE-COLUMNS"] and "header" in findings[0].message


def test_a_bad_value_is_a_values_finding(oc: OcFtpClient, admin: SandboxAdmin, address: dict[str, Any]) -> None:
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "V-1", TypeRacco="XX", NomClient="")])
    oc.receive_all(timeout=3)

    findings = checked(admin)
    assert ids(findings) == ["ACCES-FILE-VALUES"]
    assert "TypeRacco" in findings[0].message and "NomClient" in findings[0].message


# ---------------------------------------------------------------------- OUT
def test_a_file_read_and_left_in_out_is_an_out_clean_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                             address: dict[str, Any]) -> None:
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "O-1")])
    oc.receive("AR_Cmd_Acces")  # downloads and deletes: right
    assert checked(admin) == []
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "O-2")])
    names = wait_until(lambda: oc.session.list_files(oc.out_folder), 5, "an answer in OUT")
    oc.session.download(f"{oc.out_folder}/{names[0]}")  # ...and never deleted

    findings = checked(admin)

    assert ids(findings) == ["ACCES-OUT-CLEAN"] and names[0] in findings[0].message
    assert [e.kind for e in findings[0].evidence] == ["file out", "journal"]


def test_a_file_never_picked_up_is_an_out_clean_finding_after_a_day(oc: OcFtpClient, admin: SandboxAdmin,
                                                                    address: dict[str, Any]) -> None:
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "O-3")])
    assert checked(admin) == []  # the AR just came: not late yet
    admin.advance(hours=30)

    findings = checked(admin)

    assert set(ids(findings)) == {"ACCES-OUT-CLEAN"} and "unread" in findings[0].message


# ---------------------------------------------------------------------- what the OC understood
def test_a_wrong_state_and_prestation_are_findings(oc: OcFtpClient, admin: SandboxAdmin,
                                                   address: dict[str, Any]) -> None:
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "U-1", type_racco="OC")])
    ar = oc.receive("AR_Cmd_Acces")
    assert checked(admin, {"U-1": status("acknowledged", ar, "U-1")}) == []

    assert ids(checked(admin, {"U-1": status("confirmed", ar, "U-1")})) == ["ACCES-STATE"]  # no CR yet
    assert ids(checked(admin, {"U-1": {"state": "acknowledged", "prestation": "XXX"}})) == ["ACCES-PRESTATION"]


def test_a_wrong_reject_code_is_a_finding(oc: OcFtpClient, admin: SandboxAdmin, address: dict[str, Any]) -> None:
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "R-1", CodeAdresseImmeuble="9999999999")])
    line = oc.receive("AR_Cmd_Acces").line_for("R-1")
    assert line["EtatArCommandePrise"] == "KO" and line["MotifKoArCommandePrise"]
    motif = line["MotifKoArCommandePrise"]
    assert checked(admin, {"R-1": {"state": "rejected", "reject_code": motif}}) == []

    findings = checked(admin, {"R-1": {"state": "rejected", "reject_code": "FIMP99"}})

    assert ids(findings) == ["ACCES-REJECT-CODE"] and motif in findings[0].message
    assert [e.kind for e in findings[0].evidence] == ["adapter", "file out"]


def test_resending_a_rejected_reference_is_a_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                     address: dict[str, Any]) -> None:
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "RS-1", CodeAdresseImmeuble="9999999999")])
    oc.receive("AR_Cmd_Acces")
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "RS-2")])  # a new reference: right
    oc.receive("AR_Cmd_Acces")
    assert checked(admin) == []

    oc.send("Cmd_Acces", [orders.cmd_acces(address, "RS-1")])  # the rejected one again
    oc.receive("AR_Cmd_Acces")

    findings = checked(admin)
    assert ids(findings) == ["ACCES-REJECT-RESEND"] and "RS-1" in findings[0].message


def test_a_reference_already_used_fimp13_is_a_resend_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                             address: dict[str, Any]) -> None:
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "DUP-1")])
    ar = oc.receive("AR_Cmd_Acces")
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "DUP-1")])
    assert oc.receive("AR_Cmd_Acces").line_for("DUP-1")["MotifKoArCommandePrise"] == "FIMP13"

    findings = checked(admin, {"DUP-1": status("acknowledged", ar, "DUP-1")})

    # ...and the first order under that reference is still acknowledged (the KO was the duplicate's)
    assert ids(findings) == ["ACCES-REJECT-RESEND"] and "FIMP13" in findings[0].message


def test_a_wrong_route_is_a_route_finding(oc: OcFtpClient, admin: SandboxAdmin, address: dict[str, Any]) -> None:
    ar, cr = order_to_cr(oc, admin, address, "RT-1", type_racco="OC")
    route = route_of(cr, "RT-1")
    assert route["ReferencePBO"] and route["NomModulePm1"]
    assert checked(admin, {"RT-1": status("confirmed", ar, "RT-1", route=route)}) == []

    findings = checked(admin, {"RT-1": status("confirmed", ar, "RT-1", route={**route, "ReferencePBO": "PBO-X"})})

    assert ids(findings) == ["ACCES-ROUTE"] and "PBO-X" in findings[0].message


def test_the_old_route_after_a_notif_reprov_is_a_reprov_route_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                                      address: dict[str, Any]) -> None:
    ar, cr = order_to_cr(oc, admin, address, "RP-1")
    oc.receive("Cmd_STOC")
    admin.reprovision("RP-1", "DEMO", "Fibre HS")
    notif = oc.receive("Notif_Reprov")
    old, new = route_of(cr, "RP-1"), route_of(notif, "RP-1")
    assert old != new
    assert checked(admin, {"RP-1": status("stoc_requested", ar, "RP-1", route=new)}) == []

    findings = checked(admin, {"RP-1": status("stoc_requested", ar, "RP-1", route=old)})

    assert ids(findings) == ["ACCES-REPROV-ROUTE"]
    assert findings[0].evidence[-1].name.startswith("OUT/COVA/CV/COVA_DEMO_NOTIFREPROV")


def cr_mes_line(cr_line: dict[str, str], admin: SandboxAdmin) -> dict[str, str]:
    """The OC's CR MES OK for the order a CR line answers, dated with the virtual day."""
    return {"ReferenceCommandePriseInterneOC": cr_line["ReferenceCommandePriseInterneOC"],
            "ReferencePrestationPrise": cr_line["ReferencePrestationPrise"],
            "ReferencePrise": cr_line["ReferencePrise"], "EtatMesPrise": "OK",
            "DateMesPrise": admin.today().strftime("%Y%m%d")}


def test_a_cr_mes_before_the_cr_mad_is_a_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                 address: dict[str, Any]) -> None:
    ar, cr = order_to_cr(oc, admin, address, "M-1")
    oc.receive("Cmd_STOC")
    name = oc.send("CR_MES_Ligne", [cr_mes_line(cr.line_for("M-1"), admin)])
    oc.wait_consumed(name)

    findings = checked(admin)

    assert ids(findings) == ["ACCES-MES-BEFORE-MAD"] and "M-1" in findings[0].message


def test_a_resil_understood_as_a_cancellation_is_a_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                           address: dict[str, Any]) -> None:
    ar, cr = order_to_cr(oc, admin, address, "T-1")
    stoc = oc.receive("Cmd_STOC").line_for("T-1")
    oc.send("CR_STOC", [orders.cr_stoc(stoc, when=admin.now().strftime("%Y%m%d%H%M%S"))])
    oc.receive("CR_MAD_Ligne")
    line = cr.line_for("T-1")
    oc.send("CR_MES_Ligne", [{"ReferenceCommandePriseInterneOC": "T-1",
                              "ReferencePrestationPrise": line["ReferencePrestationPrise"],
                              "ReferencePrise": line["ReferencePrise"], "EtatMesPrise": "OK",
                              "DateMesPrise": admin.today().strftime("%Y%m%d")}])
    oc.send("Annul_Acces", [orders.annul_acces("T-1", line["ReferencePrestationPrise"],
                                               date=admin.today().strftime("%Y%m%d"))])
    resil = oc.receive("CR_Annulation_Acces").line_for("T-1")
    assert (resil["TypeOperation"], resil["EtatCrAnnResCommandePrise"]) == ("RESIL", "OK")
    assert checked(admin, {"T-1": status("terminated", ar, "T-1")}) == []

    findings = checked(admin, {"T-1": status("cancelled", ar, "T-1")})

    assert ids(findings) == ["ACCES-RESIL"] and "terminated" in findings[0].message


def test_observation_is_plain_data(admin: SandboxAdmin) -> None:
    observation = observe(admin, "DEMO", {"X-1": {"state": "sent"}})
    assert isinstance(observation, Observation) and observation.sent == [] and observation.answers == []
    assert observation.statuses["X-1"][0].asked_at == observation.now  # no asked_at: the moment observed
    assert run_checks(observation) == []  # an order the sandbox never saw: nothing to compare with



class TestWithTokens:
    @pytest.fixture
    def opsim_config(self, opsim_config):  # noqa: ANN001, ANN201 - the plugin's, with tokens
        opsim_config.admin_token = "admin-s3cret"
        opsim_config.tenants = [Tenant("ACME", "acme", "pw", "", api_token="acme-t0ken")]
        return opsim_config

    def test_observe_reads_with_the_tenants_token_and_refuses_another_tenants(self, opsim_sandbox: Any) -> None:
        host, port = opsim_sandbox.ftp_address
        admin = SandboxAdmin(opsim_sandbox.http_url, token="admin-s3cret")
        with OcFtpClient(host, port, "acme", "pw", "ACME", today=admin.today) as acme:
            acme.send("Cmd_Acces", [orders.cmd_acces(admin.addresses("COVA", limit=1)[0], "TK-1")])
            acme.receive("AR_Cmd_Acces")

        own = observe(SandboxAdmin(opsim_sandbox.http_url, token="acme-t0ken"), "ACME", {})

        assert [f.filename for f in own.sent] and own.answers[0].content.startswith(b"ReferenceCommandePrise")
        assert run_checks(own) == []
        with pytest.raises(AdminError) as refused:
            observe(SandboxAdmin(opsim_sandbox.http_url, token="acme-t0ken"), "DEMO", {})
        assert refused.value.status == 403


def test_a_route_other_than_the_hotline_crs_is_a_reprov_route_finding(oc: OcFtpClient, admin: SandboxAdmin,
                                                                     address: dict[str, Any]) -> None:
    oc.send("Cmd_Acces", [orders.cmd_acces(address, "HL-1", existing="", type_racco="OI")])  # reference unknown
    ar = oc.receive("AR_Cmd_Acces")
    admin.advance(working_days=1)
    cr = oc.receive("CR_Cmd_Acces")
    assert cr.line_for("HL-1")["Hotline"] == "O"
    route = route_of(cr, "HL-1")
    assert checked(admin, {"HL-1": status("confirmed", ar, "HL-1", route=route)}) == []

    findings = checked(admin, {"HL-1": status("confirmed", ar, "HL-1", route={**route, "NomModulePm1": "OLD"})})

    assert ids(findings) == ["ACCES-REPROV-ROUTE"]
