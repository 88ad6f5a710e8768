"""Old import path of the FHIR bases and decimals: now :mod:`satusehat_async.fhir`'s own.

``Element``, ``BackboneElement`` and ``FHIRModel`` are the generated FHIR core's classes
(``satusehat_async.patients.Element is satusehat_async.fhir.Element``); FHIR decimals
are kept as exact :class:`msgspec.Raw` (:func:`fhir_decimal`, :func:`decimal_value`).
"""

from __future__ import annotations

from satusehat_async.fhir.base import NO_DECIMAL, FHIRModel, decimal_value, fhir_decimal
from satusehat_async.fhir.datatypes import BackboneElement, Element

__all__ = [
    "NO_DECIMAL",
    "BackboneElement",
    "Element",
    "FHIRModel",
    "decimal_value",
    "fhir_decimal",
]
