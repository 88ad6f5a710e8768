"""Bundle transactions of the sandbox's FHIR store: ``POST /fhir-r4/v1`` (the FHIR base).

As ``reference/satusehat-clinical.md`` §1 describes SATUSEHAT's (Google Cloud Healthcare)
store:

- A ``transaction`` Bundle whose entries carry a ``resource``, a ``request`` (``POST
  {Type}`` or ``PUT {Type}/{id}``, the id also in the body) and, to be pointed at, a
  ``fullUrl`` (``urn:uuid:...``). Every ``reference`` naming an entry's ``fullUrl``,
  anywhere in any entry's resource, becomes ``{Type}/{new id}``; one naming a
  ``urn:uuid:`` that no entry has is refused.
- All or nothing: each entry passes the store's rules (a well-formed resource, the id of
  a PUT, RuleNumber 10117, the date-time rule 10132, ``duplicate`` — against the store
  and the Bundle's earlier entries), or the whole Bundle is refused with that entry's
  answer, its ``expression`` rewritten to ``Bundle.entry[i]...``, and nothing is stored.
  Validation runs to the end before the first commit, with no ``await`` in between.
- ``request.ifNoneExist`` is honoured only with the store's ``conditional_create`` (like a
  single create): a match is answered ``200 OK`` with the existing resource, not created.
- Success: 200 and a ``transaction-response``, its entries in request order. Style
  ``"satusehat"`` (as captured): entries of only ``response`` — ``status: "201 Created"``
  (``"200 OK"`` for a PUT or a matched ``ifNoneExist``), the absolute ``location`` of the
  version, ``etag``, ``lastModified`` and SATUSEHAT's own ``resourceType`` and
  ``resourceID`` — and ``total``; all entries share one version time. Style
  ``"standard"`` (FHIR R4 http.html#transaction-response): per entry ``fullUrl``,
  ``resource`` (left out with ``Prefer: return=minimal``) and ``response`` (``status``,
  a relative ``location``, ``etag``, ``lastModified``); no ``total``.

Patients are the MPI's (``/Patient``) and are refused in a Bundle here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from satusehat_async.sandbox.fhir import Answer, copy_json, outcome
from satusehat_async.sandbox.resource_rules import (
    JSON_TYPES,
    RESOURCE_TYPES,
    check_resource,
    duplicate,
    id_mismatch,
    id_required,
    local_key,
)

if TYPE_CHECKING:
    from satusehat_async.sandbox.resources import ResourceStore

__all__ = ["TRANSACTION_STYLES", "Transacted", "TransactionStyle", "run_transaction"]

TransactionStyle = Literal["satusehat", "standard"]
TRANSACTION_STYLES: tuple[TransactionStyle, ...] = ("satusehat", "standard")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_UNSUPPORTED_METHODS = frozenset({"GET", "HEAD", "DELETE", "PATCH"})


@dataclass(frozen=True, slots=True)
class Transacted:
    """A transaction's answer, and what it stored (by type) for the counters."""

    answer: Answer
    created: Counter[str]
    updated: Counter[str]


@dataclass(slots=True)
class _Entry:
    index: int
    method: str  # "POST" or "PUT"
    resource_type: str
    resource: dict[str, Any]
    full_url: str | None
    request: dict[str, Any]
    existing: dict[str, Any] | None = None  # the match of an honoured ifNoneExist

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"


def _refused(answer: Answer) -> Transacted:
    return Transacted(answer, Counter(), Counter())


def in_entry(answer: Answer, index: int, resource_type: str) -> Answer:
    """``answer`` (about one resource) as the answer of entry ``index`` of a Bundle: each
    expression ``{Type}.x`` becomes ``Bundle.entry[i].resource.x``; one is added if none."""
    body = copy_json(answer.body)
    where = f"Bundle.entry[{index}].resource"
    for issue in body.get("issue") or ():
        found = issue.get("expression")
        if not found:
            issue["expression"] = [where]
            continue
        issue["expression"] = [_rebase(e, resource_type, where) for e in found]
    return Answer(answer.status, body, answer.headers)


def _rebase(expression: Any, resource_type: str, where: str) -> Any:
    """``Encounter.identifier[0].system`` -> ``{where}.identifier[0].system``."""
    if not isinstance(expression, str) or not expression.startswith(resource_type):
        return expression
    rest = expression[len(resource_type) :]
    return where + rest if rest[:1] in ("", ".", "[") else expression


def _bad(status: int, code: str, text: str, diagnostics: str, expression: str) -> Answer:
    return outcome(status, code, text, diagnostics, [expression])


