"""The codes of sub-organizations and locations: HL7's organization types and location
physical types (the systems SATUSEHAT's examples use), Location status and mode."""

from __future__ import annotations

__all__ = [
    "LOCATION_MODES",
    "LOCATION_STATUSES",
    "ORGANIZATION_TYPES",
    "ORGANIZATION_TYPE_SYSTEM",
    "PHYSICAL_TYPES",
    "PHYSICAL_TYPE_SYSTEM",
]

ORGANIZATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/organization-type"
#: Organization.type codes and their displays (``dept``: a department, the default).
ORGANIZATION_TYPES: dict[str, str] = {
    "prov": "Healthcare Provider",
    "dept": "Hospital Department",
    "team": "Organizational team",
    "govt": "Government",
    "ins": "Insurance Company",
    "pay": "Payer",
    "edu": "Educational Institute",
    "reli": "Religious Institution",
    "crs": "Clinical Research Sponsor",
    "cg": "Community Group",
    "bus": "Non-Healthcare Business or Corporation",
    "other": "Other",
}

PHYSICAL_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/location-physical-type"
#: Location.physicalType codes and their displays (``ro``: a room, the default).
PHYSICAL_TYPES: dict[str, str] = {
    "si": "Site",
    "bu": "Building",
    "wi": "Wing",
    "wa": "Ward",
    "lvl": "Level",
    "co": "Corridor",
    "ro": "Room",
    "bd": "Bed",
    "ve": "Vehicle",
    "ho": "House",
    "ca": "Cabinet",
    "rd": "Road",
    "area": "Area",
    "jdn": "Jurisdiction",
}

#: Location.status codes.
LOCATION_STATUSES = ("active", "suspended", "inactive")
#: Location.mode codes (``instance``: this very place; ``kind``: a class of places).
LOCATION_MODES = ("instance", "kind")
