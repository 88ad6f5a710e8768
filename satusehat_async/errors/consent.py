"""Which answers are consent refusals: the pure rule behind the two consent errors.

SATUSEHAT answers a read of a patient's clinical data in two consent-related ways
(``reference/satusehat-clinical.md`` §7):

- **HTTP 400**, an OperationOutcome with an issue ``code: "forbidden"`` whose text speaks
  of consent — the patient has never opted in ("belum OPTIN"):
  :class:`~satusehat_async.errors.ConsentRequiredError`;
- **HTTP 200**, an OperationOutcome with an issue ``code: "suppressed"`` — the data is
  withheld (consent or privacy, e.g. after an OPTOUT):
  :class:`~satusehat_async.errors.ConsentError`.

``forbidden`` alone is not enough: FHIR servers use it for any refused permission, so a 400
``forbidden`` that does not mention consent (nor opt-in/opt-out, nor the Indonesian
*persetujuan*) stays a plain :class:`~satusehat_async.errors.BadRequestError`, and a 403 is
always a :class:`~satusehat_async.errors.ForbiddenError`. The platform's refusal text is
generic ("... due to business rules, consent or privacy rules, or access permission
constraints."): it names consent, so it is classified as a consent refusal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["CONSENT_WORDS", "is_consent_refusal"]

CONSENT_WORDS = re.compile(r"consent|persetujuan|opt[\s_-]?(?:in|out)\b", re.IGNORECASE)
"""The wording that makes a ``forbidden`` issue a consent refusal."""


def _issue_text(issue: Mapping[str, Any]) -> str:
    details = issue.get("details")
    parts = [details.get("text") if isinstance(details, Mapping) else None]
    parts.append(issue.get("diagnostics"))
    return " ".join(p for p in parts if isinstance(p, str))


def is_consent_refusal(status: int, body: Any) -> bool:
    """Is ``body`` (parsed JSON) answered with ``status`` the "not opted in" refusal?

    True for a 400 OperationOutcome with an issue ``forbidden`` whose ``details.text`` or
    ``diagnostics`` matches :data:`CONSENT_WORDS`; False for anything else.
    """
    if status != 400 or not isinstance(body, Mapping):
        return False
    if body.get("resourceType") != "OperationOutcome":
        return False
    issues = body.get("issue")
    return isinstance(issues, list) and any(
        isinstance(issue, Mapping)
        and issue.get("code") == "forbidden"
        and CONSENT_WORDS.search(_issue_text(issue)) is not None
        for issue in issues
    )
