"""Properties of the access desk on generated files: every data line gets exactly one answer line."""

from __future__ import annotations

import itertools
import tempfile
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.capability import OperatorContext
from simulator.clock import FrenchCalendar
from simulator.config import load_config
from simulator.documents import InboundDocument
from simulator.operators.covage.access import AccessDesk
from simulator.operators.covage.harness.client.orders import cmd_acces
from simulator.specs.codec import load_pack
from simulator.store import Store

PACK = load_pack("acces-1.2")
CMD = PACK.flow("Cmd_Acces")
AR = PACK.flow("AR_Cmd_Acces")
PROFILE = load_config(None).operators["covage"].with_overrides({"network_size": 60,
                                                   "networks": [{"interop": "COVA", "arcep": "CV"}]})
STORE = Store(Path(tempfile.mkdtemp()) / "props.sqlite3")
DESK = AccessDesk(OperatorContext(PROFILE, STORE, FrenchCalendar(), seed=42))
NETWORK = DESK.networks["COVA"]
ADDRESSES = [dict(NETWORK.ipe_record(a), ReferencePrestationPM=NETWORK.pm_of(a).reference_prestation)
             for a in NETWORK.deployed(20)]
FILES = itertools.count(1)
NOW = datetime(2026, 11, 24, 10)

junk = st.text(alphabet=st.characters(codec="cp1252", exclude_characters=";\r\n\"", exclude_categories=("Cc",)),
               max_size=40)
mutation = st.tuples(st.sampled_from(CMD.column_names), st.one_of(st.just(""), junk))
line = st.tuples(st.sampled_from(range(len(ADDRESSES))), st.lists(mutation, max_size=4),
                 st.sampled_from(["", "dup"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, min_size=1, max_size=12))
def test_every_line_gets_exactly_one_answer(lines):
    number = next(FILES)
    records = []
    for index, (address, mutations, dup) in enumerate(lines):
        ref = f"P{number}-{0 if dup else index}"
        record = cmd_acces(ADDRESSES[address], ref)
        record.update(dict(mutations))
        records.append(record)
    name = PACK.render_filename(CMD, "COVA", "DEMO", "20261124", number)
    doc = InboundDocument("DEMO", "ftp", "COVA", "acces", name, CMD.write(records))
    with STORE.transaction():
        effects = DESK.receive(doc, NOW)
    sent = [r for r in CMD.parse(doc.content).records]  # what the operator saw after the codec's cleaning
    [answer] = [o for o in effects.outbound if o.flow == "AR_Cmd_Acces"]
    assert len(answer.records) == len(sent)
    for got, line_sent in zip(answer.records, sent, strict=True):
        assert got["ReferenceCommandePriseInterneOC"] == line_sent["ReferenceCommandePriseInterneOC"]
        assert got["EtatArCommandePrise"] in ("OK", "KO")
        assert (got["EtatArCommandePrise"] == "KO") == bool(got.get("MotifKoArCommandePrise"))
        if got["EtatArCommandePrise"] == "KO":
            assert got["MotifKoArCommandePrise"] in PACK.rejects and got["Commentaire"]
    accepted = [a["ReferenceCommandePriseInterneOC"] for a in answer.records if a["EtatArCommandePrise"] == "OK"]
    assert len(accepted) == len(set(accepted)), "a reference was accepted twice"
    assert all(STORE.get_order("DEMO", ref) for ref in accepted)


INBOUND = [f for f in PACK.flows.values() if f.direction == "OC->OI"]
blank_line = st.sampled_from(["", " ", ";", ";;;", " ; ;", "\t"])


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(INBOUND), st.lists(blank_line, max_size=5), st.sampled_from(["\r\n", "\n"]))
def test_every_file_is_answered_or_journaled_even_without_data_line(flow, blanks, eol):
    """A header and nothing else: flows with an answer flow get one KO line, the others a finding."""
    number = next(FILES)
    name = PACK.render_filename(flow, "COVA", "DEMO", "20261124", number)
    content = (eol.join([";".join(flow.column_names), *blanks]) + eol).encode("ascii")
    doc = InboundDocument("DEMO", "ftp", "COVA", "acces", name, content)
    with STORE.transaction():
        effects = DESK.receive(doc, NOW)
    if flow.answer_flow:
        reply = flow.reply
        [answer] = effects.outbound
        [line] = answer.records
        assert answer.flow == flow.answer_flow
        assert (line[reply["state"]], line[reply["motif"]], line[reply["comment"]]) == (
            "KO", "FIMP16", f"{name}: no data line")
    else:
        assert effects.outbound == []  # CR_STOC, CR_MES: no answer flow in Accès 1.2
        assert [(f.flow, f.outcome) for f in effects.findings] == [(flow.name, "no data line")]
    assert effects.events == []


formula = st.tuples(st.sampled_from(["=", "@", "+", "-"]),
                    st.text(alphabet=st.characters(codec="cp1252", exclude_characters=";\r\n\"",
                                                   exclude_categories=("Cc",)), min_size=1, max_size=20)
                    ).map("".join).filter(lambda v: PACK.formula.is_formula(v) and v == v.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CMD.column_names), formula, st.sampled_from(range(len(ADDRESSES))))
def test_a_formula_in_any_column_is_refused_naming_it(column, value, address):
    """Whatever else the line holds, a formula makes it KO FIMP16, and the comment names the column."""
    number = next(FILES)
    record = cmd_acces(ADDRESSES[address], f"F{number}")
    record[column] = value
    names = CMD.column_names  # written by hand: the codec's writer would defuse the formula
    content = (";".join(names) + "\r\n" + ";".join(record.get(n, "") for n in names) + "\r\n").encode("cp1252")
    doc = InboundDocument("DEMO", "ftp", "COVA", "acces", PACK.render_filename(CMD, "COVA", "DEMO", "20261124",
                                                                                  number), content)
    with STORE.transaction():
        effects = DESK.receive(doc, NOW)
    [answer] = effects.outbound
    [line] = answer.records
    assert (line["EtatArCommandePrise"], line["MotifKoArCommandePrise"]) == ("KO", "FIMP16")
    assert f"{column}: value would run as a formula in a spreadsheet" in line["Commentaire"]
    assert STORE.get_order("DEMO", record["ReferenceCommandePriseInterneOC"]) is None
    written = AR.write(answer.records).decode("iso-8859-1").split("\r\n")[1]
    assert not any(PACK.formula.is_formula(cell) for cell in written.split(";"))
