"""Searches of the sandbox's FHIR store: the parameters, the matching, the paged Bundle.

Pure functions (no server, no store). :func:`parse_search` turns a query string into a
:class:`ResourceSearch` (or the 400 ``invalid_query`` OperationOutcome refusing it);
:func:`search_bundle` answers it with a ``searchset`` page. Parameters:

- tokens ``identifier`` (``system|value``, ``|value``, ``system|``, ``value``), ``status``,
  ``code``, ``category``, ``class``, ``_id``;
- references ``subject``, ``patient`` (``patient``, else a ``Patient/`` subject),
  ``encounter``, ``context``, ``based-on``, ``partof``, ``organization``, ``specimen``,
  ``requester``, ``service-provider`` (``Type/id``, a bare id, or an absolute URL);
- ``name`` (a case-insensitive prefix of a name, a HumanName's text or parts);
  ``gender`` (a code); ``birthdate`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, a prefix);
- ``_count`` (the page size) and ``_page_token`` (from a ``next`` link); other ``_``
  parameters are ignored. A comma is OR within a value; a repeated parameter is AND.

Two styles: ``"standard"`` pages by ``_count`` (default 100, at most 1000) with a ``next``
link; ``"satusehat"`` answers as SATUSEHAT's store was captured doing — at most 100
entries, the true ``total``, and no ``link`` at all.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from satusehat_async.sandbox.fhir import Answer, outcome

__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "SATUSEHAT_PAGE",
    "SEARCH_STYLES",
    "ResourceSearch",
    "SearchStyle",
    "parse_search",
    "search_bundle",
]

SearchStyle = Literal["standard", "satusehat"]
SEARCH_STYLES: tuple[SearchStyle, ...] = ("standard", "satusehat")
DEFAULT_COUNT = 100
MAX_COUNT = 1000
SATUSEHAT_PAGE = 100
"""The most entries SATUSEHAT's FHIR store answers a search with (and no ``next`` link)."""

_TOKENS = {
    "identifier": "identifier",
    "status": "status",
    "code": "code",
    "category": "category",
    "class": "class",
    "_id": "id",
    "gender": "gender",
}
_REFERENCES: dict[str, tuple[str, ...]] = {
    "subject": ("subject",),
    "patient": ("patient", "subject"),
    "encounter": ("encounter",),
    "context": ("context",),
    "based-on": ("basedOn",),
    "partof": ("partOf",),
    "organization": ("managingOrganization", "organization"),
    "specimen": ("specimen",),
    "requester": ("requester",),
    "service-provider": ("serviceProvider",),
}
Matcher = Callable[[dict[str, Any], str], bool]


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _token_matches(element: Any, query: str) -> bool:
    """FHIR token search on a code, Identifier, Coding or CodeableConcept."""
    system, bar, code = query.rpartition("|") if "|" in query else ("", "", query)
    for item in _items(element):
        candidates: list[tuple[Any, Any]]
        if isinstance(item, str):
            candidates = [(None, item)]
        elif isinstance(item, dict) and "coding" in item:
            candidates = [(c.get("system"), c.get("code")) for c in _items(item["coding"])]
        elif isinstance(item, dict):
            candidates = [(item.get("system"), item.get("value", item.get("code")))]
        else:
            continue
        for has_system, has_code in candidates:
            if bar and system and has_system != system:
                continue
            if bar and not system and has_system:  # "|code": no system at all
                continue
            if code == "" or has_code == code:
                return True
    return False


def _reference_matches(element: Any, query: str, only: str | None = None) -> bool:
    wanted = query.rstrip("/").split("/")[-2:] if "/" in query else [query]
    for item in _items(element):
        reference = item.get("reference") if isinstance(item, dict) else None
        if not isinstance(reference, str):
            continue
        if only is not None and not reference.startswith(only + "/"):
            continue
        if reference.rstrip("/").split("/")[-len(wanted) :] == wanted:
            return True
    return False


def _name_matches(resource: dict[str, Any], query: str) -> bool:
    query = " ".join(query.lower().split())
    for name in _items(resource.get("name")):
        parts: list[Any]
        if isinstance(name, str):
            parts = [name]
        elif isinstance(name, dict):
            parts = [name.get("text"), name.get("family"), *_items(name.get("given"))]
        else:
            continue
        for part in parts:
            if isinstance(part, str):
                text = " ".join(part.lower().split())
                if text.startswith(query) or any(w.startswith(query) for w in text.split()):
                    return True
    return False


