"""The IPE (Protocole PM 2.2): every Monday morning, one file per network in each OC's PM folder, over real
FTP; its lines are the addresses /api/addresses lists and the access orders accept."""

from __future__ import annotations

import io
import urllib.request
from datetime import date, datetime, time
from pathlib import Path

import pytest

from simulator.clock import to_timestamp
from simulator.config import Config
from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import cmd_acces
from simulator.operators.covage.pm import next_weekly
from simulator.refdata import IPE_COLUMNS, generate_network
from simulator.refdata.ipe import ipe_lines, write_ipe
from simulator.sandbox import Sandbox
from simulator.specs.codec import load_pack
from tests.helpers import Api, download, ftp_login, wait_for_files

ROOT = Path(__file__).resolve().parents[1]
SIZE = 300
PACK = load_pack("pm-2.2")
IPE = PACK.flow("IPE")
#: The spec's IPE columns, in order (shared/spec/README.md, "Protocole PM 2.2").
SPEC_COLUMNS = (
    "IdentifiantImmeuble EtatImmeuble CodeAdresseImmeuble CodeHexacleVoie CodeInseeImmeuble CodePostalImmeuble "
    "CommuneImmeuble CodeVoieRivoliImmeuble TypeVoieImmeuble NomVoieImmeuble NumeroVoieImmeuble "
    "ComplementNumeroVoieImmeuble BatimentImmeuble NombreLogementsAdresseIPE TypeImmeuble TypeProjection "
    "CoordonneeImmeubleX CoordonneeImmeubleY DateCablageAdresse DateDerniereModification "
    "AccordGestionnaireImmeubleNecessaire ReferencePM EtatPM DateInstallationPM DateMiseEnServiceCommercialePM "
    "TypeEmplacementPM CapaciteMaxPM TypeIngenierie TypeZone"
).split()


@pytest.fixture
def opsim_config(opsim_config: Config) -> Config:
    opsim_config.operators["covage"] = opsim_config.operators["covage"].with_overrides({"network_size": SIZE})
    return opsim_config


def _pm_files(ftp, folder: str) -> list[str]:
    return sorted(n.rsplit("/", 1)[-1] for n in ftp.nlst(folder) if n.endswith(".csv"))


def _all_addresses(api: Api, network: str) -> list[dict]:
    return api.get(f"/addresses?network={network}&limit={SIZE + 1}")  # every page


# -- the spec pack and the writer ----------------------------------------------------------------------------


def test_pack_has_the_spec_columns() -> None:
    assert IPE.column_names == SPEC_COLUMNS == list(IPE_COLUMNS)
    assert IPE.direction == "OI->OC" and IPE.folder == "pm"
    name = PACK.render_filename(IPE, "COVA", "DEMO", "20261130", 1)
    assert name == "COVAGE_ZMD_COVA_PM_IPEZMD_V22_20261130_000001.csv"


def test_streamed_file_is_what_the_codec_writes_and_reads() -> None:
    network = generate_network("COVA", "CV", seed=9, size=250)
    out = io.BytesIO()
    assert write_ipe(network, IPE, out) == 250
    content = out.getvalue()
    records = [dict(zip(SPEC_COLUMNS, line, strict=True)) for line in ipe_lines(network, IPE)]
    assert content == IPE.write(records)  # byte for byte: header, separator, CRLF, ISO-8859-1
    parsed = IPE.parse(content)
    assert len(parsed.records) == 250
    assert [r for r in parsed.records if r.errors] == []
    assert [r.values for r in parsed.records] == records
    assert {r["EtatImmeuble"] for r in records} >= {"DEPLOYE", "CIBLE"}


def test_a_pack_with_other_columns_gets_them_in_its_order(tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "pack.yaml").write_text((ROOT / "simulator/specs/pm-2.2/pack.yaml").read_text(encoding="utf-8"),
                                      encoding="utf-8")
    (folder / "flows.yaml").write_text(
        "flows:\n  IPE:\n    code: IPEZMD\n    direction: OI->OC\n"
        "    columns: [ReferencePM, CodeAdresseImmeuble, ColonneInconnue]\n", encoding="utf-8")
    flow = load_pack(folder).flow("IPE")
    network = generate_network("COVA", "CV", seed=9, size=30)
    out = io.BytesIO()
    write_ipe(network, flow, out)
    lines = out.getvalue().decode("iso-8859-1").split("\r\n")
    assert lines[0] == "ReferencePM;CodeAdresseImmeuble;ColonneInconnue"
    first = network.addresses[0]
    assert lines[1] == f"{first.pm};{first.hexacle};"


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 11, 24, 10, 0), datetime(2026, 11, 30, 6, 0)),  # Tuesday -> next Monday
    (datetime(2026, 11, 30, 5, 59), datetime(2026, 11, 30, 6, 0)),  # Monday before 6:00 -> today
    (datetime(2026, 11, 30, 6, 0), datetime(2026, 12, 7, 6, 0)),  # Monday at 6:00 -> next week
])
def test_next_monday_morning(now: datetime, expected: datetime) -> None:
    assert next_weekly(now, 0, time(6, 0)) == expected


