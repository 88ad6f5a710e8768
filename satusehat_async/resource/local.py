"""Organization-scoped ("local") identifiers and the rule that they name the client's org.

One SATUSEHAT client id belongs to one organization, and the identifiers a facility
assigns embed that organization's id: ``http://sys-ids.kemkes.go.id/encounter/{org_id}``.
The server refuses another organization's (RuleNumber 10117, "Wrong organization ID
provided by system URL"); :func:`check_organization` refuses it before sending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_niks

if TYPE_CHECKING:
    from satusehat_async.fhir import Identifier

__all__ = [
    "LOCAL_SYSTEM_PREFIX",
    "check_organization",
    "check_organization_id",
    "local_identifier",
    "local_organization",
]

LOCAL_SYSTEM_PREFIX = "http://sys-ids.kemkes.go.id/"
_KIND = re.compile(r"[a-z][a-z0-9\-]{0,63}")
_ORG_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# http(s)://sys-ids.kemkes.go.id/{kind}/{org}[/{suffix}] (e.g. .../diagnostic/{org}/lab)
_LOCAL = re.compile(r"https?://sys-ids\.kemkes\.go\.id/([a-z][a-z0-9\-]*)/([^/|]+)(?:/[^|]*)?")


def check_organization_id(organization_id: object, name: str = "organization_id") -> str:
    """``organization_id`` if it is usable (the facility's SATUSEHAT Organization id)."""
    if (
        not isinstance(organization_id, str)
        or not _ORG_ID.fullmatch(organization_id)
        or organization_id in (".", "..")
    ):
        shown = (
            redact_niks(repr(organization_id[:64]))
            if isinstance(organization_id, str)
            else type(organization_id).__name__
        )
        raise ValidationError(f"{name} must be an Organization id (such as '100025753'): {shown}")
    return organization_id


def local_identifier(
    kind: str, value: str, *, organization_id: str | None, use: str | None = None
) -> Identifier:
    """A local identifier of ``organization_id``: ``http://sys-ids.kemkes.go.id/{kind}/{org}``.

    >>> local_identifier("encounter", "RJ-2026-0001", organization_id="100025753")
    Identifier(system='http://sys-ids.kemkes.go.id/encounter/100025753', value='RJ-2026-0001')

    ``kind`` is the lowercase resource kind SATUSEHAT names (``encounter``, ``condition``,
    ``observation``, ``servicerequest``, ``prescription``, ...); ``use`` is optional
    (``"official"``). ``client.fhir(Encounter).local_identifier(value)`` fills in the
    kind and the client's organization.
    """
    if organization_id is None:
        raise ValidationError(
            "organization_id is required (the SATUSEHAT Organization id your client id "
            "belongs to; SatuSehatClient(organization_id=...) / SATUSEHAT_ORGANIZATION_ID)"
        )
    org = check_organization_id(organization_id)
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise ValidationError(
            f"kind must be a lowercase identifier kind such as 'encounter', not {kind!r:.40}"
        )
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValidationError(
            "a local identifier's value is a non-empty string without spaces around"
        )
    from satusehat_async.fhir import Identifier  # the datatypes load on first use

    return Identifier(use=use, system=f"{LOCAL_SYSTEM_PREFIX}{kind}/{org}", value=value)


def local_organization(system: str | None) -> str | None:
    """The organization id a local identifier system names (None for any other system)."""
    if not system:
        return None
    found = _LOCAL.fullmatch(system)
    return found.group(2) if found else None


def _identifiers(resource: Any) -> Iterable[Any]:
    found = getattr(resource, "identifier", None)
    if found is None:
        return ()
    if isinstance(found, (list, tuple)):
        return found
    return (found,)  # Composition.identifier, Bundle.identifier: 0..1


def check_organization(resource: Any, organization_id: str | None, resource_type: str) -> None:
    """Refuse a resource whose local identifier names another organization than the client's.

    Without a configured ``organization_id`` nothing can be checked (the server will).
    """
    if organization_id is None:
        return
    for index, identifier in enumerate(_identifiers(resource)):
        system = getattr(identifier, "system", None)
        named = local_organization(system)
        if named is not None and named != organization_id:
            raise ValidationError(
                f"{resource_type}.identifier[{index}].system {system} names organization "
                f"{named}, but this client belongs to organization {organization_id} "
                "(SATUSEHAT refuses it, RuleNumber 10117); nothing was sent"
            )
