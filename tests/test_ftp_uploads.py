"""Uploads are whole or nothing, whatever the command: STOR, APPE, STOU and REST+STOR all go through
the spool and reach IN only once complete.

The kill tests run the real `opsim up`, cut it with SIGKILL in the middle of a transfer (the client never
got a 226), restart it on the same data dir and prove nothing of the partial upload was processed and
the spool is empty.
"""

from __future__ import annotations

import ftplib
import io
import time

import pytest

from tests.ftp_helpers import IN, OUT, big_order_file, connect, flow_of, order_file, wait_until
from tests.helpers import NESTED, OpsimProcess, download, ftp_login, upload, wait_for_files


def spool_files(process: OpsimProcess) -> list[str]:
    return sorted(p.name for p in (process.data_dir / "spool" / "covage").iterdir())


def in_files(process: OpsimProcess) -> dict[str, bytes]:
    folder = process.data_dir / "ftp" / "covage" / "DEMO" / IN
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def settle(process: OpsimProcess, seq: int) -> list[str]:
    """Drop a sentinel order and wait for its AR: the engine handles its queue in order, so whatever
    the restart queued (files found in IN) was processed by then. The AR names seen in OUT."""
    name, content = order_file(process.api, f"SENTINEL{seq}", seq)
    ftp = ftp_login(("127.0.0.1", process.ftp_port))
    upload(ftp, IN, name, content)

    def sentinel_answered() -> list[str]:
        names = [n for n in ftp.nlst(OUT) if flow_of(n) == "AR_Cmd_Acces"]
        bodies = [download(ftp, f"{OUT}/{n}") for n in names]
        return names if any(f"SENTINEL{seq}".encode() in b for b in bodies) else []

    names = wait_until(sentinel_answered, what="the sentinel's AR")
    ftp.close()
    return names


@pytest.mark.parametrize("command", ["STOR", "APPE", "STOU", "REST+STOR"])
def test_kill_9_during_an_upload_processes_nothing_of_it(opsim_process: OpsimProcess, command: str):
    api = opsim_process.api
    name, content = big_order_file(api, "PART", 3000, 1)
    half = len(content) // 2
    ftp = connect(opsim_process.ftp_port)
    target = name
    if command == "REST+STOR":
        # A resumable upload: a staging name (not .csv) holds the first half, complete; the rest is
        # sent with REST + STOR and cut.
        target = name + ".part1"
        ftp.storbinary(f"STOR {IN}/{target}", io.BytesIO(content[:half]))
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd(f"STOR {IN}/{target}", rest=half)
    elif command == "STOU":
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd(f"STOU {IN}/{name}")
    else:
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd(f"{command} {IN}/{name}")
    before = in_files(opsim_process)
    conn.sendall(content[half:] if command == "REST+STOR" else content[:half])
    # The server has the bytes in its spool, and IN shows nothing new.
    wait_until(lambda: any(f.endswith(".part") and (opsim_process.data_dir / "spool" / "covage" / f).stat().st_size > 0
                           for f in spool_files(opsim_process)), what="the upload in the spool")
    time.sleep(0.2)
    assert in_files(opsim_process) == before
    opsim_process.kill9()  # mid-transfer: the client never got a 226
    conn.close()
    ftp.close()

    opsim_process.start()
    ars = settle(opsim_process, 2)
    # Nothing of the partial upload was processed: one AR (the sentinel's), one order, no PART order.
    assert len(ars) == 1
    orders = opsim_process.api.get("/orders?tenant=DEMO&limit=10000")
    assert [o["ReferenceCommandePriseInterneOC"] for o in orders] == ["SENTINEL2"]
    journal = opsim_process.api.get("/journal?tenant=DEMO&limit=1000")
    assert not any("PART" in (j["detail"] or "") for j in journal)
    assert any(j["outcome"] == "upload aborted" and "server stop" in j["detail"] for j in journal), journal
    assert spool_files(opsim_process) == []
    if command == "REST+STOR":  # the staging file is as it was before the resumed upload: complete, untouched
        assert in_files(opsim_process) == {target: content[:half]}
    else:
        assert in_files(opsim_process) == {}


