"""The organization's structure: sub-organizations, locations, and the tree under them.

- :mod:`.api` — :class:`Organizations` (``client.organizations``: ``create``, ``get``,
  ``children``, ``tree``) and :class:`Locations` (``client.locations``: ``create``,
  ``get``, ``of_organization``), idempotent by organization-scoped identifier
- :mod:`.build` — the resources built from keyword arguments, or checked as given
- :mod:`.tree` — :class:`OrganizationTree`, :class:`OrganizationNode`, :class:`LocationNode`
- :mod:`.codes` — organization types and location physical types
"""

from satusehat_async.organizations.api import Locations, Organizations
from satusehat_async.organizations.build import location_resource, organization_resource
from satusehat_async.organizations.codes import (
    LOCATION_MODES,
    LOCATION_STATUSES,
    ORGANIZATION_TYPE_SYSTEM,
    ORGANIZATION_TYPES,
    PHYSICAL_TYPE_SYSTEM,
    PHYSICAL_TYPES,
)
from satusehat_async.organizations.tree import LocationNode, OrganizationNode, OrganizationTree

__all__ = [
    "LOCATION_MODES",
    "LOCATION_STATUSES",
    "ORGANIZATION_TYPES",
    "ORGANIZATION_TYPE_SYSTEM",
    "PHYSICAL_TYPES",
    "PHYSICAL_TYPE_SYSTEM",
    "LocationNode",
    "Locations",
    "OrganizationNode",
    "OrganizationTree",
    "Organizations",
    "location_resource",
    "organization_resource",
]
