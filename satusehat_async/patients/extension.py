"""FHIR R4 Extension with every one of its 50 ``value[x]`` types.

Primitive values are typed (decimals as :class:`msgspec.Raw`, to keep their digits),
with their ``_valueX`` siblings; the general-purpose datatypes are typed structs; the
metadata types and Dosage, which no Patient extension in SATUSEHAT uses, are kept as the
exact JSON they arrived as (:class:`msgspec.Raw`; decode them with ``msgspec.json.decode``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from satusehat_async.patients.complex_types import (
    Annotation,
    Money,
    Range,
    Ratio,
    SampledData,
    Signature,
    Timing,
)
from satusehat_async.patients.elements import NO_DECIMAL, Element, bind_extension, decimal_value
from satusehat_async.patients.general_types import (
    Address,
    Attachment,
    CodeableConcept,
    Coding,
    ContactPoint,
    HumanName,
    Identifier,
    Meta,
    Period,
    Quantity,
    Reference,
)

__all__ = ["Extension"]

_RAW_ABSENT = msgspec.Raw()


class Extension(Element, kw_only=True):
    """An extension: a ``url`` naming it and one ``value[x]`` or nested ``extension``s.

    >>> Extension(url="https://fhir.kemkes.go.id/r4/StructureDefinition/citizenshipStatus",
    ...           value_code="WNI")  # doctest: +ELLIPSIS
    Extension(url=..., value_code='WNI')
    """

    url: str
    # primitive types
    value_base64_binary: str | None = None
    value_base64_binary_ext: Element | None = msgspec.field(default=None, name="_valueBase64Binary")
    value_boolean: bool | None = None
    value_boolean_ext: Element | None = msgspec.field(default=None, name="_valueBoolean")
    value_canonical: str | None = None
    value_canonical_ext: Element | None = msgspec.field(default=None, name="_valueCanonical")
    value_code: str | None = None
    value_code_ext: Element | None = msgspec.field(default=None, name="_valueCode")
    value_date: str | None = None
    value_date_ext: Element | None = msgspec.field(default=None, name="_valueDate")
    value_date_time: str | None = None
    value_date_time_ext: Element | None = msgspec.field(default=None, name="_valueDateTime")
    value_decimal: msgspec.Raw = NO_DECIMAL
    value_decimal_ext: Element | None = msgspec.field(default=None, name="_valueDecimal")
    value_id: str | None = None
    value_id_ext: Element | None = msgspec.field(default=None, name="_valueId")
    value_instant: str | None = None
    value_instant_ext: Element | None = msgspec.field(default=None, name="_valueInstant")
    value_integer: int | None = None
    value_integer_ext: Element | None = msgspec.field(default=None, name="_valueInteger")
    value_markdown: str | None = None
    value_markdown_ext: Element | None = msgspec.field(default=None, name="_valueMarkdown")
    value_oid: str | None = None
    value_oid_ext: Element | None = msgspec.field(default=None, name="_valueOid")
    value_positive_int: int | None = None
    value_positive_int_ext: Element | None = msgspec.field(default=None, name="_valuePositiveInt")
    value_string: str | None = None
    value_string_ext: Element | None = msgspec.field(default=None, name="_valueString")
    value_time: str | None = None
    value_time_ext: Element | None = msgspec.field(default=None, name="_valueTime")
    value_unsigned_int: int | None = None
    value_unsigned_int_ext: Element | None = msgspec.field(default=None, name="_valueUnsignedInt")
    value_uri: str | None = None
    value_uri_ext: Element | None = msgspec.field(default=None, name="_valueUri")
    value_url: str | None = None
    value_url_ext: Element | None = msgspec.field(default=None, name="_valueUrl")
    value_uuid: str | None = None
    value_uuid_ext: Element | None = msgspec.field(default=None, name="_valueUuid")
    # general-purpose datatypes (Age, Count, Distance, Duration are Quantity profiles)
    value_address: Address | None = None
    value_age: Quantity | None = None
    value_annotation: Annotation | None = None
    value_attachment: Attachment | None = None
    value_codeable_concept: CodeableConcept | None = None
    value_coding: Coding | None = None
    value_contact_point: ContactPoint | None = None
    value_count: Quantity | None = None
    value_distance: Quantity | None = None
    value_duration: Quantity | None = None
    value_human_name: HumanName | None = None
    value_identifier: Identifier | None = None
    value_money: Money | None = None
    value_period: Period | None = None
    value_quantity: Quantity | None = None
    value_range: Range | None = None
    value_ratio: Ratio | None = None
    value_reference: Reference | None = None
    value_sampled_data: SampledData | None = None
    value_signature: Signature | None = None
    value_timing: Timing | None = None
    # metadata datatypes and special types, kept verbatim
    value_contact_detail: msgspec.Raw = _RAW_ABSENT
    value_contributor: msgspec.Raw = _RAW_ABSENT
    value_data_requirement: msgspec.Raw = _RAW_ABSENT
    value_expression: msgspec.Raw = _RAW_ABSENT
    value_parameter_definition: msgspec.Raw = _RAW_ABSENT
    value_related_artifact: msgspec.Raw = _RAW_ABSENT
    value_trigger_definition: msgspec.Raw = _RAW_ABSENT
    value_usage_context: msgspec.Raw = _RAW_ABSENT
    value_dosage: msgspec.Raw = _RAW_ABSENT
    value_meta: Meta | None = None

    @property
    def value(self) -> Any:
        """The one ``value[x]`` that is set (a decimal as :class:`~decimal.Decimal`), or None."""
        for field in msgspec.structs.fields(self):
            if not field.name.startswith("value_") or field.name.endswith("_ext"):
                continue
            found = getattr(self, field.name)
            if isinstance(found, msgspec.Raw):
                if not found:
                    continue
                if field.name == "value_decimal":
                    return decimal_value(found)
                return msgspec.json.decode(found)
            if found is not None:
                return found
        return None


# Element (the base of every datatype) names Extension in its fields: bind it there.
bind_extension(Extension)
