"""A patient's consent (OPTIN / OPTOUT) at SATUSEHAT's consent endpoint.

>>> consent = await client.consent.update(                  # doctest: +SKIP
...     "P02478375538", action="OPTIN", agent="Budi Santoso")
>>> consent_action(await client.consent.get("P02478375538"))  # doctest: +SKIP
'OPTIN'

``GET {base}/consent/v1/Consent?patient_id=`` and ``POST {base}/consent/v1/Consent`` with
``{"patient_id", "action", "agent"}`` (``reference/satusehat-clinical.md`` §7); both answer
a FHIR ``Consent`` whose ``policyRule`` carries the action. A read of a patient's clinical
data the consent forbids raises :class:`~satusehat_async.errors.ConsentRequiredError`
(HTTP 400 ``forbidden``: never opted in) or :class:`~satusehat_async.errors.ConsentError`
(HTTP 200 ``suppressed``: withheld, e.g. after an OPTOUT). OPTOUT does not stop a facility
*sending* data; it stops other facilities reading it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from satusehat_async.consent.names import mask_name, validate_person_name
from satusehat_async.context import context_of
from satusehat_async.errors import NotFoundError, ValidationError
from satusehat_async.fhir.resources.consent import Consent
from satusehat_async.http.options import RequestOptions
from satusehat_async.patients.identifiers import validate_ihs_number
from satusehat_async.resource.answers import decode_resource_answer

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext
    from satusehat_async.http.response import Response

__all__ = ["ACTIONS", "ConsentAPI", "consent_action", "mask_name"]

ACTIONS = ("OPTIN", "OPTOUT")
"""The two actions the consent endpoint takes."""

# Re-sending an OPTIN (or OPTOUT) sets the same state again: safe to retry after a 5xx.
_WRITE = RequestOptions(idempotent=True)


def consent_action(consent: Consent | None) -> str | None:
    """The action a Consent records (``"OPTIN"``/``"OPTOUT"``, from ``policyRule``), or None."""
    rule = consent.policy_rule if consent is not None else None
    for coding in (rule.coding if rule is not None else None) or ():
        if coding.code in ACTIONS:
            return coding.code
    return None


def _action(value: object) -> str:
    action = value.strip().upper() if isinstance(value, str) else None
    if action not in ACTIONS:
        raise ValidationError(f"action must be 'OPTIN' or 'OPTOUT', not {value!r}")
    return action


def _no_record(error: NotFoundError) -> bool:
    """A 404 that is the consent service's "no consent recorded" (an OperationOutcome
    ``not-found``), not a wrong URL (an empty 404 from the gateway)."""
    outcome = error.operation_outcome
    issues = outcome.get("issue") if outcome is not None else None
    return isinstance(issues, list) and any(
        isinstance(issue, Mapping) and issue.get("code") == "not-found" for issue in issues
    )


class ConsentAPI:
    """``client.consent``: read and record a patient's consent (OPTIN / OPTOUT)."""

    def __init__(self, context: ResourceContext) -> None:
        self._context = context_of(context)

    @property
    def url(self) -> str:
        """``{base}/consent/v1/Consent``."""
        return self._context.endpoints.base_url.rstrip("/") + "/consent/v1/Consent"

    async def get(self, patient_id: str) -> Consent | None:
        """The patient's Consent, or None when none was ever recorded.

        ``patient_id`` is the IHS number (``P`` + 11 digits; ValidationError, nothing sent,
        otherwise). An unknown patient is the server's refusal (an :class:`APIError`).
        """
        patient = validate_ihs_number(patient_id)
        try:
            response = await self._context.send("GET", self.url, params={"patient_id": patient})
        except NotFoundError as error:
            if _no_record(error):
                return None
            raise
        return _decoded(response)

    async def update(self, patient_id: str, *, action: str, agent: str) -> Consent:
        """Record the patient's choice: ``action`` ``"OPTIN"`` or ``"OPTOUT"``.

        ``agent`` is the name of the officer asking (personal data: masked in every
        message). Every argument is validated before anything is sent. Returns the stored
        Consent (its ``policyRule`` carries the action: :func:`consent_action`).
        """
        patient = validate_ihs_number(patient_id)
        body: dict[str, Any] = {
            "patient_id": patient,
            "action": _action(action),
            "agent": validate_person_name(agent, what="agent"),
        }
        response = await self._context.send("POST", self.url, json=body, options=_WRITE)
        return _decoded(response)

    async def action(self, patient_id: str) -> str | None:
        """The patient's current choice, ``"OPTIN"``/``"OPTOUT"``, or None if never asked."""
        return consent_action(await self.get(patient_id))


def _decoded(response: Response) -> Consent:
    return decode_resource_answer(
        Consent, response.body, status=response.status, headers=response.headers
    )
