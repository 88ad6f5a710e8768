"""The last stage, pure: an answer becomes a :class:`Response` or the error it means.

A 2xx is a success unless it is an OperationOutcome ``suppressed`` (SATUSEHAT withholds
data for consent or privacy with a 200): that is a
:class:`~satusehat_async.errors.ConsentError`. Any other status is decoded by
:func:`~satusehat_async.errors.error_from_response`, where a 400 OperationOutcome
``forbidden`` that speaks of consent (the patient has not opted in) becomes a
:class:`~satusehat_async.errors.ConsentRequiredError` — not a ``ConsentError``, and a
``forbidden`` for any other reason stays a ``BadRequestError``
(:func:`~satusehat_async.errors.consent.is_consent_refusal` holds the rule). Neither is
retried. No I/O, no event loop.
"""

from __future__ import annotations

import msgspec

from satusehat_async.errors import APIError, consent_error_from_body, error_from_response
from satusehat_async.http.backend import BackendResponse
from satusehat_async.http.response import Response
from satusehat_async.redact import redact_url

__all__ = ["classify", "consent_error"]


def classify(
    answer: BackendResponse, *, method: str, url: str, attempts: int = 1
) -> Response | APIError:
    """The answer to ``method url`` as a Response (2xx) or the APIError it carries."""
    if 200 <= answer.status < 300:
        response = Response(answer.status, answer.headers, answer.body, method, url, attempts)
        consent = consent_error(response)
        return response if consent is None else consent
    return error_from_response(
        answer.status, answer.headers, answer.body, method=method, url=redact_url(url)
    )


def consent_error(response: Response) -> APIError | None:
    """The ConsentError a 2xx answer carries (an OperationOutcome ``suppressed``), if any."""
    # Cheap pre-checks: only bodies mentioning "suppressed" can be a consent refusal, and
    # an OperationOutcome is small — a large body (a 2 MB page of facilities) is one only
    # if it says so at its start, so it is not scanned end to end on every page.
    body = response.body
    if len(body) > 65_536 and b"OperationOutcome" not in body[:512]:
        return None
    if b"suppressed" not in body:
        return None
    try:
        parsed = msgspec.json.decode(response.body)
    except (msgspec.DecodeError, RecursionError):
        return None  # not JSON (or too deep): the caller's .json() says so
    return consent_error_from_body(
        parsed,
        status=response.status,
        headers=response.headers,
        method=response.method,
        url=redact_url(response.url),
    )
