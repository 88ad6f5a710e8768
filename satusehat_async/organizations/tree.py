"""The organization's structure as a tree a program can walk: :class:`OrganizationTree`.

Built by :meth:`Organizations.tree <satusehat_async.organizations.Organizations.tree>`
from ``Organization?partof={id}`` (the sub-organizations of each organization, level by
level) and ``Location?organization={id}`` (the locations each one manages), the searches
of one level sent concurrently. Each :class:`OrganizationNode` holds its Organization,
its child organizations and its locations; each :class:`LocationNode` its Location and
the locations inside it (``Location.partOf``), among those its organization manages.
Every record appears once: a sub-organization listed under two parents, or a cycle of
``partOf``, is kept under the first parent met.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from satusehat_async.fhir import Location, Organization

__all__ = ["LocationNode", "OrganizationNode", "OrganizationTree", "nest_locations"]


def _values(resource: Organization | Location) -> list[str]:
    return [i.value for i in resource.identifier or () if i.value]


def _parent_id(reference: str | None) -> str | None:
    return reference.rstrip("/").rsplit("/", 1)[-1] if reference else None


@dataclass
class LocationNode:
    """A Location and the locations inside it (``partOf`` it)."""

    location: Location
    children: list[LocationNode] = field(default_factory=list)

    @property
    def id(self) -> str | None:
        """The Location's id."""
        return self.location.id

    @property
    def name(self) -> str | None:
        """The Location's name."""
        return self.location.name

    @property
    def identifiers(self) -> list[str]:
        """The values of its identifiers (its organization-scoped code first as stored)."""
        return _values(self.location)

    @property
    def physical_type(self) -> str | None:
        """Its physicalType code (``ro``, ``bd``...)."""
        physical = self.location.physical_type
        codings = (physical.coding or []) if physical is not None else []
        return next((c.code for c in codings if c.code), None)

    def walk(self) -> Iterator[LocationNode]:
        """This location, then every location inside it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class OrganizationNode:
    """An Organization, its child organizations and the locations it manages.

    ``found`` is False for a root that could not be read (SATUSEHAT's facility record
    may not be readable with a facility's credentials): its ``organization`` then holds
    only the id.
    """

    organization: Organization
    children: list[OrganizationNode] = field(default_factory=list)
    locations: list[LocationNode] = field(default_factory=list)
    """Its top-level locations (those not inside another of its locations)."""
    found: bool = True

    @property
    def id(self) -> str | None:
        """The Organization's id."""
        return self.organization.id

    @property
    def name(self) -> str | None:
        """The Organization's name."""
        return self.organization.name

    @property
    def identifiers(self) -> list[str]:
        """The values of its identifiers."""
        return _values(self.organization)

    def walk(self) -> Iterator[OrganizationNode]:
        """This organization, then every organization under it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def all_locations(self) -> Iterator[LocationNode]:
        """Every location this organization manages, depth first."""
        for top in self.locations:
            yield from top.walk()


@dataclass
class OrganizationTree:
    """The organizations and locations under a root organization.

    Iterating gives every :class:`OrganizationNode` (depth first, the root first).
    ``incomplete`` is True when a search ended short of its ``total`` (SATUSEHAT answers
    at most 100 matches and no ``next`` link): the tree then lacks records.
    """

    root: OrganizationNode
    incomplete: bool = False

    def __iter__(self) -> Iterator[OrganizationNode]:
        return self.root.walk()

    def organizations(self) -> Iterator[OrganizationNode]:
        """Every organization node, depth first, the root first."""
        return self.root.walk()

    def locations(self) -> Iterator[LocationNode]:
        """Every location node, organization by organization, depth first."""
        for node in self.root.walk():
            yield from node.all_locations()

    def organization(self, key: str) -> OrganizationNode | None:
        """The organization node with this identifier value (or id), or None."""
        return next((n for n in self.root.walk() if key in n.identifiers or key == n.id), None)

    def location(self, key: str) -> LocationNode | None:
        """The location node with this identifier value (or id), or None."""
        return next((n for n in self.locations() if key in n.identifiers or key == n.id), None)

    def render(self) -> str:
        """An indented outline: one line per organization and location."""
        lines: list[str] = []

        def place(node: LocationNode, depth: int) -> None:
            code = ",".join(node.identifiers)
            lines.append(f"{'  ' * depth}- [{node.physical_type or '?'}] {node.name} ({code})")
            for child in node.children:
                place(child, depth + 1)

        def organization(node: OrganizationNode, depth: int) -> None:
            code = ",".join(node.identifiers) or node.id or ""
            lines.append(f"{'  ' * depth}{node.name or node.id} ({code})")
            for top in node.locations:
                place(top, depth + 1)
            for child in node.children:
                organization(child, depth + 1)

        organization(self.root, 0)
        return "\n".join(lines)


def nest_locations(locations: list[Location]) -> list[LocationNode]:
    """``locations`` (one organization's) nested by ``partOf``: the top-level nodes.

    A location whose parent is not among them is top-level; a cycle of ``partOf`` is cut
    where it was first met (each location appears once).
    """
    nodes: dict[str, LocationNode] = {}
    order: list[LocationNode] = []
    for location in locations:
        node = LocationNode(location)
        order.append(node)
        if location.id and location.id not in nodes:
            nodes[location.id] = node
    tops: list[LocationNode] = []
    for node in order:
        parent = _parent_id(node.location.part_of.reference if node.location.part_of else None)
        holder = nodes.get(parent) if parent and parent != node.id else None
        (holder.children if holder is not None else tops).append(node)
    reachable = {id(n) for top in tops for n in top.walk()}
    for node in order:  # in a cycle: nobody reaches them from the top
        if id(node) not in reachable:
            for parent_node in order:
                if node in parent_node.children:
                    parent_node.children.remove(node)
            tops.append(node)
            reachable.update(id(n) for n in node.walk())
    return tops
