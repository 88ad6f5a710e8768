"""Hand-written conveniences the generated models inherit (no fields, only properties).

The generator (``tools/fhir_codegen/hooks.py``) names a mixin here as an extra base of
a generated class, so ``Patient.nik`` or ``Extension.value`` live on the one generated
class rather than on a hand-written copy of it. msgspec allows a Struct to inherit a plain
class that declares no fields (``__slots__ = ()``); the mixins below add properties only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import msgspec

from satusehat_async.fhir.base import decimal_value

if TYPE_CHECKING:
    from satusehat_async.fhir.datatypes import Identifier

__all__ = ["ExtensionConveniences", "PatientConveniences", "ResourceConveniences"]


class ResourceConveniences:
    """Every resource: its ``resourceType`` as a property."""

    __slots__ = ()

    @property
    def resource_type(self) -> str:
        """The FHIR ``resourceType`` of this resource (``"Patient"``, ``"Encounter"`` ...)."""
        return cast(str, cast(Any, type(self)).__struct_config__.tag)


class PatientConveniences:
    """Patient: SATUSEHAT's identifiers (NIK, the mother's NIK, the IHS number) by name."""

    __slots__ = ()

    if TYPE_CHECKING:
        identifier: list[Identifier] | None

    def _identifier_value(self, which: str) -> str | None:
        # The systems are the MPI's rules (satusehat_async.patients.identifiers); imported
        # on use, because the patients package imports this model when it loads.
        from satusehat_async.patients import identifiers

        system: str = getattr(identifiers, which)
        return identifiers.find_identifier(self.identifier, system)

    @property
    def nik(self) -> str | None:
        """The patient's own NIK, if it carries one (masked in search answers)."""
        return self._identifier_value("NIK_SYSTEM")

    @property
    def nik_ibu(self) -> str | None:
        """The mother's NIK, for a newborn registered under it."""
        return self._identifier_value("NIK_IBU_SYSTEM")

    @property
    def ihs_number(self) -> str | None:
        """The IHS number identifier (the same as ``id`` on SATUSEHAT's answers)."""
        return self._identifier_value("IHS_NUMBER_SYSTEM")


class ExtensionConveniences:
    """Extension: the one ``value[x]`` that is set, whatever its type."""

    __slots__ = ()

    @property
    def value(self) -> Any:
        """The one ``value[x]`` that is set (a decimal as :class:`~decimal.Decimal`), or None.

        A value held as exact JSON (:class:`msgspec.Raw`) is decoded to plain Python.
        """
        for field in msgspec.structs.fields(cast(msgspec.Struct, self)):
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