def _parse_bundle(body: bytes, content_type: str) -> list[Any] | Answer:
    """The entries of a ``transaction`` Bundle, or the answer refusing it."""
    if content_type not in JSON_TYPES:
        return outcome(415, "not-supported", "unsupported_media_type", content_type)
    try:
        bundle = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        return outcome(400, "structure", "unparseable_resource", str(error))
    given = bundle.get("resourceType") if isinstance(bundle, dict) else None
    if given != "Bundle":
        text = f"the FHIR base takes a transaction Bundle, not {given}"
        return _bad(400, "structure", "unparseable_resource", text, "Bundle")
    kind = bundle.get("type")
    if kind != "transaction":
        code = "not-supported" if kind == "batch" else "value"
        text = f"Bundle.type must be 'transaction', not {kind!r}"
        return _bad(400, code, "invalid_bundle_type", text, "Bundle.type")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        return _bad(400, "structure", "unparseable_resource", "entry is a list", "Bundle.entry")
    return entries


def _target(index: int, request: dict[str, Any]) -> tuple[str, str, str | None] | Answer:
    """``(method, type, id)`` of an entry's request (id: a PUT's), or the refusal."""
    where = f"Bundle.entry[{index}].request"
    method = request.get("method")
    if method in _UNSUPPORTED_METHODS:
        text = f"{method} entries are not supported; a transaction here takes POST and PUT"
        return _bad(400, "not-supported", "invalid_request", text, f"{where}.method")
    if method not in ("POST", "PUT"):
        return _bad(400, "value", "invalid_request", f"method {method!r}", f"{where}.method")
    url = request.get("url")
    parts = url.strip("/").split("/") if isinstance(url, str) else []
    wanted = 1 if method == "POST" else 2
    if (
        len(parts) != wanted
        or parts[0] not in RESOURCE_TYPES
        or (method == "PUT" and not _ID.fullmatch(parts[1]))
    ):
        form = "{Type}" if method == "POST" else "{Type}/{id}"
        text = f"request.url of a {method} must be {form}, not {url!r}"
        return _bad(400, "value", "invalid_request", text, f"{where}.url")
    if parts[0] == "Patient":
        text = "Patients are written at /Patient (the MPI), not in a transaction"
        return _bad(400, "not-supported", "invalid_request", text, f"{where}.url")
    return method, parts[0], parts[1] if method == "PUT" else None


def _parse_entry(index: int, raw: Any) -> _Entry | Answer:
    """One entry, checked as its own request would be (before any store rule)."""
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        text = "an entry is an object with a request"
        return _bad(400, "structure", "unparseable_resource", text, f"{where}.request")
    target = _target(index, raw["request"])
    if isinstance(target, Answer):
        return target
    method, resource_type, resource_id = target
    full_url = raw.get("fullUrl")
    if full_url is not None and (not isinstance(full_url, str) or not full_url):
        return _bad(400, "value", "invalid_full_url", "fullUrl is a URI", f"{where}.fullUrl")
    resource = raw.get("resource")
    if resource is None:
        return _bad(400, "required", "unparseable_resource", "no resource", f"{where}.resource")
    problem = check_resource(resource, resource_type)
    if problem is None and resource_id is not None:
        if "id" not in resource:
            problem = id_required(resource_type, resource_id)
        elif resource["id"] != resource_id:
            problem = id_mismatch(resource_id, resource["id"])
    if problem is not None:
        return in_entry(problem, index, resource_type)
    if method == "POST":
        resource.pop("id", None)  # a client's id is ignored, as FHIR says
    return _Entry(index, method, resource_type, resource, full_url, raw["request"])


def _parse_entries(raw_entries: list[Any]) -> list[_Entry] | Answer:
    entries: list[_Entry] = []
    seen_urls: set[str] = set()
    seen_targets: set[tuple[str, str]] = set()
    for index, raw in enumerate(raw_entries):
        entry = _parse_entry(index, raw)
        if isinstance(entry, Answer):
            return entry
        if entry.full_url is not None:
            if entry.full_url in seen_urls:
                text = f"fullUrl {entry.full_url} names two entries"
                return _bad(400, "duplicate", "invalid_full_url", text, f"{entry.where}.fullUrl")
            seen_urls.add(entry.full_url)
        if entry.method == "PUT":
            target = (entry.resource_type, entry.resource["id"])
            if target in seen_targets:
                text = f"{target[0]}/{target[1]} is the target of two entries"
                return _bad(400, "duplicate", "invalid_request", text, f"{entry.where}.request")
            seen_targets.add(target)
        entries.append(entry)
    return entries


def _place(store: ResourceStore, entry: _Entry) -> Answer | None:
    """Give ``entry`` its id: a PUT's own (it must exist), an honoured ``ifNoneExist``
    match's, or a new one."""
    if entry.method == "PUT":
        # the store's private helpers: this module is the store's own, split off for size
        current = store._current(
            entry.resource_type, entry.resource["id"], entry.request.get("ifMatch")
        )
        if isinstance(current, Answer):
            return in_entry(current, entry.index, entry.resource_type)
        return None
    condition = entry.request.get("ifNoneExist")
    if isinstance(condition, str) and condition and store.conditional_create:
        found = store._conditional(entry.resource_type, condition)
        if found is not None and found.status != 200:
            return in_entry(found, entry.index, entry.resource_type)
        if found is not None:
            entry.existing = found.body
            return None
    entry.resource["id"] = store._new_id(entry.resource_type)
    return None


