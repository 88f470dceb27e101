"""The e-mail channel end to end: smtplib as the OC's mail client against a started Sandbox (real aiosmtpd
server on loopback), answers read back through the admin API and parsed with the email package, a second
aiosmtpd server standing as the real SMTP host the outbox is relayed to."""

from __future__ import annotations

import re
import smtplib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from simulator.config import ClockConfig, Config, load_config
from simulator.operators.covage.harness.client.orders import cmd_acces
from simulator.pytest_plugin import DEFAULT_START
from simulator.sandbox import Sandbox
from simulator.specs.codec import load_pack
from simulator.store import Outbound
from simulator.transports.smtp import AnyPortController
from tests.ftp_helpers import FROZEN, refs_in, wait_until
from tests.helpers import Api, OpsimProcess, ftp_login

DEMO = "tech@demo.opsim.test"
ACCES = "acces-ftth@covage.opsim.test"
PM = "pm-ftth@covage.opsim.test"
MAX_BYTES = 200_000


@pytest.fixture
def opsim_config(tmp_path: Path) -> Config:
    """A sandbox with its SMTP server on a free port, a small mail size limit and a small network."""
    config = load_config(None, data_dir=tmp_path / "data", host="127.0.0.1", ftp_port=0, http_port=0, smtp_port=0)
    config.clock = ClockConfig(start=DEFAULT_START, frozen=True)
    config.mail.max_bytes = MAX_BYTES
    config.operators["covage"] = config.operators["covage"].with_overrides({"network_size": 300})
    return config


def mail(subject: str, attachments: list[tuple[str, bytes]], to: str = ACCES, sender: str = DEMO) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content("see attached")
    for name, content in attachments:
        msg.add_attachment(content, maintype="text", subtype="csv", filename=name)
    return msg


def send(box: Sandbox, msg: EmailMessage, sender: str = DEMO, to: str = ACCES) -> None:
    assert box.smtp is not None
    with smtplib.SMTP(*box.smtp.address, timeout=10) as client:
        client.send_message(msg, from_addr=sender, to_addrs=[to])


def order(box: Sandbox, address: dict[str, Any], ref: str, seq: int = 1) -> tuple[str, bytes]:
    flow = box.pack.flow("Cmd_Acces")
    return box.pack.render_filename(flow, "COVA", "DEMO", "20261124", seq), flow.write([cmd_acces(address, ref)])


def mails(api: Api, count: int) -> list[dict[str, Any]]:
    return wait_until(lambda: (found := api.get("/mail?tenant=DEMO")) and len(found) >= count and found,
                      what=f"{count} mails")


def eml(api: Api, mail_id: int) -> EmailMessage:
    with urllib.request.urlopen(f"{api.base}/mail/{mail_id}.eml?tenant=DEMO", timeout=10) as resp:
        return BytesParser(policy=policy.default).parsebytes(resp.read())  # type: ignore[return-value]


def attachment(message: EmailMessage) -> tuple[str, bytes]:
    (part,) = list(message.iter_attachments())
    return str(part.get_filename()), part.get_payload(decode=True)


def test_an_access_order_by_mail_gets_its_ar_then_its_cr_by_mail(opsim_sandbox: Sandbox, api: Api,
                                                                   orderable: list[dict[str, Any]]):
    name, content = order(opsim_sandbox, orderable[0], "MAIL0001")
    send(opsim_sandbox, mail(name, [(name, content)]))

    (ar_mail,) = mails(api, 1)
    assert (ar_mail["sender"], ar_mail["recipient"]) == (ACCES, DEMO)
    message = eml(api, ar_mail["id"])
    assert (message["From"], message["To"]) == (ACCES, DEMO)
    filename, csv = attachment(message)
    assert message["Subject"] == filename == ar_mail["subject"] and "_ARCMD_ACCES_" in filename
    assert refs_in(csv, "AR_Cmd_Acces")["MAIL0001"]["EtatArCommandePrise"] == "OK"
    # The file came by mail: received as such, answered by mail only (nothing waits in the FTP OUT folder).
    (inbound,) = api.get("/inbound?tenant=DEMO")
    assert (inbound["channel"], inbound["filename"]) == ("mail", name)
    assert [f["channel"] for f in api.get("/files?tenant=DEMO")] == ["mail"]
    ftp = ftp_login(opsim_sandbox.ftp_address)
    assert [n for n in ftp.nlst("OUT/COVA/CV") if n.endswith(".csv")] == []
    ftp.close()

    api.post("/clock/advance", {"working_days": 1})
    cr_mail = mails(api, 2)[1]
    filename, csv = attachment(eml(api, cr_mail["id"]))
    assert cr_mail["subject"] == filename and "_CrCMD_ACCES_" in filename
    assert refs_in(csv, "CR_Cmd_Acces")["MAIL0001"]["EtatCrCommandePrise"] == "OK"


