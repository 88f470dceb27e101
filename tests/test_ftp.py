"""FTP transport: each tenant in its own tree, only complete uploads processed, bad input refused."""

from __future__ import annotations

import contextlib
import ftplib
import io
import time

import pytest

from conformance.waiting import poll_until
from tests.helpers import NESTED, Api, cmd_acces, download, ftp_login, upload, wait_for_files

IN = "IN/COVA/CV"
OUT = "OUT/COVA/CV"


def test_tree_of_a_tenant_has_in_and_out_per_network(demo_ftp: ftplib.FTP):
    assert sorted(demo_ftp.nlst()) == ["IN", "OUT"]
    assert sorted(demo_ftp.nlst("IN")) == ["COVA", "COVB"]
    assert demo_ftp.nlst("IN/COVB") == ["CB"]
    assert sorted(demo_ftp.nlst("IN/COVA/CV")) == NESTED
    assert sorted(demo_ftp.nlst("OUT/COVB/CB")) == NESTED


def test_wrong_credentials_are_refused_and_journaled(opsim_sandbox, api: Api):
    with pytest.raises(ftplib.error_perm, match="530"):
        ftp_login(opsim_sandbox.ftp_address, "DEMO", "wrong")
    with pytest.raises(ftplib.error_perm, match="530"):
        ftp_login(opsim_sandbox.ftp_address, "NOBODY", "demo")
    opsim_sandbox.engine.idle()
    refused = [j for j in api.get("/journal") if j["outcome"] == "login refused"]
    assert len(refused) == 2


def test_a_second_tenant_cannot_see_read_or_write_demo_tree(opsim_sandbox, api: Api, demo_ftp, addresses,
                                                             order_file):
    name, content = order_file([cmd_acces(addresses[0], "ISO1")])
    upload(demo_ftp, IN, name, content)
    assert wait_for_files(demo_ftp, OUT)
    api.post("/tenants", {"code": "ACME", "password": "s3cret"})
    other = ftp_login(opsim_sandbox.ftp_address, "ACME", "s3cret")
    assert other.pwd() == "/"
    assert wait_for_files(other, OUT, timeout=0) == []  # its own OUT is empty
    for path in ("/../DEMO/OUT/COVA/CV", "../DEMO", "/DEMO", "../../ftp/DEMO/OUT/COVA/CV"):
        listing = []
        try:
            other.retrlines(f"LIST {path}", listing.append)
        except ftplib.error_perm:
            continue
        assert not any(name in line for line in listing), f"{path} showed DEMO's file"
    for path in (f"../DEMO/{OUT}/anything.csv", f"/../DEMO/{OUT}/x"):
        with pytest.raises(ftplib.error_perm):
            download(other, path)
        with pytest.raises(ftplib.error_perm):
            upload(other, "..", "DEMO/IN/COVA/CV/x.csv", b"x")
    with pytest.raises(ftplib.error_perm):
        other.delete(f"../DEMO/{OUT}/{wait_for_files(demo_ftp, OUT)[0]}")
    assert wait_for_files(demo_ftp, OUT)  # still there for DEMO
    other.close()


@pytest.mark.parametrize("command", ["MKD IN/COVA/CV/sub", "MKD OUT/new", "RMD IN/COVA", "DELE IN"])
def test_tree_cannot_be_reshaped(demo_ftp: ftplib.FTP, command: str):
    with pytest.raises(ftplib.error_perm):
        demo_ftp.sendcmd(command)


def test_uploads_outside_the_in_leaves_are_refused(demo_ftp: ftplib.FTP):
    for folder in ("", "IN", "IN/COVA", OUT):
        with pytest.raises(ftplib.error_perm, match="550"):
            upload(demo_ftp, folder or ".", "x.csv", b"data")


