"""What the sandbox's FHIR store accepts for any resource type, and how it refuses the rest.

Pure functions (no server, no store). The answers follow
``reference/satusehat-clinical.md``: Google FHIR store parser errors (``structure`` /
``unparseable_resource``, the captured ``resource_mismatch`` of a PUT), and SATUSEHAT's own
validator (``text.status: "generated"``, a sentence with its RuleNumber, ``expression``)
for the organization rule 10117 and the ``duplicate`` refusal.

A *local identifier* is one whose system is ``http://sys-ids.kemkes.go.id/{kind}/{org}``
(``…/diagnostic/{org}/lab`` included): a facility's own numbering, which names the
facility's organization id. ``{org}`` must be the caller's organization (else 10117), and
a resource type holds each set of local identifiers once (else ``duplicate``).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from satusehat_async.sandbox.fhir import Answer, outcome

__all__ = [
    "FHIR_JSON",
    "JSON_PATCH",
    "JSON_TYPES",
    "LOCAL_SYSTEM",
    "RESOURCE_TYPES",
    "check_organization",
    "check_resource",
    "duplicate",
    "id_mismatch",
    "id_required",
    "identifiers",
    "local_key",
    "not_found",
    "parse_resource",
    "validator_outcome",
]

JSON_TYPES = frozenset({"application/json", "application/fhir+json"})
"""The media types a create or an update may carry."""
JSON_PATCH = "application/json-patch+json"
"""The only media type a PATCH of a (non-Patient) resource may carry."""
FHIR_JSON = "application/fhir+json"
"""What the FHIR store answers with (the MPI answers ``application/json``)."""
_R4_TYPES = """
    Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment
    AppointmentResponse AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure
    Bundle CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem
    ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication
    CommunicationRequest CompartmentDefinition Composition ConceptMap Condition Consent
    Contract Coverage CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue
    Device DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport
    DocumentManifest DocumentReference EffectEvidenceSynthesis Encounter Endpoint
    EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
    EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal
    GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
    ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan
    Invoice Library Linkage List Location Measure MeasureReport Media Medication
    MedicationAdministration MedicationDispense MedicationKnowledge MedicationRequest
    MedicationStatement MedicinalProduct MedicinalProductAuthorization
    MedicinalProductContraindication MedicinalProductIndication MedicinalProductIngredient
    MedicinalProductInteraction MedicinalProductManufactured MedicinalProductPackaged
    MedicinalProductPharmaceutical MedicinalProductUndesirableEffect MessageDefinition
    MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
    ObservationDefinition OperationDefinition OperationOutcome Organization
    OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person
    PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire
    QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition
    ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment
    RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen
    SpecimenDefinition StructureDefinition StructureMap Subscription Substance
    SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
    SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task
    TerminologyCapabilities TestReport TestScript ValueSet VerificationResult
    VisionPrescription
"""
RESOURCE_TYPES: frozenset[str] = frozenset(_R4_TYPES.split())
"""Every FHIR R4 (4.0.1) resource type; a path naming another is a wrong URL (empty 404)."""
LOCAL_SYSTEM = re.compile(r"http://sys-ids\.kemkes\.go\.id/([a-z][a-z-]*)/([^/|]+)(/[^|]*)?")
"""A local identifier system; group 2 is the organization id it names."""


def validator_outcome(
    status: int, code: str, text: str, expression: list[str] | None = None
) -> Answer:
    """SATUSEHAT's validator answer: ``text.status: "generated"`` and a human sentence."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "details": {"text": text}}
    if expression is not None:
        issue["expression"] = expression
    body = {"resourceType": "OperationOutcome", "text": {"status": "generated"}, "issue": [issue]}
    return Answer(status, body)


def not_found(resource_type: str, resource_id: str) -> Answer:
    """404 for a resource (or a version) the store does not hold."""
    return outcome(404, "not-found", "resource not found", f"{resource_type}/{resource_id}")


