"""Token decoding and the single-flight, early-refreshing token cache."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from itertools import islice
from pathlib import Path
from typing import Any

import msgspec
import pytest
from _support import FakeClock, RecordingSleep

from satusehat_async import AuthenticationError, MemoryTokenStore, SatuSehatClient
from satusehat_async.auth import AccessToken, TokenProvider, decode_token_response
from satusehat_async.errors import ValidationError
from satusehat_async.http import BackendRequest
from satusehat_async.http.retry import RetryPolicy
from satusehat_async.testing import MockBackend

SATUSEHAT_ANSWER = {
    "refresh_token_expires_in": "0",
    "api_product_list": "[api-sandbox]",
    "api_product_list_json": ["api-sandbox"],
    "organization_name": "ihs-prod-1",
    "developer.email": "dev@example.org",
    "token_type": "BearerToken",
    "issued_at": "1671109805593",
    "client_id": "cid",
    "access_token": "tok-abc",
    "application_name": "992291b8",
    "scope": "",
    "expires_in": "3599",
    "refresh_count": "0",
    "status": "approved",
}


def test_decode_satusehat_answer_strings() -> None:
    token = decode_token_response(msgspec.json.encode(SATUSEHAT_ANSWER), now=1000.0)
    assert token.access_token == "tok-abc"
    assert token.expires_at == 1000.0 + 3599
    assert token.token_type == "Bearer"
    assert token.server_issued_at == pytest.approx(1671109805.593)


def test_decode_standard_answer() -> None:
    body = b'{"access_token": "t2", "token_type": "Bearer", "expires_in": 3600}'
    token = decode_token_response(body, now=0.0)
    assert token.expires_at == 3600.0
    assert token.server_issued_at is None


def test_decode_garbage_never_echoes_body() -> None:
    with pytest.raises(AuthenticationError) as info:
        decode_token_response(b'{"access_token": 5, "secretish": "zzz"}', now=0.0)
    assert "zzz" not in str(info.value)


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        ('"14399"', 14399.0),
        ("3600", 3600.0),
        ('" 60 "', 60.0),
        ("1.5e3", 1500.0),
        ('"1"', 1.0),
        ("0", 3600.0),
        ('"-1"', 3600.0),
        ('"0.9"', 3600.0),
        ('"nan"', 3600.0),
        ('"Infinity"', 3600.0),
        ('"1_000"', 3600.0),  # float() would take it; JSON and SATUSEHAT never send it
        ("null", 3600.0),
        ("false", 3600.0),
        ("1e400", 86400.0),
        ("9" * 400, 86400.0),
        ('"1e300"', 86400.0),
        ("100000", 86400.0),
    ],
)
def test_decode_lifetime_believed_defaulted_or_clamped(expires_in: str, lifetime: float) -> None:
    body = b'{"access_token": "t", "expires_in": ' + expires_in.encode() + b"}"
    assert decode_token_response(body, now=0.0).lifetime == lifetime


@pytest.mark.parametrize(
    "body",
    [
        b'{"access_token": "t", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"[]",
        b'{"access_token": null}',
        b'{"access_token": ["t"]}',
        b'{"expires_in": 60}',
    ],
)
def test_decode_hostile_bodies_are_authentication_errors(body: bytes) -> None:
    with pytest.raises(AuthenticationError):
        decode_token_response(body, now=0.0)


def test_decode_keeps_a_bad_issued_at_out() -> None:
    body = b'{"access_token": "t", "issued_at": "1e400", "token_type": ["x"]}'
    token = decode_token_response(body, now=5.0)
    assert token.server_issued_at is None
    assert token.token_type == "Bearer"
    assert token.expires_at == 5.0 + 3600


def test_token_repr_hides_value() -> None:
    token = AccessToken(access_token="very-secret-token", expires_at=10.0, issued_at=0.0)
    assert "very-secret-token" not in repr(token)
    assert "very-secret-token" not in str(token)


def test_early_refresh_margin_is_bounded_by_lifetime() -> None:
    hour = AccessToken(access_token="a", issued_at=0.0, expires_at=3600.0)
    assert hour.refresh_at(60.0, 0.1) == 3540.0
    minute = AccessToken(access_token="a", issued_at=0.0, expires_at=60.0)
    # a 60 s token is refreshed 6 s early, not on every call
    assert minute.refresh_at(60.0, 0.1) == 54.0
    assert minute.is_fresh(53.9, 60.0, 0.1)
    assert not minute.is_fresh(54.0, 60.0, 0.1)


class CountingFetch:
    def __init__(self, clock: FakeClock, ttl: float = 3600.0, delay: float = 0.01) -> None:
        self.calls = 0
        self.clock = clock
        self.ttl = ttl
        self.delay = delay
        self.fail_with: Exception | None = None

    async def __call__(self) -> AccessToken:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        now = self.clock()
        return AccessToken(access_token=f"t{self.calls}", issued_at=now, expires_at=now + self.ttl)


async def test_500_concurrent_first_calls_one_fetch(clock: FakeClock) -> None:
    fetch = CountingFetch(clock)
    provider = TokenProvider(fetch, key="k", clock=clock)
    tokens = await asyncio.gather(*(provider.token() for _ in range(500)))
    assert fetch.calls == 1
    assert {t.access_token for t in tokens} == {"t1"}


async def test_refresh_before_expiry(clock: FakeClock) -> None:
    fetch = CountingFetch(clock, ttl=60.0)
    provider = TokenProvider(fetch, key="k", clock=clock)
    assert (await provider.token()).access_token == "t1"
    clock.advance(50)
    assert (await provider.token()).access_token == "t1"  # not on every call
    assert fetch.calls == 1
    clock.advance(5)  # within 6 s of expiry: refreshed early
    assert (await provider.token()).access_token == "t2"
    assert fetch.calls == 2


async def test_invalidate_only_drops_the_failed_token(clock: FakeClock) -> None:
    fetch = CountingFetch(clock)
    provider = TokenProvider(fetch, key="k", clock=clock)
    await provider.token()
    await provider.invalidate("t1")
    assert (await provider.token()).access_token == "t2"
    await provider.invalidate("t1")  # a late 401 for the old token changes nothing
    assert (await provider.token()).access_token == "t2"
    assert fetch.calls == 2


async def test_failure_cooldown_does_not_hammer(clock: FakeClock) -> None:
    fetch = CountingFetch(clock)
    fetch.fail_with = AuthenticationError("ClientId is Invalid", status=401)
    provider = TokenProvider(fetch, key="k", clock=clock, max_failure_cooldown=60.0)
    with pytest.raises(AuthenticationError, match="ClientId is Invalid"):
        await provider.token()
    for _ in range(10):
        with pytest.raises(AuthenticationError, match="not asking again"):
            await provider.token()
    assert fetch.calls == 1
    clock.advance(61)
    fetch.fail_with = None
    assert (await provider.token()).access_token == "t2"
    assert fetch.calls == 2


async def test_server_failure_cooldown_grows(clock: FakeClock) -> None:
    fetch = CountingFetch(clock)
    fetch.fail_with = AuthenticationError("boom", status=500)
    provider = TokenProvider(fetch, key="k", clock=clock, failure_cooldown=5.0)
    with pytest.raises(AuthenticationError):
        await provider.token()
    clock.advance(4)
    with pytest.raises(AuthenticationError, match="not asking again"):
        await provider.token()
    clock.advance(2)
    with pytest.raises(AuthenticationError, match="boom"):
        await provider.token()
    assert fetch.calls == 2
    clock.advance(6)  # second failure: 10 s cool-down
    with pytest.raises(AuthenticationError, match="not asking again"):
        await provider.token()
    assert fetch.calls == 2


async def test_stale_but_valid_token_survives_refresh_failure(clock: FakeClock) -> None:
    fetch = CountingFetch(clock, ttl=600.0)
    provider = TokenProvider(fetch, key="k", clock=clock)
    await provider.token()
    clock.advance(550)  # due for early refresh, still valid
    fetch.fail_with = AuthenticationError("down", status=503)
    assert (await provider.token()).access_token == "t1"


async def test_shared_memory_store_shares_token(clock: FakeClock) -> None:
    store = MemoryTokenStore()
    fetch_a, fetch_b = CountingFetch(clock), CountingFetch(clock)
    a = TokenProvider(fetch_a, store=store, key="k", clock=clock)
    b = TokenProvider(fetch_b, store=store, key="k", clock=clock)
    ta, tb = await asyncio.gather(a.token(), b.token())
    assert ta == tb
    assert fetch_a.calls + fetch_b.calls == 1


class BrokenStore(MemoryTokenStore):
    async def get(self, key: str) -> AccessToken | None:
        raise ConnectionError("store down")

    async def set(self, key: str, token: AccessToken) -> None:
        raise ConnectionError("store down")


async def test_store_down_falls_back_to_process_cache(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    fetch = CountingFetch(clock)
    provider = TokenProvider(fetch, store=BrokenStore(), key="k", clock=clock)
    assert (await provider.token()).access_token == "t1"
    assert (await provider.token()).access_token == "t1"
    assert fetch.calls == 1
    assert "token store unavailable" in caplog.text


# -- issue 10: the auth/ package ---------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_redis_store_is_a_plain_attribute_of_the_auth_package() -> None:
    import satusehat_async.auth as auth
    import satusehat_async.auth.redis
    import satusehat_async.redis_store

    assert "__getattr__" not in vars(auth)  # no module hook importing back into auth
    assert vars(auth)["RedisTokenStore"] is satusehat_async.auth.redis.RedisTokenStore
    assert satusehat_async.redis_store.RedisTokenStore is auth.RedisTokenStore


def test_old_module_paths_still_import_the_same_objects() -> None:
    import satusehat_async.auth.fetch
    import satusehat_async.auth.origins
    import satusehat_async.client
    import satusehat_async.origins
    import satusehat_async.token_fetch

    assert satusehat_async.token_fetch.fetch_token is satusehat_async.auth.fetch.fetch_token
    assert satusehat_async.token_fetch.TOKEN_RETRY is satusehat_async.auth.TOKEN_RETRY
    assert satusehat_async.client.TOKEN_RETRY is satusehat_async.auth.TOKEN_RETRY
    assert satusehat_async.origins.Origins is satusehat_async.auth.origins.Origins


_WITHOUT_REDIS = """
import sys
import satusehat_async.auth
assert not [m for m in sys.modules if m.split(".")[0] == "redis"], "redis imported eagerly"
sys.modules["redis"] = None  # from here on, as if the extra were not installed
from satusehat_async.auth import RedisTokenStore
from satusehat_async.errors import SatuSehatError
try:
    RedisTokenStore("redis://127.0.0.1:6379/0")
