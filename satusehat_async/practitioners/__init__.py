"""Practitioners (health workers) looked up by NIK: ``client.practitioners``.

- :mod:`.api` — :class:`Practitioners`: ``by_nik`` (cached with a TTL, single-flight),
  ``get`` (by IHS number), ``search`` (name + birth date + gender)
- :mod:`.models` — :class:`Practitioner`, the FHIR class with ``ihs_number``, ``nik`` and
  ``display_name``
- :mod:`.cache` — :class:`LookupCache`, the TTL cache with one request in flight per key
"""

from satusehat_async.practitioners.api import GENDERS, Practitioners
from satusehat_async.practitioners.cache import LookupCache
from satusehat_async.practitioners.models import IHS_NUMBER_SYSTEM, NIK_SYSTEM, Practitioner

__all__ = [
    "GENDERS",
    "IHS_NUMBER_SYSTEM",
    "NIK_SYSTEM",
    "LookupCache",
    "Practitioner",
    "Practitioners",
]