# ---------------------------------------------------------------------- the commands, completed
def test_appe_and_rest_build_the_whole_file_in_the_spool_then_it_is_processed_once_renamed(
        opsim_sandbox, demo_ftp: ftplib.FTP, api):
    name, content = big_order_file(api, "RES", 300, 1)
    third = len(content) // 3
    staging = f"{IN}/{name}.tmp"
    demo_ftp.storbinary(f"STOR {staging}", io.BytesIO(content[:third]))
    demo_ftp.storbinary(f"APPE {staging}", io.BytesIO(content[third:2 * third]))
    assert demo_ftp.size(staging) == 2 * third
    # REST + STOR rewrites from the offset on (here: resends the last third from 2*third).
    demo_ftp.storbinary(f"STOR {staging}", io.BytesIO(content[2 * third:]), rest=2 * third)
    assert demo_ftp.size(staging) == len(content)
    assert download(demo_ftp, staging) == content
    assert list(opsim_sandbox.mailboxes.spool.iterdir()) == []
    demo_ftp.rename(staging, f"{IN}/{name}")
    [ar] = wait_for_files(demo_ftp, OUT)
    assert download(demo_ftp, f"{OUT}/{ar}").count(b";OK;") == 300


def test_appe_to_a_new_csv_is_a_whole_upload(demo_ftp: ftplib.FTP, order_file, addresses):
    from tests.helpers import cmd_acces

    name, content = order_file([cmd_acces(addresses[0], "APPE1")])
    demo_ftp.storbinary(f"APPE {IN}/{name}", io.BytesIO(content))
    [ar] = wait_for_files(demo_ftp, OUT)
    assert b"APPE1" in download(demo_ftp, f"{OUT}/{ar}")


def test_stou_gets_a_unique_name_in_in_and_waits_for_a_rename(opsim_sandbox):
    demo_ftp = connect(opsim_sandbox.ftp_address[1])
    demo_ftp.cwd(IN)
    demo_ftp.storbinary("STOU", io.BytesIO(b"hello"))
    [announced] = [r[4:] for r in demo_ftp.replies if r[:10] in ("125 FILE: ", "150 FILE: ")]
    names = [n for n in demo_ftp.nlst() if n not in NESTED]
    assert len(names) == 1 and names[0].startswith("ftpd.") and announced == f"FILE: {names[0]}"
    demo_ftp.storbinary(f"STOU /{IN}/orders.csv", io.BytesIO(b"again"))  # a prefix: orders.csv.<unique>
    assert len([n for n in demo_ftp.nlst() if n.startswith("orders.csv.")]) == 1
    assert download(demo_ftp, names[0]) == b"hello"
    with pytest.raises(ftplib.error_temp, match="450"):  # STOU after REST makes no sense
        demo_ftp.sendcmd("REST 3")
        demo_ftp.sendcmd("STOU")
    assert list(opsim_sandbox.mailboxes.spool.iterdir()) == []


def test_appe_or_rest_on_a_csv_already_received_is_refused(opsim_sandbox, demo_ftp: ftplib.FTP):
    # A .csv in IN is a document handed to the engine: appending to it would process it twice. The
    # engine removes such files within milliseconds, so this one is put on disk directly, as a file
    # waiting from before a stop would be, and the engine never gets it.
    path = opsim_sandbox.mailboxes.home("DEMO") / IN / "COVA_DEMO_CMD_ACCES_V12_20261124_77.csv"
    path.write_bytes(b"x;y\r\n")  # not through FTP: never submitted to the engine
    try:
        for command, rest in (("APPE", None), ("STOR", 2)):
            with pytest.raises(ftplib.error_perm, match="550 This .csv file was already received"):
                demo_ftp.storbinary(f"{command} {IN}/{path.name}", io.BytesIO(b"more"), rest=rest)
        assert path.read_bytes() == b"x;y\r\n"
        assert list(opsim_sandbox.mailboxes.spool.iterdir()) == []
        demo_ftp.voidcmd("NOOP")
    finally:
        path.unlink(missing_ok=True)


def test_rest_beyond_the_end_or_on_a_missing_file_is_refused(opsim_sandbox, demo_ftp: ftplib.FTP):
    demo_ftp.storbinary(f"STOR {IN}/a.tmp", io.BytesIO(b"12345"))
    with pytest.raises(ftplib.error_perm, match="554"):
        demo_ftp.storbinary(f"STOR {IN}/a.tmp", io.BytesIO(b"x"), rest=9)
    with pytest.raises(ftplib.error_perm, match="550 No such file to resume"):
        demo_ftp.storbinary(f"STOR {IN}/missing.tmp", io.BytesIO(b"x"), rest=2)
    assert download(demo_ftp, f"{IN}/a.tmp") == b"12345"
    assert list(opsim_sandbox.mailboxes.spool.iterdir()) == []