except SatuSehatError as exc:
    print(exc)
"""


def test_without_redis_the_store_imports_and_names_the_extra() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_REDIS],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.stdout.splitlines() == [
        "RedisTokenStore needs the redis package: pip install 'satusehat-async[redis]'"
    ]


def _held_back_for(error: AuthenticationError) -> int:
    found = re.search(r"not asking again for (\d+)s", str(error))
    assert found is not None, str(error)
    return int(found.group(1))


async def test_hold_back_is_the_retry_engines_schedule(clock: FakeClock) -> None:
    """15 s, 30 s, then 60 s per failure in a row: a RetryPolicy's delays without jitter."""
    fetch = CountingFetch(clock)
    fetch.fail_with = AuthenticationError("boom", status=500)
    provider = TokenProvider(fetch, key="k", clock=clock)
    held: list[int] = []
    for _ in range(4):
        with pytest.raises(AuthenticationError, match="boom"):
            await provider.token()
        with pytest.raises(AuthenticationError, match="not asking again") as info:
            await provider.token()
        held.append(_held_back_for(info.value))
        clock.advance(held[-1])  # exactly the hold-back: the endpoint is asked again
    assert held == [15, 30, 60, 60]
    assert fetch.calls == 4
    engine = RetryPolicy(base_delay=15.0, max_delay=60.0, jitter=None).delays()
    assert list(islice(provider.hold_back.waits(), 4)) == list(islice(engine, 4))
    assert isinstance(provider.hold_back.schedule, RetryPolicy)


