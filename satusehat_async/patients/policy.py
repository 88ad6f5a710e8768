"""The Master Patient Index's identity rules, as the create engine's :class:`PatientIdentity`.

- A patient with its own NIK is known by it. The server keeps a NIK unique, so the write
  carries ``If-None-Exist`` and one search after a failure is enough (and, where the
  server is known to refuse a second NIK, none before it:
  :mod:`satusehat_async.patients.capabilities`); answers to a NIK search are masked, so a
  record matches unless it shows another readable NIK.
- A newborn is registered by its mother's NIK, which twins share and the server does not
  keep unique: no ``If-None-Exist``, a window of searches after a failure, and a record
  matches only by birth date, name and birth order
  (:func:`~satusehat_async.patients.newborns.newborn_matches`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from satusehat_async.errors import AmbiguousMatchError, SatuSehatError, ValidationError
from satusehat_async.idempotency import Identity, ReconcileWindow
from satusehat_async.patients.identifiers import NIK_IBU_SYSTEM, NIK_SYSTEM, is_masked, validate_nik
from satusehat_async.patients.models import Patient
from satusehat_async.patients.newborns import newborn_matches

__all__ = ["PatientIdentity"]


@dataclass(frozen=True)
class PatientIdentity:
    """The :class:`~satusehat_async.idempotency.IdentityPolicy` of Patient creates.

    Args:
        window: how long a newborn's ambiguously failed write is looked for before it may
            be sent again (:class:`~satusehat_async.idempotency.ReconcileWindow`).
    """

    window: ReconcileWindow = field(default_factory=ReconcileWindow)

    @property
    def resource_type(self) -> str:
        """``"Patient"``."""
        return "Patient"

    def identify(self, resource: Patient) -> Identity:
        """The NIK; else (a newborn) the mother's NIK. ValidationError when neither is there."""
        systems = {i.system for i in resource.identifier or () if i.value}
        if NIK_SYSTEM in systems:
            nik = validate_nik(resource.nik)
            return Identity(NIK_SYSTEM, nik, unique=True, conditional=True)
        if NIK_IBU_SYSTEM in systems:
            # never If-None-Exist for the mother's NIK: twins share it
            mother = validate_nik(resource.nik_ibu, what="NIK-ibu")
            return Identity(NIK_IBU_SYSTEM, mother, unique=False, conditional=False)
        raise ValidationError(
            f"a Patient to create needs a NIK ({NIK_SYSTEM}) or, for a newborn, "
            f"its mother's NIK ({NIK_IBU_SYSTEM})"
        )

    def matches(self, candidate: Patient, wanted: Patient, identity: Identity) -> bool:
        """Is ``candidate`` (from a search by ``identity``) the patient to create?"""
        if not candidate.id:
            return False
        if identity.system == NIK_SYSTEM:
            # The server matched the NIK; answers mask it, so compare only when readable.
            found = candidate.nik
            return found is None or is_masked(found) or found == identity.value
        return newborn_matches(candidate, wanted)

    def id_of(self, resource: Patient) -> str | None:
        """The record's id."""
        return resource.id

    def with_id(self, resource: Patient, resource_id: str) -> Patient:
        """``resource`` with ``id`` set."""
        return msgspec.structs.replace(resource, id=resource_id)

    def ambiguous(
        self, ids: Sequence[str], identity: Identity, after: SatuSehatError | None
    ) -> SatuSehatError:
        """:class:`AmbiguousMatchError` (a newborn's message when ``identity`` is not unique)."""
        return AmbiguousMatchError(ids, newborn=not identity.unique, after=after)
