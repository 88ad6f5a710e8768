"""Sub-organizations and locations built from keyword arguments or checked as given.

Pure (no I/O). :func:`organization_resource` and :func:`location_resource` turn keyword
arguments into the FHIR resource SATUSEHAT documents (``reference/satusehat-clinical.md``
§5), or check a full resource (a struct or a FHIR dict), and refuse before sending what
would fail or could not be created idempotently: no client organization id, an empty
name, no organization-scoped identifier (``http://sys-ids.kemkes.go.id/organization/{org}``
or ``.../location/{org}``: the identity of the create), an unknown organization type or
physical type, a ``partOf`` that is not a reference to the right type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from satusehat_async.errors import ValidationError
from satusehat_async.fhir import Location, Organization
from satusehat_async.organizations.codes import (
    LOCATION_MODES,
    LOCATION_STATUSES,
    ORGANIZATION_TYPE_SYSTEM,
    ORGANIZATION_TYPES,
    PHYSICAL_TYPE_SYSTEM,
    PHYSICAL_TYPES,
)
from satusehat_async.redact import redact_niks
from satusehat_async.resource.kinds import check_id
from satusehat_async.resource.local import local_identifier
from satusehat_async.resource.strict import to_resource

__all__ = ["location_resource", "organization_resource", "reference_to", "scoped_value"]


def _organization(organization_id: str | None) -> str:
    if organization_id is None:
        raise ValidationError(
            "organization_id is required: sub-organizations and locations carry identifiers "
            "of the client's organization (SatuSehatClient(organization_id=...) / "
            "SATUSEHAT_ORGANIZATION_ID); nothing was sent"
        )
    return organization_id


def reference_to(kind: str, value: object, what: str) -> str:
    """``Kind/id`` from an id or a ``Kind/id`` reference (ValidationError otherwise)."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{what} must be a {kind} id or '{kind}/id', not {type(value).__name__}"
        )
    head, slash, tail = value.rpartition("/")
    if slash and head.rsplit("/", 1)[-1] != kind:
        shown = redact_niks(repr(value[:80]))
        raise ValidationError(f"{what} must reference a {kind} ('{kind}/id'), got {shown}")
    return f"{kind}/{check_id(kind, tail if slash else value)}"


def _name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"a {what} needs a name (a non-empty string); nothing was sent")
    return " ".join(name.split())


def _coding(system: str, code: object, known: Mapping[str, str], what: str) -> dict[str, Any]:
    if not isinstance(code, str) or code not in known:
        raise ValidationError(
            f"unknown {what} {redact_niks(repr(code))[:40]}; one of: {', '.join(known)}"
        )
    return {"coding": [{"system": system, "code": code, "display": known[code]}]}