# -- in the sandbox ---------------------------------------------------------------------------------------------


def test_ipe_lands_in_the_pm_folder_every_monday(opsim_sandbox, api: Api) -> None:
    ftp = ftp_login(opsim_sandbox.ftp_address)
    try:
        api.post("/clock/advance", {"hours": 139})  # Monday 05:00: not yet
        opsim_sandbox.engine.idle()
        assert _pm_files(ftp, "OUT/COVA/CV/PM") == []
        api.post("/clock/advance", {"hours": 1})  # Monday 2026-11-30 06:00
        for folder, oi in (("OUT/COVA/CV/PM", "COVA"), ("OUT/COVB/CB/PM", "COVB")):
            [name] = wait_for_files(ftp, folder)
            assert name == f"COVAGE_ZMD_{oi}_PM_IPEZMD_V22_20261130_000001.csv"
            parsed = IPE.parse(download(ftp, f"{folder}/{name}"))
            assert parsed.warnings == []
            assert len(parsed.records) == SIZE
            assert [r for r in parsed.records if r.errors] == []
            assert {r["ReferencePM"][:4] for r in parsed.records} == {{"COVA": "PMCV", "COVB": "PMCB"}[oi]}
        # Nothing more until the next Monday, then a new file.
        api.post("/clock/advance", {"hours": 24 * 7 - 1})
        opsim_sandbox.engine.idle()
        assert len(_pm_files(ftp, "OUT/COVA/CV/PM")) == 1
        api.post("/clock/advance", {"hours": 1})
        names = wait_for_files(ftp, "OUT/COVA/CV/PM", count=2)
        assert names[-1] == "COVAGE_ZMD_COVA_PM_IPEZMD_V22_20261207_000001.csv"
    finally:
        ftp.close()
    journal = api.get("/journal?tenant=DEMO")
    assert [j for j in journal if j["flow"] == "IPE" and j["outcome"] == f"{SIZE} lines"]


def test_a_jump_over_several_mondays_sends_only_the_latest_ipe(opsim_sandbox, api: Api) -> None:
    api.post("/clock/advance", {"hours": 24 * 7 * 3})  # Tuesday 2026-12-15: three Mondays jumped over
    opsim_sandbox.engine.idle()
    ftp = ftp_login(opsim_sandbox.ftp_address)
    try:
        assert wait_for_files(ftp, "OUT/COVA/CV/PM") == ["COVAGE_ZMD_COVA_PM_IPEZMD_V22_20261214_000001.csv"]
        assert wait_for_files(ftp, "OUT/COVB/CB/PM") == ["COVAGE_ZMD_COVB_PM_IPEZMD_V22_20261214_000001.csv"]
    finally:
        ftp.close()
    planned = [e for e in opsim_sandbox.store.pending_events() if e["kind"].endswith(":ipe")]
    assert sorted(e["ref"] for e in planned) == ["COVA", "COVB"]
    assert {e["due"] for e in planned} == {to_timestamp(datetime(2026, 12, 21, 6, 0))}


