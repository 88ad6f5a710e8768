"""JSON Patch (RFC 6902) for the sandbox's FHIR store: every operation, applied all or nothing.

Pure functions (no server). The Patient store keeps its own ``replace``-only rule
(:func:`~satusehat_async.sandbox.fhir.apply_replace`, SATUSEHAT allows nothing else on a
Patient); every other resource type takes ``add``, ``remove``, ``replace``, ``move``,
``copy`` and ``test``, as the Google FHIR store behind SATUSEHAT does.
"""

from __future__ import annotations

import re
from typing import Any

from satusehat_async.sandbox.fhir import PatchError, copy_json

__all__ = ["apply_patch"]

_INDEX = re.compile(r"0|[1-9][0-9]*")
_PROTECTED = frozenset({"id", "resourceType", "meta"})
_OPERATIONS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def _tokens(pointer: Any, number: int, name: str = "path") -> list[str]:
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise PatchError("invalid", f"operation {number} needs a JSON Pointer {name}")
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]
    if tokens[0] in _PROTECTED:
        raise PatchError("invalid", f"{tokens[0]} cannot be changed")
    return tokens


def _missing(tokens: list[str]) -> PatchError:
    return PatchError("processing", f"path {'/' + '/'.join(tokens)!r} does not exist")


def _parent(document: Any, tokens: list[str]) -> Any:
    """The container that holds the last token of ``tokens``."""
    node = document
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and _INDEX.fullmatch(token) and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _missing(tokens)
    if not isinstance(node, (dict, list)):
        raise _missing(tokens)
    return node


def _get(document: Any, tokens: list[str]) -> Any:
    node = _parent(document, tokens)
    last = tokens[-1]
    if isinstance(node, dict) and last in node:
        return node[last]
    if isinstance(node, list) and _INDEX.fullmatch(last) and int(last) < len(node):
        return node[int(last)]
    raise _missing(tokens)


def _remove(document: Any, tokens: list[str]) -> Any:
    node = _parent(document, tokens)
    _get(document, tokens)  # the target must exist
    return node.pop(tokens[-1] if isinstance(node, dict) else int(tokens[-1]))


def _add(document: Any, tokens: list[str], value: Any) -> None:
    node = _parent(document, tokens)
    last = tokens[-1]
    if isinstance(node, dict):
        node[last] = value
    elif last == "-":
        node.append(value)
    elif _INDEX.fullmatch(last) and int(last) <= len(node):
        node.insert(int(last), value)
    else:
        raise _missing(tokens)


def _apply(document: Any, operation: Any, number: int) -> None:
    if not isinstance(operation, dict):
        raise PatchError("invalid", f"operation {number} is not an object")
    op = operation.get("op")
    if op not in _OPERATIONS:
        raise PatchError("not-supported", f"operation {op!r} is not a JSON Patch operation")
    tokens = _tokens(operation.get("path"), number)
    if op in ("add", "replace", "test") and "value" not in operation:
        raise PatchError("invalid", f"operation {number} has no value")
    if op == "remove":
        _remove(document, tokens)
    elif op == "add":
        _add(document, tokens, copy_json(operation["value"]))
    elif op == "replace":
        _remove(document, tokens)
        _add(document, tokens, copy_json(operation["value"]))
    elif op == "test":
        if _get(document, tokens) != operation["value"]:
            raise PatchError("processing", f"test failed at {operation['path']!r}")
    else:  # move, copy
        source = _tokens(operation.get("from"), number, "from")
        value = _remove(document, source) if op == "move" else copy_json(_get(document, source))
        _add(document, tokens, value)


def apply_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    """``document`` with the JSON Patch ``operations`` applied (a new object; all or nothing).

    ``id``, ``resourceType`` and ``meta`` cannot be changed.

    Raises:
        PatchError: the patch is malformed, a path is missing, or a ``test`` failed.
    """
    if not isinstance(operations, list) or not operations:
        raise PatchError("invalid", "a JSON Patch is a non-empty array of operations")
    patched: dict[str, Any] = copy_json(document)
    for number, operation in enumerate(operations):
        _apply(patched, operation, number)
    return patched