def _resolve(value: Any, path: str, names: dict[str, str]) -> tuple[str, str] | None:
    """Replace, in place, every ``reference`` naming an entry's ``fullUrl`` by ``Type/id``;
    ``(FHIRPath, reference)`` of the first ``urn:uuid:`` reference no entry has, else None."""
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str) and reference in names:
            value["reference"] = names[reference]
        elif isinstance(reference, str) and reference.startswith("urn:uuid:"):
            return f"{path}.reference", reference
        for key, item in value.items():
            if key != "reference":
                missing = _resolve(item, f"{path}.{key}", names)
                if missing is not None:
                    return missing
    elif isinstance(value, list):
        for number, item in enumerate(value):
            missing = _resolve(item, f"{path}[{number}]", names)
            if missing is not None:
                return missing
    return None


def _check(store: ResourceStore, entries: list[_Entry]) -> Answer | None:
    """Every store rule for every entry to be written, the Bundle's own duplicates too."""
    names = {
        e.full_url: f"{e.resource_type}/{(e.existing or e.resource)['id']}"
        for e in entries
        if e.full_url is not None
    }
    claimed: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for entry in entries:
        if entry.existing is not None:
            continue
        missing = _resolve(entry.resource, f"{entry.where}.resource", names)
        if missing is not None:
            text = f"{missing[1]} is not the fullUrl of an entry of this Bundle"
            return _bad(400, "processing", "invalid_reference", text, missing[0])
        resource_id = entry.resource["id"] if entry.method == "PUT" else None
        problem = store._refusal(entry.resource, resource_id)
        key = local_key(entry.resource)
        if problem is None and key and (entry.resource_type, key) in claimed:
            problem = duplicate(entry.resource_type)
        if problem is not None:
            return in_entry(problem, entry.index, entry.resource_type)
        if key:
            claimed.add((entry.resource_type, key))
    return None


def run_transaction(
    store: ResourceStore, body: bytes, content_type: str, prefer: str | None
) -> Transacted:
    """Run a ``transaction`` Bundle on ``store``: every entry is written, or none is."""
    raw_entries = _parse_bundle(body, content_type)
    if isinstance(raw_entries, Answer):
        return _refused(raw_entries)
    entries = _parse_entries(raw_entries)
    if isinstance(entries, Answer):
        return _refused(entries)
    for entry in entries:
        problem = _place(store, entry)
        if problem is not None:
            return _refused(problem)
    problem = _check(store, entries)
    if problem is not None:
        return _refused(problem)
    ns = store._versions.tick()  # one transaction, one version time
    created: Counter[str] = Counter()
    updated: Counter[str] = Counter()
    for entry in entries:
        if entry.existing is None:
            store._commit(entry.resource_type, entry.resource, lag=entry.method == "POST", ns=ns)
            (created if entry.method == "POST" else updated)[entry.resource_type] += 1
    minimal = prefer is not None and "return=minimal" in prefer
    answered = [_answer_entry(store, e, minimal) for e in entries]
    if store.transaction_style == "satusehat":
        bundle: dict[str, Any] = {"entry": answered, "total": len(answered)}
    else:
        bundle = {"entry": answered}
    bundle.update(resourceType="Bundle", type="transaction-response")
    return Transacted(Answer(200, bundle, committed=bool(created or updated)), created, updated)


def _answer_entry(store: ResourceStore, entry: _Entry, minimal: bool) -> dict[str, Any]:
    """The ``transaction-response`` entry of ``entry``, in the store's style."""
    stored = entry.existing if entry.existing is not None else entry.resource
    resource_type, resource_id = entry.resource_type, stored["id"]
    version = stored["meta"]["versionId"]
    status = "201 Created" if entry.method == "POST" and entry.existing is None else "200 OK"
    response: dict[str, Any] = {
        "etag": f'W/"{version}"',
        "lastModified": stored["meta"]["lastUpdated"],
        "status": status,
    }
    url = store._url(resource_type, resource_id)
    if store.transaction_style == "satusehat":
        response.update(
            location=f"{url}/_history/{version}",
            resourceType=resource_type,
            resourceID=resource_id,
        )
        return {"response": response}
    response["location"] = f"{resource_type}/{resource_id}/_history/{version}"
    answered: dict[str, Any] = {"fullUrl": url, "response": response}
    if not minimal:
        answered["resource"] = copy_json(stored)
    return answered