def test_ipe_addresses_are_those_of_the_api_and_of_the_access_orders(opsim_sandbox, api: Api) -> None:
    api.post("/clock/advance", {"hours": 140})
    ftp = ftp_login(opsim_sandbox.ftp_address)
    try:
        [name] = wait_for_files(ftp, "OUT/COVA/CV/PM")
        records = [r.values for r in IPE.parse(download(ftp, f"OUT/COVA/CV/PM/{name}")).records]
    finally:
        ftp.close()
    listed = _all_addresses(api, "COVA")
    deployed = [r for r in records if r["EtatImmeuble"] == "DEPLOYE"]
    assert 0 < len(deployed) < len(records)
    assert [a["IdentifiantImmeuble"] for a in listed] == [r["IdentifiantImmeuble"] for r in deployed]
    for address, record in zip(listed, deployed, strict=True):
        assert {k: address[k] for k in SPEC_COLUMNS} == record
    # Orders on IPE addresses: a house and a building accepted, a building not yet deployed refused.
    house = next(r for r in deployed if r["TypeImmeuble"] == "PAVILLON")
    flat = next(a for a in listed if a["TypeImmeuble"] == "IMMEUBLE")
    target = next(r for r in records if r["EtatImmeuble"] != "DEPLOYE")
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=lambda: date(2026, 11, 30)) as oc:
        oc.send("Cmd_Acces", [cmd_acces(house, "IPE1", date="20261130"), cmd_acces(flat, "IPE2", date="20261130"),
                              cmd_acces(target, "IPE3", date="20261130")])
        answers = {r["ReferenceCommandePriseInterneOC"]: r for r in oc.receive("AR_Cmd_Acces").records}
    assert answers["IPE1"]["EtatArCommandePrise"] == "OK", answers["IPE1"]
    assert answers["IPE2"]["EtatArCommandePrise"] == "OK", answers["IPE2"]
    assert answers["IPE3"]["EtatArCommandePrise"] == "KO"


def test_restart_keeps_the_network_and_plans_no_second_ipe(opsim_config: Config) -> None:
    box = Sandbox(opsim_config).start()
    try:
        path = opsim_config.data_dir / "network" / "COVA.sqlite3"
        inode = path.stat().st_ino, path.stat().st_mtime_ns
        first = box.networks["COVA"].addresses[:5]
        planned = [e for e in box.store.pending_events() if e["kind"].endswith(":ipe")]
        assert sorted(e["ref"] for e in planned) == ["COVA", "COVB"]
    finally:
        box.stop()
    box = Sandbox(opsim_config).start()
    try:
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == inode  # opened, not generated again
        assert box.networks["COVA"].addresses[:5] == first
        planned = [e for e in box.store.pending_events() if e["kind"].endswith(":ipe")]
        assert sorted(e["ref"] for e in planned) == ["COVA", "COVB"]
    finally:
        box.stop()


def test_the_ipe_is_stored_and_written_once_for_every_oc_and_each_oc_deletes_its_own_copy(opsim_sandbox,
                                                                                          api: Api) -> None:
    """A broadcast costs one file per network and Monday, not one per OC: every tenant's copy is a hard link
    to one shared file, the store keeps its bytes once, and an OC deleting its copy leaves the others'."""
    oc_codes = [f"BCAST{i}" for i in range(6)]
    for code in oc_codes:
        api.post("/tenants", {"code": code, "password": "pw"})
    api.post("/clock/advance", {"hours": 140})  # Monday 2026-11-30 06:00
    opsim_sandbox.engine.idle()
    tenants = ["DEMO", *oc_codes]
    homes = opsim_sandbox.config.data_dir / "ftp" / "covage"
    copies = [next((homes / code / "OUT/COVA/CV/PM").glob("*.csv")) for code in tenants]
    inodes = {path.stat().st_ino for path in copies}
    assert len(inodes) == 1, "every OC's IPE is the same file"
    assert copies[0].stat().st_nlink == len(tenants) + 1  # the tenants' links and the shared one
    rows = opsim_sandbox.store.reader().execute("SELECT count(*), sum(length(content)) FROM shared_content")
    count, size = rows.fetchone()
    assert count == 2 and size == sum(p.stat().st_size for p in (copies[0], next(
        (homes / "DEMO" / "OUT/COVB/CB/PM").glob("*.csv"))))  # one IPE per network, whatever the tenants
    # Over FTP each OC reads the same bytes; one deletes its copy, the others still read theirs.
    first = ftp_login(opsim_sandbox.ftp_address, "BCAST0", "pw")
    try:
        content = download(first, f"OUT/COVA/CV/PM/{copies[1].name}")
        first.delete(f"OUT/COVA/CV/PM/{copies[1].name}")
        assert _pm_files(first, "OUT/COVA/CV/PM") == []
    finally:
        first.close()
    assert len(IPE.parse(content).records) == SIZE
    other = ftp_login(opsim_sandbox.ftp_address, "BCAST1", "pw")
    try:
        assert download(other, f"OUT/COVA/CV/PM/{copies[2].name}") == content
    finally:
        other.close()
    # The emitted file's bytes are served by the API as for any answer file.
    [emitted] = [f for f in api.get("/files?tenant=BCAST3") if f["flow"] == "IPE" and "_COVA_" in f["filename"]]
    with urllib.request.urlopen(f"{api.base}/files/{emitted['id']}/content?tenant=BCAST3", timeout=30) as answer:
        assert answer.read() == content