def parse_resource(body: bytes, content_type: str, resource_type: str) -> dict[str, Any] | Answer:
    """The resource a create or an update carried, or the answer refusing it."""
    if content_type not in JSON_TYPES:
        return outcome(415, "not-supported", "unsupported_media_type", content_type)
    try:
        resource = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        return outcome(400, "structure", "unparseable_resource", str(error))
    problem = check_resource(resource, resource_type)
    return resource if problem is None else problem


def check_resource(resource: Any, resource_type: str) -> Answer | None:
    """None if ``resource`` (decoded JSON) is a well-formed ``resource_type``, else the
    answer refusing it."""
    if not isinstance(resource, dict):
        return outcome(400, "structure", "unparseable_resource", "a resource is a JSON object")
    given = resource.get("resourceType")
    if given != resource_type:
        return outcome(
            400,
            "structure",
            "resource_mismatch",
            f"resource type mismatch, type of specified resource: {resource_type}, "
            f"type from payload: {given}",
        )
    return _check_shape(resource)


def _check_shape(resource: dict[str, Any]) -> Answer | None:
    """The few shape rules every type shares: ``identifier`` and ``meta`` are well formed."""
    found = resource.get("identifier")
    items = found if isinstance(found, list) else [found] if found is not None else []
    if not all(isinstance(i, dict) for i in items) or not (
        found is None or isinstance(found, (list, dict))
    ):
        return outcome(
            400,
            "structure",
            "unparseable_resource",
            "identifier must be an Identifier or a list of them",
            [f"{resource['resourceType']}.identifier"],
        )
    if "meta" in resource and not isinstance(resource["meta"], dict):
        return outcome(400, "structure", "unparseable_resource", "meta must be an object")
    return None


def identifiers(resource: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(expression, identifier)`` for each identifier (a list, or Composition's single one)."""
    found = resource.get("identifier")
    name = f"{resource.get('resourceType')}.identifier"
    if isinstance(found, dict):
        return [(name, found)]
    if isinstance(found, list):
        return [(f"{name}[{n}]", i) for n, i in enumerate(found) if isinstance(i, dict)]
    return []


def local_key(resource: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The resource's local identifiers as sorted ``(system, value)`` pairs (the duplicate
    key: a MedicationRequest's prescription is shared by its lines, its item is not)."""
    pairs = {
        (i["system"], i["value"])
        for _, i in identifiers(resource)
        if isinstance(i.get("system"), str)
        and LOCAL_SYSTEM.fullmatch(i["system"])
        and isinstance(i.get("value"), str)
    }
    return tuple(sorted(pairs))


def check_organization(resource: dict[str, Any], organization_id: str) -> Answer | None:
    """RuleNumber 10117 if a local identifier names an organization other than ours."""
    for expression, identifier in identifiers(resource):
        system = identifier.get("system")
        match = LOCAL_SYSTEM.fullmatch(system) if isinstance(system, str) else None
        if match is not None and match.group(2) != organization_id:
            return validator_outcome(
                400,
                "value",
                f"Wrong organization ID provided by system URL: {system} (RuleNumber: 10117)",
                [f"{expression}.system"],
            )
    return None


def duplicate(resource_type: str) -> Answer:
    """The answer to a create of local identifiers the store already holds for the type."""
    return validator_outcome(400, "duplicate", f"Found duplicate resource: {resource_type}")


def id_required(resource_type: str, resource_id: str) -> Answer:
    """A PUT whose body has no ``id``."""
    return outcome(
        400,
        "required",
        "id is required",
        f'the body of PUT {resource_type}/{resource_id} must carry "id": "{resource_id}"',
        [f"{resource_type}.id"],
    )


def id_mismatch(path_id: str, body_id: object) -> Answer:
    """A PUT whose body's ``id`` is not the path's (as captured)."""
    return outcome(
        400,
        "structure",
        "resource_mismatch",
        f"resource id mismatch, id of specified resource: {path_id}, id from payload: {body_id}",
    )
