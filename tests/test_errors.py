"""Every error shape SATUSEHAT is known to answer with, decoded without I/O."""

from __future__ import annotations

import msgspec
import pytest

import satusehat_async.errors as errors
from satusehat_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConsentError,
    ForbiddenError,
    NotFoundError,
    RateLimitError,
    SatuSehatError,
    ServerError,
    ValidationError,
)
from satusehat_async.errors import (
    consent_error_from_body,
    error_from_response,
    parse_retry_after,
)

RID = {"X-Request-Id": "req-123"}


def _json(obj: object) -> bytes:
    return msgspec.json.encode(obj)


def test_validation_error_is_value_error() -> None:
    assert issubclass(ValidationError, ValueError)
    assert issubclass(ValidationError, SatuSehatError)


def test_token_outcome_with_invalid_severity() -> None:
    body = _json(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "invalid",
                    "code": "value",
                    "details": {"text": "The user or system was not able to be authenticated"},
                }
            ],
        }
    )
    err = error_from_response(401, {"Content-Type": "application/json", **RID}, body)
    assert isinstance(err, AuthenticationError)
    assert err.status == 401
    assert err.request_id == "req-123"
    assert "not able to be authenticated" in str(err)
    assert err.operation_outcome is not None
    assert err.operation_outcome["issue"][0]["severity"] == "invalid"


def test_fhir_outcome_with_diagnostics_and_expression() -> None:
    body = _json(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "invalid",
                    "details": {"text": "unparseable_resource"},
                    "diagnostics": "birthDate is not a date",
                    "expression": ["Patient.birthDate"],
                }
            ],
        }
    )
    err = error_from_response(400, {"content-type": "application/fhir+json"}, body)
    assert type(err) is BadRequestError
    assert "unparseable_resource" in str(err)
    assert "birthDate is not a date" in str(err)
    assert "Patient.birthDate" in str(err)


def test_not_found_outcome() -> None:
    body = _json(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "not-found",
                    "details": {"text": "resource not found"},
                }
            ],
        }
    )
    err = error_from_response(404, RID, body)
    assert type(err) is NotFoundError
    assert err.message == "resource not found"


def test_apigee_fault_expired() -> None:
    body = _json(
        {
            "fault": {
                "faultstring": "Access Token expired",
                "detail": {"errorcode": "keymanagement.service.access_token_expired"},
            }
        }
    )
    err = error_from_response(401, RID, body)
    assert isinstance(err, AuthenticationError)
    assert "Access Token expired" in str(err)
    assert "keymanagement.service.access_token_expired" in str(err)


def test_msi_envelope() -> None:
    body = _json({"status_code": 400, "message": "limit cannot be more than 2000", "data": None})
    err = error_from_response(400, {"Content-Type": "application/json"}, body)
    assert isinstance(err, BadRequestError)
    assert err.message == "limit cannot be more than 2000"
    assert err.body["status_code"] == 400


@pytest.mark.parametrize(
    ("status", "text"), [(504, "Gateway Timeout"), (503, "no healthy upstream"), (500, "oops")]
)
def test_plain_text_5xx(status: int, text: str) -> None:
    err = error_from_response(status, {"Content-Type": "text/plain", **RID}, text.encode())
    assert isinstance(err, ServerError)
    assert err.message == text
    assert err.body == text
    assert err.request_id == "req-123"


def test_html_403_uses_title() -> None:
    page = b"<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>"
    err = error_from_response(403, {"Content-Type": "text/html"}, page)
    assert isinstance(err, ForbiddenError)
    assert err.message == "403 Forbidden"


def test_html_without_title_is_stripped() -> None:
    err = error_from_response(502, {}, b"<html><body><h1>Bad   Gateway</h1></body></html>")
    assert isinstance(err, ServerError)
    assert err.message == "Bad Gateway"


def test_empty_404() -> None:
    err = error_from_response(404, {}, b"")
    assert isinstance(err, NotFoundError)
    assert err.body is None
    assert "Not Found" in str(err)


def test_error_code_shape() -> None:
    body = _json({"ErrorCode": "invalid_client", "Error": "ClientId is Invalid"})
    err = error_from_response(401, {}, body)
    assert isinstance(err, AuthenticationError)
    assert str(err) == "HTTP 401: invalid_client: ClientId is Invalid"