def test_unknown_senders_and_mailboxes_are_refused_at_rcpt(opsim_sandbox: Sandbox, api: Api):
    msg = mail("x.csv", [("x.csv", b"a;b\r\n")])
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send(opsim_sandbox, msg, sender="someone@elsewhere.test")
    code, text = caught.value.recipients[ACCES]
    assert code == 550 and b"is not the address of any OC" in text
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send(opsim_sandbox, msg, to="postmaster@covage.opsim.test")
    code, text = caught.value.recipients["postmaster@covage.opsim.test"]
    assert code == 550 and b"no such mailbox" in text
    assert api.get("/mail?tenant=DEMO") == [] and api.get("/inbound?tenant=DEMO") == []


@pytest.mark.parametrize("case, reason", [
    ("no attachment", "has no attachment"),
    ("two CSV files", "has 2 CSV files"),
    ("two files and no CSV", "has 2 attachments (photo.jpg, fiche.pdf) and no CSV file"),
    ("subject is not the file name", "is not the attachment's file name"),
    ("not a csv", "is not a .csv file"),
    ("no network in the name", "names none of the operator's networks"),
])
def test_a_bad_mail_gets_a_reply_saying_so_and_a_journal_line(opsim_sandbox: Sandbox, api: Api,
                                                             orderable: list[dict[str, Any]], case: str, reason: str):
    name, content = order(opsim_sandbox, orderable[0], "BAD00001")
    msg = {"no attachment": lambda: mail(name, []),
           "two CSV files": lambda: mail(name, [(name, content), (name.replace("_1.", "_2."), content)]),
           "two files and no CSV": lambda: mail("photo.jpg", [("photo.jpg", b"\xff\xd8"), ("fiche.pdf", b"%PDF")]),
           "subject is not the file name": lambda: mail("my order", [(name, content)]),
           "not a csv": lambda: mail("order.txt", [("order.txt", content)]),
           "no network in the name": lambda: mail("ZZZZ_DEMO_x.csv", [("ZZZZ_DEMO_x.csv", content)]),
           }[case]()
    send(opsim_sandbox, msg)

    (reply,) = mails(api, 1)
    message = eml(api, reply["id"])
    assert (message["From"], message["To"]) == (ACCES, DEMO) and message["Subject"].startswith("Refused: ")
    assert reason in message.get_body(("plain",)).get_content()
    assert list(message.iter_attachments()) == []
    journal = wait_until(lambda: [j for j in api.get("/journal?tenant=DEMO") if j["outcome"] == "mail refused"],
                         what="the journal line")
    assert reason in journal[0]["detail"] and journal[0]["channel"] == "mail"
    opsim_sandbox.engine.idle()
    assert api.get("/inbound?tenant=DEMO") == []  # nothing reached the domain


def test_an_oversized_mail_is_refused_and_the_server_goes_on(opsim_sandbox: Sandbox, api: Api,
                                                            orderable: list[dict[str, Any]]):
    big = b"x" * (MAX_BYTES + 1000)
    with pytest.raises(smtplib.SMTPResponseException) as caught:
        send(opsim_sandbox, mail("big.csv", [("big.csv", big)]))
    assert caught.value.smtp_code == 552
    name, content = order(opsim_sandbox, orderable[0], "AFTERBIG")
    send(opsim_sandbox, mail(name, [(name, content)]))
    (answer,) = mails(api, 1)
    assert "_ARCMD_ACCES_" in answer["subject"]