def _matcher(key: str) -> Matcher | None:
    if key in _TOKENS:
        element = _TOKENS[key]
        return lambda resource, value: _token_matches(resource.get(element), value)
    if key in _REFERENCES:
        elements = _REFERENCES[key]

        def reference(resource: dict[str, Any], value: str) -> bool:
            for element in elements:
                if element in resource:
                    only = "Patient" if key == "patient" and element == "subject" else None
                    return _reference_matches(resource[element], value, only)
            return False

        return reference
    if key == "name":
        return _name_matches
    if key == "birthdate":  # YYYY, YYYY-MM or YYYY-MM-DD (eq only)
        return lambda resource, value: str(resource.get("birthDate", "")).startswith(
            value.removeprefix("eq")
        )
    return None


@dataclass(frozen=True, slots=True)
class ResourceSearch:
    """A valid search of one resource type: its criteria and its page."""

    resource_type: str
    criteria: tuple[tuple[Matcher, tuple[str, ...]], ...]
    given: tuple[tuple[str, str], ...]
    """The parameters as sent but the page token, for the Bundle's links."""
    count: int | None
    offset: int

    def matches(self, resource: dict[str, Any]) -> bool:
        """Whether ``resource`` meets every criterion (each one: any of its values)."""
        return all(any(m(resource, v) for v in values) for m, values in self.criteria)


def _bad(diagnostics: str) -> Answer:
    return outcome(400, "value", "invalid_query", diagnostics)


def _page(key: str, value: str) -> int | Answer:
    if key == "_count":
        if not value.isdigit():
            return _bad(f"_count must be a whole number, not {value!r}")
        return int(value)
    try:
        text = base64.urlsafe_b64decode(value.encode()).decode()
    except (ValueError, binascii.Error):
        text = ""
    if not text.startswith("o") or not text[1:].isdigit():
        return _bad("invalid _page_token")
    return int(text[1:])


def parse_search(resource_type: str, params: Sequence[tuple[str, str]]) -> ResourceSearch | Answer:
    """``GET /{resource_type}?...``'s parameters as a search, or the 400 answer refusing them."""
    criteria: list[tuple[Matcher, tuple[str, ...]]] = []
    given: list[tuple[str, str]] = []
    count: int | None = None
    offset = 0
    for key, value in params:
        if key in ("_count", "_page_token"):
            number = _page(key, value)
            if isinstance(number, Answer):
                return number
            count, offset = (number, offset) if key == "_count" else (count, number)
            if key == "_count":
                given.append((key, value))
            continue
        matcher = _matcher(key)
        if matcher is None and key.startswith("_"):
            continue  # _sort, _elements, _format...: harmless
        if matcher is None:
            return _bad(f"unknown search parameter {key!r} for {resource_type}")
        values = tuple(v for v in value.split(","))
        if not all(values):
            return _bad(f"empty value for search parameter {key!r}")
        criteria.append((matcher, values))
        given.append((key, value))
    return ResourceSearch(resource_type, tuple(criteria), tuple(given), count, offset)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode()


def search_bundle(
    base_url: str, search: ResourceSearch, found: list[dict[str, Any]], style: SearchStyle
) -> Answer:
    """The ``searchset`` Bundle answering ``search`` with the matching resources ``found``."""
    limit = SATUSEHAT_PAGE if style == "satusehat" else MAX_COUNT
    size = min(DEFAULT_COUNT if search.count is None else search.count, limit)
    page = found[search.offset : search.offset + size]
    url = f"{base_url}/fhir-r4/v1/{search.resource_type}"
    body: dict[str, Any] = {"resourceType": "Bundle", "total": len(found), "type": "searchset"}
    if page:
        body["entry"] = [
            {"fullUrl": f"{url}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in page
        ]
    if style == "standard":
        query = list(search.given)
        links = [{"relation": "self", "url": _link(url, query, search.offset)}]
        if size and search.offset + size < len(found):
            links.append({"relation": "next", "url": _link(url, query, search.offset + size)})
        body["link"] = links
    return Answer(200, body)


def _link(url: str, query: list[tuple[str, str]], offset: int) -> str:
    pairs = [*query, ("_page_token", _token(offset))] if offset else query
    return f"{url}?{urlencode(pairs)}" if pairs else url
