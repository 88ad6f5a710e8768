"""The region codes of an address's ``administrativeCode`` extension.

SATUSEHAT's Patient, Organization and Location addresses carry the Kemendagri codes in
one extension (``reference/satusehat-clinical.md`` §4, §5, §10.2)::

    {"url": "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode",
     "extension": [{"url": "province", "valueCode": "31"}, {"url": "city", "valueCode": "3171"},
                   {"url": "district", "valueCode": "317101"},
                   {"url": "village", "valueCode": "3171011001"},
                   {"url": "rt", "valueCode": "1"}, {"url": "rw", "valueCode": "2"}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from satusehat_async.errors import ValidationError

__all__ = ["ADMINISTRATIVE_CODE_URL", "PARTS", "administrative_codes"]

ADMINISTRATIVE_CODE_URL = "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"

PARTS = {
    "province": "kode_provinsi",
    "city": "kode_kabkota",
    "district": "kode_kecamatan",
    "village": "kode_kelurahan",
}
"""The extension's parts and the :meth:`Wilayah.check` argument each one is."""


def _as_dict(address: object) -> Mapping[str, Any]:
    if isinstance(address, Mapping):
        return address
    if hasattr(address, "__struct_fields__"):  # a satusehat_async.fhir.Address
        from satusehat_async.fhir.codec import to_builtins

        converted = to_builtins(address)
        if isinstance(converted, Mapping):
            return converted
    raise ValidationError(
        f"an address must be a FHIR Address or its JSON dict, not {type(address).__name__}"
    )


def _value(part: Mapping[str, Any]) -> object:
    for key in ("valueCode", "valueString"):
        if key in part:
            return part[key]
    return None


def administrative_codes(address: object, *, complete: bool = True) -> dict[str, object]:
    """The region codes of ``address`` as :meth:`Wilayah.check` arguments (not yet checked).

    ``complete``: all four (province, city, district, village) must be present. Raises
    ValidationError for an address without the extension or, with ``complete``, with a part
    missing.
    """
    extensions = _as_dict(address).get("extension")
    found: Mapping[str, Any] | None = None
    for extension in extensions if isinstance(extensions, list) else ():
        if isinstance(extension, Mapping) and extension.get("url") == ADMINISTRATIVE_CODE_URL:
            found = extension
            break
    if found is None:
        raise ValidationError(f"the address has no {ADMINISTRATIVE_CODE_URL} extension")
    codes: dict[str, object] = {}
    parts = found.get("extension")
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, Mapping) and part.get("url") in PARTS:
            codes[PARTS[part["url"]]] = _value(part)
    missing = [url for url, name in PARTS.items() if name not in codes]
    if complete and missing:
        raise ValidationError("the address's administrativeCode lacks " + ", ".join(missing))
    if not codes:
        raise ValidationError("the address's administrativeCode holds no region code")
    return codes
