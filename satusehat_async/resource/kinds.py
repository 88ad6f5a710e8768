"""Which resource a :class:`~satusehat_async.resource.ResourceAPI` speaks: class and type name.

A resource class is any msgspec Struct tagged on ``resourceType`` (every class in
:mod:`satusehat_async.fhir`); a name (``"Encounter"``) is resolved through
:mod:`satusehat_async.fhir`, which loads only that resource's module.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_niks

__all__ = ["check_id", "fhir_id", "resource_class", "resource_type_of"]

_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def resource_type_of(cls: type[Any]) -> str:
    """The ``resourceType`` tag of a resource class (ValidationError if it has none)."""
    config = getattr(cls, "__struct_config__", None)
    if (
        not isinstance(cls, type)
        or not issubclass(cls, msgspec.Struct)
        or config is None
        or config.tag_field != "resourceType"
        or not isinstance(config.tag, str)
    ):
        name = getattr(cls, "__name__", type(cls).__name__)
        raise ValidationError(
            f"{name} is not a FHIR resource class (a msgspec Struct tagged on resourceType, "
            "such as satusehat_async.fhir.Encounter)"
        )
    return config.tag


def resource_class(kind: type[Any] | str) -> type[Any]:
    """The resource class for ``kind``: a resource class itself, or its FHIR type name."""
    if not isinstance(kind, str):
        resource_type_of(kind)
        return kind
    if not _TYPE_NAME.fullmatch(kind):
        raise ValidationError(f"not a FHIR resource type name: {kind[:40]!r}")
    # Imported here: the models load lazily, one resource module on first use.
    fhir = importlib.import_module("satusehat_async.fhir")
    try:
        cls = getattr(fhir, kind)
    except AttributeError:
        raise ValidationError(f"unknown FHIR R4 resource type {kind!r}") from None
    try:
        tag = resource_type_of(cls)
    except ValidationError:
        raise ValidationError(f"{kind!r} is a FHIR datatype, not a resource type") from None
    if tag != kind:
        raise ValidationError(f"unknown FHIR R4 resource type {kind!r}")
    return cls  # type: ignore[no-any-return]


def fhir_id(value: object) -> str | None:
    """``value`` if it is a usable FHIR id (1 to 64 letters, digits, ``-``, ``.``), else None.

    ``.`` and ``..`` match FHIR's id pattern, but the URL would be normalised to another
    path (``Encounter/..`` is the server's root): never a resource's id.
    """
    if isinstance(value, str) and _FHIR_ID.fullmatch(value) and value not in (".", ".."):
        return value
    return None


def check_id(resource_type: str, resource_id: object) -> str:
    """``resource_id`` if it is a usable FHIR id (:func:`fhir_id`; ValidationError otherwise)."""
    if fhir_id(resource_id) is None:
        shown = (
            redact_niks(repr(resource_id[:64]))
            if isinstance(resource_id, str)
            else type(resource_id).__name__
        )
        raise ValidationError(f"invalid {resource_type} id {shown}")
    assert isinstance(resource_id, str)
    return resource_id
