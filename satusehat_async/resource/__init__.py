"""The generic FHIR resource API: ``client.fhir(Encounter)`` / ``client.fhir("Encounter")``.

- :mod:`.api` — :class:`ResourceAPI`: get, search, create (idempotent by identifier),
  update, patch
- :mod:`.pager` — :class:`SearchResults`, the link-following search, and its
  :class:`SearchStats` (``incomplete`` when a result ends short of its ``total``)
- :mod:`.query` — search parameters validated before sending
- :mod:`.create`, :mod:`.identity` — the duplicate-safe create and its identity policy
- :mod:`.strict` — dicts decoded strictly (unknown keys refused with a suggestion)
- :mod:`.answers` — pure decoding of reads, searchsets and create answers
- :mod:`.local` — organization-scoped identifiers (:func:`local_identifier`) and the rule
  that they name the client's organization
- :mod:`.transaction`, :mod:`.txsend`, :mod:`.txcheck` — Bundle transactions
  (:class:`~satusehat_async.fhir.Transaction`, :func:`transaction`), idempotent
- :mod:`.times` — SATUSEHAT's time rules (UTC ``+00:00``, nothing naive or before 2014-06-03)
- :mod:`.errors` — :class:`IncompleteSearchError`, :class:`AmbiguousIdentifierError`,
  :class:`UnverifiableCreateOutcome`
"""

from satusehat_async.resource.answers import CreateResult
from satusehat_async.resource.api import ResourceAPI
from satusehat_async.resource.errors import (
    AmbiguousIdentifierError,
    IncompleteSearchError,
    UnverifiableCreateOutcome,
)
from satusehat_async.resource.identity import IdentifierIdentity, create_identifier
from satusehat_async.resource.local import (
    check_organization,
    local_identifier,
    local_organization,
)
from satusehat_async.resource.pager import SearchPage, SearchResults, SearchStats
from satusehat_async.resource.query import search_params
from satusehat_async.resource.strict import resource_from_json, to_resource
from satusehat_async.resource.txsend import transaction

__all__ = [
    "AmbiguousIdentifierError",
    "CreateResult",
    "IdentifierIdentity",
    "IncompleteSearchError",
    "ResourceAPI",
    "SearchPage",
    "SearchResults",
    "SearchStats",
    "UnverifiableCreateOutcome",
    "check_organization",
    "create_identifier",
    "local_identifier",
    "local_organization",
    "resource_from_json",
    "search_params",
    "to_resource",
    "transaction",
]
