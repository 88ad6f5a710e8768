"""``satusehat onboard``: the spreadsheet read, each row checked, and the order to create in.

Pure (no I/O but reading the file's text). The columns (a header row; names are
case-insensitive, spaces and dashes read as ``_``; unknown columns are a usage error):

=================  ===========================================================================
``kind``           ``organization`` (a sub-organization, e.g. a department) or ``location``
``identifier``     the row's own code: the value of its identifier
                   ``http://sys-ids.kemkes.go.id/{organization|location}/{org}`` (required)
``name``           required
``parent``         organizations: the ``identifier`` of the parent organization row (empty:
                   ``partOf`` the facility); locations: of the location it is in (empty:
                   none). ``Organization/{id}`` / ``Location/{id}`` names an existing record.
``organization``   locations: the ``identifier`` of the organization row managing it (or
                   ``Organization/{id}``; empty: the facility)
``type``           organizations: an organization-type code (default ``dept``)
``physical_type``  locations: ``si`` ``bu`` ``wi`` ``wa`` ``lvl`` ``co`` ``ro`` (default) ``bd``
                   ``ve`` ``ho`` ``ca`` ``rd`` ``area`` ``jdn``
``description``    locations
``status``         locations: ``active`` (default), ``suspended``, ``inactive``
``phone``,         ContactPoints (``telecom``)
``email``, ``url``
``address_line``,  the address; ``province``, ``city_code``, ``district``, ``village``
``city``,          carry the Kemendagri region codes of SATUSEHAT's ``administrativeCode``
``postal_code``,   extension
``province``,
``city_code``,
``district``,
``village``
``longitude``,     locations: ``position``
``latitude``,
``altitude``
=================  ===========================================================================

A bad row is refused with its line number and reason, and so is every row under it; the
other rows go ahead. Rows are created parents first, whatever their order in the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from satusehat_async.errors import ValidationError
from satusehat_async.organizations import location_resource, organization_resource
from satusehat_async.redact import redact_niks

__all__ = ["COLUMNS", "OnboardPlan", "Row", "plan_rows", "read_plan", "resource_for"]

COLUMNS = (
    "kind",
    "identifier",
    "name",
    "parent",
    "organization",
    "type",
    "physical_type",
    "description",
    "status",
    "phone",
    "email",
    "url",
    "address_line",
    "city",
    "postal_code",
    "province",
    "city_code",
    "district",
    "village",
    "longitude",
    "latitude",
    "altitude",
)
REQUIRED = ("kind", "identifier", "name")
_KINDS = {"organization": "organization", "org": "organization", "location": "location"}
_KINDS.update({"loc": "location", "organisasi": "organization", "lokasi": "location"})
_REGION = (
    ("province", "province"),
    ("city_code", "city"),
    ("district", "district"),
    ("village", "village"),
)
# a placeholder id while checking a row: its parents' ids are known only when they exist
_PLACEHOLDER = "0"


class PlanError(ValidationError):
    """The file cannot be onboarded at all (no header, a missing column): nothing sent."""


@dataclass
class Row:
    """One data row: its line number, its values, and (once checked) its place in the order."""

    line: int
    values: dict[str, str]
    kind: str = ""
    depth: int = 0
    refused: str | None = None
    depends: list[tuple[str, str]] = field(default_factory=list)

    @property
    def identifier(self) -> str:
        """The row's code."""
        return self.values.get("identifier", "")

    @property
    def key(self) -> tuple[str, str]:
        """``(kind, identifier)``: what other rows name it by."""
        return (self.kind, self.identifier)


@dataclass
class OnboardPlan:
    """The rows in the order to create them (by depth), and the rows refused."""

    rows: list[Row]

    @property
    def refused(self) -> list[Row]:
        """Rows refused before sending, by line."""
        return [r for r in self.rows if r.refused is not None]

    @property
    def levels(self) -> list[list[Row]]:
        """The rows to create, level by level: every row after those it names."""
        ready = [r for r in self.rows if r.refused is None]
        depth = max((r.depth for r in ready), default=-1)
        return [[r for r in ready if r.depth == d] for d in range(depth + 1)]


