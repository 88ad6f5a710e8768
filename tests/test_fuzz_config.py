"""Fuzz: token answers, settings and URLs, query parameters and constructor arguments.

A token endpoint's answer decodes into a usable token (a sane lifetime, a header-safe
value) or raises :class:`AuthenticationError`, and any lifetime keeps one token request
for any number of concurrent callers. Settings, URLs, query parameters and the client's
options are accepted or refused with a :class:`SatuSehatError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import re
from typing import Any

from fuzz_strategies import NASTY_STRINGS, hostile_bodies, json_bytes, json_values
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from satusehat_async import SatuSehatClient
from satusehat_async.auth import (
    MAX_TOKEN_LIFETIME,
    AccessToken,
    TokenProvider,
    decode_token_response,
)
from satusehat_async.config import ENV_VARS, Endpoints, Environment, Settings
from satusehat_async.errors import AuthenticationError, SatuSehatError
from satusehat_async.resilience import CircuitBreaker
from satusehat_async.retry import RetryPolicy
from satusehat_async.transport import encode_params

NOW = 1_700_000_000.0

# Both shapes: SATUSEHAT's (numbers as strings, issued_at in ms) and RFC 6749's.
TOKEN_SEEDS: list[Any] = [
    {
        "refresh_token_expires_in": "0",
        "api_product_list": "[api-satusehat-stg]",
        "organization_name": "ihs-prod-1",
        "developer.email": "dev@example.org",
        "token_type": "BearerToken",
        "issued_at": "1700000000000",
        "client_id": "client",
        "access_token": "b2xLh4GdUjH5Yk0w",
        "application_name": "app",
        "scope": "",
        "expires_in": "14399",
        "refresh_count": "0",
        "status": "approved",
    },
    {"access_token": "abc.def.ghi", "token_type": "Bearer", "expires_in": 3600},
]

_lifetimes = st.one_of(
    st.sampled_from(("0", 0, -1, "-5", "nan", "NaN", "inf", "-inf", "1e999", 1e308, 10**400)),
    st.sampled_from(("", " ", "3599", "3599.5", "1_000", "0x10", True, None, [], {})),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
)
_token_values = st.one_of(
    st.sampled_from(("tok", "a\r\nSet-Cookie: x", "tok\n", " ", "", "\t", "ä", "a b")),
    st.text(max_size=12),
    json_values(max_leaves=3),
)


@st.composite
def _token_answers(draw: st.DrawFn) -> bytes:
    answer = dict(draw(st.sampled_from(TOKEN_SEEDS)))
    answer["expires_in"] = draw(_lifetimes)
    if draw(st.booleans()):
        answer["access_token"] = draw(_token_values)
    if draw(st.booleans()):
        answer["issued_at"] = draw(_lifetimes)
    return json.dumps(answer, allow_nan=True).encode("utf-8", "surrogatepass")


def _check_token(token: AccessToken) -> None:
    assert token.access_token.strip() == token.access_token and token.access_token
    assert re.fullmatch(r"[\x21-\x7e]+", token.access_token), "not safe in a header"
    assert math.isfinite(token.expires_at) and token.expires_at > NOW
    assert 0 < token.lifetime <= MAX_TOKEN_LIFETIME
    assert token.access_token not in repr(token), "the token reached its repr"


@given(body=st.one_of(_token_answers(), hostile_bodies(TOKEN_SEEDS), json_bytes()))
def test_decode_token_response_or_authentication_error(body: bytes) -> None:
    try:
        token = decode_token_response(body, now=NOW)
    except AuthenticationError as refused:
        assert "b2xLh4GdUjH5Yk0w" not in str(refused), "the token reached the message"
        return
    _check_token(token)


@given(seed=st.sampled_from(TOKEN_SEEDS))
def test_decode_token_response_accepts_real_answers(seed: dict[str, Any]) -> None:
    token = decode_token_response(json.dumps(seed).encode(), now=NOW)
    _check_token(token)
    assert token.lifetime == float(seed["expires_in"])


async def _concurrent_tokens(body: bytes, callers: int) -> int:
    fetches = 0

    async def fetch() -> AccessToken:
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(0)
        return decode_token_response(body, now=NOW)

    provider = TokenProvider(fetch, key="k", clock=lambda: NOW)
    await asyncio.gather(*(provider.token() for _ in range(callers)))
    await asyncio.gather(*(provider.token() for _ in range(callers)))
    return fetches


@given(expires_in=_lifetimes, callers=st.integers(2, 50))
def test_any_lifetime_keeps_one_token_request(expires_in: Any, callers: int) -> None:
    body = json.dumps({"access_token": "tok", "expires_in": expires_in}).encode()
    try:
        decode_token_response(body, now=NOW)
    except AuthenticationError:
        return  # refused outright: nothing is cached, nothing to share
    assert asyncio.run(_concurrent_tokens(body, callers)) == 1


# --- settings and URLs --------------------------------------------------------------------

_urls = st.one_of(
    st.sampled_from(
        (
            "https://api-satusehat-stg.dto.kemkes.go.id",
            "http://127.0.0.1:8080/",
            "https://user:pass@host.test",
            "https://:pass@host.test",
            "https://host.test:99999",
            "https://host.test:0",
            "https://",
            "https:///path",
            "ftp://host.test",
            "https://host.test/a b",
            "https://[::1]:443",
            "https://h\r\nost.test",
            "https://xn--ls8h.la",
            " https://host.test ",
        )
    ),
    st.builds(lambda s: "https://" + s, st.text(max_size=20)),
    st.text(max_size=20),
    st.sampled_from(NASTY_STRINGS),
)


def _check_endpoint(url: str) -> None:
    parsed = URL(url)
    assert parsed.scheme in ("http", "https") and parsed.host
    assert parsed.user is None and parsed.password is None, "credentials in a URL"


@given(
    environ=st.dictionaries(
        st.sampled_from(ENV_VARS),
        st.one_of(_urls, st.sampled_from(("sandbox", "production", "prod", "x", "id", "s"))),
    )
)
def test_settings_from_env_or_configuration_error(environ: dict[str, str]) -> None:
    try:
        settings = Settings.from_env(environ)
    except SatuSehatError as refused:
        secret = environ.get("SATUSEHAT_CLIENT_SECRET", "").strip()
        if len(secret) >= 8:
            assert secret not in str(refused), "the secret reached the message"
        return
    for url in dataclasses.asdict(settings.endpoints).values():
        _check_endpoint(url)
    assert settings.client_secret not in repr(settings) or len(settings.client_secret) < 4


@given(base=_urls, auth=st.one_of(st.none(), _urls), env=st.one_of(st.text(), _urls))
def test_endpoints_resolve_or_configuration_error(base: str, auth: str | None, env: str) -> None:
    try:
        endpoints = Endpoints.resolve(Environment.SANDBOX, base_url=base, auth_url=auth)
    except SatuSehatError as refused:
        assert "pass@" not in str(refused), "a URL's password reached the message"
    else:
        for url in dataclasses.asdict(endpoints).values():
            _check_endpoint(url)
    with contextlib.suppress(SatuSehatError):
        Environment.parse(env)


# --- query parameters and options ---------------------------------------------------------

_param_values = st.one_of(
    json_values(max_leaves=4),
    st.floats(),
    st.tuples(st.integers(), st.text()),
    st.sets(st.integers()),
    st.builds(object),
    st.binary(max_size=4),
)


@given(params=st.one_of(st.dictionaries(st.text(max_size=6), _param_values), st.none()))
def test_encode_params_or_validation_error(params: dict[str, Any] | None) -> None:
    try:
        pairs = encode_params(params)
    except SatuSehatError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)


_options = st.one_of(
    st.integers(-5, 5),
    st.floats(),
    st.sampled_from((0, 0.0, -1, True, None, "10", 10**30, float("nan"))),
    st.builds(object),
)
_OPTION_NAMES = (
    "timeout",
    "connect_timeout",
    "connection_limit",
    "rate_limit",
    "refresh_margin",
    "retry",
    "circuit_breaker",
    "environment",
)


@given(options=st.dictionaries(st.sampled_from(_OPTION_NAMES), _options, max_size=3))
def test_client_options_accepted_or_refused(options: dict[str, Any]) -> None:
    try:
        client = SatuSehatClient("id", "secret", **options)
    except SatuSehatError:
        return
    asyncio.run(client.aclose())


@given(
    positional=st.lists(_options, max_size=1),
    named=st.dictionaries(
        st.sampled_from(("minimum_calls", "window_size", "window_seconds", "cooldown")),
        _options,
        max_size=2,
    ),
)
def test_circuit_breaker_options(positional: list[Any], named: dict[str, Any]) -> None:
    with contextlib.suppress(SatuSehatError):
        CircuitBreaker(*positional, **named)


@given(
    named=st.dictionaries(
        st.sampled_from(("max_attempts", "max_time", "base_delay", "max_delay", "max_retry_after")),
        _options,
        max_size=3,
    )
)
def test_retry_policy_options(named: dict[str, Any]) -> None:
    with contextlib.suppress(SatuSehatError):
        RetryPolicy(**named)