def test_a_pm_mail_is_answered_even_where_pm_files_are_not_taken_by_mail(opsim_sandbox: Sandbox, api: Api):
    pm_desk = opsim_sandbox.operators["covage"].receiver("pm", "mail")
    name = "COVAGE_ZMD_COVA_DEMO_PM_PM0001_CMD_V22_20261124_1.csv"
    send(opsim_sandbox, mail(name, [(name, b"a;b\r\n1;2\r\n")], to=PM), to=PM)
    if pm_desk is None:  # the PM desk does not declare the mail channel (yet): a reply says so
        (reply,) = mails(api, 1)
        assert reply["sender"] == PM and "does not take files by mail" in \
            eml(api, reply["id"]).get_body(("plain",)).get_content()
    else:  # it does: the file reaches it as a mail document
        inbound = wait_until(lambda: api.get("/inbound?tenant=DEMO"), what="the PM file")
        assert inbound[0]["channel"] == "mail" and inbound[0]["filename"] == name


def test_restart_keeps_the_outbox_and_sends_nothing_twice(opsim_config: Config, tmp_path: Path):
    with Sandbox(opsim_config) as box:
        api = Api(box.http_url)
        address = api.get("/addresses?network=COVA&limit=1")[0]
        name, content = order(box, address, "RESTART1")
        send(box, mail(name, [(name, content)]))
        before = mails(api, 1)
        kept = eml(api, before[0]["id"]).as_bytes()
    with Sandbox(opsim_config) as box:
        api = Api(box.http_url)
        box.engine.idle()
        assert api.get("/mail?tenant=DEMO") == before
        assert eml(api, before[0]["id"]).as_bytes() == kept
        assert len(api.get("/files?tenant=DEMO")) == 1


