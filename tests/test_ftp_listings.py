"""Listings of a folder a session has just listed wait for the folder to change (or for the listing
interval to end), and are then read fresh: a poller in a tight loop costs one listing per change, and
still sees every answer as soon as it is delivered."""

from __future__ import annotations

import ftplib
import socket

from tests.ftp_helpers import IN, OUT, connect
from tests.helpers import NESTED, cmd_acces, upload

#: NLST of an empty OUT (or IN): its nested folders, as the server writes them.
LISTED = "".join(f"{name}\r\n" for name in NESTED).encode()


def listing_interval(box, seconds: float) -> None:  # noqa: ANN001 - the sandbox
    for transport in box.ftp.values():
        transport.server.handler.listing_interval = seconds


def test_a_listing_held_for_an_answer_is_released_by_its_delivery(opsim_sandbox, addresses, order_file):
    # Longer than the client's timeout (10 s): only the delivery can release the second listing in time.
    listing_interval(opsim_sandbox, 60)
    ftp = connect(opsim_sandbox.ftp_address[1])
    assert [n for n in ftp.nlst(OUT) if n.endswith(".csv")] == []
    name, content = order_file([cmd_acces(addresses[0], "HELD1")])
    upload(ftp, IN, name, content)
    answers = [n for n in ftp.nlst(OUT) if n.endswith(".csv")]
    assert len(answers) == 1
    ftp.quit()


def test_a_held_listing_is_read_when_it_is_released(opsim_sandbox):
    # A file put in OUT behind opsim's back (by hand) is not a change opsim knows of: the held listing is
    # released by the end of its interval, and shows the folder as it is then.
    listing_interval(opsim_sandbox, 0.5)
    ftp = connect(opsim_sandbox.ftp_address[1])
    assert sorted(ftp.nlst(OUT)) == NESTED
    (opsim_sandbox.mailboxes.home("DEMO") / OUT / "by-hand.csv").write_bytes(b"x")
    assert sorted(ftp.nlst(OUT)) == sorted([*NESTED, "by-hand.csv"])
    ftp.quit()


def test_each_session_and_each_folder_has_its_own_interval(opsim_sandbox):
    listing_interval(opsim_sandbox, 60)
    first, second = connect(opsim_sandbox.ftp_address[1]), connect(opsim_sandbox.ftp_address[1])
    assert sorted(first.nlst(OUT)) == NESTED
    assert sorted(first.nlst(IN)) == NESTED  # another folder: not held
    assert sorted(second.nlst(OUT)) == NESTED  # another session: not held
    assert sorted(second.nlst(IN)) == NESTED
    upload(first, IN, "wait.tmp", b"x")
    assert sorted(second.nlst(IN)) == sorted([*NESTED, "wait.tmp"])  # news to the other session: listed at once
    first.delete(f"{IN}/wait.tmp")
    assert sorted(second.nlst(IN)) == NESTED
    first.quit()
    second.quit()


def test_a_sessions_own_change_is_no_news_to_it_but_its_listing_shows_it(opsim_sandbox):
    listing_interval(opsim_sandbox, 0.5)
    ftp = connect(opsim_sandbox.ftp_address[1])
    assert sorted(ftp.nlst(IN)) == NESTED
    upload(ftp, IN, "wait.tmp", b"x")
    assert sorted(ftp.nlst(IN)) == sorted([*NESTED, "wait.tmp"])  # held to the interval's end, then read
    ftp.delete(f"{IN}/wait.tmp")
    assert sorted(ftp.nlst(IN)) == NESTED
    ftp.quit()


def listed_once(opsim_sandbox) -> tuple[ftplib.FTP, tuple[str, int]]:  # noqa: ANN001 - the sandbox
    """A session that has just listed OUT (so its next listing of it is held) and a passive address open."""
    listing_interval(opsim_sandbox, 60)
    ftp = connect(opsim_sandbox.ftp_address[1])
    assert sorted(ftp.nlst(OUT)) == NESTED
    ftp.voidcmd("TYPE A")
    return ftp, ftp.makepasv()


def test_a_quit_behind_a_held_listing_ends_the_session(opsim_sandbox):
    ftp, address = listed_once(opsim_sandbox)
    with socket.create_connection(address, timeout=10) as data:
        ftp.sock.sendall(f"NLST {OUT}\r\n".encode())
        ftp.sock.sendall(b"QUIT\r\n")  # sent apart: the listing is held when it comes
        replies = []
        while line := ftp.file.readline():
            replies.append(line[:3])
        assert data.recv(4096) in (LISTED, b"")
    assert "221" in replies


def test_a_command_pipelined_behind_a_held_listing_releases_it(opsim_sandbox):
    ftp, address = listed_once(opsim_sandbox)
    with socket.create_connection(address, timeout=10) as data:
        ftp.sock.sendall(f"NLST {OUT}\r\nNOOP\r\n".encode())
        assert ftp.getresp().startswith(("125", "150"))
        listing = b""
        while chunk := data.recv(4096):
            listing += chunk
    assert listing == LISTED
    # The NOOP is answered while the transfer ends (pyftpdlib's 226 comes when the data channel closes).
    assert sorted(ftp.getresp()[:3] for _ in range(2)) == ["200", "226"]
    ftp.quit()