def _column(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def read_plan(text: str, organization_id: str) -> OnboardPlan:
    """The plan of a CSV file's text (:class:`PlanError` when it has no usable header)."""
    sample = "\n".join(text.splitlines()[:5])
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else "excel"
    except csv.Error:
        dialect = "excel"
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise PlanError("the file is empty: it needs a header row (kind,identifier,name,...)")
    names = [_column(h) for h in header]
    unknown = [h for h, n in zip(header, names, strict=True) if n and n not in COLUMNS]
    if unknown:
        raise PlanError(
            f"unknown column(s) {', '.join(repr(redact_niks(u)) for u in unknown[:5])}; "
            f"the columns are: {', '.join(COLUMNS)}"
        )
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise PlanError(
            f"missing column(s): {', '.join(missing)} (required: {', '.join(REQUIRED)})"
        )
    rows, last = [], reader.line_num
    for cells in reader:
        start, last = last + 1, reader.line_num  # a quoted cell may span lines
        if not any(c.strip() for c in cells):
            continue  # a blank line
        values = {n: c.strip() for n, c in zip(names, cells, strict=False) if n}
        row = Row(start, values)
        if len(cells) > len(names) and any(c.strip() for c in cells[len(names) :]):
            row.refused = f"{len(cells)} cells but {len(names)} columns"
        rows.append(row)
    return plan_rows(rows, organization_id)


def _reference(value: str) -> bool:
    return value.startswith(("Organization/", "Location/"))


def _dependencies(row: Row) -> list[tuple[str, str]]:
    """The rows ``row`` names: ``(kind, identifier)``."""
    found = []
    parent, organization = row.values.get("parent", ""), row.values.get("organization", "")
    if parent and not _reference(parent):
        found.append((row.kind, parent))
    if organization and not _reference(organization):
        found.append(("organization", organization))
    return found


def _check(row: Row, organization_id: str) -> str | None:
    """Why ``row`` cannot be created on its own (its content), or None."""
    kind = _KINDS.get(row.values.get("kind", "").strip().lower())
    if kind is None:
        return f"kind must be organization or location, not {row.values.get('kind', '')!r:.30}"
    row.kind = kind
    if kind == "organization" and row.values.get("organization"):
        return "the organization column is for locations (an organization's parent is parent)"
    if kind == "organization" and row.values.get("physical_type"):
        return "physical_type is for locations"
    if kind == "location" and row.values.get("type"):
        return "type is for organizations (a location has a physical_type)"
    parent = row.values.get("parent", "")
    if parent.startswith("Location/" if kind == "organization" else "Organization/"):
        return f"the parent of a {kind} is a {kind.title()}, not {parent!r:.60}"
    try:
        resource_for(row, organization_id, {}, check=True)
    except ValidationError as exc:
        return str(exc).removesuffix("; nothing was sent")
    return None


def plan_rows(rows: Iterable[Row], organization_id: str) -> OnboardPlan:
    """Check every row and order them (see the module documentation)."""
    listed = list(rows)
    by_key: dict[tuple[str, str], Row] = {}
    bad: dict[tuple[str, str], Row] = {}  # refused rows, to say so in their children's
    for row in listed:
        if row.refused is None:
            row.refused = _check(row, organization_id)
        if row.refused is not None and row.kind:
            bad.setdefault(row.key, row)
        if row.refused is None:
            first = by_key.get(row.key)
            if first is not None:
                row.refused = f"{row.kind} {row.identifier!r} is already on line {first.line}"
            else:
                by_key[row.key] = row
                row.depends = _dependencies(row)
    for row in listed:
        if row.refused is None:
            _place(row, by_key, bad, [])
    return OnboardPlan(listed)


def _place(
    row: Row,
    by_key: Mapping[tuple[str, str], Row],
    bad: Mapping[tuple[str, str], Row],
    path: list[Row],
) -> None:
    """Set ``row``'s depth (1 + its deepest dependency's), or refuse it."""
    if row.refused is not None or row.depth or not row.depends:
        return
    if row in path:
        for member in path[path.index(row) :]:
            member.refused = "its parents run in a circle (partOf itself)"
        return
    depth = 0
    for kind, identifier in row.depends:
        needed = by_key.get((kind, identifier)) or bad.get((kind, identifier))
        if needed is None:
            row.refused = (
                f"{kind} {identifier!r} is not in the file (nor Organization/id, Location/id)"
            )
            return
        _place(needed, by_key, bad, [*path, row])
        if row.refused is not None:
            return
        if needed.refused is not None:
            row.refused = f"{kind} {identifier!r} (line {needed.line}) was refused"
            return
        depth = max(depth, needed.depth + 1)
    row.depth = depth


def _telecom(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {"system": system, "value": values[system], "use": "work"}
        for system in ("phone", "email", "url")
        if values.get(system)
    ]


def _address(values: Mapping[str, str]) -> dict[str, Any] | None:
    address: dict[str, Any] = {"use": "work", "country": "ID"}
    if values.get("address_line"):
        address["line"] = [values["address_line"]]
    for column, element in (("city", "city"), ("postal_code", "postalCode")):
        if values.get(column):
            address[element] = values[column]
    codes = [{"url": url, "valueCode": values[c]} for c, url in _REGION if values.get(c)]
    if codes:
        url = "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"
        address["extension"] = [{"url": url, "extension": codes}]
    return address if len(address) > 2 else None


def _position(values: Mapping[str, str]) -> dict[str, float] | None:
    given = {k: values[k] for k in ("longitude", "latitude", "altitude") if values.get(k)}
    if not given:
        return None
    try:
        position = {k: float(v) for k, v in given.items()}
    except ValueError:
        raise ValidationError("longitude, latitude and altitude are numbers") from None
    if "longitude" not in position or "latitude" not in position:
        raise ValidationError("a position needs both longitude and latitude")
    return position


def resource_for(
    row: Row, organization_id: str, ids: Mapping[tuple[str, str], str], *, check: bool = False
) -> Any:
    """The Organization or Location of ``row``, its parents' ids taken from ``ids``
    (``check``: placeholders instead, to check the row before anything exists)."""
    values = row.values

    def ref(value: str, kind: str) -> str | None:
        if not value:
            return None
        if _reference(value):
            return value
        return _PLACEHOLDER if check else ids[(kind, value)]

    address = _address(values)
    if row.kind == "organization":
        return organization_resource(
            organization_id=organization_id,
            identifier=values["identifier"],
            name=values.get("name"),
            part_of=ref(values.get("parent", ""), "organization"),
            type=values.get("type") or "dept",
            telecom=_telecom(values),
            address=address,
        )
    return location_resource(
        organization_id=organization_id,
        identifier=values["identifier"],
        name=values.get("name"),
        physical_type=values.get("physical_type") or "ro",
        part_of=ref(values.get("parent", ""), "location"),
        managing_organization=ref(values.get("organization", ""), "organization"),
        description=values.get("description") or None,
        status=values.get("status") or "active",
        telecom=_telecom(values),
        address=address,
        position=_position(values),
    )
