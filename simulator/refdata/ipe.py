"""The IPE of a reference network, streamed from its database with the spec pack's columns.

The pack (pm-2.2 by default) says the columns, their order, the separator and the encoding; the network
gives one line per building (model.IPE_COLUMNS names what it knows). A pack column the network does not
know is written empty, so a user's pack with extra columns still gets a well-formed file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from ..specs.codec import FlowSpec
from .model import IPE_COLUMNS, IPE_SEP, ReferenceNetwork


def _picker(flow: FlowSpec) -> list[int | None]:
    return [IPE_COLUMNS.index(name) if name in IPE_COLUMNS else None for name in flow.column_names]


def ipe_lines(network: ReferenceNetwork, flow: FlowSpec) -> Iterator[tuple[str, ...] | list[str]]:
    """The IPE lines in the flow's column order, streamed."""
    picker = _picker(flow)
    if picker == list(range(len(IPE_COLUMNS))):
        yield from network.ipe_rows()  # the shipped pack: lines as they come from the database
        return
    for row in network.ipe_rows():
        yield ["" if i is None else row[i] for i in picker]


def ipe_records(network: ReferenceNetwork, flow: FlowSpec) -> Iterator[dict[str, str]]:
    """The IPE lines as records keyed by the flow's column names (for an OutboundDocument)."""
    names = flow.column_names
    for line in ipe_lines(network, flow):
        yield dict(zip(names, line, strict=True))


def write_ipe(network: ReferenceNetwork, flow: FlowSpec, out: BinaryIO) -> int:
    """Write the network's IPE file (header and one line per building) to `out`; the number of lines.

    Memory stays flat: lines are written as the database yields them. With the shipped column layout the
    stored lines are written as they are: generated values hold no separator, quote or line break (so
    they need no CSV quoting) and none can run as a spreadsheet formula (upper-case text, digits, dates,
    coordinates such as -0.187931), which is what FlowSpec.write would otherwise check cell by cell.
    """
    encoding = flow.pack.write_encoding if flow.pack else "iso-8859-1"
    text = io.TextIOWrapper(out, encoding=encoding, errors="replace", newline="")
    count = 0
    if flow.column_names == list(IPE_COLUMNS) and flow.separator == IPE_SEP:
        text.write(IPE_SEP.join(IPE_COLUMNS) + "\r\n")
        batch: list[str] = []
        for line in network.ipe_texts():
            batch.append(line)
            if len(batch) == 5000:
                text.write("\r\n".join(batch) + "\r\n")
                count += len(batch)
                batch.clear()
        if batch:
            text.write("\r\n".join(batch) + "\r\n")
            count += len(batch)
    else:
        writer = csv.writer(text, delimiter=flow.separator, lineterminator="\r\n")
        writer.writerow(flow.column_names)
        for cells in ipe_lines(network, flow):
            writer.writerow(cells)
            count += 1
    text.flush()
    text.detach()  # leave `out` open for the caller
    return count
