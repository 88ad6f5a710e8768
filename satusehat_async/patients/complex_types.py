"""The rarer FHIR R4 general-purpose datatypes: extension values a Patient seldom carries.

Money, Range, Ratio, Annotation, SampledData, Signature and Timing, modelled in full so
an extension holding one round-trips losslessly. Their ``extension`` fields are inherited
from :class:`~satusehat_async.patients.elements.Element`.
"""

from __future__ import annotations

import msgspec

from satusehat_async.patients.elements import NO_DECIMAL, BackboneElement, Element
from satusehat_async.patients.general_types import (
    CodeableConcept,
    Coding,
    Period,
    Quantity,
    Reference,
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


class Money(Element, kw_only=True):
    """An amount of money: a decimal ``value`` and an ISO 4217 ``currency``."""

    value: msgspec.Raw = NO_DECIMAL
    value_ext: Element | None = msgspec.field(default=None, name="_value")
    currency: str | None = None
    currency_ext: Element | None = msgspec.field(default=None, name="_currency")


class Range(Element, kw_only=True):
    """A range between two quantities."""

    low: Quantity | None = None
    high: Quantity | None = None


class Ratio(Element, kw_only=True):
    """A ratio of two quantities."""

    numerator: Quantity | None = None
    denominator: Quantity | None = None


class Annotation(Element, kw_only=True):
    """A text note with its author and time."""

    author_reference: Reference | None = None
    author_string: str | None = None
    author_string_ext: Element | None = msgspec.field(default=None, name="_authorString")
    time: str | None = None
    time_ext: Element | None = msgspec.field(default=None, name="_time")
    text: str | None = None
    text_ext: Element | None = msgspec.field(default=None, name="_text")


class SampledData(Element, kw_only=True):
    """A series of measurements taken by a device."""

    origin: Quantity | None = None
    period: msgspec.Raw = NO_DECIMAL
    period_ext: Element | None = msgspec.field(default=None, name="_period")
    factor: msgspec.Raw = NO_DECIMAL
    factor_ext: Element | None = msgspec.field(default=None, name="_factor")
    lower_limit: msgspec.Raw = NO_DECIMAL
    lower_limit_ext: Element | None = msgspec.field(default=None, name="_lowerLimit")
    upper_limit: msgspec.Raw = NO_DECIMAL
    upper_limit_ext: Element | None = msgspec.field(default=None, name="_upperLimit")
    dimensions: int | None = None
    dimensions_ext: Element | None = msgspec.field(default=None, name="_dimensions")
    data: str | None = None
    data_ext: Element | None = msgspec.field(default=None, name="_data")


class Signature(Element, kw_only=True):
    """A digital signature."""

    type: list[Coding] | None = None
    when: str | None = None
    when_ext: Element | None = msgspec.field(default=None, name="_when")
    who: Reference | None = None
    on_behalf_of: Reference | None = None
    target_format: str | None = None
    target_format_ext: Element | None = msgspec.field(default=None, name="_targetFormat")
    sig_format: str | None = None
    sig_format_ext: Element | None = msgspec.field(default=None, name="_sigFormat")
    data: str | None = None
    data_ext: Element | None = msgspec.field(default=None, name="_data")


class TimingRepeat(Element, kw_only=True):
    """When a timed event repeats."""

    bounds_duration: Quantity | None = None
    bounds_range: Range | None = None
    bounds_period: Period | None = None
    count: int | None = None
    count_ext: Element | None = msgspec.field(default=None, name="_count")
    count_max: int | None = None
    count_max_ext: Element | None = msgspec.field(default=None, name="_countMax")
    duration: msgspec.Raw = NO_DECIMAL
    duration_ext: Element | None = msgspec.field(default=None, name="_duration")
    duration_max: msgspec.Raw = NO_DECIMAL
    duration_max_ext: Element | None = msgspec.field(default=None, name="_durationMax")
    duration_unit: str | None = None
    duration_unit_ext: Element | None = msgspec.field(default=None, name="_durationUnit")
    frequency: int | None = None
    frequency_ext: Element | None = msgspec.field(default=None, name="_frequency")
    frequency_max: int | None = None
    frequency_max_ext: Element | None = msgspec.field(default=None, name="_frequencyMax")
    period: msgspec.Raw = NO_DECIMAL
    period_ext: Element | None = msgspec.field(default=None, name="_period")
    period_max: msgspec.Raw = NO_DECIMAL
    period_max_ext: Element | None = msgspec.field(default=None, name="_periodMax")
    period_unit: str | None = None
    period_unit_ext: Element | None = msgspec.field(default=None, name="_periodUnit")
    day_of_week: list[str | None] | None = None
    day_of_week_ext: list[Element | None] | None = msgspec.field(default=None, name="_dayOfWeek")
    time_of_day: list[str | None] | None = None
    time_of_day_ext: list[Element | None] | None = msgspec.field(default=None, name="_timeOfDay")
    when: list[str | None] | None = None
    when_ext: list[Element | None] | None = msgspec.field(default=None, name="_when")
    offset: int | None = None
    offset_ext: Element | None = msgspec.field(default=None, name="_offset")


class Timing(BackboneElement, kw_only=True):
    """A schedule: event times and/or a repeat rule."""

    event: list[str | None] | None = None
    event_ext: list[Element | None] | None = msgspec.field(default=None, name="_event")
    repeat: TimingRepeat | None = None
    code: CodeableConcept | None = None
