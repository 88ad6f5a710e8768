"""``client.organizations`` and ``client.locations``: the facility's structure.

Every official integration starts here: register the departments (sub-organizations,
``partOf`` the facility or another department) and the places (sites, buildings, wards,
rooms, beds: Locations with a ``physicalType``, ``partOf`` another Location and a
``managingOrganization``), then read the tree back::

    dept = await client.organizations.create(identifier="RJ", name="Rawat Jalan")
    room = await client.locations.create(
        identifier="RJ-R1", name="Ruang 1", physical_type="ro", managing_organization=dept.id
    )
    tree = await client.organizations.tree()
    tree.organization("RJ").locations[0].name  # 'Ruang 1'

Creates are idempotent by the organization-scoped identifier
(``http://sys-ids.kemkes.go.id/organization/{org}``, ``.../location/{org}``): repeated, or
retried after an ambiguous failure, they return the existing record with
``created=False`` (:meth:`ResourceAPI.create <satusehat_async.resource.ResourceAPI.create>`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from satusehat_async.context import context_of
from satusehat_async.errors import NotFoundError, ValidationError
from satusehat_async.fhir import Location, Organization
from satusehat_async.organizations.build import location_resource, organization_resource
from satusehat_async.organizations.tree import OrganizationNode, OrganizationTree, nest_locations
from satusehat_async.resource.api import ResourceAPI
from satusehat_async.resource.kinds import check_id
from satusehat_async.resource.pager import SearchResults

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient
    from satusehat_async.context import ResourceContext
    from satusehat_async.resource.answers import CreateResult

__all__ = ["Locations", "Organizations"]

_MAX_DEPTH = 64  # deeper than any real structure: a partOf chain running in circles


def _org(context: ResourceContext) -> str:
    found = context.organization_id
    if found is None:
        raise ValidationError(
            "organization_id is required (the client's SATUSEHAT Organization id: "
            "SatuSehatClient(organization_id=...) / SATUSEHAT_ORGANIZATION_ID); nothing was sent"
        )
    return found


class Organizations:
    """Sub-organizations (departments) of the client's organization, and its tree."""

    def __init__(self, context: ResourceContext | SatuSehatClient) -> None:
        self._context = context_of(context)
        self.api: ResourceAPI[Organization] = ResourceAPI(self._context, Organization)
        """The generic API of the type (``get``, ``search``, ``update``, ``patch``)."""
        self._locations = Locations(self._context)

    def __repr__(self) -> str:
        return f"Organizations({self.api.url!r})"

    def build(
        self, resource: Organization | Mapping[str, Any] | None = None, /, **keywords: Any
    ) -> Organization:
        """The Organization :meth:`create` would send (checked, nothing sent)."""
        return organization_resource(
            resource, organization_id=self._context.organization_id, **keywords
        )

    async def create(
        self,
        resource: Organization | Mapping[str, Any] | None = None,
        /,
        *,
        identifier: str | None = None,
        name: str | None = None,
        part_of: str | None = None,
        type: str = "dept",
        active: bool = True,
        telecom: Sequence[Any] | None = None,
        address: Any = None,
    ) -> CreateResult[Organization]:
        """Register a sub-organization once; ``created`` is False when it existed.

        Either a whole Organization (a struct or a FHIR dict carrying an identifier of
        ``http://sys-ids.kemkes.go.id/organization/{org}``) or keyword arguments:
        ``identifier`` (its code), ``name``, ``part_of`` (the parent Organization's id;
        default the client's organization), ``type`` (default ``dept``), ``telecom``,
        ``address``. Checked before sending (:class:`ValidationError`).
        """
        checked = organization_resource(
            resource,
            organization_id=self._context.organization_id,
            identifier=identifier,
            name=name,
            part_of=part_of,
            type=type,
            active=active,
            telecom=telecom,
            address=address,
        )
        return await self.api.create(checked)

    async def get(self, organization_id: str) -> Organization:
        """``GET Organization/{id}`` (:class:`NotFoundError` if there is none)."""
        return await self.api.get(organization_id)

    def children(self, parent: str | None = None) -> SearchResults[Organization]:
        """The organizations ``partOf`` ``parent`` (default the client's organization)."""
        return self.api.search(partof=check_id("Organization", parent or _org(self._context)))

    async def tree(self, root: str | None = None, *, concurrency: int = 8) -> OrganizationTree:
        """The organizations and locations under ``root`` (default the client's
        organization), level by level, each level's searches ``concurrency`` at a time.

        See :class:`~satusehat_async.organizations.OrganizationTree`.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError(f"concurrency must be a whole number >= 1, not {concurrency!r}")
        root_id = check_id("Organization", root or _org(self._context))
        gate = asyncio.Semaphore(min(concurrency, max(self._context.connection_limit, 1)))
        tree = OrganizationTree(await self._root(root_id))
        seen, frontier = {root_id}, [tree.root]
        for _ in range(_MAX_DEPTH):
            if not frontier:
                break
            expanded = await asyncio.gather(*(self._expand(n, gate, tree) for n in frontier))
            next_level: list[OrganizationNode] = []
            for node, children in zip(frontier, expanded, strict=True):
                node.children = []
                for child in children:  # each record once: the first parent met keeps it
                    if child.id and child.id not in seen:
                        seen.add(child.id)
                        node.children.append(child)
                next_level.extend(node.children)
            frontier = next_level
        return tree

    async def _root(self, root_id: str) -> OrganizationNode:
        try:
            return OrganizationNode(await self.api.get(root_id))
        except NotFoundError:  # a facility's own record may not be readable to it
            return OrganizationNode(Organization(id=root_id), found=False)

    async def _expand(
        self, node: OrganizationNode, gate: asyncio.Semaphore, tree: OrganizationTree
    ) -> list[OrganizationNode]:
        """Fill ``node``'s locations; returns its child organizations (as found)."""
        assert node.id is not None
        children, locations = await asyncio.gather(
            _all(self.api.search(partof=node.id), gate, tree),
            _all(self._locations.api.search(organization=node.id), gate, tree),
        )
        node.locations = nest_locations(locations)
        return [OrganizationNode(o) for o in children]


