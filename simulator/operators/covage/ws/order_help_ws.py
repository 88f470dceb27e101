"""Order help WS 3.0 and 2.0 on the wire: spyne, SOAP 1.1 document/literal.

Interop house style (public e-Mutation WSDL), lowerCamelCase as seed 002 writes it: every request starts
with `entete` {operateurCommercial {nom, identifiant}, versionWS, horodatageRequete, identifiantRequete}
(opsim choice: in the body, as e-Mutation's Entete), every answer with `enteteReponse`; an address is given
one way in `referenceAdresse`; faults carry `erreur` {codeErreur, libelleErreur} in their detail.
Names, namespaces and codes come from specs/webservices/order-help.yaml.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from lxml import etree
from spyne import ComplexModel, DateTime, Integer, ServiceBase, Unicode, rpc
from spyne.model.fault import Fault

from ....capability import ServiceHost, SoapEndpoint, WebService
from ..order_help import AddressQuery, OrderHelp, OrderHelpError
from .common import SOAP_ENV, fault_envelope, first_text, operations, wsdl_builder, wsgi_app

log = logging.getLogger(__name__)


def build(capability: OrderHelp, service: WebService, host: ServiceHost) -> SoapEndpoint:
    spec = capability.spec
    version = spec["versions"][service.version]
    ns = version["namespace"]
    errors = spec["errors"]
    t = _types(ns)

    def error(kind: str, detail: str = "") -> etree._Element:
        e = errors.get(kind, errors["technical"])
        node = etree.Element(f"{{{ns}}}erreur", nsmap={"ns": ns})
        etree.SubElement(node, f"{{{ns}}}codeErreur").text = e["code"]
        etree.SubElement(node, f"{{{ns}}}libelleErreur").text = f"{e['label']}: {detail}" if detail else e["label"]
        return node

    def fault(kind: str, detail: str = "", operation: str = "") -> bytes:
        e = errors.get(kind, errors["technical"])
        return fault_envelope(e["faultcode"], detail or e["label"], error(kind, detail))

    def raise_fault(kind: str, detail: str) -> Fault:
        e = errors.get(kind, errors["technical"])
        return Fault(faultcode=e["faultcode"], faultstring=detail or e["label"], detail=error(kind, detail))

    def answer(ctx: Any, entete: Any, query: Callable[[], Any]) -> Any:
        """Check the header, run the query, map domain errors to the service's faults."""
        tenant = ctx.transport.req_env.get("opsim.tenant", "")
        oc = getattr(entete, "operateurCommercial", None) if entete is not None else None
        if entete is None or oc is None or not (oc.nom or "").strip():
            raise raise_fault("malformed", "entete/operateurCommercial/nom is mandatory")
        if not (entete.identifiantRequete or "").strip():
            raise raise_fault("malformed", "entete/identifiantRequete is mandatory")
        if oc.nom.strip() != tenant:
            raise raise_fault("unknown_oc", f"operateurCommercial/nom {oc.nom!r}")
        try:
            body = query()
        except OrderHelpError as e:
            raise raise_fault(e.kind, e.detail) from None
        except Fault:
            raise
        except Exception as e:  # a bug is a technical fault, never a stack trace to the OC
            log.exception("order help %s failed", service.name)
            raise raise_fault("technical", type(e).__name__) from None
        now = host.now()
        reply = t.EnteteReponse(versionWS=service.version, horodatageReponse=now,
                                horodatageRequete=entete.horodatageRequete,
                                operateurCommercial=t.OperateurCommercial(nom=oc.nom, identifiant=oc.identifiant),
                                identifiantReponse=str(uuid.uuid4()), identifiantRequete=entete.identifiantRequete)
        return (reply, *body) if isinstance(body, tuple) else (reply, body)

    def address(ref: Any) -> AddressQuery:
        if ref is None:
            raise OrderHelpError("malformed", "referenceAdresse is mandatory")
        rivoli, geo, voie = ref.referenceRivoli, ref.referenceGeographique, ref.referenceHexacleVoie
        return AddressQuery(
            hexacle=(ref.referenceHexacle or "").strip(),
            insee=(rivoli.codeInsee or "") if rivoli else "", rivoli=(rivoli.codeRivoli or "") if rivoli else "",
            numero=(rivoli.numeroVoie if rivoli else voie.numeroVoie if voie else "") or "",
            complement=(rivoli.complementNumeroVoie if rivoli else voie.complementNumeroVoie if voie else "") or "",
            hexacle_voie=(voie.codeHexacleVoie or "") if voie else "",
            projection=(geo.typeProjection or "") if geo else "",
            x=(geo.coordonneeX or "") if geo else "", y=(geo.coordonneeY or "") if geo else "",
            identifiant_immeuble=(ref.identifiantImmeuble or "").strip())

    port = spec["port"]

    class OrderHelpService(ServiceBase):
        __service_name__ = spec["service"]
        __port_types__ = (port,)

        @rpc(t.Entete, t.ReferenceAdresse, _returns=(t.EnteteReponse, t.Adresse, t.BatimentList),
             _port_type=port, _out_variable_names=("enteteReponse", "adresse", "batiment"))
        def obtentionStructureAdresseOperation(ctx, entete, referenceAdresse):  # noqa: N805, N803
            def query() -> tuple[Any, Any]:
                s = capability.structure(address(referenceAdresse))
                return t.Adresse(**s["adresse"]), [t.batiment(b) for b in s["batiment"]]
            return answer(ctx, entete, query)

        @rpc(t.Entete, Unicode, Unicode, _returns=(t.EnteteReponse, t.CommuneList),
             _port_type=port, _out_variable_names=("enteteReponse", "commune"))
        def obtentionCommunesOperation(ctx, entete, codePostal, codeInsee):  # noqa: N805, N803
            return answer(ctx, entete, lambda: [t.Commune(**c) for c in capability.communes(codePostal or "",
                                                                                          codeInsee or "")])

        @rpc(t.Entete, Unicode, _returns=(t.EnteteReponse, t.VoieList), _port_type=port,
             _out_variable_names=("enteteReponse", "voie"))
        def obtentionVoiesOperation(ctx, entete, codeInsee):  # noqa: N805, N803
            return answer(ctx, entete, lambda: [t.Voie(**v) for v in capability.streets(codeInsee or "")])

        @rpc(t.Entete, Unicode, Unicode, Unicode, _returns=(t.EnteteReponse, t.NumeroList),
             _port_type=port, _out_variable_names=("enteteReponse", "numero"))
        def obtentionNumerosOperation(ctx, entete, codeInsee, codeRivoli, codeHexacleVoie):  # noqa: N805, N803
            return answer(ctx, entete, lambda: [t.Numero(**n) for n in capability.numbers(
                codeInsee or "", codeRivoli or "", codeHexacleVoie or "")])

        @rpc(t.Entete, t.ReferenceAdresse, _returns=(t.EnteteReponse, t.BatimentCourtList),
             _port_type=port, _out_variable_names=("enteteReponse", "batiment"))
        def obtentionBatimentsOperation(ctx, entete, referenceAdresse):  # noqa: N805, N803
            return answer(ctx, entete, lambda: [t.BatimentCourt(**b)
                                                for b in capability.buildings(address(referenceAdresse))])

        if "obtentionZoneArrierePmOperation" in version["operations"]:
            @rpc(t.Entete, Unicode, _returns=(t.EnteteReponse, t.ZoneArrierePm),
                 _port_type=port, _out_variable_names=("enteteReponse", "zoneArrierePm"))
            def obtentionZoneArrierePmOperation(ctx, entete, referencePM):  # noqa: N805, N803
                def query() -> Any:
                    z = capability.zone(referencePM or "")
                    return t.ZoneArrierePm(**{**z, "adresse": [t.Adresse(**a) for a in z["adresse"]]})
                return answer(ctx, entete, query)

    wanted = set(version["operations"])
    assert wanted == set(OrderHelpService.public_methods), "the spec's operations and the service's differ"
    services: list[type] = [OrderHelpService]
    wsgi = wsgi_app(services, ns, spec["service"])

    def identify(tree: Any, basic_tenant: str | None) -> str | None:
        nom = first_text(tree, "nom")
        if not nom or not host.known(nom) or (basic_tenant is not None and basic_tenant != nom):
            return None
        return nom

    def text(node: Any, path: str) -> str:
        """The stripped text at `path` (slash-separated names in the version's namespace) under `node`."""
        if node is None:
            return ""
        return (node.findtext("/".join(f"{{{ns}}}{part}" for part in path.split("/"))) or "").strip()

    def direct(operation: str, parts: Callable[[Any], list[tuple[str, Any]]]
               ) -> Callable[[Any, str], tuple[int, bytes]]:
        """`operation` answered without spyne, from the envelope the guard has already parsed: spyne's reading
        and writing cost most of a read's time. The header is checked as `answer` does; `parts(request)` gives
        the answer's elements after enteteReponse, written in the order the WSDL's types declare them."""
        def respond(tree: Any, tenant: str) -> tuple[int, bytes]:
            request = tree.find(f".//{{{ns}}}{operation}")
            entete = request.find(f"{{{ns}}}entete") if request is not None else None
            nom, request_id = text(entete, "operateurCommercial/nom"), text(entete, "identifiantRequete")
            try:
                if entete is None or not nom:
                    raise OrderHelpError("malformed", "entete/operateurCommercial/nom is mandatory")
                if not request_id:
                    raise OrderHelpError("malformed", "entete/identifiantRequete is mandatory")
                if nom != tenant:
                    raise OrderHelpError("unknown_oc", f"operateurCommercial/nom {nom!r}")
                body = parts(request)
            except OrderHelpError as e:
                return 500, fault(e.kind, e.detail, operation)
            envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "tns": ns})
            response = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"),
                                        f"{{{ns}}}{operation}Response")
            _append(response, "enteteReponse", {
                "versionWS": service.version, "horodatageReponse": host.now().isoformat(timespec="seconds"),
                "horodatageRequete": text(entete, "horodatageRequete"),
                "operateurCommercial": {"nom": nom, "identifiant": text(entete, "operateurCommercial/identifiant")},
                "identifiantReponse": str(uuid.uuid4()), "identifiantRequete": request_id}, ns)
            for name, value in body:
                _append(response, name, value, ns)
            return 200, etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        return respond

    def structure_parts(request: Any) -> list[tuple[str, Any]]:
        ref = request.find(f"{{{ns}}}referenceAdresse")
        if ref is None:
            raise OrderHelpError("malformed", "referenceAdresse is mandatory")
        numero = text(ref, "referenceRivoli/numeroVoie") or text(ref, "referenceHexacleVoie/numeroVoie")
        complement = text(ref, "referenceRivoli/complementNumeroVoie") or \
            text(ref, "referenceHexacleVoie/complementNumeroVoie")
        structure = capability.structure(AddressQuery(
            hexacle=text(ref, "referenceHexacle"), insee=text(ref, "referenceRivoli/codeInsee"),
            rivoli=text(ref, "referenceRivoli/codeRivoli"), numero=numero, complement=complement,
            hexacle_voie=text(ref, "referenceHexacleVoie/codeHexacleVoie"),
            projection=text(ref, "referenceGeographique/typeProjection"),
            x=text(ref, "referenceGeographique/coordonneeX"), y=text(ref, "referenceGeographique/coordonneeY"),
            identifiant_immeuble=text(ref, "identifiantImmeuble")))
        return [("adresse", structure["adresse"]), ("batiment", structure["batiment"])]

    # The reads an OC makes before every order; the others (buildings, zone) still go through spyne.
    answered_directly = {
        "obtentionStructureAdresseOperation": direct("obtentionStructureAdresseOperation", structure_parts),
        "obtentionCommunesOperation": direct("obtentionCommunesOperation", lambda request: [
            ("commune", capability.communes(text(request, "codePostal"), text(request, "codeInsee")))]),
        "obtentionVoiesOperation": direct("obtentionVoiesOperation", lambda request: [
            ("voie", capability.streets(text(request, "codeInsee")))]),
        "obtentionNumerosOperation": direct("obtentionNumerosOperation", lambda request: [
            ("numero", capability.numbers(text(request, "codeInsee"), text(request, "codeRivoli"),
                                          text(request, "codeHexacleVoie")))]),
    }

    return SoapEndpoint(service.name, version["path"], "/wsdl", wsgi, wsdl_builder(wsgi), operations(services),
                        identify, fault, answered_directly)


