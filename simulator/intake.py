"""What every desk checks of an inbound file before reading its lines, whatever its protocol.

The file's name must be a flow the desk takes (never one the OI sends), dropped in that flow's own folder,
by the OC and for the OI the name says; a file the transport would not read (over the size limit) and one the
codec cannot read end here too. The caller answers UnreadableFile with one KO line (or a journal finding
for a flow with no answer flow).
"""

from __future__ import annotations

from collections.abc import Container

from .documents import InboundDocument
from .specs.codec import FileName, FlowReader, ParsedFile, UnreadableFile


def read_document(name: FileName, doc: InboundDocument, handled: Container[str]) -> ParsedFile:
    """The parsed lines of an inbound file whose name was checked; UnreadableFile says why it is refused."""
    reader = open_document(name, doc, handled)
    return ParsedFile(reader.flow, list(reader.records()), reader.warnings)


def open_document(name: FileName, doc: InboundDocument, handled: Container[str]) -> FlowReader:
    """An inbound file whose name was checked, checked as a whole and ready to be read slice by slice;
    UnreadableFile says why it is refused."""
    flow = name.flow
    if flow.folder and doc.area != flow.folder:  # each flow only in its own folder (seed 002 tree)
        raise UnreadableFile(f"{flow.name} is dropped in the {flow.folder} folder, not in "
                             f"{doc.location or doc.area}: refused, not processed")
    if flow.name not in handled:
        raise UnreadableFile(f"{flow.name} is a flow from the OI to the OC, not to be dropped in IN")
    if name.oc != doc.tenant:
        raise UnreadableFile(f"file name says OC {name.oc} but the file was sent by {doc.tenant}")
    if name.oi != doc.network:
        raise UnreadableFile(f"file name says OI {name.oi} but the file was dropped for {doc.network}")
    if doc.refused:
        raise UnreadableFile(doc.refused)
    return flow.reader(doc.content)
