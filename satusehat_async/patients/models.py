"""The FHIR R4 Patient resource: the generated FHIR core's class, lossless on the wire.

``satusehat_async.patients.Patient is satusehat_async.fhir.Patient``.
``msgspec.json.encode(msgspec.json.decode(raw, type=Patient))`` gives back every element
of a valid FHIR R4 Patient: all elements and backbone elements are declared, every
primitive has its ``_``-prefixed sibling (``birth_date_ext`` is ``_birthDate``), decimals
keep their digits, and ``contained`` resources are kept as the exact JSON they came as.
SATUSEHAT's identifiers read as properties: ``nik``, ``nik_ibu``, ``ihs_number``.

>>> import msgspec
>>> raw = b'{"resourceType":"Patient","birthDate":"2001-04-16","_birthDate":{"id":"b"}}'
>>> patient = msgspec.json.decode(raw, type=Patient)
>>> patient.birth_date, patient.birth_date_ext
('2001-04-16', Element(id='b'))
>>> msgspec.json.encode(patient) == raw
True
"""

from __future__ import annotations

from satusehat_async.fhir.resources.patient import (
    Patient,
    PatientCommunication,
    PatientContact,
    PatientLink,
)

__all__ = ["Patient", "PatientCommunication", "PatientContact", "PatientLink"]