class Collector:
    """The real SMTP host of the relay test: keeps what it is given."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@contextmanager
def ordered_by_mail_beside(opsim_config: Config, real_host: Any, ref: str) -> Iterator[Api]:
    """A sandbox relaying to `real_host` (a second aiosmtpd server), once DEMO has mailed it an order."""
    host = AnyPortController(real_host, hostname="127.0.0.1", port=0)
    host.start()
    try:
        opsim_config.mail.relay_host, opsim_config.mail.relay_port = "127.0.0.1", host.port
        with Sandbox(opsim_config) as box:
            api = Api(box.http_url)
            name, content = order(box, api.get("/addresses?network=COVA&limit=1")[0], ref)
            send(box, mail(name, [(name, content)]))
            yield api
    finally:
        host.stop()


def test_answer_mails_are_relayed_to_the_real_smtp_host(opsim_config: Config):
    collector = Collector()
    with ordered_by_mail_beside(opsim_config, collector, "RELAY001") as api:
        (kept,) = mails(api, 1)
        wait_until(lambda: collector.received, what="the relayed mail")
        sender, recipients, raw = collector.received[0]
        assert (sender, recipients) == (ACCES, [DEMO])
        relayed = BytesParser(policy=policy.default).parsebytes(raw)
        assert relayed["Subject"] == kept["subject"] and attachment(relayed)[0] == kept["subject"]
        assert wait_until(lambda: api.get("/mail?tenant=DEMO")[0]["relayed"], what="relayed flag")
    assert len(collector.received) == 1


class OpsimWithSmtp(OpsimProcess):
    """`opsim up --smtp-port 0`, its SMTP port read from its ready lines."""

    def args(self) -> list[str]:
        return [*super().args(), "--smtp-port", "0"]

    def start(self) -> None:
        super().start()
        line = wait_until(lambda: next((x for x in self.output if x.strip().startswith("smtp ")), None),
                          what="the smtp ready line")
        assert ACCES in line and PM in line, line
        self.smtp_port = int(re.search(r"127\.0\.0\.1:(\d+)", line)[1])


def test_kill_9_right_after_a_mail_is_taken_answers_it_once_after_restart(tmp_path: Path):
    (tmp_path / "opsim.toml").write_text(FROZEN + "[covage]\nnetwork_size = 300\n", encoding="utf-8")
    srv = OpsimWithSmtp(tmp_path / "data", tmp_path / "opsim.toml")
    srv.start()
    try:
        pack = load_pack("acces-1.2")
        flow = pack.flow("Cmd_Acces")
        addresses = srv.api.get("/addresses?network=COVA&limit=20")
        refs = [f"K{i:05d}" for i in range(1500)]
        name = pack.render_filename(flow, "COVA", "DEMO", "20261124", 1)
        content = flow.write([cmd_acces(addresses[i % len(addresses)], ref) for i, ref in enumerate(refs)])
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as client:
            client.send_message(mail(name, [(name, content)]), from_addr=DEMO, to_addrs=[ACCES])
        srv.kill9()  # at once: the file may or may not have been committed
        srv.start()
        spool = tmp_path / "data" / "spool" / "mail" / "covage"
        # The engine removes a spooled file right after committing it (or finding it committed before the
        # kill), before it delivers: with the spool empty and a mail kept, nothing is left to be answered.
        wait_until(lambda: srv.api.get("/mail?tenant=DEMO") and not any(spool.iterdir()), what="the AR mail")
        answers = srv.api.get("/mail?tenant=DEMO")
        assert len(answers) == 1 and "_ARCMD_ACCES_" in answers[0]["subject"]
        with urllib.request.urlopen(f"{srv.api.base}/mail/{answers[0]['id']}.eml?tenant=DEMO", timeout=10) as resp:
            _, csv = attachment(BytesParser(policy=policy.default).parsebytes(resp.read()))
        assert sorted(refs_in(csv, "AR_Cmd_Acces")) == refs
        assert len(srv.api.get("/inbound?tenant=DEMO")) == 1
    finally:
        srv.stop()


def test_an_answer_handed_over_twice_is_one_mail(opsim_sandbox: Sandbox, api: Api):
    """After a stop between delivery and its mark, the engine hands the same answer file over again."""
    out = Outbound(7, "DEMO", "mail", "OUT/COVA/CV", "COVA_DEMO_ARCMD_ACCES_V12_20261124_000001.csv",
                   "AR_Cmd_Acces", b"a;b\r\n", "covage")
    for _ in range(2):
        opsim_sandbox.engine.call(lambda: opsim_sandbox.engine.delivery.deliver(out))
    (kept,) = api.get("/mail?tenant=DEMO")
    assert (kept["outbound_id"], kept["subject"], kept["sender"]) == (7, out.filename, ACCES)
    assert attachment(eml(api, kept["id"])) == (out.filename, b"a;b\r\n")


class Refuser:
    """A real SMTP host that refuses every mail for good."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "554 5.7.1 no relaying for you"


def test_a_mail_the_relay_host_refuses_for_good_is_kept_with_the_error(opsim_config: Config):
    with ordered_by_mail_beside(opsim_config, Refuser(), "REFUSED1") as api:
        kept = wait_until(lambda: [m for m in api.get("/mail?tenant=DEMO") if m["relay_error"]],
                          what="the relay error")
        assert kept[0]["relay_error"].startswith("554") and kept[0]["relayed"] is False
        assert attachment(eml(api, kept[0]["id"]))[0] == kept[0]["subject"]  # still readable here


