"""Real FTP clients (curl, ftplib with cwd(), lftp) drive an order's life against `opsim up` started with
a RELATIVE data dir: CWD, CDUP, PWD, relative and absolute paths, listings in and out of folders, and no
reply ever shows a server-side path.

curl and lftp must be installed (Debian: `apt-get install -y curl lftp`): these tests fail without them.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ftp_helpers import IN, OUT, OpsimAt, connect, flow_of, order_file, refs_in, wait_until
from tests.helpers import NESTED


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: these tests need it (Debian: apt-get install -y {name})"
    return path


@pytest.fixture
def relative_opsim(tmp_path: Path):
    """`opsim up --data-dir .opsim` run from tmp_path/work (a relative data dir)."""
    process = OpsimAt(tmp_path / "work", Path(".opsim"))
    process.start()
    yield process
    process.stop()


def leaks(replies: list[str], process: OpsimAt) -> list[str]:
    """Reply lines that show something of the server's file system."""
    marks = [str(process.data_path), str(process.cwd), ".opsim", "/ftp/", "spool"]
    return [r for r in replies if any(m in r for m in marks)]


def answers(names: list[str], flow: str) -> list[str]:
    return sorted(n.rsplit("/", 1)[-1] for n in names if flow_of(n) == flow)


# ---------------------------------------------------------------------- curl
def curl(*args: str, cwd: Path) -> tuple[str, str]:
    """Run curl (verbose: the server's replies are on stderr as '< ' lines); (stdout, replies)."""
    done = subprocess.run([tool("curl"), "-sS", "-v", "--max-time", "20", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=30)
    replies = "\n".join(line for line in done.stderr.splitlines() if line.startswith("< "))
    assert done.returncode == 0, f"curl {' '.join(args)} failed ({done.returncode}): {done.stderr}"
    return done.stdout, replies


def test_curl_default_method_runs_an_order_life_with_a_relative_data_dir(relative_opsim: OpsimAt, tmp_path: Path):
    work = tmp_path / "client"
    work.mkdir()
    base = f"ftp://DEMO:demo@127.0.0.1:{relative_opsim.ftp_port}"
    api = relative_opsim.api
    name, content = order_file(api, "CURL0001", 1)
    (work / name).write_bytes(content)
    seen: list[str] = []

    # curl's default method (multicwd): CWD IN, CWD COVA, CWD CV, then STOR with the bare name.
    _, replies = curl("-T", name, f"{base}/{IN}/", cwd=work)
    seen.append(replies)
    assert '250 "/IN/COVA/CV" is the current directory.' in replies

    def listing() -> list[str]:
        out, replies = curl(f"{base}/{OUT}/", cwd=work)
        seen.append(replies)
        return [line.split()[-1] for line in out.splitlines() if line.strip()]

    [ar] = wait_until(lambda: answers(listing(), "AR_Cmd_Acces"), what="the AR in OUT")
    _, replies = curl("-o", "ar.csv", f"{base}/{OUT}/{ar}", cwd=work)
    seen.append(replies)
    assert refs_in((work / "ar.csv").read_bytes(), "AR_Cmd_Acces")["CURL0001"]["EtatArCommandePrise"] == "OK"
    _, replies = curl("-Q", f"DELE {OUT}/{ar}", f"{base}/{OUT}/", cwd=work)
    seen.append(replies)
    assert ar not in listing()

    api.post("/clock/advance", {"working_days": 1})
    [cr] = wait_until(lambda: answers(listing(), "CR_Cmd_Acces"), what="the CR in OUT")
    _, replies = curl("-o", "cr.csv", f"{base}/{OUT}/{cr}", cwd=work)
    seen.append(replies)
    assert "CURL0001" in refs_in((work / "cr.csv").read_bytes(), "CR_Cmd_Acces")
    _, replies = curl("-Q", f"DELE /{OUT}/{cr}", f"{base}/{OUT}/", cwd=work)
    seen.append(replies)
    assert cr not in listing()

    replies = "\n".join(seen).splitlines()
    assert leaks(replies, relative_opsim) == []
    assert "Traceback" not in relative_opsim.log_text()
    # The data dir is where it was asked to be, relative to the server's working directory.
    assert (relative_opsim.cwd / ".opsim" / "opsim.sqlite3").is_file()


# ---------------------------------------------------------------------- ftplib with cwd()
def test_ftplib_with_cwd_runs_an_order_life_with_a_relative_data_dir(relative_opsim: OpsimAt):
    api = relative_opsim.api
    name, content = order_file(api, "CWD00001", 1)
    ftp = connect(relative_opsim.ftp_port)
    assert ftp.pwd() == "/"
    ftp.cwd("IN")
    assert ftp.pwd() == "/IN"
    ftp.cwd("COVA/CV")  # relative, two levels
    assert ftp.pwd() == "/IN/COVA/CV"
    assert sorted(ftp.nlst()) == NESTED
    ftp.storbinary(f"STOR {name}", io.BytesIO(content))  # a bare name, in the current folder
    ftp.cwd("/")
    assert ftp.pwd() == "/"
    ftp.cwd(f"/{OUT}")  # absolute
    assert ftp.pwd() == "/OUT/COVA/CV"

    [ar] = wait_until(lambda: answers(ftp.nlst(), "AR_Cmd_Acces"), what="the AR in OUT")
    body = io.BytesIO()
    ftp.retrbinary(f"RETR {ar}", body.write)
    assert refs_in(body.getvalue(), "AR_Cmd_Acces")["CWD00001"]["EtatArCommandePrise"] == "OK"
    ftp.delete(ar)
    assert ar not in ftp.nlst()

    # Listings of other folders from here, relative and absolute, and MLSD.
    assert sorted(ftp.nlst("/IN")) == ["COVA", "COVB"]
    assert [n for n, _ in ftp.mlsd("../../../IN/COVB")] == ["CB"]
    lines: list[str] = []
    ftp.retrlines("LIST PM", lines.append)
    assert lines == []
    ftp.cwd("..")  # ftplib sends CDUP
    assert ftp.replies[-1] == '250 "/OUT/COVA" is the current directory.'
    assert ftp.pwd() == "/OUT/COVA"
    for _ in range(3):  # above the root stays at the root
        ftp.cwd("..")
    assert ftp.pwd() == "/"
    assert sorted(ftp.nlst()) == ["IN", "OUT"]
    assert sorted(n for n, facts in ftp.mlsd() if facts["type"] == "dir") == ["IN", "OUT"]

    api.post("/clock/advance", {"working_days": 1})
    ftp.cwd("OUT/COVA/CV")
    [cr] = wait_until(lambda: answers(ftp.nlst(), "CR_Cmd_Acces"), what="the CR in OUT")
    body = io.BytesIO()
    ftp.retrbinary(f"RETR {cr}", body.write)
    assert "CWD00001" in refs_in(body.getvalue(), "CR_Cmd_Acces")
    ftp.delete(f"/{OUT}/{cr}")

    # Folders that do not exist, and a file, cannot be entered; the session stays where it was.
    for bad in ("NOPE", "/IN/NOPE", "../../../../etc"):
        with pytest.raises(Exception, match="550"):
            ftp.cwd(bad)
    assert ftp.pwd() in ("/OUT/COVA/CV", "/")
    ftp.quit()
    assert leaks(ftp.replies, relative_opsim) == [], ftp.replies
    assert "Traceback" not in relative_opsim.log_text()


def test_default_data_dir_is_relative_to_the_working_directory_and_cwd_works(tmp_path: Path):
    """No --data-dir at all: the default .opsim, relative to where opsim runs."""
    process = OpsimAt(tmp_path / "here", data_dir=None)
    process.start()
    try:
        ftp = connect(process.ftp_port)
        ftp.cwd("OUT")
        ftp.cwd("COVA")
        ftp.cwd("CV")
        assert ftp.pwd() == "/OUT/COVA/CV"
        ftp.quit()
        assert leaks(ftp.replies, process) == []
        assert (tmp_path / "here" / ".opsim" / "opsim.sqlite3").is_file()
    finally:
        process.stop()


# ---------------------------------------------------------------------- lftp
LFTP_REPLIES: list[str] = []


def lftp(port: int, script: str, cwd: Path) -> str:
    """Run an lftp script; its stdout. The server's replies (lftp's debug '<--- ' lines) are kept."""
    done = subprocess.run([tool("lftp"), "-u", "DEMO,demo", "-p", str(port), "127.0.0.1", "-e",
                           "set cmd:fail-exit yes; set net:max-retries 1; set cache:enable no; debug 3; "
                           f"{script}; bye"],
                          cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"lftp {script!r} failed ({done.returncode}): {done.stdout}{done.stderr}"
    LFTP_REPLIES.extend(line for line in done.stderr.splitlines() if line.startswith("<--- "))
    return done.stdout


def test_lftp_runs_an_order_life_with_a_relative_data_dir(relative_opsim: OpsimAt, tmp_path: Path):
    work = tmp_path / "client"
    work.mkdir()
    api = relative_opsim.api
    port = relative_opsim.ftp_port
    LFTP_REPLIES.clear()
    name, content = order_file(api, "LFTP0001", 1)
    (work / name).write_bytes(content)

    out = lftp(port, f"cd IN/COVA/CV; pwd; put {name}; cd /{OUT}; pwd; cls", cwd=work)
    assert f"127.0.0.1:{port}/IN/COVA/CV" in out and f"127.0.0.1:{port}/OUT/COVA/CV" in out

    [ar] = wait_until(lambda: answers(lftp(port, f"cd /{OUT}; cls", cwd=work).split(), "AR_Cmd_Acces"),
                      what="the AR in OUT")
    lftp(port, f"cd IN; cd ../OUT/COVA; cd CV; get {ar} -o ar.csv; rm {ar}", cwd=work)
    assert refs_in((work / "ar.csv").read_bytes(), "AR_Cmd_Acces")["LFTP0001"]["EtatArCommandePrise"] == "OK"
    assert ar not in lftp(port, f"cls /{OUT}/", cwd=work)

    api.post("/clock/advance", {"working_days": 1})
    [cr] = wait_until(lambda: answers(lftp(port, f"cd /{OUT}; cls", cwd=work).split(), "CR_Cmd_Acces"),
                      what="the CR in OUT")
    lftp(port, f"cd {OUT}; get {cr} -o cr.csv; rm {cr}; cd ..; cd ..; cd ..; pwd", cwd=work)
    assert "LFTP0001" in refs_in((work / "cr.csv").read_bytes(), "CR_Cmd_Acces")
    listing = lftp(port, f"cd /{OUT}; cls", cwd=work)
    assert cr not in listing
    assert any('250 "/OUT/COVA/CV" is the current directory.' in r for r in LFTP_REPLIES), LFTP_REPLIES
    assert leaks(LFTP_REPLIES, relative_opsim) == []
    assert "Traceback" not in relative_opsim.log_text()
