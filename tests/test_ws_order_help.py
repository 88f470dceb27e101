"""Order help WS 3.0 and 2.0 through zeep against a started sandbox: every operation, every way of giving
an address, the faults, and answers that follow the orders dropped over FTP."""

from __future__ import annotations

from datetime import date

import pytest
import zeep
from lxml import etree

from simulator.operators.covage.harness.client import OcFtpClient
from simulator.operators.covage.harness.client.orders import cmd_acces
from tests.ws_helpers import NS20, NS30, entete, fast, fault_code, order_help


@pytest.fixture
def opsim_config(opsim_config):
    return fast(opsim_config)


@pytest.fixture
def client(opsim_sandbox) -> zeep.Client:
    return order_help(opsim_sandbox.http_url)


@pytest.fixture
def building(opsim_sandbox):
    """A deployed building of COVA with staircases and sockets."""
    network = opsim_sandbox.networks["COVA"]
    return next(a for a in network.deployed() if a.lines and len(a.escaliers) > 1)


def test_wsdl_30_names_the_service_its_namespace_and_every_operation(client: zeep.Client, opsim_sandbox):
    [service] = client.wsdl.services.values()
    assert service.name == "OutilAidePriseCommande"
    [port] = service.ports.values()
    assert port.name == "OutilAidePriseCommandePort"
    assert port.binding_options["address"] == f"{opsim_sandbox.http_url}/interop-opc-30"
    operations = set(port.binding._operations)
    assert operations == {"obtentionStructureAdresseOperation", "obtentionCommunesOperation",
                          "obtentionVoiesOperation", "obtentionNumerosOperation", "obtentionBatimentsOperation",
                          "obtentionZoneArrierePmOperation"}
    assert client.wsdl.types.get_element(f"{{{NS30}}}obtentionStructureAdresseOperation") is not None


def test_wsdl_20_is_served_beside_it(opsim_sandbox, building):
    client = order_help(opsim_sandbox.http_url, "20")
    [port] = next(iter(client.wsdl.services.values())).ports.values()
    assert port.binding_options["address"].endswith("/interop-opc-20")
    assert "obtentionZoneArrierePmOperation" not in port.binding._operations
    assert client.wsdl.types.get_element(f"{{{NS20}}}obtentionBatimentsOperation") is not None
    answer = client.service.obtentionBatimentsOperation(entete=entete(),
                                                        referenceAdresse={"referenceHexacle": building.hexacle})
    assert building.identifiant_immeuble in [b.identifiantImmeuble for b in answer.batiment]


def test_structure_goes_down_to_staircase_floor_and_line(client: zeep.Client, building, opsim_sandbox):
    header = entete()
    answer = client.service.obtentionStructureAdresseOperation(
        entete=header, referenceAdresse={"referenceHexacle": building.hexacle})
    assert answer.enteteReponse.identifiantRequete == header["identifiantRequete"]
    assert answer.enteteReponse.operateurCommercial.nom == "DEMO"
    assert answer.adresse.codeHexacle == building.hexacle and answer.adresse.codeInsee == building.insee
    [ours] = [b for b in answer.batiment if b.identifiantImmeuble == building.identifiant_immeuble]
    assert [s.escalier for s in ours.escalier] == list(building.escaliers)
    assert [f.etage for f in ours.escalier[0].etage] == list(building.etages)
    lines = {ln.referencePrise: ln for s in ours.escalier for f in s.etage for ln in f.ligne}
    assert set(lines) == {ln.reference_prise for ln in building.lines}
    network = opsim_sandbox.networks["COVA"]
    for line in building.lines:
        got = lines[line.reference_prise]
        assert got.referencePBO == line.pbo and got.referencePM == building.pm
        assert got.referencePMTechnique == network.pm(building.pm).reference_technique
        assert got.etatLigne == ("OCCUPEE" if line.occupied else "LIBRE")


def test_every_way_of_giving_an_address_finds_the_same_building(client: zeep.Client, building):
    ways = [
        {"referenceHexacle": building.hexacle},
        {"referenceRivoli": {"codeInsee": building.insee, "codeRivoli": building.rivoli,
                             "numeroVoie": building.numero, "complementNumeroVoie": building.complement}},
        {"referenceHexacleVoie": {"codeHexacleVoie": building.hexacle_voie, "numeroVoie": building.numero,
                                  "complementNumeroVoie": building.complement}},
        {"referenceGeographique": {"typeProjection": building.type_projection, "coordonneeX": building.x,
                                   "coordonneeY": building.y}},
        {"identifiantImmeuble": building.identifiant_immeuble},
    ]
    for way in ways:
        answer = client.service.obtentionStructureAdresseOperation(entete=entete(), referenceAdresse=way)
        assert building.identifiant_immeuble in [b.identifiantImmeuble for b in answer.batiment], way


