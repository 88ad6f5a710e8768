"""What the server promises about Patient creates: may a new patient cost one request?

A create by NIK is sent *first* (no search before it) only where a second write for the
same NIK cannot store a second record, because either

- the server keeps the NIK unique — the Master Patient Index refuses a second Patient
  with a NIK and names the existing one in its duplicate envelope (HTTP 200,
  ``{"success": false, "data": {"resourceID": ...}}``); or
- the server honours FHIR conditional create and says so in its CapabilityStatement
  (``GET {fhir}/metadata``: ``rest[].resource[type=Patient].conditionalCreate: true``),
  so the write's ``If-None-Exist: identifier=<nik system>|<nik>`` makes it answer the
  existing record (200) instead of storing another.

How the client knows (:func:`server_traits`):

1. ``Patients.nik_unique`` set to True: the caller says the server is the MPI (or
   dedupes NIK creates carrying ``If-None-Exist``); nothing is read.
2. Left at None (auto), SATUSEHAT's own hosts (:data:`SATUSEHAT_HOSTS`: the staging,
   production and older dev base URLs) are the MPI; nothing is read.
3. Any other host: its CapabilityStatement, read once per client (cached, one request
   shared by concurrent creates). It declares conditional create as FHIR says, and a
   server that refuses duplicate identifiers of a system without ``If-None-Exist`` (the
   local sandbox, which emulates the MPI) may say so with the extension
   :data:`UNIQUE_IDENTIFIER_EXTENSION` (``valueUri``: the identifier system) on its
   Patient entry. ``nik_unique=False`` ignores that extension (only a declared
   conditional create counts).

A metadata read that fails falls back to search-first (the safe two requests): after a
transient failure (5xx, timeout, connection) it is tried again after
:data:`RETRY_FAILED_AFTER` seconds; any other answer (a 404, not a CapabilityStatement)
is kept for the client's lifetime.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from satusehat_async.config import Environment
from satusehat_async.errors import APIError, SatuSehatError
from satusehat_async.patients.identifiers import NIK_SYSTEM

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext
    from satusehat_async.http.options import RequestOptions

__all__ = [
    "RETRY_FAILED_AFTER",
    "SATUSEHAT_HOSTS",
    "UNIQUE_IDENTIFIER_EXTENSION",
    "ServerTraits",
    "is_satusehat_host",
    "server_traits",
    "traits_from_capabilities",
]

#: The hosts of SATUSEHAT's own deployments: their Patient endpoint is the MPI.
SATUSEHAT_HOSTS: frozenset[str] = frozenset(
    {*(str(urllib.parse.urlsplit(env.base_url).hostname) for env in Environment)}
    | {"api-satusehat-dev.dto.kemkes.go.id"}  # named by older pages
)
#: A CapabilityStatement extension (on ``rest[].resource[]``): the server refuses a second
#: record carrying this identifier system (``valueUri``), as the MPI does for the NIK.
UNIQUE_IDENTIFIER_EXTENSION = "urn:satusehat-async:capability:unique-identifier"
#: Seconds before a metadata read that failed transiently is tried again.
RETRY_FAILED_AFTER = 300.0

Source = Literal["option", "host", "metadata", "fallback"]


@dataclass(frozen=True)
class ServerTraits:
    """What a server promises about NIK creates, and where the client learnt it.

    Attributes:
        nik_unique: it refuses a second Patient with one NIK (the MPI's duplicate envelope).
        conditional_create: it declares conditional create (``If-None-Exist``) for Patient.
        source: ``"option"`` (``nik_unique=True``), ``"host"`` (a SATUSEHAT host),
            ``"metadata"`` (its CapabilityStatement) or ``"fallback"`` (not learnt).
    """

    nik_unique: bool
    conditional_create: bool
    source: Source

    @property
    def write_first(self) -> bool:
        """May a NIK create be sent without a search before it (one request)?"""
        return self.nik_unique or self.conditional_create


FALLBACK = ServerTraits(nik_unique=False, conditional_create=False, source="fallback")


def is_satusehat_host(url: str) -> bool:
    """Is ``url`` on one of SATUSEHAT's own hosts (over https)?"""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" and (parts.hostname or "") in SATUSEHAT_HOSTS


def _mappings(value: object) -> list[Mapping[str, Any]]:
    """The objects in a JSON array (anything else: none)."""
    items = value if isinstance(value, list) else []
    return [item for item in items if isinstance(item, Mapping)]


def _patient_entries(statement: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        resource
        for rest in _mappings(statement.get("rest"))
        if rest.get("mode", "server") == "server"
        for resource in _mappings(rest.get("resource"))
        if resource.get("type") == "Patient"
    ]


def _declares_unique_nik(entry: Mapping[str, Any]) -> bool:
    return any(
        ext.get("url") == UNIQUE_IDENTIFIER_EXTENSION and ext.get("valueUri") == NIK_SYSTEM
        for ext in _mappings(entry.get("extension"))
    )


def traits_from_capabilities(body: bytes) -> ServerTraits | None:
    """What a ``/metadata`` answer declares; None when it is no CapabilityStatement."""
    try:
        statement = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    if not isinstance(statement, Mapping) or statement.get("resourceType") != (
        "CapabilityStatement"
    ):
        return None
    entries = _patient_entries(statement)
    return ServerTraits(
        nik_unique=any(_declares_unique_nik(entry) for entry in entries),
        # strictly the JSON true: "true" or 1 is no declaration
        conditional_create=any(entry.get("conditionalCreate") is True for entry in entries),
        source="metadata",
    )


class _Known:
    """One client's learnt traits: the answer, the read under way, a failure's expiry."""

    def __init__(self) -> None:
        self.traits: ServerTraits | None = None
        self.reading: asyncio.Future[ServerTraits] | None = None
        self.retry_at = float("-inf")  # after a transient failure: read again from then


# One entry per client context, gone with it.
_KNOWN: weakref.WeakKeyDictionary[ResourceContext, _Known] = weakref.WeakKeyDictionary()


def _transient(error: SatuSehatError) -> bool:
    """Would the metadata read perhaps succeed later (not a definitive answer)?"""
    return not isinstance(error, APIError) or error.retryable or error.status >= 500


async def _read(context: ResourceContext, known: _Known, options: RequestOptions) -> ServerTraits:
    """``GET {fhir}/metadata`` once; keep what it says (or when to ask again)."""
    url = f"{context.endpoints.fhir_url}/metadata"
    try:
        response = await context.send("GET", url, options=options)
    except SatuSehatError as error:
        if _transient(error):
            known.retry_at = context.monotonic() + RETRY_FAILED_AFTER
            return FALLBACK
        known.traits = FALLBACK  # 404, 403...: no CapabilityStatement here
        return FALLBACK
    known.traits = traits_from_capabilities(response.body) or FALLBACK
    return known.traits


async def declared_traits(context: ResourceContext, options: RequestOptions) -> ServerTraits:
    """The traits ``context``'s server declares; one read per client, shared while under way."""
    known = _KNOWN.get(context)
    if known is None:
        known = _KNOWN[context] = _Known()
    if known.traits is not None:
        return known.traits
    if known.reading is None:
        if context.monotonic() < known.retry_at:
            return FALLBACK
        reading = asyncio.ensure_future(_read(context, known, options))
        known.reading = reading

        def done(_: object) -> None:
            known.reading = None

        reading.add_done_callback(done)
    # shielded: a caller cancelled while it waits does not cancel the others' read
    return await asyncio.shield(known.reading)


async def server_traits(
    context: ResourceContext, nik_unique: bool | None, options: RequestOptions
) -> ServerTraits:
    """What ``context``'s server promises about NIK creates (see the module documentation)."""
    if nik_unique is True:
        return ServerTraits(nik_unique=True, conditional_create=False, source="option")
    if nik_unique is None and is_satusehat_host(context.endpoints.fhir_url):
        return ServerTraits(nik_unique=True, conditional_create=False, source="host")
    traits = await declared_traits(context, options)
    if nik_unique is False and traits.nik_unique:
        return ServerTraits(False, traits.conditional_create, traits.source)
    return traits
