"""The reference OC client (conformance.client) against a real in-process sandbox, over real FTP."""

from __future__ import annotations

import ftplib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.waiting import poll_until, wait_until
from simulator.config import Config
from simulator.operators.covage.harness.client import AdminError, OcFtpClient, ReceiveTimeout, SandboxAdmin, orders

OUT = "/OUT/COVA/CV"


@pytest.fixture
def admin(opsim_sandbox: Any) -> SandboxAdmin:
    return SandboxAdmin(opsim_sandbox.http_url)


@pytest.fixture
def account(opsim_config: Config) -> tuple[str, str, str]:
    demo = next(t for t in opsim_config.all_tenants() if t.code == "DEMO")
    return demo.login, demo.password, demo.code


@pytest.fixture
def client(opsim_sandbox: Any, admin: SandboxAdmin, account: tuple[str, str, str]) -> Iterator[OcFtpClient]:
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, *account, today=admin.today) as oc:
        yield oc


@pytest.fixture
def address(admin: SandboxAdmin) -> dict[str, Any]:
    return admin.addresses("COVA", limit=1)[0]


def out_listing(opsim_sandbox: Any, account: tuple[str, str, str]) -> list[str]:
    """What OUT holds, seen from a second, independent FTP session."""
    ftp = ftplib.FTP()
    ftp.connect(*opsim_sandbox.ftp_address, timeout=5)
    try:
        ftp.login(account[0], account[1])
        return sorted(name for name, facts in ftp.mlsd(OUT, facts=["type"]) if facts["type"] == "file")
    finally:
        ftp.quit()


def test_send_and_receive_round_trip(client: OcFtpClient, address: dict[str, Any]) -> None:
    name = client.send("Cmd_Acces", [orders.cmd_acces(address, "RT-1"), orders.cmd_acces(address, "RT-2")])
    assert name == "COVA_DEMO_CMD_ACCES_V12_20261124_000001.csv"

    ar = client.receive("AR_Cmd_Acces", timeout=5)

    assert ar.name == "COVA_DEMO_ARCMD_ACCES_V12_20261124_000001.csv"
    assert ar.flow_name == "AR_Cmd_Acces"
    assert ar.problems == []
    assert [(r["ReferenceCommandePriseInterneOC"], r["EtatArCommandePrise"]) for r in ar.records] == [
        ("RT-1", "OK"), ("RT-2", "OK")]
    assert ar.line_for("RT-2")["ReferencePrestationPrise"].startswith("CVDEMO")
    assert ar.records[0]["DateArCommandePrise"] == "20261124100000"


def test_sequence_numbers_increase_per_flow(client: OcFtpClient) -> None:
    assert client.next_filename("Cmd_Acces").endswith("_20261124_000001.csv")
    assert client.next_filename("Cmd_Acces").endswith("_20261124_000002.csv")
    assert client.next_filename("Annul_Acces") == "COVA_DEMO_ANNUL_ACCES_V12_20261124_000001.csv"


def test_timeout_lists_what_was_there(client: OcFtpClient, address: dict[str, Any]) -> None:
    client.send("Cmd_Acces", [orders.cmd_acces(address, "TO-1")])
    started = time.monotonic()

    with pytest.raises(ReceiveTimeout) as raised:
        client.receive("CR_Cmd_Acces", timeout=0.5)  # the CR comes after 1 working day: not on a frozen clock

    assert 0.5 <= time.monotonic() - started < 3
    message = str(raised.value)
    assert "no CR_Cmd_Acces file in /OUT/COVA/CV after 0.5 s" in message
    assert "COVA_DEMO_ARCMD_ACCES_V12_20261124_000001.csv (AR_Cmd_Acces)" in message
    # Nothing is lost: the AR seen while waiting is still there for whoever asks for it.
    assert client.receive("AR_Cmd_Acces", timeout=0).single()["ReferenceCommandePriseInterneOC"] == "TO-1"


def test_timeout_on_an_empty_out_says_so(client: OcFtpClient) -> None:
    with pytest.raises(ReceiveTimeout, match="received and not yet read: nothing at all"):
        client.receive("AR_Cmd_Acces", timeout=0.2)


def test_the_client_deletes_what_it_read(client: OcFtpClient, address: dict[str, Any], opsim_sandbox: Any,
                                         account: tuple[str, str, str]) -> None:
    client.send("Cmd_Acces", [orders.cmd_acces(address, "DEL-1")])
    client.receive("AR_Cmd_Acces")

    assert out_listing(opsim_sandbox, account) == []


def test_files_of_other_flows_wait_in_the_inbox(client: OcFtpClient, admin: SandboxAdmin,
                                                address: dict[str, Any]) -> None:
    client.send("Cmd_Acces", [orders.cmd_acces(address, "INB-1", type_racco="STOC")])
    client.receive("AR_Cmd_Acces")
    admin.advance(working_days=1)  # the CR, then the Cmd_STOC, land in OUT together

    stoc = client.receive("Cmd_STOC")  # picks both up, hands out the Cmd_STOC...

    assert [f.flow_name for f in client.inbox] == ["CR_Cmd_Acces"]  # ...and keeps the CR
    cr = client.receive("CR_Cmd_Acces", timeout=0)
    assert cr.single()["ReferencePrise"] == stoc.single()["ReferencePrise"]
    assert client.inbox == ()


