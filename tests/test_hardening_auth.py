"""Issue 9, tokens and secrets: hostile token answers, echoed secrets, credentials in URLs.

Every test goes through the public client, against the embedded sandbox (its token
issuer misbehaves on request: ``sb.tokens.expires_in`` / ``sb.tokens.access_token``) or
a small token endpoint of its own.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from aiohttp import web
from conftest import ServerFactory

from satusehat_async import AuthenticationError, SatuSehatClient, SatuSehatError
from satusehat_async.auth import (
    DEFAULT_TOKEN_LIFETIME,
    MAX_TOKEN_LIFETIME,
    AccessToken,
    TokenProvider,
)
from satusehat_async.config import Endpoints, Settings
from satusehat_async.errors import ConfigurationError, TransportError
from satusehat_async.retry import RetryPolicy
from satusehat_async.sandbox.tokens import OMIT
from satusehat_async.testing import Sandbox

MSI = "/masterdata/v1/mastersaranaindex/mastersarana"
PARAMS = {"jenis_sarana": 104, "limit": 1, "page": 1}
NULL = msgspec.Raw(b"null")  # a JSON null in a token answer

# -- 1. token lifetimes ------------------------------------------------------------------

UNKNOWN_LIFETIMES: list[Any] = [
    0,
    "0",
    -5,
    "-3600",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "soon",
    "",
    " ",
    True,
    NULL,
    OMIT,  # no expires_in at all
    [3600],
    {"seconds": 3600},
    "0.2",  # under a second: not a usable lifetime
]
HUGE_LIFETIMES: list[Any] = [
    10**12,
    "1e300",
    "1e400",  # a float overflow: inf
    msgspec.Raw(b"1e400"),  # a JSON number beyond a double
    msgspec.Raw(b"9" * 400),  # an integer beyond a double
    "9" * 5000,
]


@pytest.mark.parametrize("expires_in", UNKNOWN_LIFETIMES, ids=repr)
async def test_unknown_lifetime_is_the_default_and_one_request(expires_in: Any) -> None:
    async with Sandbox(facilities=20) as sb:
        sb.tokens.expires_in = expires_in
        async with sb.client() as client:
            pages = await asyncio.gather(
                *(client.request("GET", MSI, params=PARAMS) for _ in range(200))
            )
            assert all(page["status_code"] == 200 for page in pages)
            token = await client.get_token()
            await client.request("GET", MSI, params=PARAMS)
        assert sb.stats.token_requests == 1
        assert token.lifetime == DEFAULT_TOKEN_LIFETIME


@pytest.mark.parametrize("expires_in", HUGE_LIFETIMES, ids=lambda v: repr(v)[:20])
async def test_huge_lifetime_is_clamped_and_one_request(expires_in: Any) -> None:
    async with Sandbox(facilities=20) as sb:
        sb.tokens.expires_in = expires_in
        async with sb.client() as client:
            await asyncio.gather(*(client.request("GET", MSI, params=PARAMS) for _ in range(200)))
            token = await client.get_token()
        assert sb.stats.token_requests == 1
        assert token.lifetime == MAX_TOKEN_LIFETIME


@pytest.mark.parametrize("expires_in", ["14399", 14399, 14399.5, "3599", 60, "1"])
async def test_sane_lifetimes_are_believed(expires_in: Any) -> None:
    async with Sandbox(facilities=20) as sb:
        sb.tokens.expires_in = expires_in
        async with sb.client() as client:
            token = await client.get_token()
        assert token.lifetime == float(expires_in)


async def test_a_lie_about_the_lifetime_heals_through_a_401() -> None:
    """expires_in "0" but the token really dies: the default is assumed, a 401 refreshes."""
    async with Sandbox(facilities=20, token_ttl=3600) as sb:
        sb.tokens.expires_in = "0"
        async with sb.client() as client:
            await client.request("GET", MSI, params=PARAMS)
            sb.expire_tokens()
            page = await client.request("GET", MSI, params=PARAMS)
        assert page["status_code"] == 200
        assert sb.stats.token_requests == 2


async def test_waiters_share_one_fetch_even_for_an_instantly_stale_token() -> None:
    """Single flight does not depend on the lifetime: a wave of callers costs one fetch."""
    calls = 0

    async def fetch() -> AccessToken:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        # a custom fetch may build any token: this one is due for refresh at once
        return AccessToken(access_token=f"t{calls}", issued_at=100.0, expires_at=100.0)

    provider = TokenProvider(fetch, key="k", clock=lambda: 100.0)
    tokens = await asyncio.gather(*(provider.token() for _ in range(200)))
    assert calls == 1
    assert {t.access_token for t in tokens} == {"t1"}


# -- 2. unusable token values ------------------------------------------------------------


@pytest.mark.parametrize(
    "access_token",
    ["", "   ", "abc\r\nX-Evil: 1", "abc\n", "\rabc", "ab\x00c", "a b", "tök", OMIT, NULL, 5],
    ids=repr,
)
async def test_unusable_token_is_an_authentication_error(access_token: Any) -> None:
    async with Sandbox(facilities=20) as sb:
        sb.tokens.access_token = access_token
        async with sb.client() as client:
            with pytest.raises(AuthenticationError) as info:
                await client.request("GET", MSI, params=PARAMS)
        # nothing was sent with it: only the token request reached the server
        assert sb.stats.requests == sb.stats.token_requests == 1
        if isinstance(access_token, str) and access_token.strip():
            assert access_token not in str(info.value)


# -- 3. a token endpoint echoing the secret ----------------------------------------------

# a test value, with characters that URL-encoding changes
SECRET = "s3cr3t+/= &very-long"


def _leaks(text: str) -> bool:
    forms = {
        SECRET,
        urllib.parse.quote_plus(SECRET),
        urllib.parse.quote(SECRET, safe=""),
        "s3cr3t",
    }
    return any(form in text for form in forms)


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _echo_app(status: int, shape: str) -> web.Application:
    async def token(request: web.Request) -> web.Response:
        raw = (await request.read()).decode()
        form = dict(urllib.parse.parse_qsl(raw))
        if shape == "form":
            return web.Response(status=status, text=f"bad request body: {raw}")
        if shape == "json":
            return web.json_response({"error": "invalid_client", "received": form}, status=status)
        if shape == "value":  # the bare value, decoded
            return web.json_response(
                {"ErrorCode": "invalid_client", "Error": f"secret {form['client_secret']} unknown"},
                status=status,
            )
        if shape == "outcome":
            return web.json_response(
                {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "value", "diagnostics": raw}],
                },
                status=status,
            )
        raise AssertionError(shape)

    app = web.Application()
    app.router.add_post("/oauth2/v1/accesstoken", token)
    return app


@pytest.mark.parametrize("status", [400, 401, 500])
@pytest.mark.parametrize("shape", ["form", "json", "value", "outcome"])
async def test_echoed_secret_never_surfaces(
    serve: ServerFactory, caplog: pytest.LogCaptureFixture, status: int, shape: str
) -> None:
    base = await serve(_echo_app(status, shape))
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with SatuSehatClient(
        "cid", SECRET, base_url=base, retry=RetryPolicy(max_attempts=1), sleep=_no_sleep
    ) as client:
        for _ in range(2):  # the failure itself, then the held-back repeat
            with pytest.raises(SatuSehatError) as info:
                await client.request("GET", MSI, params=PARAMS)
            errors.append(info.value)
        texts = [caplog.text, repr(client), repr(client.tokens)]
    for error in errors:
        for link in _chain(error):
            texts += [str(link), repr(link), repr(link.args), repr(vars(link))]
    assert isinstance(errors[0], AuthenticationError)
    assert errors[0].status == status
    leaked = [text for text in texts if _leaks(text)]
    assert not leaked


async def _no_sleep(seconds: float) -> None:
    return None


async def test_provider_scrubs_the_bare_secret_from_error_chain_and_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With ``secrets=``, even a bare echo of the value (decoded or URL-encoded) is hidden."""
    caplog.set_level(logging.DEBUG)
    now = [1_000.0]

    async def fetch() -> AccessToken:
        try:
            raise ValueError(f"upstream said {urllib.parse.quote_plus(SECRET)}")
        except ValueError as inner:
            raise AuthenticationError(
                f"secret {SECRET} unknown", status=401, body={"Error": f"got {SECRET}"}
            ) from inner

    provider = TokenProvider(fetch, key="k", clock=lambda: now[0], secrets=(SECRET,))
    errors = []
    for _ in range(2):  # the failure, then the held-back one
        with pytest.raises(AuthenticationError) as info:
            await provider.token()
        errors.append(info.value)
    assert errors[0].status == 401 and "secret *** unknown" in str(errors[0])
    assert errors[0].body == {"Error": "got ***"}
    texts = [caplog.text]
    for error in errors:
        assert error.__cause__ is None and error.__context__ is None
        texts += [str(error), repr(error), repr(vars(error))]
    assert not [text for text in texts if _leaks(text)]


