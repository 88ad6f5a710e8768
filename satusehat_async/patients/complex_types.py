"""Old import path of the rarer FHIR datatypes (Money, Range, Ratio, Timing ...).

They are the generated FHIR core's classes (``satusehat_async.fhir.Timing`` ...).
"""

from __future__ import annotations

from satusehat_async.fhir.datatypes import (
    Annotation,
    Money,
    Range,
    Ratio,
    SampledData,
    Signature,
    Timing,
    TimingRepeat,
)

__all__ = [
    "Annotation",
    "Money",
    "Range",
    "Ratio",
    "SampledData",
    "Signature",
    "Timing",
    "TimingRepeat",
]