def test_receive_all_drains_everything(client: OcFtpClient, address: dict[str, Any]) -> None:
    assert client.receive_all() == []
    client.send("Cmd_Acces", [orders.cmd_acces(address, "ALL-1")])
    client.send("Annul_Acces", [orders.annul_acces("ALL-UNKNOWN")])

    files = client.receive_all(timeout=5)
    # The two answers may come milliseconds apart.
    poll_until(lambda: len(files) >= 2 or files.extend(client.receive_all(timeout=0.1)), 5, every=0)

    assert sorted(f.flow_name or "" for f in files) == ["AR_Cmd_Acces", "CR_Annulation_Acces"]
    assert client.inbox == ()


def test_receive_can_wait_for_a_given_order(client: OcFtpClient, address: dict[str, Any]) -> None:
    client.send("Cmd_Acces", [orders.cmd_acces(address, "W-1")])
    client.send("Cmd_Acces", [orders.cmd_acces(address, "W-2")])

    second = client.receive("AR_Cmd_Acces", where=lambda f: f.records[0]["ReferenceCommandePriseInterneOC"] == "W-2")

    assert second.single()["EtatArCommandePrise"] == "OK"
    assert client.receive("AR_Cmd_Acces").single()["ReferenceCommandePriseInterneOC"] == "W-1"


def test_tmp_then_rename_upload_is_processed(client: OcFtpClient, address: dict[str, Any]) -> None:
    name = client.send("Cmd_Acces", [orders.cmd_acces(address, "TMP-1")], via_tmp=True)

    ar = client.receive("AR_Cmd_Acces")

    assert ar.single()["ReferenceCommandePriseInterneOC"] == "TMP-1"
    assert ar.single()["EtatArCommandePrise"] == "OK"
    assert name not in client.session.list_files(client.in_folder)


def test_a_tmp_file_waits_until_renamed(client: OcFtpClient, admin: SandboxAdmin, address: dict[str, Any]) -> None:
    name = client.next_filename("Cmd_Acces")
    client.session.upload(f"{client.in_folder}/{name}.tmp", client.flow("Cmd_Acces").write(
        [orders.cmd_acces(address, "TMP-2")]))
    # The server journals the .tmp as waiting: once that is there, the upload is fully handled.
    wait_until(lambda: any(j["filename"] == f"{name}.tmp" and j["outcome"] == "waiting"
                           for j in admin.get("/journal", tenant="DEMO")), 5, "the .tmp upload journaled", 0.02)
    assert client.poll() == [], "a .tmp file must not be processed"

    client.session.rename(f"{client.in_folder}/{name}.tmp", f"{client.in_folder}/{name}")

    assert client.receive("AR_Cmd_Acces").single()["ReferenceCommandePriseInterneOC"] == "TMP-2"


def test_wait_consumed_for_a_flow_without_answer(client: OcFtpClient, admin: SandboxAdmin,
                                                 address: dict[str, Any]) -> None:
    client.send("Cmd_Acces", [orders.cmd_acces(address, "MES-1", type_racco="OI")])
    client.receive("AR_Cmd_Acces")
    admin.advance(working_days=6)  # CR after 1 working day, CR MAD 5 working days later (OI mode)
    client.receive("CR_Cmd_Acces")
    cr_mad = client.receive("CR_MAD_Ligne").single()

    name = client.send("CR_MES_Ligne", [orders.cr_mes(cr_mad, date="20261202")])
    client.wait_consumed(name)

    assert admin.order("MES-1", "DEMO")["state"] == "MES"


def test_flow_names_are_checked_at_once(client: OcFtpClient) -> None:
    with pytest.raises(ValueError, match="no flow 'AR_CMD' in spec pack acces-1.2"):
        client.receive("AR_CMD", timeout=5)
    with pytest.raises(ValueError, match="from the OI to the OC"):
        client.send("AR_Cmd_Acces", [{}])


def test_the_session_is_reopened_after_a_drop(client: OcFtpClient, address: dict[str, Any]) -> None:
    client.session.close()  # as after an idle timeout

    client.send("Cmd_Acces", [orders.cmd_acces(address, "RE-1")])

    assert client.receive("AR_Cmd_Acces").single()["EtatArCommandePrise"] == "OK"


def test_wrong_password_is_refused(opsim_sandbox: Any) -> None:
    host, port = opsim_sandbox.ftp_address
    with pytest.raises(ftplib.error_perm, match="530"), OcFtpClient(host, port, "DEMO", "wrong", "DEMO"):
        pass


def test_admin_errors_carry_the_api_detail(admin: SandboxAdmin) -> None:
    with pytest.raises(AdminError) as raised:
        admin.order("NOPE", "DEMO")
    assert raised.value.status == 404
    assert raised.value.detail == "no order NOPE for DEMO"
