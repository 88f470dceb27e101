"""Immutable reference network of an FTTH delegation: PMs, PBOs, buildings (IPE lines) and sockets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: Column names of an IPE line, in file order.
IPE_COLUMNS: tuple[str, ...] = (
    "IdentifiantImmeuble",
    "EtatImmeuble",
    "CodeAdresseImmeuble",
    "CodeHexacleVoie",
    "CodeInseeImmeuble",
    "CodePostalImmeuble",
    "CommuneImmeuble",
    "CodeVoieRivoliImmeuble",
    "TypeVoieImmeuble",
    "NomVoieImmeuble",
    "NumeroVoieImmeuble",
    "ComplementNumeroVoieImmeuble",
    "BatimentImmeuble",
    "NombreLogementsAdresseIPE",
    "TypeImmeuble",
    "TypeProjection",
    "CoordonneeImmeubleX",
    "CoordonneeImmeubleY",
    "DateCablageAdresse",
    "DateDerniereModification",
    "AccordGestionnaireImmeubleNecessaire",
    "ReferencePM",
    "EtatPM",
    "DateInstallationPM",
    "DateMiseEnServiceCommercialePM",
    "TypeEmplacementPM",
    "CapaciteMaxPM",
    "TypeIngenierie",
    "TypeZone",
)

DEPLOYE = "DEPLOYE"

#: FOTAG colour code, used for tubes, fibres and socket connectors.
FOTAG_COLOURS: tuple[str, ...] = (
    "ROUGE", "BLEU", "VERT", "JAUNE", "VIOLET", "BLANC",
    "ORANGE", "GRIS", "MARRON", "NOIR", "TURQUOISE", "ROSE",
)

#: Positions per PM module (one 24-fibre distribution cable per module).
MODULE_POSITIONS = 24


@dataclass(frozen=True, slots=True)
class Pm:
    """Point de Mutualisation."""

    reference: str
    reference_technique: str
    reference_prestation: str
    etat: str
    localisation: str
    date_installation: str
    date_mes_commerciale: str
    type_emplacement: str
    capacite_max: int
    type_ingenierie: str
    code_nro: str


@dataclass(frozen=True, slots=True)
class Pbo:
    """Point de Branchement Optique."""

    reference: str
    localisation: str
    type_pbo: str


@dataclass(frozen=True, slots=True)
class Route:
    """Optical route from a PM module position to a socket connector."""

    nom_module_pm: str
    position_module_pm: str
    reference_cable_module_pm: str
    information_tube_module_pm: str
    information_fibre_module_pm: str
    reference_cable_pbo: str
    information_tube_pbo: str
    information_fibre_pbo: str
    connecteur_prise_numero: str
    connecteur_prise_couleur: str


@dataclass(frozen=True, slots=True)
class Line:
    """An existing socket (PTO)."""

    reference_prise: str
    hexacle: str
    batiment: str
    escalier: str
    etage: str
    pbo: str
    route: Route
    occupied: bool


@dataclass(frozen=True, slots=True)
class Address:
    """One IPE line: one building at one street address."""

    identifiant_immeuble: str
    etat_immeuble: str
    hexacle: str
    hexacle_voie: str
    insee: str
    postcode: str
    commune: str
    rivoli: str
    type_voie: str
    nom_voie: str
    numero: str
    complement: str
    batiment: str
    nb_logements: int
    type_immeuble: str
    type_projection: str
    x: str
    y: str
    date_cablage: str
    date_derniere_modification: str
    accord_gestionnaire: str
    pm: str
    type_zone: str
    escaliers: tuple[str, ...]
    etages: tuple[str, ...]
    pbos: tuple[str, ...]
    lines: tuple[Line, ...]

    @property
    def deployed(self) -> bool:
        return self.etat_immeuble == DEPLOYE


def build_route(pm_reference: str, pbo_reference: str, pm_slot: int, pbo_slot: int) -> Route:
    """Route using fibre number `pm_slot` at the PM and `pbo_slot` at the PBO (both 0-based).

    Distinct `pm_slot` values always give distinct (module, position) pairs.
    """
    module, position = divmod(pm_slot, MODULE_POSITIONS)
    tube_pm, fibre_pm = divmod(position, 12)
    tube_pbo, fibre_pbo = divmod(pbo_slot, 12)
    return Route(
        nom_module_pm=f"MOD{module + 1:02d}",
        position_module_pm=str(position + 1),
        reference_cable_module_pm=f"CDI-{pm_reference}-{module + 1:02d}",
        information_tube_module_pm=f"T{tube_pm + 1}-{FOTAG_COLOURS[tube_pm % 12]}",
        information_fibre_module_pm=f"F{fibre_pm + 1}-{FOTAG_COLOURS[fibre_pm]}",
        reference_cable_pbo=f"CBR-{pbo_reference}",
        information_tube_pbo=f"T{tube_pbo + 1}-{FOTAG_COLOURS[tube_pbo % 12]}",
        information_fibre_pbo=f"F{fibre_pbo + 1}-{FOTAG_COLOURS[fibre_pbo]}",
        # A new PTO is always patched on its first connector.
        connecteur_prise_numero="1",
        connecteur_prise_couleur=FOTAG_COLOURS[0],
    )


def _norm(value: str) -> str:
    return value.strip().upper()


def _norm_numero(numero: str) -> str:
    # "007" and "7" designate the same street number.
    value = numero.strip()
    return str(int(value)) if value.isdigit() else value.upper()


def _rivoli_key(insee: str, rivoli: str, numero: str, complement: str) -> tuple[str, str, str, str]:
    return insee.strip().upper(), _norm(rivoli), _norm_numero(numero), _norm(complement)


@dataclass(frozen=True, slots=True)
class ReferenceNetwork:
    """A generated, immutable delegation network with O(1) lookups."""

    network: str
    arcep: str
    pms: tuple[Pm, ...]
    addresses: tuple[Address, ...]
    pbos: tuple[Pbo, ...] = ()
    # Indexes are derived data: excluded from init, eq and repr.
    _by_id: dict[str, Address] = field(init=False, repr=False, compare=False)
    _by_hexacle: dict[str, list[Address]] = field(init=False, repr=False, compare=False)
    _by_rivoli: dict[tuple[str, str, str, str], list[Address]] = field(
        init=False, repr=False, compare=False
    )
    _pm: dict[str, Pm] = field(init=False, repr=False, compare=False)
    _pm_prestation: dict[str, Pm] = field(init=False, repr=False, compare=False)
    _pbo: dict[str, Pbo] = field(init=False, repr=False, compare=False)
    _line: dict[str, Line] = field(init=False, repr=False, compare=False)
    _pm_used: Counter[str] = field(init=False, repr=False, compare=False)
    _pbo_used: Counter[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Address] = {}
        by_hexacle: dict[str, list[Address]] = {}
        by_rivoli: dict[tuple[str, str, str, str], list[Address]] = {}
        lines: dict[str, Line] = {}
        pm_used: Counter[str] = Counter()
        pbo_used: Counter[str] = Counter()
        for address in self.addresses:
            by_id[address.identifiant_immeuble] = address
            by_hexacle.setdefault(address.hexacle, []).append(address)
            key = _rivoli_key(address.insee, address.rivoli, address.numero, address.complement)
            by_rivoli.setdefault(key, []).append(address)
            pm_used[address.pm] += len(address.lines)
            for line in address.lines:
                lines[line.reference_prise] = line
                pbo_used[line.pbo] += 1
        setter = object.__setattr__  # frozen dataclass: indexes are set once, here
        setter(self, "_by_id", by_id)
        setter(self, "_by_hexacle", by_hexacle)
        setter(self, "_by_rivoli", by_rivoli)
        setter(self, "_line", lines)
        setter(self, "_pm", {pm.reference: pm for pm in self.pms})
        setter(self, "_pm_prestation", {pm.reference_prestation: pm for pm in self.pms})
        setter(self, "_pbo", {pbo.reference: pbo for pbo in self.pbos})
        setter(self, "_pm_used", pm_used)
        setter(self, "_pbo_used", pbo_used)

    # -- lookups -------------------------------------------------------------------------------------

    def addresses_by_hexacle(self, hexacle: str) -> list[Address]:
        """All buildings at that street address ([] if unknown)."""
        return list(self._by_hexacle.get(_norm(hexacle), ()))

    def addresses_by_rivoli(
        self, insee: str, rivoli: str, numero: str, complement: str = ""
    ) -> list[Address]:
        """All buildings at that INSEE/RIVOLI/number; an empty complement means "no complement"."""
        return list(self._by_rivoli.get(_rivoli_key(insee, rivoli, numero, complement), ()))

    def address_by_id(self, identifiant_immeuble: str) -> Address | None:
        return self._by_id.get(identifiant_immeuble)

    def pm(self, reference: str) -> Pm | None:
        return self._pm.get(reference)

    def pm_by_prestation(self, reference_prestation: str) -> Pm | None:
        return self._pm_prestation.get(reference_prestation)

    def pm_of(self, address: Address) -> Pm:
        """The PM serving `address` (KeyError if the address is not from this network)."""
        return self._pm[address.pm]

    def pbo(self, reference: str) -> Pbo | None:
        return self._pbo.get(reference)

    def line(self, reference_prise: str) -> Line | None:
        return self._line.get(reference_prise)

    def lines_at(
        self, address: Address, batiment: str = "", escalier: str = "", etage: str = ""
    ) -> list[Line]:
        """Existing sockets at the street address of `address` (all its buildings), filtered.

        Empty filter values match anything; comparison ignores case and surrounding blanks.
        """
        wanted = [(attr, _norm(value)) for attr, value in
                  (("batiment", batiment), ("escalier", escalier), ("etage", etage)) if _norm(value)]
        return [
            line
            for building in self._by_hexacle.get(address.hexacle, [address])
            for line in building.lines
            if all(_norm(getattr(line, attr)) == value for attr, value in wanted)
        ]

    def deployed(self, limit: int | None = None) -> list[Address]:
        """Buildings whose EtatImmeuble is DEPLOYE, in generation order."""
        result = [address for address in self.addresses if address.deployed]
        return result if limit is None else result[:limit]

    def new_route(self, address: Address, index: int, pbo: str | None = None) -> Route:
        """A deterministic route for a NEW socket at `address`; `index` is the caller's counter.

        The route uses PM positions after those of the existing lines, so it never clashes
        with them, and different `index` values give different PM positions. `pbo` forces the
        PBO the fibre goes through (one of the building's), e.g. the one serving the staircase.
        Raises ValueError for a building without PBO (not deployed) or a PBO not in it.
        """
        if not address.pbos:
            raise ValueError(
                f"{address.identifiant_immeuble} has no PBO (EtatImmeuble {address.etat_immeuble})"
            )
        if index < 0:
            raise ValueError("index must be >= 0")
        pm = self.pm_of(address)
        if pbo is not None and pbo not in address.pbos:
            raise ValueError(f"{pbo} does not serve {address.identifiant_immeuble}")
        pbo_reference = pbo or address.pbos[index % len(address.pbos)]
        pbo_slot = self._pbo_used[pbo_reference] + (index if pbo else index // len(address.pbos))
        return build_route(pm.reference, pbo_reference, self._pm_used[pm.reference] + index, pbo_slot)

    def ipe_record(self, address: Address) -> dict[str, str]:
        """The building as an IPE line keyed by IPE_COLUMNS."""
        pm = self.pm_of(address)
        values = (
            address.identifiant_immeuble,
            address.etat_immeuble,
            address.hexacle,
            address.hexacle_voie,
            address.insee,
            address.postcode,
            address.commune,
            address.rivoli,
            address.type_voie,
            address.nom_voie,
            address.numero,
            address.complement,
            address.batiment,
            str(address.nb_logements),
            address.type_immeuble,
            address.type_projection,
            address.x,
            address.y,
            address.date_cablage,
            address.date_derniere_modification,
            address.accord_gestionnaire,
            pm.reference,
            pm.etat,
            pm.date_installation,
            pm.date_mes_commerciale,
            pm.type_emplacement,
            str(pm.capacite_max),
            pm.type_ingenierie,
            address.type_zone,
        )
        return dict(zip(IPE_COLUMNS, values, strict=True))