async def _all(results: SearchResults[Any], gate: asyncio.Semaphore, tree: OrganizationTree) -> Any:
    async with gate:
        found = await results.all()
    if results.stats.incomplete:
        tree.incomplete = True
    return found


class Locations:
    """Locations (sites, buildings, wards, rooms, beds) of the client's organization."""

    def __init__(self, context: ResourceContext | SatuSehatClient) -> None:
        self._context = context_of(context)
        self.api: ResourceAPI[Location] = ResourceAPI(self._context, Location)
        """The generic API of the type (``get``, ``search``, ``update``, ``patch``)."""

    def __repr__(self) -> str:
        return f"Locations({self.api.url!r})"

    def build(
        self, resource: Location | Mapping[str, Any] | None = None, /, **keywords: Any
    ) -> Location:
        """The Location :meth:`create` would send (checked, nothing sent)."""
        return location_resource(
            resource, organization_id=self._context.organization_id, **keywords
        )

    async def create(
        self,
        resource: Location | Mapping[str, Any] | None = None,
        /,
        *,
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
    ) -> CreateResult[Location]:
        """Register a location once; ``created`` is False when it existed.

        Either a whole Location (a struct or a FHIR dict carrying an identifier of
        ``http://sys-ids.kemkes.go.id/location/{org}``) or keyword arguments:
        ``identifier``, ``name``, ``physical_type`` (``si``, ``bu``, ``wi``, ``lvl``,
        ``ro`` (default), ``bd``, ``area``, ``ve``...), ``part_of`` (the Location it is
        in), ``managing_organization`` (default the client's organization),
        ``description``, ``status``, ``mode``, ``telecom``, ``address``, ``position``.
        """
        checked = location_resource(
            resource,
            organization_id=self._context.organization_id,
            identifier=identifier,
            name=name,
            physical_type=physical_type,
            part_of=part_of,
            managing_organization=managing_organization,
            description=description,
            status=status,
            mode=mode,
            telecom=telecom,
            address=address,
            position=position,
        )
        return await self.api.create(checked)

    async def get(self, location_id: str) -> Location:
        """``GET Location/{id}`` (:class:`NotFoundError` if there is none)."""
        return await self.api.get(location_id)

    def of_organization(self, organization: str | None = None) -> SearchResults[Location]:
        """The locations ``organization`` manages (default the client's organization)."""
        org = check_id("Organization", organization or _org(self._context))
        return self.api.search(organization=org)