async def test_waiters_share_one_failed_fetch() -> None:
    """A refused connection records no hold-back; the waiting wave still costs one try."""
    calls = 0

    async def fetch() -> AccessToken:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise TransportError("cannot connect", sent=False)

    provider = TokenProvider(fetch, key="k", clock=lambda: 100.0)
    results = await asyncio.gather(*(provider.token() for _ in range(200)), return_exceptions=True)
    assert calls == 1
    assert all(isinstance(result, TransportError) for result in results)
    assert len({id(result) for result in results}) == 200  # each caller its own copy
    with pytest.raises(TransportError):
        await provider.token()  # a later caller tries again (nothing was held back)
    assert calls == 2


# -- 4. credentials in URLs ----------------------------------------------------------------

URL_ARGS = ["base_url", "auth_url", "fhir_url", "masterdata_url"]


@pytest.mark.parametrize("arg", URL_ARGS)
@pytest.mark.parametrize(
    "url",
    ["https://user:pw-SECRET@example.org", "https://:pw-SECRET@example.org:8443/x"],
)
def test_userinfo_in_a_url_is_refused(arg: str, url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        SatuSehatClient("cid", "csecret", **{arg: url})
    message = str(info.value)
    assert "pw-SECRET" not in message and "pw-SECRET" not in repr(info.value)
    assert arg in message and "user:password@" in message


def test_userinfo_without_password_is_refused_too() -> None:
    with pytest.raises(ConfigurationError, match="user:password@"):
        Endpoints.resolve(base_url="https://token-in-user@example.org")


@pytest.mark.parametrize(
    "variable",
    ["SATUSEHAT_BASE_URL", "SATUSEHAT_AUTH_URL", "SATUSEHAT_FHIR_URL", "SATUSEHAT_MASTERDATA_URL"],
)
def test_userinfo_in_an_environment_url_is_refused(variable: str) -> None:
    environ = {
        "SATUSEHAT_CLIENT_ID": "cid",
        "SATUSEHAT_CLIENT_SECRET": "csecret",
        variable: "https://u:pw-SECRET@example.org",
    }
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(environ)
    assert "pw-SECRET" not in str(info.value)
    assert variable in str(info.value)
    with pytest.raises(ConfigurationError):
        SatuSehatClient.from_env(environ)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://u:pw-SECRET@example.org",
        "https://",
        "https://[::1",
        "https://example.org:99999",
        "https://exa mple.org",
        "https://example.org\r\n/x",
    ],
)
def test_malformed_urls_are_refused_without_echoing_a_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Endpoints.resolve(base_url=url)
    assert "pw-SECRET" not in str(info.value)
    assert "base_url" in str(info.value)


