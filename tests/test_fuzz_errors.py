"""Fuzz: error decoding and the transport's answer handling never raise a foreign exception.

Any status, any headers, any bytes: :func:`error_from_response` returns an
:class:`APIError` (it never raises), :meth:`Response.json` returns a value or raises an
:class:`APIError`, and a whole request through a real client and a hostile local server
ends in a value or a :class:`SatuSehatError`, with 5xx answers still retried.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import re
from typing import Any

import pytest
from aiohttp import web
from fuzz_strategies import (
    NASTY_STRINGS,
    deep_nesting,
    headers_strategy,
    hostile_bodies,
    json_bytes,
    json_values,
    mutated_value,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from satusehat_async import SatuSehatClient
from satusehat_async.errors import (
    APIError,
    ConsentError,
    SatuSehatError,
    ServerError,
    body_summary,
    consent_error_from_body,
    error_from_response,
    parse_retry_after,
)
from satusehat_async.retry import RetryPolicy
from satusehat_async.transport import Response

# Real error bodies of every known shape (reference/satusehat-api.md §5), to mutate.
ERROR_SEEDS: list[Any] = [
    {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "invalid",
                "details": {"text": "NIK 3171014501900001 tidak valid"},
                "diagnostics": "identifier[0].value",
                "expression": ["Patient.identifier[0]"],
            }
        ],
    },
    {"resourceType": "OperationOutcome", "issue": [{"severity": "invalid", "code": "value"}]},
    {"fault": {"faultstring": "Invalid access token", "detail": {"errorcode": "oauth.v2"}}},
    {"status_code": 400, "message": "limit must be <= 2000", "data": None},
    {"ErrorCode": "401", "Error": "Unauthorized"},
    {"error": "invalid_client", "error_description": "Client credentials are invalid"},
    {"message": "Too many requests"},
    {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "suppressed", "diagnostics": "consent"}],
    },
]

# Whatever is shown in a message passes through redact_niks: no 12+ digit run survives.
_LONG_DIGITS = re.compile(r"[0-9]{12,}")

statuses = st.one_of(
    st.sampled_from((400, 401, 403, 404, 409, 412, 422, 429, 500, 502, 503, 504)),
    st.integers(100, 999),
)


def _proxy(headers: dict[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(headers))


@given(status=statuses, headers=headers_strategy(), body=hostile_bodies(ERROR_SEEDS))
def test_error_from_response_always_returns_an_api_error(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    error = error_from_response(status, headers, body, method="GET", url="https://x.test/p")
    assert isinstance(error, APIError)
    assert error.status == status
    if status >= 500:
        assert isinstance(error, ServerError)
    assert isinstance(error.message, str) and error.message
    assert not _LONG_DIGITS.search(error.message), "a NIK-like number reached the message"
    assert error.retry_after is None or error.retry_after >= 0
    # Usable wherever exceptions travel: str, repr, the OperationOutcome view, pickling.
    str(error), repr(error), error.operation_outcome
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and str(again) == str(error)


@given(status=statuses, body=json_bytes())
def test_error_from_response_arbitrary_json(status: int, body: bytes) -> None:
    assert isinstance(error_from_response(status, {}, body), APIError)


@given(status=st.sampled_from((500, 502, 503, 504)), body=deep_nesting())
def test_error_from_response_deep_nesting_is_a_server_error(status: int, body: bytes) -> None:
    # A 5xx whose body is nested 1,000 deep must stay a (retryable) ServerError.
    assert isinstance(error_from_response(status, {}, body), ServerError)


@given(value=st.one_of(st.text(max_size=40), st.sampled_from(NASTY_STRINGS), st.none()))
def test_parse_retry_after_any_text(value: str | None) -> None:
    seconds = parse_retry_after(value, now=1_700_000_000.0)
    assert seconds is None or seconds >= 0  # never NaN, never negative


@given(seconds=st.integers(0, 10**6))
def test_parse_retry_after_valid_delta_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == seconds


@given(body=st.one_of(st.binary(max_size=200), hostile_bodies(ERROR_SEEDS)), ct=st.text())
def test_body_summary_is_one_short_line(body: bytes, ct: str) -> None:
    summary = body_summary(body, ct)
    assert isinstance(summary, str)
    assert "\n" not in summary and "\r" not in summary
    assert len(summary) <= 300


_mutated_outcomes = st.sampled_from(ERROR_SEEDS).flatmap(mutated_value).map(lambda pair: pair[0])


@given(parsed=st.one_of(json_values(), _mutated_outcomes))
def test_consent_error_from_any_value(parsed: Any) -> None:
    found = consent_error_from_body(parsed, headers={"X-Request-Id": "r-1"})
    assert found is None or isinstance(found, ConsentError)


def test_consent_error_seed_is_recognised() -> None:
    assert isinstance(consent_error_from_body(ERROR_SEEDS[-1]), ConsentError)


@given(body=st.one_of(hostile_bodies(ERROR_SEEDS), json_bytes()), headers=headers_strategy())
def test_response_json_decodes_or_raises_api_error(body: bytes, headers: dict[str, str]) -> None:
    response = Response(200, _proxy(headers), body, "GET", "https://x.test/p")
    with contextlib.suppress(APIError):
        response.json()


def _valid_json() -> st.SearchStrategy[Any]:
    # Valid JSON without lone surrogates (RFC 8259 §8.2 leaves those unpredictable).
    texts = st.text(max_size=20)
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        texts,
    )
    return st.recursive(
        leaves,
        lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(texts, c, max_size=4)),
        max_leaves=20,
    )


@given(value=_valid_json())
def test_response_json_accepts_valid_json(value: Any) -> None:
    body = json.dumps(value).encode()
    response = Response(200, _proxy({}), body, "GET", "https://x.test/p")
    assert response.json() == value


# --- end to end: a real client against a hostile local server ----------------------------

_HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
_SERVER_STATUSES = st.integers(200, 599).filter(lambda s: s not in (204, 205, 304))


class _Script:
    """What the fake API answers to the next request (set per Hypothesis example)."""

    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.body = b""
        self.requests = 0


async def _hostile_client(serve: Any) -> tuple[_Script, str]:
    script = _Script()

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "tok", "expires_in": "3599"})

    async def api(request: web.Request) -> web.Response:
        script.requests += 1
        return web.Response(status=script.status, headers=script.headers, body=script.body)

    app = web.Application()
    app.router.add_post("/oauth2/v1/accesstoken", token)
    app.router.add_route("*", "/fhir-r4/v1/{tail:.*}", api)
    return script, await serve(app)


async def _no_sleep(seconds: float) -> None:
    return None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(
    status=_SERVER_STATUSES,
    content_type=st.sampled_from(("application/json", "text/html", "text/plain", "")),
    retry_after=st.one_of(st.none(), _HEADER_TEXT),
    body=st.one_of(hostile_bodies(ERROR_SEEDS), json_bytes()),
)
async def test_client_request_against_hostile_answers(
    serve: Any, status: int, content_type: str, retry_after: str | None, body: bytes
) -> None:
    script, base = await _hostile_client(serve)
    script.status, script.body = status, body
    script.headers = {"Content-Type": content_type} if content_type else {}
    if retry_after is not None:
        script.headers["Retry-After"] = retry_after
    retry = RetryPolicy(max_attempts=2, max_time=5.0, base_delay=0.0)
    async with SatuSehatClient(
        "id", "secret", base_url=base, retry=retry, sleep=_no_sleep, circuit_breaker=None
    ) as client:
        with contextlib.suppress(SatuSehatError):
            await client.request("GET", "/fhir-r4/v1/Patient/P1")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=20)
@given(status=st.sampled_from((500, 502, 503, 504)), body=deep_nesting())
async def test_client_retries_a_5xx_whatever_its_body(serve: Any, status: int, body: bytes) -> None:
    script, base = await _hostile_client(serve)
    script.status, script.body = status, body
    script.headers = {"Content-Type": "application/json"}
    retry = RetryPolicy(max_attempts=3, max_time=60.0, base_delay=0.0)
    async with SatuSehatClient(
        "id", "secret", base_url=base, retry=retry, sleep=_no_sleep, circuit_breaker=None
    ) as client:
        with pytest.raises(ServerError):
            await client.request("GET", "/fhir-r4/v1/Patient/P1")
    assert script.requests == 3