async def test_a_rejection_holds_back_longest_and_counts_in_the_row(clock: FakeClock) -> None:
    fetch = CountingFetch(clock)
    fetch.fail_with = AuthenticationError("ClientId is Invalid", status=401)
    provider = TokenProvider(fetch, key="k", clock=clock)
    with pytest.raises(AuthenticationError, match="ClientId is Invalid"):
        await provider.token()
    with pytest.raises(AuthenticationError, match="not asking again") as info:
        await provider.token()
    assert _held_back_for(info.value) == 60
    clock.advance(60)
    fetch.fail_with = AuthenticationError("boom", status=500)
    with pytest.raises(AuthenticationError, match="boom"):
        await provider.token()
    with pytest.raises(AuthenticationError, match="not asking again") as info:
        await provider.token()
    assert _held_back_for(info.value) == 30  # the second failure in a row


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_cooldown": -1.0},
        {"max_failure_cooldown": float("nan")},
        {"failure_cooldown": "15"},
    ],
)
def test_hold_back_values_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="hold-back"):
        TokenProvider(CountingFetch(FakeClock()), key="k", **kwargs)


async def test_token_fetch_retries_once_on_the_one_retry_loop() -> None:
    """The fetch runs the transport's loop under TOKEN_RETRY: two attempts, not the client's."""
    attempts: list[str] = []

    def handler(request: BackendRequest) -> tuple[int, dict[str, str], bytes]:
        attempts.append(request.url)
        return 503, {}, b"busy"

    sleep = RecordingSleep()
    client = SatuSehatClient(
        "cid",
        "csecret",
        base_url="https://satusehat.test",
        backend=MockBackend(handler),
        retry=RetryPolicy(max_attempts=5),
        sleep=sleep,
    )
    async with client:
        with pytest.raises(AuthenticationError, match="token request refused"):
            await client.get_token()
    assert len(attempts) == 2
    assert len(sleep.waits) == 1 and 0.0 <= sleep.waits[0] <= 2.0
