"""JSON Patch (RFC 6902) operations for ``PATCH {Type}/{id}``: SATUSEHAT supports ``replace``.

Paths are JSON Pointers (RFC 6901): ``/name/0/text``. Inside a token ``~`` is written
``~0`` and ``/`` is written ``~1``; :func:`pointer` does that escaping, and
:func:`replace` accepts either a ready pointer string or a sequence of raw tokens.
Anything the API does not support is refused with :class:`ValidationError` before
anything is sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_niks

__all__ = [
    "PATCH_CONTENT_TYPES",
    "PatchOperation",
    "escape_token",
    "pointer",
    "replace",
    "unescape_token",
    "validate_operations",
]

#: Content types a patch may be sent as: the standard one (the default) and the documents'.
PATCH_CONTENT_TYPES = ("application/json-patch+json", "application/json")

SUPPORTED_OPS = frozenset({"replace"})
_KNOWN_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})
# "~" must be followed by 0 or 1 (RFC 6901 §3).
_BAD_TILDE = re.compile(r"~(?![01])")
# Elements a patch may not change: the resource's type and its server-assigned id.
_FORBIDDEN_PATHS = frozenset({"/resourceType", "/id"})
# Decimals keep their digits, as when the patch is sent.
_encoder = msgspec.json.Encoder(decimal_format="number")


class PatchOperation(msgspec.Struct, frozen=True, kw_only=True):
    """One JSON Patch operation, as sent: ``{"op": ..., "path": ..., "value": ...}``."""

    op: str
    path: str
    value: Any


def escape_token(token: str | int) -> str:
    """Escape one JSON Pointer reference token (``~`` → ``~0``, ``/`` → ``~1``)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape_token(token: str) -> str:
    """Undo :func:`escape_token` (``~1`` → ``/`` first, then ``~0`` → ``~``)."""
    return token.replace("~1", "/").replace("~0", "~")


def pointer(*tokens: str | int) -> str:
    """A JSON Pointer from raw tokens.

    >>> pointer("extension", 0, "a/b~c")
    '/extension/0/a~1b~0c'
    """
    return "".join("/" + escape_token(t) for t in tokens)


def _shown(value: object) -> str:
    return redact_niks(repr(value))


def _check_path(path: str) -> str:
    if not isinstance(path, str):
        raise ValidationError(f"a patch path must be a JSON Pointer string, not {_shown(path)}")
    if not path.startswith("/"):
        raise ValidationError(
            f"patch path {_shown(path)} is not a JSON Pointer: it must start with '/' "
            "(e.g. '/name/0/text')"
        )
    if _BAD_TILDE.search(path):
        raise ValidationError(
            f"patch path {_shown(path)}: '~' must be escaped as '~0' (and '/' inside a key as '~1')"
        )
    if path in _FORBIDDEN_PATHS:
        raise ValidationError(
            f"patch path {_shown(path)}: a resource's type and id cannot be replaced"
        )
    return path


def _non_finite(value: Any, depth: int = 0) -> bool:
    """Whether a NaN or an infinity hides anywhere in ``value`` (JSON has neither)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Decimal):
        return not value.is_finite()
    if depth > 100:  # deeper than any FHIR element; msgspec refuses what it cannot encode
        return False
    if isinstance(value, Mapping):
        return any(_non_finite(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v, depth + 1) for v in value)
    if isinstance(value, msgspec.Struct):
        fields = (getattr(value, name) for name in value.__struct_fields__)
        return any(_non_finite(v, depth + 1) for v in fields)
    return False


def _check_value(value: Any, where: str) -> Any:
    if value is None:
        raise ValidationError(f"{where}: the value cannot be null")
    if _non_finite(value):
        # msgspec would write NaN and Infinity as null, changing the value silently
        raise ValidationError(f"{where}: numbers must be finite (JSON has no NaN or Infinity)")
    try:
        _encoder.encode(value)
    except (TypeError, ValueError, OverflowError, RecursionError, msgspec.EncodeError) as exc:
        # refused now, not as a TypeError when the patch is sent
        raise ValidationError(
            f"{where}: the value is not JSON ({type(exc).__name__}: a "
            f"{type(value).__name__} holding something JSON cannot encode)"
        ) from None
    return value


def _path_text(path: object) -> str:
    if isinstance(path, str):
        return path
    if isinstance(path, (list, tuple)) and all(
        isinstance(t, str) or (isinstance(t, int) and not isinstance(t, bool)) for t in path
    ):
        return pointer(*path)
    raise ValidationError(
        "a patch path is a JSON Pointer string ('/name/0/text') or a sequence of "
        f"str/int tokens, not {type(path).__name__}"
    )


def replace(path: str | Sequence[str | int], value: Any) -> PatchOperation:
    """A ``replace`` operation.

    ``path`` is a JSON Pointer string (already escaped, e.g. ``"/name/0/text"``) or a
    sequence of raw tokens, escaped here (``("extension", 0, "url")``). ``value`` is any
    JSON value or a model struct (``HumanName(...)``); ``None`` is refused: FHIR has no
    null, and removing an element is not supported. So are NaN and infinities (as floats
    or Decimals, anywhere in the value): JSON has no such numbers.
    """
    text = _path_text(path)
    _check_value(value, f"replace {_shown(text)}")
    return PatchOperation(op="replace", path=_check_path(text), value=value)


def _one(operation: PatchOperation | Mapping[str, Any], index: int) -> PatchOperation:
    op: Any
    path: Any
    value: Any
    extra: set[str]
    if isinstance(operation, PatchOperation):
        op, path, value, extra = operation.op, operation.path, operation.value, set()
    elif isinstance(operation, Mapping):
        op, path = operation.get("op"), operation.get("path")
        value = operation.get("value")
        extra = {str(key) for key in operation} - {"op", "path", "value"}
        if not isinstance(op, str):
            raise ValidationError(
                f"patch operation {index}: 'op' must be a string (only 'replace' is "
                f"supported), not {type(op).__name__}"
            )
        if "value" not in operation and op in SUPPORTED_OPS:
            raise ValidationError(f"patch operation {index}: 'replace' needs a 'value'")
    else:
        raise ValidationError(
            f"patch operation {index} must be a mapping or replace(...), "
            f"not {type(operation).__name__}"
        )
    if op not in SUPPORTED_OPS:
        why = "is not supported by SATUSEHAT" if op in _KNOWN_OPS else "is not a JSON Patch op"
        raise ValidationError(
            f"patch operation {index}: {_shown(op)} {why} (only 'replace' is supported)"
        )
    if extra:
        raise ValidationError(
            f"patch operation {index}: unexpected member(s) {redact_niks(', '.join(sorted(extra)))}"
        )
    _check_value(value, f"patch operation {index}")
    return PatchOperation(op="replace", path=_check_path(path), value=value)


def validate_operations(
    operations: Iterable[PatchOperation | Mapping[str, Any]],
) -> list[PatchOperation]:
    """Check a patch document before sending; raise :class:`ValidationError` on any problem."""
    if isinstance(operations, (Mapping, PatchOperation, str, bytes)):
        raise ValidationError("a patch is a list of operations, not a single operation")
    if not isinstance(operations, Iterable):
        raise ValidationError(f"a patch is a list of operations, not {type(operations).__name__}")
    checked = [_one(op, i) for i, op in enumerate(operations)]
    if not checked:
        raise ValidationError("a patch needs at least one operation")
    return checked
