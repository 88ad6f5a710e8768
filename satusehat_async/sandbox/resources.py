"""The sandbox's FHIR store: every resource type but Patient, created, read, updated,
patched and searched like SATUSEHAT's (Google Cloud Healthcare) store.

:class:`ResourceStore` is pure (no server): each method takes what the request carried and
returns an :class:`~satusehat_async.sandbox.fhir.Answer`. What a resource must look like
and how it is refused is in :mod:`~satusehat_async.sandbox.resource_rules`; searches in
:mod:`~satusehat_async.sandbox.resource_search`; JSON Patch in
:mod:`~satusehat_async.sandbox.json_patch`.

- Ids are server-assigned UUIDs (drawn from the seed); every write gets a new
  ``meta.versionId`` (base64 of the nanosecond time), and each version stays readable at
  ``/{Type}/{id}/_history/{vid}``.
- A local identifier must name the store's organization (RuleNumber 10117), and a type
  holds each set of local identifiers once (a second create is refused ``duplicate``).
- ``If-None-Exist`` is ignored unless ``conditional_create`` is set (nothing shows that
  SATUSEHAT honours it); then it answers like a standard FHIR server.
- A new resource is found by searches only after ``search_lag`` (reads by id and the
  duplicate rule see it at once), like the Patient index.
- Date-times must be UTC ``+00:00`` and not before ``earliest_date`` (RuleNumber 10132,
  :mod:`~satusehat_async.sandbox.time_rules`), unless ``datetime_rule`` is off.
- ``POST /fhir-r4/v1`` with a ``transaction`` Bundle: :mod:`~satusehat_async.sandbox.transaction`
  (all or nothing, ``urn:uuid:`` references resolved, every rule above per entry).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from satusehat_async.sandbox.fhir import (
    Answer,
    PatchError,
    SearchLag,
    VersionStamp,
    check_lag,
    copy_json,
    outcome,
    version_headers,
)
from satusehat_async.sandbox.json_patch import apply_patch
from satusehat_async.sandbox.practitioners import PractitionerDirectory
from satusehat_async.sandbox.resource_rules import (
    JSON_PATCH,
    check_organization,
    duplicate,
    id_mismatch,
    id_required,
    local_key,
    not_found,
    parse_resource,
)
from satusehat_async.sandbox.resource_search import (
    SEARCH_STYLES,
    SearchStyle,
    parse_search,
    search_bundle,
)
from satusehat_async.sandbox.time_rules import EARLIEST_DATE, check_times
from satusehat_async.sandbox.transaction import (
    TRANSACTION_STYLES,
    Transacted,
    TransactionStyle,
    run_transaction,
)

__all__ = ["ResourceStore", "SearchStyle", "Transacted", "TransactionStyle"]

Key = tuple[tuple[str, str], ...]


class ResourceStore:
    """Resources by type and id, with an index of their local identifiers."""

    def __init__(
        self,
        *,
        seed: int,
        clock: Callable[[], float],
        organization_id: str,
        search_style: SearchStyle = "standard",
        conditional_create: bool = False,
        search_lag: SearchLag | None = None,
        transaction_style: TransactionStyle = "satusehat",
        datetime_rule: bool = True,
        earliest_date: dt.date | None = EARLIEST_DATE,
    ) -> None:
        if not organization_id or "/" in organization_id or "|" in organization_id:
            raise ValueError("organization_id must be a non-empty id without '/' or '|'")
        self.search_style = search_style
        self._search_lag = check_lag("search_lag", search_lag)
        self.base_url = ""
        """The server's URL, for ``fullUrl``, ``Location`` and Bundle links."""
        self.organization_id = organization_id
        """The caller's organization: the one its local identifiers must name."""
        self.conditional_create = conditional_create
        """Honour ``If-None-Exist`` like a standard FHIR server (off: like SATUSEHAT)."""
        self.transaction_style = transaction_style
        self.datetime_rule = datetime_rule
        """Refuse date-times that are not UTC ``+00:00`` (RuleNumber 10132)."""
        self.earliest_date = earliest_date
        """The first date a date-time may name (RuleNumber 10132); None: no bound."""
        self._clock = clock
        self._versions = VersionStamp(clock)
        self._random = random.Random(seed * 41 + 13)
        self._lag_random = random.Random(seed * 59 + 17)
        self._resources: dict[str, dict[str, dict[str, Any]]] = {}
        self._history: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._by_key: dict[tuple[str, Key], str] = {}
        self._visible_at: dict[tuple[str, str], float] = {}
        self.practitioners = PractitionerDirectory(seed)
        """The health workers SATUSEHAT knows already: read and searched as Practitioners
        besides those POSTed (not counted by :meth:`count`)."""

    # -- settings and inspection -----------------------------------------------------
    @property
    def search_style(self) -> SearchStyle:
        """``"standard"`` (``_count`` pages and ``next`` links) or ``"satusehat"`` (at most
        100 entries, the true ``total``, no links: as SATUSEHAT's store was captured)."""
        return self._search_style

    @search_style.setter
    def search_style(self, value: SearchStyle) -> None:
        if value not in SEARCH_STYLES:
            raise ValueError(f"search_style must be one of {SEARCH_STYLES}")
        self._search_style = value

    @property
    def transaction_style(self) -> TransactionStyle:
        """How a transaction is answered: ``"satusehat"`` (entries of only ``response``,
        with its ``resourceType``/``resourceID`` keys, and ``total``, as captured) or
        ``"standard"`` (FHIR's: ``fullUrl``, ``resource`` and ``response`` per entry)."""
        return self._transaction_style

    @transaction_style.setter
    def transaction_style(self, value: TransactionStyle) -> None:
        if value not in TRANSACTION_STYLES:
            raise ValueError(f"transaction_style must be one of {TRANSACTION_STYLES}")
        self._transaction_style = value

    @property
    def search_lag(self) -> SearchLag | None:
        """``(low, high)``: a new resource is found by searches only a random ``low`` to
        ``high`` seconds (by the clock) after it was stored; None: at once."""
        return self._search_lag

    @search_lag.setter
    def search_lag(self, value: SearchLag | None) -> None:
        self._search_lag = check_lag("search_lag", value)

    def __len__(self) -> int:
        return sum(len(by_id) for by_id in self._resources.values())

    def count(self, resource_type: str) -> int:
        """How many resources of ``resource_type`` are stored."""
        return len(self._resources.get(resource_type, ()))

    def ids(self, resource_type: str) -> list[str]:
        """The ids of the stored ``resource_type`` resources, in creation order."""
        return list(self._resources.get(resource_type, ()))

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """A copy of the stored resource, or None."""
        stored = self._resources.get(resource_type, {}).get(resource_id)
        return None if stored is None else copy_json(stored)

    def visible(self, resource_type: str, resource_id: str) -> bool:
        """Whether searches find the stored resource yet (see ``search_lag``)."""
        key = (resource_type, resource_id)
        when = self._visible_at.get(key)
        if when is None:
            return resource_id in self._resources.get(resource_type, {})
        if self._clock() < when:
            return False
        del self._visible_at[key]
        return True

    @property
    def lagging(self) -> list[tuple[str, str]]:
        """``(type, id)`` of stored resources that searches do not find yet."""
        return [k for k in list(self._visible_at) if not self.visible(*k)]

    def settle(self) -> None:
        """End every search lag now: searches find every stored resource."""
        self._visible_at.clear()

    def add(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Store ``resource`` as it is (its ``id`` kept, else a new one): no rule, no lag.

        For tests that need data in place (a Practitioner with a chosen id, say); returns
        a copy of what is stored.
        """
        stored: dict[str, Any] = copy_json(resource)
        resource_type = stored["resourceType"]
        stored.setdefault("id", self._new_id(resource_type))
        self._commit(resource_type, stored, lag=False)
        copied: dict[str, Any] = copy_json(stored)
        return copied

    # -- helpers ---------------------------------------------------------------------
    def _url(self, resource_type: str, resource_id: str) -> str:
        return f"{self.base_url}/fhir-r4/v1/{resource_type}/{resource_id}"

    def _new_id(self, resource_type: str) -> str:
        taken = self._resources.get(resource_type, {})
        while True:
            candidate = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
            if candidate not in taken:
                return candidate

    def _answer(self, status: int, resource: dict[str, Any], *, write: bool) -> Answer:
        """``resource`` with its version headers; a write also has a ``Location``."""
        url = self._url(resource["resourceType"], resource["id"])
        headers = version_headers(resource, url, location=write)
        return Answer(status, resource, headers, committed=write)

    def _commit(
        self, resource_type: str, resource: dict[str, Any], *, lag: bool, ns: int | None = None
    ) -> None:
        """Stamp ``resource`` with a new version (at ``ns``), store it, and index it."""
        resource_id = resource["id"]
        by_id = self._resources.setdefault(resource_type, {})
        old = by_id.get(resource_id)
        if old is not None and self._by_key.get((resource_type, local_key(old))) == resource_id:
            del self._by_key[(resource_type, local_key(old))]
        self._versions.stamp(resource, ns)
        by_id[resource_id] = resource
        key = local_key(resource)
        if key:
            self._by_key[(resource_type, key)] = resource_id
        versions = self._history.setdefault((resource_type, resource_id), {})
        versions[resource["meta"]["versionId"]] = copy_json(resource)
        if lag and self.search_lag is not None:
            low, high = self.search_lag
            delay = self._lag_random.uniform(low, high)
            self._visible_at[(resource_type, resource_id)] = self._clock() + delay

    def _refusal(self, resource: dict[str, Any], resource_id: str | None) -> Answer | None:
        """The organization and duplicate rules, for a write of ``resource`` as
        ``resource_id`` (None: a create)."""
        problem = check_organization(resource, self.organization_id)
        if problem is None and self.datetime_rule:
            problem = check_times(resource, self.earliest_date)
        if problem is not None:
            return problem
        key = local_key(resource)
        holder = self._by_key.get((resource["resourceType"], key)) if key else None
        if holder is not None and holder != resource_id:
            return duplicate(resource["resourceType"])
        return None

    def _current(
        self, resource_type: str, resource_id: str, if_match: str | None
    ) -> dict[str, Any] | Answer:
        current = self._resources.get(resource_type, {}).get(resource_id)
        if current is None:
            return not_found(resource_type, resource_id)
        version = current["meta"]["versionId"]
        if if_match and if_match.strip() not in (f'W/"{version}"', f'"{version}"', version):
            return outcome(412, "conflict", "version_conflict", f"current version is {version}")
        return current

    # -- endpoints -------------------------------------------------------------------
    def create(
        self, resource_type: str, body: bytes, content_type: str, if_none_exist: str | None
    ) -> Answer:
        """``POST /{Type}``: 201 and the stored resource, with a new UUID and meta."""
        resource = parse_resource(body, content_type, resource_type)
        if isinstance(resource, Answer):
            return resource
        if if_none_exist and self.conditional_create:
            existing = self._conditional(resource_type, if_none_exist)
            if existing is not None:
                return existing
        refusal = self._refusal(resource, None)
        if refusal is not None:
            return refusal
        resource["id"] = self._new_id(resource_type)  # a client's id is ignored, as FHIR says
        self._commit(resource_type, resource, lag=True)
        return self._answer(201, resource, write=True)

    def _conditional(self, resource_type: str, if_none_exist: str) -> Answer | None:
        """A standard FHIR server's answer to ``If-None-Exist``; None: nobody matches."""
        search = parse_search(resource_type, parse_qsl(if_none_exist, keep_blank_values=True))
        if isinstance(search, Answer):
            return search
        found = [r for r in self._resources.get(resource_type, {}).values() if search.matches(r)]
        if len(found) > 1:
            return outcome(412, "duplicate", "multiple_matches", "If-None-Exist: many match")
        if found:
            return self._answer(200, found[0], write=False)
        return None

    def read(self, resource_type: str, resource_id: str) -> Answer:
        """``GET /{Type}/{id}``."""
        current = self._current(resource_type, resource_id, None)
        known = self.practitioners.read(resource_id) if resource_type == "Practitioner" else None
        if isinstance(current, Answer) and known is not None:
            return self._answer(200, known, write=False)
        if isinstance(current, Answer):
            return current
        return self._answer(200, current, write=False)

    def vread(self, resource_type: str, resource_id: str, version_id: str) -> Answer:
        """``GET /{Type}/{id}/_history/{vid}``: that version, as it was stored."""
        version = self._history.get((resource_type, resource_id), {}).get(version_id)
        if version is None:
            return not_found(resource_type, f"{resource_id}/_history/{version_id}")
        return self._answer(200, version, write=False)

    def update(
        self,
        resource_type: str,
        resource_id: str,
        body: bytes,
        content_type: str,
        if_match: str | None,
    ) -> Answer:
        """``PUT /{Type}/{id}``: the whole resource, its ``id`` in the body; 200."""
        resource = parse_resource(body, content_type, resource_type)
        if isinstance(resource, Answer):
            return resource
        if "id" not in resource:
            return id_required(resource_type, resource_id)
        if resource["id"] != resource_id:
            return id_mismatch(resource_id, resource["id"])
        current = self._current(resource_type, resource_id, if_match)
        if isinstance(current, Answer):
            return current
        refusal = self._refusal(resource, resource_id)
        if refusal is not None:
            return refusal
        self._commit(resource_type, resource, lag=False)
        return self._answer(200, resource, write=True)

    def patch(
        self,
        resource_type: str,
        resource_id: str,
        body: bytes,
        content_type: str,
        if_match: str | None,
    ) -> Answer:
        """``PATCH /{Type}/{id}`` with a JSON Patch (``application/json-patch+json``); 200."""
        current = self._current(resource_type, resource_id, if_match)
        if isinstance(current, Answer):
            return current
        if content_type != JSON_PATCH:
            return outcome(415, "not-supported", "unsupported_media_type", content_type)
        try:
            operations = msgspec.json.decode(body)
        except msgspec.DecodeError as error:
            return outcome(400, "structure", "unparseable_resource", str(error))
        try:
            patched = apply_patch(current, operations)
        except PatchError as error:
            return outcome(400, error.code, "invalid_patch", str(error))
        refusal = self._refusal(patched, resource_id)
        if refusal is not None:
            return refusal
        self._commit(resource_type, patched, lag=False)
        return self._answer(200, patched, write=True)

    def transaction(self, body: bytes, content_type: str, prefer: str | None) -> Transacted:
        """``POST /fhir-r4/v1`` with a ``transaction`` Bundle: every entry, or none."""
        return run_transaction(self, body, content_type, prefer)

    def search(self, resource_type: str, params: Sequence[tuple[str, str]]) -> Answer:
        """``GET /{Type}?...``: a ``searchset`` page in the store's ``search_style``."""
        search = parse_search(resource_type, params)
        if isinstance(search, Answer):
            return search
        by_id = self._resources.get(resource_type, {})
        found = [
            r for i, r in by_id.items() if self.visible(resource_type, i) and search.matches(r)
        ]
        if resource_type == "Practitioner":
            found = self.practitioners.find(search) + found
        return search_bundle(self.base_url, search, found, self.search_style)
