"""The Practitioner as ``client.practitioners`` hands it out: the FHIR class, plus names
for SATUSEHAT's identifiers.

:class:`Practitioner` is a subclass of :class:`satusehat_async.fhir.Practitioner`
(``isinstance`` holds, it encodes to the same JSON) adding ``ihs_number`` (the
practitioner's SATUSEHAT number: the ``nakes-his-number`` identifier, also the ``id``),
``nik`` (None when the answer masked it) and ``display_name``. Its ``repr`` shows the ids
only: names and NIKs are personal data.
"""

from __future__ import annotations

from satusehat_async.fhir.resources.practitioner import Practitioner as FHIRPractitioner

__all__ = ["IHS_NUMBER_SYSTEM", "NIK_SYSTEM", "Practitioner"]

#: The health worker's SATUSEHAT number (the Practitioner's id): ``nakes-his-number``.
IHS_NUMBER_SYSTEM = "https://fhir.kemkes.go.id/id/nakes-his-number"
#: The national identity number.
NIK_SYSTEM = "https://fhir.kemkes.go.id/id/nik"


class Practitioner(FHIRPractitioner, kw_only=True, tag="Practitioner"):
    """A SATUSEHAT Practitioner (a :class:`satusehat_async.fhir.Practitioner`)."""

    def _identifier(self, system: str) -> str | None:
        for identifier in self.identifier or ():
            if identifier.system == system and identifier.value:
                return identifier.value
        return None

    @property
    def ihs_number(self) -> str | None:
        """The IHS number: the ``nakes-his-number`` identifier, else the id."""
        return self._identifier(IHS_NUMBER_SYSTEM) or self.id

    @property
    def nik(self) -> str | None:
        """The NIK identifier's value; None when absent or masked (``################``)."""
        value = self._identifier(NIK_SYSTEM)
        if value is None or "#" in value or "*" in value:
            return None
        return value

    @property
    def display_name(self) -> str | None:
        """The first name's ``text``, else its parts joined (``dr. Alexander``)."""
        for name in self.name or ():
            if name.text:
                return name.text
            parts = [*(name.prefix or ()), *(name.given or ()), name.family, *(name.suffix or ())]
            joined = " ".join(p for p in parts if p)
            if joined:
                return joined
        return None

    def __repr__(self) -> str:
        return f"Practitioner(id={self.id!r}, ihs_number={self.ihs_number!r})"