def test_an_aborted_upload_is_journaled_and_ignored(opsim_sandbox, api: Api, addresses, order_file):
    """ABOR during a STOR: the partial file is dropped and journaled, nothing is answered."""
    name, content = order_file([cmd_acces(a, f"ABORT{i}") for i, a in enumerate(addresses * 50)])
    ftp = ftp_login(opsim_sandbox.ftp_address)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd(f"STOR {IN}/{name}")
    conn.sendall(content[: len(content) // 2])
    time.sleep(0.1)  # let the server receive the first half
    ftp.putcmd("ABOR")
    conn.close()
    with contextlib.suppress(ftplib.all_errors):
        ftp.voidresp()
        ftp.voidresp()
    ftp.close()
    journal: list = []

    def aborted() -> bool:
        opsim_sandbox.engine.idle()
        journal[:] = api.get("/journal")
        return any(j["outcome"] == "upload aborted" for j in journal)

    poll_until(aborted, 5)
    assert any(j["outcome"] == "upload aborted" and j["filename"] == name for j in journal), journal
    check = ftp_login(opsim_sandbox.ftp_address)
    assert wait_for_files(check, OUT, timeout=0.3) == []
    assert [n for n in check.nlst(IN) if n.endswith(".csv")] == []
    assert api.get("/orders?tenant=DEMO") == []
    assert list(opsim_sandbox.mailboxes.spool.iterdir()) == []


def test_a_tmp_upload_waits_for_its_rename(demo_ftp: ftplib.FTP, addresses, order_file, opsim_sandbox):
    name, content = order_file([cmd_acces(addresses[0], "TMP1")])
    upload(demo_ftp, IN, name + ".tmp", content)
    opsim_sandbox.engine.idle()
    assert wait_for_files(demo_ftp, OUT, timeout=0.2) == []
    demo_ftp.rename(f"{IN}/{name}.tmp", f"{IN}/{name}")
    assert len(wait_for_files(demo_ftp, OUT)) == 1


def test_in_file_is_removed_once_read_and_out_is_deleted_by_the_oc(demo_ftp, addresses, order_file):
    name, content = order_file([cmd_acces(addresses[0], "DEL1")])
    upload(demo_ftp, IN, name, content)
    [ar] = wait_for_files(demo_ftp, OUT)
    assert [n for n in demo_ftp.nlst(IN) if n.endswith(".csv")] == []
    demo_ftp.delete(f"{OUT}/{ar}")
    assert wait_for_files(demo_ftp, OUT, timeout=0) == []


def test_garbage_gets_one_ko_line_and_the_server_keeps_serving(demo_ftp, order_file, addresses):
    upload(demo_ftp, IN, "COVA_DEMO_CMD_ACCES_V12_20261124_9.csv", bytes(range(256)) * 40)
    upload(demo_ftp, IN, "hello.csv", b"not a protocol file")
    files = wait_for_files(demo_ftp, OUT, count=2)
    bodies = [download(demo_ftp, f"{OUT}/{f}").decode("iso-8859-1") for f in files]
    assert all(body.count("\r\n") == 2 and ";KO;FIMP16;" in body for body in bodies)
    name, content = order_file([cmd_acces(addresses[0], "AFTER1")])
    upload(demo_ftp, IN, name, content)
    assert len(wait_for_files(demo_ftp, OUT, count=3)) == 3


def test_file_sent_for_another_oc_or_network_is_refused(demo_ftp, order_file, addresses):
    name, content = order_file([cmd_acces(addresses[0], "OTHER1")], oc="ACME")
    upload(demo_ftp, IN, name, content)
    name2, content2 = order_file([cmd_acces(addresses[0], "OTHER2")], oi="COVB")
    upload(demo_ftp, IN, name2, content2)
    files = wait_for_files(demo_ftp, OUT, count=2)
    text = "".join(download(demo_ftp, f"{OUT}/{f}").decode("iso-8859-1") for f in files)
    assert "says OC ACME" in text and "says OI COVB" in text
    assert text.count(";KO;FIMP16;") == 2


def test_listing_during_upload_never_shows_a_partial_file(opsim_sandbox, addresses, order_file):
    """Uploads go to a spool: IN shows a file only once it is complete (then it is processed)."""
    name, content = order_file([cmd_acces(a, f"BIG{i}") for i, a in enumerate(addresses * 100)])
    ftp = ftp_login(opsim_sandbox.ftp_address)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd(f"STOR {IN}/{name}")
    conn.sendall(content[:1000])
    watcher = ftp_login(opsim_sandbox.ftp_address)
    assert [n for n in watcher.nlst(IN) if n.endswith(".csv")] == []
    conn.sendall(content[1000:])
    conn.close()
    ftp.voidresp()
    [ar] = wait_for_files(watcher, OUT, timeout=10)
    body = download(watcher, f"{OUT}/{ar}").decode("iso-8859-1")
    assert body.count(";OK;") == len(addresses) * 100
    ftp.close()
    watcher.close()


def test_big_answer_is_never_seen_half_written(opsim_sandbox, addresses, order_file):
    name, content = order_file([cmd_acces(a, f"ATOM{i}") for i, a in enumerate(addresses * 100)])
    ftp = ftp_login(opsim_sandbox.ftp_address)
    ftp.storbinary(f"STOR {IN}/{name}", io.BytesIO(content))
    while not (files := wait_for_files(ftp, OUT, timeout=0)):
        pass
    body = download(ftp, f"{OUT}/{files[0]}")
    assert body.count(b"\r\n") == len(addresses) * 100 + 1
    ftp.close()


def test_passive_range_and_masquerade_address_reach_pasv_replies(opsim_config):
    from simulator.sandbox import Sandbox

    opsim_config.ftp_passive_ports = "30100-30104"
    opsim_config.ftp_masquerade_address = "127.0.0.2"
    with Sandbox(opsim_config) as box:
        ftp = ftp_login(box.ftp_address)
        reply = ftp.sendcmd("PASV")  # 227 Entering passive mode (h1,h2,h3,h4,p1,p2).
        numbers = [int(n) for n in reply[reply.index("(") + 1:reply.index(")")].split(",")]
        assert numbers[:4] == [127, 0, 0, 2]
        assert 30100 <= numbers[4] * 256 + numbers[5] <= 30104
        ftp.close()
