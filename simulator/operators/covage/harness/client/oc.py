"""The reference OC client of Protocole Accès 1.2 over FTP.

It does what an OC's integration does: write the OC-side files from plain records with the spec pack,
drop them in IN/<OI>/<ARCEP>/, pick the OI's answers up in OUT/<OI>/<ARCEP>/, delete what it has read
(the reader deletes, as the protocol says) and parse them. Files picked up but not asked for yet wait
in an inbox, so nothing is ever lost between two `receive` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from conformance.client.ftp import FtpSession
from conformance.waiting import poll_until
from simulator.specs.codec import FlowSpec, SpecPack, UnreadableFile, load_pack

DEFAULT_PACK = "acces-1.2"


@dataclass(frozen=True)
class ReceivedFile:
    """An answer file picked up in OUT: its name, its flow (None if the name is not a flow's) and lines."""

    name: str
    flow_name: str | None
    records: list[dict[str, str]]
    #: What the codec found wrong in the OI's own file (bad values, undecodable...): empty when it is clean.
    problems: list[str] = field(default_factory=list)
    content: bytes = field(default=b"", repr=False)

    def single(self) -> dict[str, str]:
        """The only line of the file (most answer files carry one)."""
        if len(self.records) != 1:
            raise AssertionError(f"{self.name}: {len(self.records)} lines where exactly 1 was expected")
        return self.records[0]

    def line_for(self, ref: str, key: str = "ReferenceCommandePriseInterneOC") -> dict[str, str]:
        """The line answering the OC's order `ref`."""
        lines = [r for r in self.records if r.get(key) == ref]
        if len(lines) != 1:
            raise AssertionError(f"{self.name}: {len(lines)} lines with {key}={ref} where 1 was expected")
        return lines[0]


class ReceiveTimeout(TimeoutError):
    """No file of the awaited flow came in time; the message lists what did come."""


class OcFtpClient:
    """The OC side of Accès 1.2 on one OI network, over FTP. Use it as a context manager.

        with OcFtpClient("127.0.0.1", 2121, "DEMO", "demo", "DEMO") as oc:
            oc.send("Cmd_Acces", [record])
            ar = oc.receive("AR_Cmd_Acces", timeout=5)
    """

    def __init__(self, host: str, port: int, login: str, password: str, oc_code: str, oi: str = "COVA",
                 arcep: str = "CV", *, pack: SpecPack | str = DEFAULT_PACK,
                 today: Callable[[], date] = date.today, poll_interval: float = 0.05, ftp_timeout: float = 10.0,
                 folders: Mapping[str, str] | None = None):
        """`today` dates the file names: pass the sandbox's virtual date to match its clock. `folders` ({"in",
        "out"}: the operator's, e.g. from GET /api/operators) default to seed 002's IN/<OI>/<ARCEP>/."""
        self.oc_code = oc_code
        self.oi = oi
        self.arcep = arcep
        folders = folders or {"in": f"/IN/{oi}/{arcep}", "out": f"/OUT/{oi}/{arcep}"}
        self._in, self._out = folders["in"], folders["out"]
        self.pack = pack if isinstance(pack, SpecPack) else load_pack(pack)
        self.today = today
        self.poll_interval = poll_interval
        self.session = FtpSession(host, port, login, password, ftp_timeout)
        self._inbox: list[ReceivedFile] = []
        self._sequences: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------------ life
    def __enter__(self) -> OcFtpClient:
        self.session.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    @property
    def in_folder(self) -> str:
        return self._in

    @property
    def out_folder(self) -> str:
        return self._out

    @property
    def inbox(self) -> tuple[ReceivedFile, ...]:
        """Files picked up and not yet handed out by `receive` / `receive_all`."""
        return tuple(self._inbox)

    # ------------------------------------------------------------------ sending
    def flow(self, flow_name: str) -> FlowSpec:
        try:
            return self.pack.flow(flow_name)
        except KeyError:
            raise ValueError(f"no flow {flow_name!r} in spec pack {self.pack.name} "
                             f"(known: {', '.join(self.pack.flows)})") from None

    def next_filename(self, flow_name: str, *, oc: str | None = None) -> str:
        """The name of the next file of that flow: sequence numbers increase per flow and day."""
        flow = self.flow(flow_name)
        day = self.today().strftime("%Y%m%d")
        key = (flow.code, day)
        self._sequences[key] = self._sequences.get(key, 0) + 1
        return self.pack.render_filename(flow, self.oi, oc or self.oc_code, day, self._sequences[key])

    def send(self, flow_name: str, records: Iterable[Mapping[str, str]], *, via_tmp: bool = False,
             filename: str | None = None) -> str:
        """Write `records` as a file of `flow_name` (missing columns empty) and drop it; returns its name."""
        flow = self.flow(flow_name)
        if not flow.direction.startswith("OC"):
            raise ValueError(f"{flow_name} goes from the OI to the OC: an OC does not send it")
        name = filename or self.next_filename(flow_name)
        return self.send_raw(name, flow.write(records), via_tmp=via_tmp)

    def send_raw(self, filename: str, content: bytes, *, via_tmp: bool = False) -> str:
        """Drop bytes as they are (for malformed files). via_tmp: upload as <name>.tmp, then rename."""
        target = f"{self.in_folder}/{filename}"
        if via_tmp:
            # The server ignores non-.csv files until they are renamed: the file appears whole or not at all.
            self.session.upload(f"{target}.tmp", content)
            self.session.rename(f"{target}.tmp", target)
        else:
            self.session.upload(target, content)
        return filename

    def wait_consumed(self, filename: str, timeout: float = 5.0) -> None:
        """Wait until the OI has read (and so deleted) a file we dropped: useful for flows with no answer."""
        if not poll_until(lambda: filename not in self.session.list_files(self.in_folder), timeout, self.poll_interval):
            raise ReceiveTimeout(f"{self.in_folder}/{filename} still unread after {timeout:g} s")

    # ------------------------------------------------------------------ receiving
    def poll(self) -> list[ReceivedFile]:
        """Pick up every file now in OUT (download, delete, parse) into the inbox; returns the new ones."""
        fetched = []
        for name in sorted(self.session.list_files(self.out_folder), key=self._order_key):
            path = f"{self.out_folder}/{name}"
            content = self.session.download(path)
            self.session.delete(path)  # the reader of a folder deletes what it has read
            fetched.append(self._parse(name, content))
        self._inbox.extend(fetched)
        return fetched

    def receive(self, flow_name: str, timeout: float = 5.0,
                where: Callable[[ReceivedFile], bool] | None = None) -> ReceivedFile:
        """The next file of `flow_name` (and matching `where`), waiting up to `timeout` seconds (real time)."""
        self.flow(flow_name)  # a typo in the flow name must fail now, not after the timeout
        def take() -> ReceivedFile | None:
            for index, received in enumerate(self._inbox):
                if received.flow_name == flow_name and (where is None or where(received)):
                    return self._inbox.pop(index)
            return None

        # What came with the last listing is looked at at once; the interval is only between empty listings.
        found = poll_until(lambda: take() or (take() if self.poll() else None), timeout, self.poll_interval)
        if found is None:
            raise ReceiveTimeout(self._timeout_message(flow_name, timeout))
        return found

    def receive_all(self, timeout: float = 0.0) -> list[ReceivedFile]:
        """Every file picked up so far and now in OUT. With timeout > 0, wait that long for at least one;
        an empty list means nothing came."""
        poll_until(lambda: self.poll() or self._inbox, timeout, self.poll_interval)
        files, self._inbox = self._inbox, []
        return files

    # ------------------------------------------------------------------ helpers
    def _parse(self, name: str, content: bytes) -> ReceivedFile:
        parsed_name = self.pack.parse_filename(name)
        if parsed_name is None:
            return ReceivedFile(name, None, [], [f"{name}: not a file name of spec pack {self.pack.name}"], content)
        flow = parsed_name.flow
        try:
            parsed = flow.parse(content)
        except UnreadableFile as e:
            return ReceivedFile(name, flow.name, [], [f"{name}: {e}"], content)
        problems = [*parsed.warnings, *(f"line {r.line}: {e}" for r in parsed.records for e in r.errors)]
        return ReceivedFile(name, flow.name, [dict(r.values) for r in parsed.records], problems, content)

    def _order_key(self, name: str) -> tuple[str, int, str]:
        # Oldest first: by the date and the sequence of the name, not alphabetically ("_10" < "_9").
        parsed = self.pack.parse_filename(name)
        return (parsed.date, int(parsed.seq), name) if parsed else ("", 0, name)

    def _timeout_message(self, flow_name: str, timeout: float) -> str:
        waiting = [f"{f.name} ({f.flow_name or 'unknown flow'})" for f in self._inbox]
        there = "; ".join(waiting) if waiting else "nothing at all"
        return (f"no {flow_name} file in {self.out_folder} after {timeout:g} s "
                f"(OC {self.oc_code}); received and not yet read: {there}")
