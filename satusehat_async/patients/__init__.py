"""Master Patient Index: Patient search, NIK and newborn identity, JSON Patch, idempotent creates.

The FHIR classes are the generated ones of :mod:`satusehat_async.fhir`, re-exported here
(``satusehat_async.patients.Patient is satusehat_async.fhir.Patient``); this package adds
the MPI's own rules.

>>> from satusehat_async.patients import Patient, replace, nik_identifier
>>> patient = Patient(identifier=[nik_identifier("3171014501900001")], gender="female")
>>> async with client:                                        # doctest: +SKIP
...     result = await client.patients.create(patient)        # result.id, result.created
...     await client.patients.patch(result.id, [replace("/language", "id")])
"""

from satusehat_async.idempotency import ReconcileWindow
from satusehat_async.patients.answers import (
    BundleEntry,
    BundleLink,
    CreateResult,
    SearchBundle,
    decode_create_answer,
    decode_patient,
    decode_search_bundle,
)
from satusehat_async.patients.api import GENDERS, SEARCH_COMBINATIONS, Patients, search_params
from satusehat_async.patients.capabilities import ServerTraits
from satusehat_async.patients.complex_types import (
    Annotation,
    Money,
    Range,
    Ratio,
    SampledData,
    Signature,
    Timing,
    TimingRepeat,
)
from satusehat_async.patients.datatypes import (
    NO_DECIMAL,
    Address,
    Attachment,
    BackboneElement,
    CodeableConcept,
    Coding,
    ContactPoint,
    Element,
    Extension,
    FHIRModel,
    HumanName,
    Identifier,
    Meta,
    Narrative,
    Period,
    Quantity,
    Reference,
    decimal_value,
    fhir_decimal,
)
from satusehat_async.patients.idempotent import (
    AmbiguousMatchError,
    CreateOutcomeUnknown,
    is_ambiguous,
    newborn_matches,
    patient_from_json,
)
from satusehat_async.patients.identifiers import (
    IHS_NUMBER_SYSTEM,
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    find_identifier,
    identifier_token,
    ihs_number_identifier,
    is_masked,
    is_valid_nik,
    mask_nik,
    nik_ibu_identifier,
    nik_identifier,
    parse_identifier_token,
    redact_niks,
    validate_ihs_number,
    validate_nik,
)
from satusehat_async.patients.models import (
    Patient,
    PatientCommunication,
    PatientContact,
    PatientLink,
)
from satusehat_async.patients.patch import (
    PATCH_CONTENT_TYPES,
    PatchOperation,
    escape_token,
    pointer,
    replace,
    unescape_token,
    validate_operations,
)

__all__ = [
    "GENDERS",
    "IHS_NUMBER_SYSTEM",
    "NIK_IBU_SYSTEM",
    "NIK_SYSTEM",
    "NO_DECIMAL",
    "PATCH_CONTENT_TYPES",
    "SEARCH_COMBINATIONS",
    "Address",
    "AmbiguousMatchError",
    "Annotation",
    "Attachment",
    "BackboneElement",
    "BundleEntry",
    "BundleLink",
    "CodeableConcept",
    "Coding",
    "ContactPoint",
    "CreateOutcomeUnknown",
    "CreateResult",
    "Element",
    "Extension",
    "FHIRModel",
    "HumanName",
    "Identifier",
    "Meta",
    "Money",
    "Narrative",
    "PatchOperation",
    "Patient",
    "PatientCommunication",
    "PatientContact",
    "PatientLink",
    "Patients",
    "Period",
    "Quantity",
    "Range",
    "Ratio",
    "ReconcileWindow",
    "Reference",
    "SampledData",
    "SearchBundle",
    "ServerTraits",
    "Signature",
    "Timing",
    "TimingRepeat",
    "decimal_value",
    "decode_create_answer",
    "decode_patient",
    "decode_search_bundle",
    "escape_token",
    "fhir_decimal",
    "find_identifier",
    "identifier_token",
    "ihs_number_identifier",
    "is_ambiguous",
    "is_masked",
    "is_valid_nik",
    "mask_nik",
    "newborn_matches",
    "nik_ibu_identifier",
    "nik_identifier",
    "parse_identifier_token",
    "patient_from_json",
    "pointer",
    "redact_niks",
    "replace",
    "search_params",
    "unescape_token",
    "validate_ihs_number",
    "validate_nik",
    "validate_operations",
]
