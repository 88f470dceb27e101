"""Helpers of the FTP tests: `opsim up` started from a chosen working directory, a recording ftplib
client, order files and the OUT folder's answers by flow."""

from __future__ import annotations

import ftplib
from pathlib import Path

from conformance import waiting
from simulator.operators.covage.harness.client.orders import cmd_acces
from simulator.specs.codec import load_pack
from tests.helpers import Api, OpsimProcess

PACK = load_pack("acces-1.2")
IN = "IN/COVA/CV"
OUT = "OUT/COVA/CV"
FROZEN = '[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n'


class OpsimAt(OpsimProcess):
    """`opsim up` run from `cwd`, so that a relative --data-dir (the default .opsim) is relative to it.
    data_dir=None leaves the flag out: the default data dir is used."""

    def __init__(self, cwd: Path, data_dir: Path | None = Path(".opsim"), config: str = FROZEN):
        cwd.mkdir(parents=True, exist_ok=True)
        (cwd / "opsim.toml").write_text(config, encoding="utf-8")
        super().__init__(data_dir or Path(".opsim"), Path("opsim.toml"), cwd)
        self.explicit_data_dir = data_dir is not None

    def args(self) -> list[str]:
        args = super().args()
        if not self.explicit_data_dir:  # no --data-dir at all: the default one, relative to cwd
            i = args.index("--data-dir")
            del args[i:i + 2]
        return args

    @property
    def data_path(self) -> Path:
        return (self.cwd / self.data_dir).resolve()

    def log_text(self) -> str:
        """Everything the process printed so far (tracebacks would be there)."""
        return "".join(self.output)


class RecordingFTP(ftplib.FTP):
    """ftplib's client, remembering every reply line the server sent."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - ftplib.FTP's signature
        self.replies: list[str] = []
        super().__init__(*args, **kwargs)

    def getline(self) -> str:
        line = super().getline()
        self.replies.append(line)
        return line


def connect(port: int, login: str = "DEMO", password: str = "demo", timeout: float = 10) -> RecordingFTP:
    ftp = RecordingFTP()
    ftp.connect("127.0.0.1", port, timeout=timeout)
    ftp.login(login, password)
    return ftp


def order_file(api: Api, ref: str, seq: int, oc: str = "DEMO", address_index: int = 0) -> tuple[str, bytes]:
    """A one-order Cmd_Acces file (name, bytes) for `oc` on COVA."""
    address = api.get(f"/addresses?network=COVA&limit={address_index + 1}")[address_index]
    flow = PACK.flow("Cmd_Acces")
    return PACK.render_filename(flow, "COVA", oc, "20261124", seq), flow.write([cmd_acces(address, ref)])


def big_order_file(api: Api, prefix: str, count: int, seq: int) -> tuple[str, bytes]:
    addresses = api.get("/addresses?network=COVA&limit=40")
    flow = PACK.flow("Cmd_Acces")
    records = [cmd_acces(addresses[i % len(addresses)], f"{prefix}{i:06d}") for i in range(count)]
    return PACK.render_filename(flow, "COVA", "DEMO", "20261124", seq), flow.write(records)


def flow_of(name: str) -> str | None:
    parsed = PACK.parse_filename(name.rsplit("/", 1)[-1])
    return parsed.flow.name if parsed else None


def refs_in(content: bytes, flow: str) -> dict[str, dict[str, str]]:
    """The records of an answer file by order reference."""
    return {r["ReferenceCommandePriseInterneOC"]: r.values for r in PACK.flow(flow).parse(content).records}


def wait_until(predicate, timeout: float = 15, every: float = 0.05, what: str = "condition"):  # noqa: ANN001, ANN201
    """predicate()'s first truthy value, polling (conformance.waiting, with the tests' defaults)."""
    return waiting.wait_until(predicate, timeout, what, every)