def test_a_url_looking_environment_name_is_not_echoed() -> None:
    with pytest.raises(ConfigurationError) as info:
        Endpoints.resolve("https://u:pw-SECRET@example.org")
    assert "pw-SECRET" not in str(info.value)


# -- 5. a wrong secret: honest, and logged once -------------------------------------------


async def test_wrong_secret_logs_once_and_honestly(caplog: pytest.LogCaptureFixture) -> None:
    """The raised error speaks for itself: one INFO line, no WARNING, no 'next attempt'."""
    caplog.set_level(logging.DEBUG, logger="satusehat_async")
    now = [1_700_000_000.0]
    async with Sandbox(facilities=20, client_secret="right") as sb:
        async with SatuSehatClient(
            sb.client_id, "wrong", base_url=sb.base_url, clock=lambda: now[0], sleep=_no_sleep
        ) as client:
            for _ in range(3):
                with pytest.raises(AuthenticationError, match="HTTP 401"):
                    await client.get_token()
                with pytest.raises(AuthenticationError, match="not asking again for 60s"):
                    await client.get_token()  # held back: fails fast, nothing sent
                now[0] += 120  # past the hold-back: the endpoint is asked again
        assert sb.stats.token_requests == 3
    records = [r for r in caplog.records if r.name == "satusehat_async.auth"]
    shown = [r for r in records if r.levelno >= logging.INFO]
    assert [r.levelname for r in shown] == ["INFO"]
    message = shown[0].getMessage()
    assert "next attempt" not in message
    assert "rejected the credentials" in message and "calls until then fail fast" in message
    assert "wrong" not in message


async def test_refused_refresh_behind_a_valid_token_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nobody sees that error (the old token still serves): a WARNING says so, once."""
    caplog.set_level(logging.DEBUG, logger="satusehat_async")
    now = [1_700_000_000.0]
    async with Sandbox(facilities=20, token_ttl=7200, clock=lambda: now[0]) as sb:
        sb.tokens.expires_in = "7000"
        async with SatuSehatClient(
            sb.client_id, sb.client_secret, base_url=sb.base_url, clock=lambda: now[0]
        ) as client:
            first = await client.get_token()
            sb.tokens.client_secret = "rotated"  # the credentials stop working
            now[0] += 6941  # due for early refresh (60 s before expiry), still valid
            for _ in range(3):  # the refresh is refused; the old token keeps serving
                assert (await client.get_token()).access_token == first.access_token
                await client.request("GET", MSI, params=PARAMS)
            now[0] += 61  # expired, and past the hold-back: the refusal is raised now
            with pytest.raises(AuthenticationError, match="HTTP 401"):
                await client.get_token()
        assert sb.stats.token_requests == 3
    records = [r for r in caplog.records if r.name == "satusehat_async.auth"]
    shown = [r for r in records if r.levelno >= logging.INFO]
    assert [r.levelname for r in shown] == ["WARNING"]  # the second refusal: DEBUG only
    assert "the current token serves for 59s more" in shown[0].getMessage()