def test_a_notif_adduction_by_mail_brings_its_photo_and_sheet(opsim_sandbox: Sandbox, api: Api):
    """PM 2.2 by mail: the PM order and its CR MAD, then the works report with the photo and the technical sheet
    attached beside the CSV; every answer comes back by mail."""
    from tests.test_pm_flows import PACK as PM_PACK
    from tests.test_pm_flows import adduction, cmd

    network = opsim_sandbox.operators["covage"].capabilities["pm"].networks["COVA"]
    pm = next(c for c in network.iter_pms() if network.deployed_behind(c.reference))

    def pm_mail(flow: str, records: list[dict[str, str]], *others: tuple[str, bytes]) -> None:
        spec = PM_PACK.flow(flow)
        name = PM_PACK.render_filename(spec, "COVA", "DEMO", "20261124", 1, pm=pm.reference)
        msg = mail(name, [(name, spec.write(records))], to=PM)
        for other, content in others:
            msg.add_attachment(content, maintype="application", subtype="octet-stream", filename=other)
        send(opsim_sandbox, msg, to=PM)

    def answer(flow: str, count: int) -> dict[str, str]:
        found = mails(api, count)
        message = eml(api, found[-1]["id"])
        name, content = attachment(message)
        assert PM_PACK.parse_filename(name).flow.name == flow, name
        [line] = PM_PACK.flow(flow).parse(content).records
        return dict(line.values)

    pm_mail("Cmd_Info_Pm", [cmd("MAILPM1", pm.reference)])
    assert answer("AR_Cmd_Pm", 1)["EtatArCommandePM"] == "OK"
    api.post("/clock/advance", {"working_days": 1})
    wait_until(lambda: len(api.get("/mail?tenant=DEMO")) >= 2, what="the CR MAD by mail")
    pm_mail("Notif_Adduction", [adduction(pm, "20261125")], ("photo1.jpg", b"\xff\xd8\xff\xe0 a photo"),
            ("fiche1.pdf", b"%PDF-1.4 a sheet"))
    report = answer("CR_NotifAdduction", 3)
    assert (report["EtatCrNotifAdduction"], report["MotifKoCrNotifAdduction"]) == ("OK", ""), report


def test_a_pm_ordered_by_mail_gets_its_cr_mad_pm_maj_by_mail_when_the_network_changes(opsim_sandbox: Sandbox,
                                                                                        api: Api):
    """The operator deploys a building behind a PM an OC ordered by mail: the CR_MAD_Pm MAJ goes back by mail,
    the way the order came, not to an FTP folder the OC does not read."""
    from tests.test_pm_flows import PACK as PM_PACK
    from tests.test_pm_flows import cmd

    network = opsim_sandbox.operators["covage"].capabilities["pm"].networks["COVA"]
    building = next(a for a in network.iter_addresses() if a.etat_immeuble == "EN COURS DE DEPLOIEMENT"
                    and network.deployed_behind(a.pm))
    spec = PM_PACK.flow("Cmd_Info_Pm")
    name = PM_PACK.render_filename(spec, "COVA", "DEMO", "20261124", 1, pm=building.pm)
    send(opsim_sandbox, mail(name, [(name, spec.write([cmd("MAJMAIL1", building.pm)]))], to=PM), to=PM)
    mails(api, 1)  # the AR
    api.post("/clock/advance", {"working_days": 1})
    mails(api, 2)  # the CR_MAD_Pm INITIAL
    done = api.post("/operators/covage/evolution/network_change?tenant=DEMO",
                    {"network": "COVA", "building": building.identifiant_immeuble, "etat": "DEPLOYE"})
    assert done["result"]["cr_mad_pm"] == ["DEMO"]
    update = mails(api, 3)[-1]
    name, content = attachment(eml(api, update["id"]))
    assert PM_PACK.parse_filename(name).flow.name == "CR_MAD_Pm", name
    lines = [dict(line.values) for line in PM_PACK.flow("CR_MAD_Pm").parse(content).records]
    assert {line["NatureCR"] for line in lines} == {"MAJ"}
    assert building.identifiant_immeuble in {line["IdentifiantImmeuble"] for line in lines}
    ftp = ftp_login(opsim_sandbox.ftp_address)
    try:
        assert not [n for n in ftp.nlst("OUT/COVA/CV/PM") if "_CRMAD_" in n]  # nothing went by FTP
    finally:
        ftp.quit()