def test_www_authenticate_when_body_empty() -> None:
    headers = {
        "WWW-Authenticate": 'Bearer realm="null",error="invalid_token",'
        'error_description="keymanagement.service.InvalidAPICallAsNoApiProductMatchFound: x"'
    }
    err = error_from_response(401, headers, b"")
    assert "InvalidAPICallAsNoApiProductMatchFound" in err.message


def test_rate_limit_retry_after() -> None:
    err = error_from_response(429, {"Retry-After": "7"}, b"")
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 7.0


def test_unknown_status_is_api_error() -> None:
    err = error_from_response(418, {}, b'{"weird": true}')
    assert type(err) is APIError
    assert "weird" in err.message


def test_long_body_is_clipped() -> None:
    err = error_from_response(500, {"Content-Type": "text/plain"}, b"x" * 5000)
    assert len(err.message) <= 300
    assert len(err.body) == 5000


def test_consent_suppressed_is_error() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "information", "code": "suppressed", "details": {"text": "no consent"}}
        ],
    }
    err = consent_error_from_body(outcome, headers=RID)
    assert isinstance(err, ConsentError)
    assert err.status == 200
    assert "no consent" in str(err)
    assert err.request_id == "req-123"


def test_informational_outcome_is_not_consent_error() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational"}],
    }
    assert consent_error_from_body(outcome) is None
    assert consent_error_from_body({"resourceType": "Patient"}) is None


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-5") == 0.0


def test_repr_carries_no_body() -> None:
    err = error_from_response(400, RID, _json({"message": "bad", "secret": "s3cr3t"}))
    assert "s3cr3t" not in repr(err)


def test_server_messages_mask_niks_but_keep_the_body() -> None:
    body = _json(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "business-rule",
                    "diagnostics": "NIK 3201234567890001 tidak ditemukan di Dukcapil",
                }
            ],
        }
    )
    err = error_from_response(400, {}, body)
    assert "3201234567890001" not in str(err)
    assert "3201********0001 tidak ditemukan" in str(err)
    assert "3201234567890001" in err.body["issue"][0]["diagnostics"]
    plain = error_from_response(500, {"Content-Type": "text/plain"}, b"bad nik 3201234567890001")
    assert str(plain) == "HTTP 500: bad nik 3201********0001"


# -- issue 10: errors carry their meaning ------------------------------------------------


def _facts(error: SatuSehatError) -> tuple[bool, bool, bool]:
    return (error.retryable, error.may_have_committed, error.host_unhealthy)


@pytest.mark.parametrize(
    ("error", "facts"),
    [
        (error_from_response(503, {}, b""), (True, True, True)),
        (error_from_response(500, {}, b""), (True, True, True)),
        (error_from_response(501, {}, b""), (False, True, True)),
        (error_from_response(429, {}, b""), (True, True, True)),
        (error_from_response(408, {}, b""), (True, True, True)),
        (error_from_response(400, {}, b""), (False, False, False)),
        (error_from_response(404, {}, b""), (False, False, False)),
        (errors.TransportError("reset", sent=True), (True, True, True)),
        (errors.TransportError("refused", sent=False), (True, False, True)),
        (errors.TransportError("bad cert", sent=False, transient=False), (False, False, True)),
        (errors.RequestTimeout("slow"), (True, True, True)),
        (errors.ResponseTooLarge("big", limit=1, status=200), (False, True, False)),
        (errors.CircuitOpenError("h", 1.0), (False, False, False)),
        (ValidationError("bad input"), (False, False, False)),
        (SatuSehatError("closed"), (False, False, False)),
    ],
)
def test_every_error_answers_its_three_facts(
    error: SatuSehatError, facts: tuple[bool, bool, bool]
) -> None:
    assert _facts(error) == facts


def test_facts_survive_pickling() -> None:
    import pickle

    error = errors.TransportError("reset", sent=False, kind="ClientOSError")
    copy = pickle.loads(pickle.dumps(error))
    assert _facts(copy) == _facts(error) and copy.kind == "ClientOSError"


