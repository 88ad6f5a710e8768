"""Decode any FHIR resource in one pass, by its ``resourceType`` (loads every resource)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from satusehat_async.fhir.resources._any import AnyResource
    from satusehat_async.fhir.resources._base import DomainResource

__all__ = ["contained_resources", "decode_resource"]


@cache
def _decoder() -> msgspec.json.Decoder[AnyResource]:
    # Built once, on first use: it spans every resource class (a few hundred ms).
    from satusehat_async.fhir.resources._any import AnyResource

    return msgspec.json.Decoder(AnyResource)


def decode_resource(data: bytes | str) -> AnyResource:
    """Decode any FHIR R4 resource's JSON into its class (``Encounter``, ``Bundle`` ...).

    Raises :class:`msgspec.ValidationError` for an unknown ``resourceType`` or a bad shape.
    """
    return _decoder().decode(data)


def contained_resources(resource: DomainResource) -> list[AnyResource]:
    """A resource's ``contained`` resources, decoded (they are kept as exact JSON)."""
    return [_decoder().decode(raw) for raw in resource.contained or ()]
