"""A tenant's answer style: the operator varies its answer files within the protocol (specs/variations.py),
set through the admin API and seen by a real FTP client in the files themselves."""

from __future__ import annotations

import secrets
from datetime import date

import pytest

from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import cmd_acces
from simulator.specs.codec import load_pack
from tests.helpers import Api


@pytest.fixture
def tenant(api: Api) -> str:
    """A tenant of its own: the style it is given never reaches another test's files."""
    code = "ST" + secrets.token_hex(3).upper()
    api.post("/tenants", {"code": code, "password": "pw"})
    return code


def test_free_text_at_its_maximum_and_informational_columns_empty(opsim_sandbox, api: Api, tenant: str,
                                                                  orderable):
    status, style = api.call("PUT", f"/answer-style?tenant={tenant}", {"free_text": "max",
                                                                        "informational": "empty"})
    assert status == 200 and style == {"free_text": "max", "informational": "empty"}
    assert api.get(f"/answer-style?tenant={tenant}") == style
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, tenant, "pw", tenant, today=lambda: date(2026, 11, 24)) as oc:
        oc.send("Cmd_Acces", [cmd_acces(orderable[2], "STYLE1")])
        ar = oc.receive("AR_Cmd_Acces")
        api.post("/clock/advance", {"working_days": 1})
        cr = oc.receive("CR_Cmd_Acces")
    assert not ar.problems and not cr.problems, (ar.problems, cr.problems)
    full = load_pack("acces-1.2").variations.full_text()
    [ar_line], [cr_line] = ar.records, cr.records
    assert ar_line["EtatArCommandePrise"] == "OK", ar_line
    assert ar_line["Commentaire"] == full and len(full) == 512
    assert '"' in full and "é" in full  # quoted on the wire, ISO-8859-1 accents: the OC's parser must take both
    assert cr_line["EtatCrCommandePrise"] == "OK", cr_line
    assert cr_line["Commentaire"] == full
    assert (cr_line["LocalisationPm"], cr_line["LocalisationPBO"], cr_line["TypePBO"]) == ("", "", "")
    assert cr_line["ReferencePBO"] and cr_line["NomModulePm1"]  # what the protocol needs is still there
    journal = api.get(f"/journal?tenant={tenant}")
    assert any(j["outcome"] == "answer style" and "free_text=max" in j["detail"] for j in journal)


def test_a_default_style_leaves_the_files_as_written_and_bad_styles_are_refused(opsim_sandbox, api: Api,
                                                                                 tenant: str):
    assert api.get(f"/answer-style?tenant={tenant}") == {"free_text": "as_is", "informational": "as_is"}
    status, body = api.call("PUT", f"/answer-style?tenant={tenant}", {"free_text": "huge"})
    assert status == 400 and "free_text must be one of as_is, empty, max" in body["detail"]
    status, body = api.call("PUT", f"/answer-style?tenant={tenant}", {"colour": "red"})
    assert status == 400 and "colour" in body["detail"]
    status, body = api.call("PUT", "/answer-style?tenant=NOPE", {})
    assert status == 404
    assert api.get(f"/answer-style?tenant={tenant}")["free_text"] == "as_is"  # nothing was changed