def test_listings_lead_from_a_commune_to_a_building(client: zeep.Client, building):
    communes = client.service.obtentionCommunesOperation(entete=entete(), codePostal=building.postcode).commune
    assert building.insee in [c.codeInsee for c in communes]
    voies = client.service.obtentionVoiesOperation(entete=entete(), codeInsee=building.insee).voie
    assert building.rivoli in [v.codeRivoli for v in voies]
    numeros = client.service.obtentionNumerosOperation(entete=entete(), codeInsee=building.insee,
                                                       codeRivoli=building.rivoli).numero
    assert building.hexacle in [n.codeHexacle for n in numeros]
    batiments = client.service.obtentionBatimentsOperation(
        entete=entete(), referenceAdresse={"referenceHexacle": building.hexacle}).batiment
    assert [b.etatImmeuble for b in batiments if b.identifiantImmeuble == building.identifiant_immeuble] == \
        [building.etat_immeuble]
    zone = client.service.obtentionZoneArrierePmOperation(entete=entete(), referencePM=building.pm).zoneArrierePm
    assert zone.referencePM == building.pm
    assert building.hexacle in [a.codeHexacle for a in zone.adresse]


@pytest.mark.parametrize(("call", "code"), [
    (lambda c: c.service.obtentionStructureAdresseOperation(entete=entete(),
                                                            referenceAdresse={"referenceHexacle": "ZZZZZZZZZZ"}),
     "C01"),
    (lambda c: c.service.obtentionStructureAdresseOperation(entete=entete(), referenceAdresse={}), "C02"),
    (lambda c: c.service.obtentionStructureAdresseOperation(
        entete=entete(), referenceAdresse={"referenceHexacle": "X", "identifiantImmeuble": "Y"}), "C02"),
    (lambda c: c.service.obtentionVoiesOperation(entete=entete(), codeInsee=""), "C02"),
    (lambda c: c.service.obtentionZoneArrierePmOperation(entete=entete(), referencePM="PM-NONE"), "I01"),
    (lambda c: c.service.obtentionCommunesOperation(entete=entete(nom="NOBODY")), "C04"),
])
def test_faults_carry_code_and_label(client: zeep.Client, call, code):
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call(client)
    got, label = fault_code(caught.value)
    assert got == code and label
    assert caught.value.code.endswith(("Client.AdresseInconnue", "Client.RequeteInvalide", "Client.PmInconnu",
                                       "Client.OperateurInconnu"))


def test_the_oc_name_in_the_header_must_be_the_oc_code(opsim_config, client: zeep.Client, opsim_sandbox):
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.obtentionCommunesOperation(entete=entete(nom="demo-login-not-code"))
    assert fault_code(caught.value)[0] == "C04"


def test_an_order_over_ftp_makes_the_socket_taken(client: zeep.Client, opsim_sandbox, addresses):
    free = None
    for address in addresses:
        answer = client.service.obtentionStructureAdresseOperation(
            entete=entete(), referenceAdresse={"referenceHexacle": address["CodeAdresseImmeuble"]})
        lines = [ln for b in answer.batiment for s in b.escalier for f in s.etage for ln in f.ligne
                 if ln.etatLigne == "LIBRE"]
        if lines:
            free = (address, lines[0].referencePrise)
            break
    assert free is not None, "no free socket in the first addresses"
    address, socket = free
    host, port = opsim_sandbox.ftp_address
    with OcFtpClient(host, port, "DEMO", "demo", "DEMO", today=lambda: date(2026, 11, 24)) as oc:
        oc.send("Cmd_Acces", [cmd_acces(address, "WS-TAKEN-1", existing=socket)])
        [ar] = oc.receive("AR_Cmd_Acces").records
    assert ar["EtatArCommandePrise"] == "OK", ar
    answer = client.service.obtentionStructureAdresseOperation(
        entete=entete(), referenceAdresse={"referenceHexacle": address["CodeAdresseImmeuble"]})
    states = {ln.referencePrise: ln.etatLigne for b in answer.batiment for s in b.escalier for f in s.etage
              for ln in f.ligne}
    assert states[socket] == "OCCUPEE"


def test_each_request_is_journaled_with_its_request_id(client: zeep.Client, opsim_sandbox, api):
    header = entete()
    client.service.obtentionCommunesOperation(entete=header)
    opsim_sandbox.engine.idle()
    lines = [j for j in api.get("/journal?tenant=DEMO") if j["channel"] == "soap"]
    assert any(header["identifiantRequete"] in j["detail"] and j["outcome"] == "answered" for j in lines)


def test_a_fault_answer_is_soap_11_with_http_500(opsim_sandbox):
    import urllib.error
    import urllib.request

    body = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            b'<ns:obtentionCommunesOperation xmlns:ns="' + NS30.encode() + b'"/></soap:Body></soap:Envelope>')
    req = urllib.request.Request(f"{opsim_sandbox.http_url}/interop-opc-30", data=body, method="POST",
                                 headers={"Content-Type": "text/xml", "SOAPAction": '"obtentionCommunesOperation"'})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=10)
    assert caught.value.code == 500
    tree = etree.fromstring(caught.value.read())
    assert tree.findtext(".//faultcode").endswith("Client.OperateurInconnu")


def test_a_call_through_spyne_never_runs_a_full_garbage_collection(client: zeep.Client, monkeypatch):
    """spyne would end a call with gc.collect() once a second: a walk of the whole heap (the reference
    networks, a long-lived test worker's everything) that holds every other request on the GIL."""
    import gc

    import spyne.context

    collections: list[int] = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(1) or collect(*args))
    monkeypatch.setattr(spyne.context, "_LAST_GC_RUN", 0.0)  # as if the last collection were long ago
    communes = client.service.obtentionCommunesOperation(entete=entete(), codePostal="", codeInsee="")
    assert communes.commune and collections == []