def _append(parent: Any, name: str, value: Any, ns: str) -> None:
    """`value` as element(s) `name`: a dict's keys in order, a list as repeated elements, None left out."""
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _append(parent, name, item, ns)
        return
    node = etree.SubElement(parent, f"{{{ns}}}{name}")
    if isinstance(value, dict):
        for key, item in value.items():
            _append(node, key, item, ns)
    else:
        node.text = str(value)


class _Types:
    """The spyne classes of one version (one namespace), set by name as they are made."""


def _types(ns: str) -> Any:
    t: Any = _Types()  # its classes are set by name

    class Model(ComplexModel):
        __namespace__ = ns

    def model(name: str, **fields: Any) -> type:
        return type(name[0].upper() + name[1:], (Model,), {"_type_info": list(fields.items()),
                                                           "__type_name__": name})

    many = "unbounded"
    t.OperateurCommercial = model("operateurCommercial", nom=Unicode(min_occurs=1), identifiant=Unicode)
    t.Entete = model("entete", operateurCommercial=t.OperateurCommercial, versionWS=Unicode,
                     horodatageRequete=DateTime, identifiantRequete=Unicode)
    t.EnteteReponse = model("enteteReponse", versionWS=Unicode, horodatageReponse=DateTime,
                            horodatageRequete=DateTime, operateurCommercial=t.OperateurCommercial,
                            identifiantReponse=Unicode, identifiantRequete=Unicode)
    t.ReferenceRivoli = model("referenceRivoli", codeInsee=Unicode, codeRivoli=Unicode, numeroVoie=Unicode,
                              complementNumeroVoie=Unicode)
    t.ReferenceGeographique = model("referenceGeographique", typeProjection=Unicode, coordonneeX=Unicode,
                                    coordonneeY=Unicode)
    t.ReferenceHexacleVoie = model("referenceHexacleVoie", codeHexacleVoie=Unicode, numeroVoie=Unicode,
                                   complementNumeroVoie=Unicode)
    t.ReferenceAdresse = model("referenceAdresse", referenceHexacle=Unicode, referenceRivoli=t.ReferenceRivoli,
                               referenceGeographique=t.ReferenceGeographique,
                               referenceHexacleVoie=t.ReferenceHexacleVoie, identifiantImmeuble=Unicode)
    t.Adresse = model("adresse", **{k: Unicode for k in (
        "codeHexacle", "codeHexacleVoie", "codeInsee", "codePostal", "commune", "codeRivoli", "typeVoie",
        "libelleVoie", "numeroVoie", "complementNumeroVoie", "identifiantImmeuble", "batiment", "reseau")})
    t.Ligne = model("ligne", **{k: Unicode for k in (
        "referencePrise", "etatLigne", "referencePBO", "localisationPBO", "typePBO", "referencePM",
        "referencePMTechnique")})
    t.Etage = model("etage", etage=Unicode, ligne=t.Ligne.customize(max_occurs=many))
    t.Escalier = model("escalier", escalier=Unicode, etage=t.Etage.customize(max_occurs=many))
    t.Batiment = model("batiment", identifiantImmeuble=Unicode, batiment=Unicode, etatImmeuble=Unicode,
                       typeImmeuble=Unicode, nombreLogements=Integer, referencePM=Unicode,
                       referencePMTechnique=Unicode, etatPM=Unicode, escalier=t.Escalier.customize(max_occurs=many))
    t.BatimentList = t.Batiment.customize(max_occurs=many)
    t.BatimentCourt = model("batimentCourt", identifiantImmeuble=Unicode, batiment=Unicode, etatImmeuble=Unicode,
                            typeImmeuble=Unicode, nombreLogements=Integer, referencePM=Unicode)
    t.BatimentCourtList = t.BatimentCourt.customize(max_occurs=many)
    t.Commune = model("commune", codeInsee=Unicode, codePostal=Unicode, libelleCommune=Unicode)
    t.CommuneList = t.Commune.customize(max_occurs=many)
    t.Voie = model("voie", codeRivoli=Unicode, codeHexacleVoie=Unicode, typeVoie=Unicode, libelleVoie=Unicode)
    t.VoieList = t.Voie.customize(max_occurs=many)
    t.Numero = model("numero", numeroVoie=Unicode, complementNumeroVoie=Unicode, codeHexacle=Unicode)
    t.NumeroList = t.Numero.customize(max_occurs=many)
    t.ZoneArrierePm = model("zoneArrierePm", referencePM=Unicode, referencePMTechnique=Unicode, etatPM=Unicode,
                            typeEmplacementPM=Unicode, capaciteMaxPM=Integer,
                            adresse=t.Adresse.customize(max_occurs=many))

    def batiment(b: dict[str, Any]) -> Any:
        return t.Batiment(**{**b, "escalier": [
            t.Escalier(escalier=s["escalier"], etage=[
                t.Etage(etage=f["etage"], ligne=[t.Ligne(**line) for line in f["ligne"]]) for f in s["etage"]])
            for s in b["escalier"]]})

    t.batiment = batiment
    return t