def test_one_function_decides_whether_to_retry() -> None:
    from satusehat_async.retry import RetryPolicy, is_retryable, may_retry

    policy = RetryPolicy()
    busy = error_from_response(503, {}, b"")
    refused = errors.TransportError("refused", sent=False)
    dropped = errors.TransportError("reset", sent=True)
    assert may_retry(busy, idempotent=True, policy=policy)
    assert not may_retry(busy, idempotent=False, policy=policy)  # a write may have landed
    assert may_retry(refused, idempotent=False, policy=policy)  # it never left
    assert not may_retry(dropped, idempotent=False, policy=policy)
    cert = errors.TransportError("bad cert", sent=False, transient=False)
    assert not may_retry(cert, idempotent=True, policy=policy)
    # the policy's statuses refine the HTTP answers
    assert not may_retry(busy, idempotent=True, policy=RetryPolicy(retry_statuses={429}))
    conflict = error_from_response(409, {}, b"")
    assert may_retry(conflict, idempotent=True, policy=RetryPolicy(retry_statuses={409}))
    assert is_retryable(busy, idempotent=True, policy=policy)  # the earlier name
    assert frozenset({408, 429, 500, 502, 503, 504}) == errors.DEFAULT_RETRY_STATUSES


# -- issue 13: "not opted in" is its own error ---------------------------------------------

_NOT_OPTED_IN = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "forbidden",
            "details": {
                "text": "Operation cannot be performed due to business rules, consent or "
                "privacy rules, or access permission constraints."
            },
        }
    ],
}


def test_not_opted_in_is_consent_required_not_consent_error() -> None:
    from satusehat_async import ConsentRequiredError

    err = error_from_response(400, RID, _json(_NOT_OPTED_IN))
    assert type(err) is ConsentRequiredError
    assert isinstance(err, APIError) and isinstance(err, BadRequestError)
    assert not isinstance(err, ConsentError)
    assert err.request_id == "req-123" and "consent" in str(err)
    assert _facts(err) == (False, False, False)


@pytest.mark.parametrize(
    ("status", "issue"),
    [
        (
            400,
            {
                "code": "forbidden",
                "details": {"text": "resource cannot be accessed due to business rule"},
            },
        ),
        (400, {"code": "forbidden", "diagnostics": "organization mismatch"}),
        (400, {"code": "value", "details": {"text": "consent must be given"}}),  # not forbidden
        (403, _NOT_OPTED_IN["issue"][0]),  # a 403 stays a ForbiddenError
        (422, _NOT_OPTED_IN["issue"][0]),
    ],
)
def test_other_forbidden_answers_are_not_mislabelled(status: int, issue: dict[str, object]) -> None:
    from satusehat_async import ConsentRequiredError

    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", **issue}]}
    err = error_from_response(status, {}, _json(body))
    assert not isinstance(err, ConsentRequiredError)
    assert type(err) is (ForbiddenError if status == 403 else BadRequestError)


@pytest.mark.parametrize(
    "text", ["Pasien belum memberikan persetujuan", "patient has not OPTIN", "opted out: opt-out"]
)
def test_consent_wording_in_any_language(text: str) -> None:
    from satusehat_async import ConsentRequiredError

    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"code": "forbidden", "diagnostics": text}],
    }
    assert isinstance(error_from_response(400, {}, _json(body)), ConsentRequiredError)


def test_consent_required_error_is_importable_and_picklable() -> None:
    import pickle

    import satusehat_async

    err = error_from_response(400, RID, _json(_NOT_OPTED_IN))
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is satusehat_async.ConsentRequiredError and copy.status == 400
    assert "ConsentRequiredError" in satusehat_async.__all__


def test_a_fastapi_validation_answer_reads_as_its_fields() -> None:
    from satusehat_async.errors.decode import error_from_response

    body = (
        b'{"detail":[{"loc":["query","identifier"],"msg":"field required",'
        b'"type":"value_error.missing"},{"loc":["query","code"],"msg":"field required",'
        b'"type":"value_error.missing"}]}'
    )
    error = error_from_response(422, {"Content-Type": "application/json"}, body)
    assert "query.identifier: field required; query.code: field required" in str(error)
