"""Hostile and odd files through a real FTP client: each gets one protocol answer saying why, the server
stays up, and another tenant's valid order is answered meanwhile (Annexe 5f issue, scope 5)."""

from __future__ import annotations

import ftplib
import io
import secrets
import threading
import time
from collections.abc import Iterator

import pytest

from simulator.specs.codec import load_pack
from tests.helpers import Api, cmd_acces, download, ftp_login, upload, wait_for_files

IN, OUT = "IN/COVA/CV", "OUT/COVA/CV"
PACK = load_pack("acces-1.2")
ORDERS = PACK.flow("Cmd_Acces")
HEADER = ";".join(ORDERS.column_names).encode("iso-8859-1") + b"\r\n"


@pytest.fixture
def new_tenant(api: Api, opsim_sandbox) -> Iterator[ftplib.FTP]:
    """A tenant of its own, logged in over FTP: its OUT holds only this test's answers."""
    code = "H" + secrets.token_hex(3).upper()
    api.post("/tenants", {"code": code, "password": "pw"})
    ftp = ftp_login(opsim_sandbox.ftp_address, code, "pw")
    ftp.tenant = code  # type: ignore[attr-defined]
    yield ftp
    ftp.close()


def name_for(tenant: str, seq: int = 1) -> str:
    return PACK.render_filename(ORDERS, "COVA", tenant, "20261124", seq)


def only_answer(ftp: ftplib.FTP, timeout: float = 10) -> dict[str, str]:
    [name] = wait_for_files(ftp, OUT, timeout=timeout)
    parsed = PACK.flow("AR_Cmd_Acces").parse(download(ftp, f"{OUT}/{name}"))
    [line] = parsed.records
    return dict(line.values)


def valid_order(orderable: list, ref: str) -> bytes:
    return ORDERS.write([cmd_acces(orderable[3], ref)])


@pytest.mark.parametrize(("content", "why"), [
    (b"\x00\x01\x02\xff\xfe binary \x89PNG\r\n\x1a\n" * 50, "binary content"),
    (HEADER + b"REF1;Paris\x00;75056\r\n", ""),
    (HEADER + b'REF1;"Paris;75056;unbalanced\r\n', ""),
    (HEADER + b"A" * 2_000_000 + b"\r\n", ""),
    (b"\xef\xbb\xbf" + b"\r\n" * 10, "header"),
], ids=["garbage", "nul-byte", "unbalanced-quote", "two-megabyte-line", "bom-and-blank-lines"])
def test_an_odd_file_gets_one_ko_answer_and_the_server_goes_on(new_tenant: ftplib.FTP, content: bytes, why: str,
                                                                orderable, api: Api):
    tenant = new_tenant.tenant  # type: ignore[attr-defined]
    upload(new_tenant, IN, name_for(tenant), content)
    line = only_answer(new_tenant)
    assert line["EtatArCommandePrise"] == "KO" and line["MotifKoArCommandePrise"] in PACK.rejects, line
    assert why in line["Commentaire"].lower(), line
    new_tenant.delete(f"{OUT}/{wait_for_files(new_tenant, OUT)[0]}")
    upload(new_tenant, IN, name_for(tenant, 2), valid_order(orderable, "AFTER1"))  # the server is still up
    assert only_answer(new_tenant)["EtatArCommandePrise"] == "OK"
    journal = [j for j in api.get(f"/journal?tenant={tenant}") if j["direction"] == "in"]
    explained = [(j["outcome"], j["detail"]) for j in journal]
    assert explained and all(detail or outcome.endswith("OK, 0 KO") for outcome, detail in explained), explained


class Slow(io.RawIOBase):
    """100 MB of order lines, read in 1 MB chunks with a pause: a long upload to do other things during."""

    def __init__(self, size: int):
        self.left = size
        self.chunk = (b"X" * 1023 + b"\n") * 1024
        self.first = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - memoryview
        if self.left <= 0:
            return 0
        data = HEADER if self.first else self.chunk[:min(len(buffer), self.left)]
        self.first = False
        buffer[:len(data)] = data
        self.left -= len(data)
        time.sleep(0.01)
        return len(data)


def test_a_100_mb_file_is_answered_unread_while_another_tenants_order_is_answered(
        new_tenant: ftplib.FTP, opsim_sandbox, orderable, api: Api):
    big_tenant = new_tenant.tenant  # type: ignore[attr-defined]
    size = 100 * 1024 * 1024
    done = threading.Event()

    def send_big() -> None:
        with ftp_login(opsim_sandbox.ftp_address, big_tenant, "pw") as ftp:
            ftp.storbinary(f"STOR {IN}/{name_for(big_tenant)}", io.BufferedReader(Slow(size), 1024 * 1024),
                           blocksize=1024 * 1024)
        done.set()

    sender = threading.Thread(target=send_big)
    sender.start()
    try:
        other = "O" + secrets.token_hex(3).upper()
        api.post("/tenants", {"code": other, "password": "pw"})
        with ftp_login(opsim_sandbox.ftp_address, other, "pw") as ftp:
            upload(ftp, IN, name_for(other), valid_order(orderable, "NEIGHBOUR1"))
            answer = only_answer(ftp)
            # The neighbour's order is answered while the big upload is still going on.
            assert answer["EtatArCommandePrise"] == "OK" and not done.is_set()
    finally:
        sender.join(timeout=120)
    assert done.is_set()
    line = only_answer(new_tenant, timeout=30)
    assert (line["EtatArCommandePrise"], line["MotifKoArCommandePrise"]) == ("KO", "FIMP16")
    assert f"file of {size} bytes, over the limit of {32 * 1024 * 1024} bytes" in line["Commentaire"], line
    [received] = api.get(f"/inbound?tenant={big_tenant}")
    assert received["size"] == 0  # its bytes are not kept


def test_the_size_limit_is_configurable(tmp_path, orderable):
    from simulator.config import load_config
    from simulator.sandbox import Sandbox

    config_file = tmp_path / "opsim.toml"
    config_file.write_text("[sandbox]\nmax_file_bytes = 1000\nftp_port = 0\nhttp_port = 0\n"
                           '[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n', encoding="utf-8")
    config = load_config(config_file, data_dir=tmp_path / "data")
    with Sandbox(config) as box, ftp_login(box.ftp_address) as ftp:
        upload(ftp, IN, name_for("DEMO"), ORDERS.write([cmd_acces(orderable[3], f"R{n}") for n in range(10)]))
        line = only_answer(ftp)
        assert line["EtatArCommandePrise"] == "KO" and "over the limit of 1000 bytes" in line["Commentaire"]