def _one_of(value: object, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{what} must be one of {', '.join(allowed)}, not {value!r:.30}")
    return str(value)


def scoped_value(resource: Organization | Location, kind: str, organization_id: str) -> str:
    """The value of the resource's identifier of ``http://sys-ids.kemkes.go.id/{kind}/{org}``
    (ValidationError when it has none: the create would have no identity)."""
    system = f"http://sys-ids.kemkes.go.id/{kind}/{organization_id}"
    for identifier in resource.identifier or ():
        if identifier.system == system and identifier.value:
            return identifier.value
    raise ValidationError(
        f"a {type(resource).__name__} needs an identifier of {system} (its identity: it is "
        "created once by it); nothing was sent"
    )


def _plain(value: Any) -> Any:
    # msgspec structs in keyword arguments (ContactPoint, Address) stay as they are: the
    # strict decoder of to_resource encodes them with the rest
    return list(value) if isinstance(value, (list, tuple)) else value


def organization_resource(
    resource: Organization | Mapping[str, Any] | None = None,
    *,
    organization_id: str | None,
    identifier: str | None = None,
    name: str | None = None,
    part_of: str | None = None,
    type: str = "dept",
    active: bool = True,
    telecom: Sequence[Any] | None = None,
    address: Any = None,
) -> Organization:
    """A sub-organization of ``organization_id`` (checked; see the module documentation).

    ``part_of``: the parent Organization's id (default: the client's organization, the
    facility). ``address``: one Address (or a list of them).
    """
    org = _organization(organization_id)
    if resource is not None:
        if identifier is not None or name is not None or part_of is not None:
            raise ValidationError("give either a whole Organization or keyword arguments, not both")
        checked = to_resource(Organization, resource)
        _name(checked.name, "sub-organization")
        if checked.part_of is not None:
            reference_to("Organization", checked.part_of.reference, "Organization.partOf")
        for kind in checked.type or ():
            for coding in kind.coding or ():
                if coding.system == ORGANIZATION_TYPE_SYSTEM:
                    _coding(ORGANIZATION_TYPE_SYSTEM, coding.code, ORGANIZATION_TYPES, "type")
        scoped_value(checked, "organization", org)
        return checked
    if identifier is None:
        raise ValidationError("identifier is required (the sub-organization's own code)")
    body: dict[str, Any] = {
        "resourceType": "Organization",
        "active": active,
        "identifier": [
            local_identifier("organization", identifier, organization_id=org, use="official")
        ],
        "type": [_coding(ORGANIZATION_TYPE_SYSTEM, type, ORGANIZATION_TYPES, "organization type")],
        "name": _name(name, "sub-organization"),
        "partOf": {"reference": reference_to("Organization", part_of or org, "part_of")},
    }
    if telecom:
        body["telecom"] = _plain(telecom)
    if address is not None:
        body["address"] = _plain(address) if isinstance(address, (list, tuple)) else [address]
    return to_resource(Organization, body)


def _check_location(checked: Location, org: str) -> Location:
    _name(checked.name, "location")
    if checked.part_of is not None:
        reference_to("Location", checked.part_of.reference, "Location.partOf")
    if checked.managing_organization is not None:
        reference_to(
            "Organization", checked.managing_organization.reference, "managingOrganization"
        )
    physical = checked.physical_type
    for coding in (physical.coding or ()) if physical is not None else ():
        if coding.system == PHYSICAL_TYPE_SYSTEM:
            _coding(PHYSICAL_TYPE_SYSTEM, coding.code, PHYSICAL_TYPES, "physical type")
    scoped_value(checked, "location", org)
    return checked


def location_resource(
    resource: Location | Mapping[str, Any] | None = None,
    *,
    organization_id: str | None,
    identifier: str | None = None,
    name: str | None = None,
    physical_type: str = "ro",
    part_of: str | None = None,
    managing_organization: str | None = None,
    description: str | None = None,
    status: str = "active",
    mode: str = "instance",
    telecom: Sequence[Any] | None = None,
    address: Any = None,
    position: Mapping[str, float] | None = None,
) -> Location:
    """A location of ``organization_id`` (checked; see the module documentation).

    ``physical_type``: a code of :data:`~satusehat_async.organizations.PHYSICAL_TYPES`
    (``si`` site, ``bu`` building, ``wi`` wing, ``lvl`` level, ``ro`` room, ``bd`` bed...);
    ``part_of``: the Location it is in (its id); ``managing_organization``: the
    Organization (id) it belongs to, default the client's organization; ``position``:
    ``{"longitude": ..., "latitude": ..., "altitude": ...}``.
    """
    org = _organization(organization_id)
    if resource is not None:
        if identifier is not None or name is not None or part_of is not None:
            raise ValidationError("give either a whole Location or keyword arguments, not both")
        return _check_location(to_resource(Location, resource), org)
    if identifier is None:
        raise ValidationError("identifier is required (the location's own code)")
    body: dict[str, Any] = {
        "resourceType": "Location",
        "identifier": [local_identifier("location", identifier, organization_id=org)],
        "status": _one_of(status, LOCATION_STATUSES, "status"),
        "name": _name(name, "location"),
        "mode": _one_of(mode, LOCATION_MODES, "mode"),
        "physicalType": _coding(
            PHYSICAL_TYPE_SYSTEM, physical_type, PHYSICAL_TYPES, "physical type"
        ),
        "managingOrganization": {
            "reference": reference_to(
                "Organization", managing_organization or org, "managing_organization"
            )
        },
    }
    if description:
        body["description"] = description
    if part_of is not None:
        body["partOf"] = {"reference": reference_to("Location", part_of, "part_of")}
    if telecom:
        body["telecom"] = _plain(telecom)
    if address is not None:
        body["address"] = address
    if position is not None:
        body["position"] = dict(position)
    return to_resource(Location, body)
