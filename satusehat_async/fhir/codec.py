"""Decode any FHIR resource in one pass, by its ``resourceType`` (loads every resource)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import msgspec

from satusehat_async.errors import ValidationError

if TYPE_CHECKING:
    from satusehat_async.fhir.resources._any import AnyResource
    from satusehat_async.fhir.resources._base import DomainResource

__all__ = ["contained_resources", "decode_resource", "to_builtins"]

_encoder = msgspec.json.Encoder()


@cache
def _decoder() -> msgspec.json.Decoder[AnyResource]:
    # Built once, on first use: it spans every resource class (a few hundred ms).
    from satusehat_async.fhir.resources._any import AnyResource

    return msgspec.json.Decoder(AnyResource)


def decode_resource(data: bytes | str) -> AnyResource:
    """Decode any FHIR R4 resource's JSON into its class (``Encounter``, ``Bundle`` ...).

    Raises :class:`~satusehat_async.errors.ValidationError` (a ``ValueError``) for JSON
    that is not a FHIR resource: an unknown ``resourceType``, a bad shape, broken JSON.
    """
    try:
        return _decoder().decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ValidationError(f"not a FHIR R4 resource: {exc}") from None


def to_builtins(model: Any) -> Any:
    """A model (or anything holding models) as plain JSON values: dicts, lists, str, ...

    Use it instead of ``msgspec.to_builtins``, which cannot handle the exact decimals the
    models keep as raw JSON (``Quantity.value``, ``valueDecimal``): here ``1.50`` stays the
    number 1.50 (a float, as JSON parsers give it) with every other element as sent.
    """
    return msgspec.json.decode(_encoder.encode(model))


def contained_resources(resource: DomainResource) -> list[AnyResource]:
    """A resource's ``contained`` resources, decoded (they are kept as exact JSON)."""
    return [decode_resource(raw) for raw in resource.contained or ()]
