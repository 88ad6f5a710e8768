"""RedisTokenStore against a real redis-server: one token for many clients and processes.

A module-scoped fixture starts ``redis-server`` (the Debian package) on a free port of
127.0.0.1 without persistence; the tests skip, saying why, only when the binary is
missing. The token endpoint is a small aiohttp app in this process that counts token
requests and answers slowly, so that clients racing for a token really overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web
from conftest import ServerFactory
from redis_fixture import RedisServer, free_port, require_redis_server

from satusehat_async import SatuSehatClient
from satusehat_async.auth import AccessToken, TokenStore, token_cache_key
from satusehat_async.errors import ConfigurationError
from satusehat_async.redis_store import RedisTokenStore
from satusehat_async.testing import Sandbox

aioredis = pytest.importorskip("redis.asyncio", reason="the redis extra is not installed")

pytestmark = pytest.mark.redis

CLIENT_ID = "cid"
CLIENT_SECRET = "csecret-do-not-leak"
PATIENT_PATH = "/fhir-r4/v1/Patient/P00000001"


# -- a real redis-server (see redis_fixture.py) ------------------------------------------


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the module."""
    require_redis_server()
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, which the test may stop and restart."""
    require_redis_server()
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """The module's Redis, emptied for this test."""
    control = aioredis.Redis.from_url(redis_server.url)
    await control.flushall()
    await control.aclose()
    yield redis_server.url


@pytest.fixture
async def control(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain redis client, to look at what the store wrote."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


# -- a token endpoint and one protected resource ------------------------------------------


class TokenServer:
    """Issues ``tok-N`` tokens slowly; the patient endpoint accepts only unrevoked ones."""

    def __init__(self, token_delay: float = 0.2) -> None:
        self.token_delay = token_delay
        self.token_requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.valid: set[str] = set()
        self.unauthorized = 0
        self.app = web.Application()
        self.app.router.add_post("/oauth2/v1/accesstoken", self.token)
        self.app.router.add_get("/fhir-r4/v1/Patient/{id}", self.patient)

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            form = await request.post()
            assert form["client_secret"] == CLIENT_SECRET
            await asyncio.sleep(self.token_delay)  # a slow endpoint widens every race
            value = f"tok-{self.token_requests}"
            self.valid.add(value)
            return web.json_response(
                {"access_token": value, "token_type": "BearerToken", "expires_in": "3599"}
            )
        finally:
            self.in_flight -= 1

    async def patient(self, request: web.Request) -> web.Response:
        value = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if value not in self.valid:
            self.unauthorized += 1
            return web.json_response({"fault": "invalid token"}, status=401)
        return web.json_response({"resourceType": "Patient", "id": request.match_info["id"]})

    def revoke_all(self) -> None:
        self.valid.clear()


@pytest.fixture
async def token_server(serve: ServerFactory) -> tuple[TokenServer, str]:
    server = TokenServer()
    return server, await serve(server.app)


def make_client(base_url: str, store: TokenStore) -> SatuSehatClient:
    return SatuSehatClient(CLIENT_ID, CLIENT_SECRET, base_url=base_url, token_store=store)


def store_key(base_url: str) -> str:
    return token_cache_key(f"{base_url}/oauth2/v1/accesstoken", CLIENT_ID)


async def fetch_patient(client: SatuSehatClient) -> Any:
    return await client.request("GET", PATIENT_PATH)


# -- the store on its own ------------------------------------------------------------------


async def test_set_get_as_json_with_ttl(redis_url: str, control: aioredis.Redis) -> None:
    async with RedisTokenStore(redis_url, prefix="app1:") as store:
        now = time.time()
        token = AccessToken(access_token="tok-x", issued_at=now, expires_at=now + 600)
        await store.set("k", token)
        assert await store.get("k") == token
        raw = await control.get("app1:k")
        assert msgspec.json.decode(raw) == msgspec.to_builtins(token)
        assert 590_000 < await control.pttl("app1:k") <= 600_000
        assert await store.get("other") is None


async def test_expired_token_is_not_written(redis_url: str, control: aioredis.Redis) -> None:
    async with RedisTokenStore(redis_url) as store:
        old = AccessToken(access_token="old", issued_at=0.0, expires_at=time.time() - 1)
        await store.set("k", old)
        assert await control.exists("k") == 0


async def test_compare_and_delete(redis_url: str) -> None:
    async with RedisTokenStore(redis_url) as first, RedisTokenStore(redis_url) as second:
        now = time.time()
        await first.set("k", AccessToken(access_token="new", issued_at=now, expires_at=now + 60))
        await second.delete("k", "old")  # a late 401 for an older token
        token = await first.get("k")
        assert token is not None and token.access_token == "new"
        await second.delete("k", "new")
        assert await first.get("k") is None


async def test_unreadable_entry_counts_as_missing(redis_url: str, control: aioredis.Redis) -> None:
    await control.set("k", b"not json")
    async with RedisTokenStore(redis_url) as store:
        assert await store.get("k") is None
        await store.delete("k", "whatever")  # the Lua script survives garbage too
        assert await control.get("k") == b"not json"


@pytest.mark.parametrize(
    ("remaining", "expected_ms"),
    [
        (1e300, 86_400_000),  # Redis refuses an expiry this far out
        (math.inf, 86_400_000),  # int(inf) is an OverflowError
        (10 * 86_400.0, 86_400_000),
        (0.5, 500),
        (600.0, 600_000),
    ],
)
async def test_any_lifetime_gives_a_valid_expiry(
    redis_url: str, control: aioredis.Redis, remaining: float, expected_ms: int
) -> None:
    """Tokens from a custom fetch are not clamped: the store keeps SET ... PX valid."""
    now = 1_700_000_000.0
    async with RedisTokenStore(redis_url, clock=lambda: now) as store:
        token = AccessToken(access_token="tok", issued_at=now, expires_at=now + remaining)
        await store.set("k", token)
        assert not store.degraded
        assert max(0, expected_ms - 1_000) < await control.pttl("k") <= expected_ms


async def test_a_nan_expiry_is_kept_in_process_only(
    redis_url: str, control: aioredis.Redis
) -> None:
    async with RedisTokenStore(redis_url) as store:
        token = AccessToken(access_token="tok", issued_at=0.0, expires_at=math.nan)
        await store.set("k", token)
        assert not store.degraded
        assert await control.exists("k") == 0


async def test_a_poisoned_entry_counts_as_missing(redis_url: str, control: aioredis.Redis) -> None:
    """A token with CR/LF written by someone else never reaches a header."""
    entry = {"access_token": "tok\r\nX-Evil: 1", "expires_at": 2e9, "issued_at": 1e9}
    await control.set("k", msgspec.json.encode(entry))
    nested = b'{"access_token": "t", "expires_at": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    await control.set("deep", nested)
    async with RedisTokenStore(redis_url) as store:
        assert await store.get("k") is None
        assert await store.get("deep") is None


@pytest.mark.parametrize("expires_in", ["1e400", "0", "nan", "86400000"])
async def test_hostile_lifetimes_are_stored_with_a_sane_ttl(
    redis_url: str, control: aioredis.Redis, expires_in: str
) -> None:
    async with Sandbox(facilities=5) as sb, RedisTokenStore(redis_url) as store:
        sb.tokens.expires_in = expires_in
        async with sb.client(token_store=store) as client:
            await asyncio.gather(*(client.get_token() for _ in range(50)))
            key = token_cache_key(client.auth_url, sb.client_id)
        assert not store.degraded
        assert sb.stats.token_requests == 1
        assert 0 < await control.pttl(key) <= 86_400_000


async def test_lock_excludes_other_stores_until_released(redis_url: str) -> None:
    order: list[str] = []
    async with RedisTokenStore(redis_url) as first, RedisTokenStore(redis_url) as second:

        async def hold() -> None:
            async with first.lock("k"):
                order.append("first in")
                await asyncio.sleep(0.3)
                order.append("first out")

        async def wait() -> None:
            await asyncio.sleep(0.05)
            async with second.lock("k"):
                order.append("second in")

        await asyncio.gather(hold(), wait())
    assert order == ["first in", "first out", "second in"]


async def test_lock_of_a_crashed_holder_expires(redis_url: str, control: aioredis.Redis) -> None:
    # A process died holding the lock: its key stays until lock_timeout passes.
    await control.set("k:lock", b"dead-process", px=300)
    async with RedisTokenStore(redis_url, wait_timeout=5.0) as store:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        async with store.lock("k"):
            waited = loop.time() - begin
    assert 0.2 < waited < 2.0


async def test_a_slow_holder_keeps_its_lock_past_lock_timeout(
    redis_url: str, control: aioredis.Redis
) -> None:
    # The token endpoint may take longer than lock_timeout: the live holder renews the
    # lock, so nobody else starts a second refresh meanwhile.
    order: list[str] = []
    async with (
        RedisTokenStore(redis_url, lock_timeout=0.3) as first,
        RedisTokenStore(redis_url, lock_timeout=0.3) as second,
    ):

        async def slow() -> None:
            async with first.lock("k"):
                order.append("first in")
                await asyncio.sleep(1.0)
                assert 0 < await control.pttl("k:lock") <= 300
                order.append("first out")

        async def wait() -> None:
            await asyncio.sleep(0.05)
            async with second.lock("k"):
                order.append("second in")

        await asyncio.gather(slow(), wait())
    assert order == ["first in", "first out", "second in"]
    assert await control.exists("k:lock") == 0


async def test_lock_lost_while_held_is_a_warning_not_an_error(
    redis_url: str, control: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="satusehat_async.redis_store")
    async with RedisTokenStore(redis_url) as store:
        async with store.lock("k"):
            await control.delete("k:lock")  # e.g. expired during a long stall
        assert not store.degraded
    assert "expired before the refresh ended" in caplog.text


async def test_lock_wait_timeout_goes_ahead_with_a_warning(
    redis_url: str, control: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await control.set("k:lock", b"slow-process", px=10_000)
    async with RedisTokenStore(redis_url, wait_timeout=0.2) as store:
        with caplog.at_level(logging.WARNING, logger="satusehat_async.redis_store"):
            async with store.lock("k"):
                pass
    assert "refreshing without it" in caplog.text
    assert await control.get("k:lock") == b"slow-process"  # someone else's lock is left alone


def test_repr_hides_the_password() -> None:
    store = RedisTokenStore("redis://user:s3cret-pw@127.0.0.1:6399/2", prefix="x:")
    assert "s3cret-pw" not in repr(store)
    assert repr(store) == "RedisTokenStore('redis://user:***@127.0.0.1:6399/2', prefix='x:')"
    query = RedisTokenStore("unix:///run/redis.sock?db=0&password=s3cret-pw")
    assert "s3cret-pw" not in repr(query) and "password=***" in repr(query)
    for url in (
        "redis://:s3cret-pw@127.0.0.1:6379/0",
        "redis://u:p@s3cret-pw@127.0.0.1/0",  # an unencoded '@' in the password
        "redis://u:s3cret%2Dpw@127.0.0.1/0",
        "redis://u:s3cret-pw@127.0.0.1/0?password=s3cret-pw",
    ):
        assert "s3cret" not in repr(RedisTokenStore(url)), url


@pytest.mark.parametrize(
    "url",
    [
        "redis://u:s3cret-pw@host:notaport/0",
        "redis://u:s3cret-pw@[::1/0",
        "http://u:s3cret-pw@host/0",
    ],
)
def test_invalid_url_is_a_configuration_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid Redis URL") as info:
        RedisTokenStore(url)
    assert "s3cret" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_missing_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'satusehat-async\[redis\]'"):
        RedisTokenStore("redis://127.0.0.1:6379/0")


def test_needs_url_or_client() -> None:
    with pytest.raises(ConfigurationError):
        RedisTokenStore()


def test_reachable_from_auth_module() -> None:
    from satusehat_async import auth

    assert auth.RedisTokenStore is RedisTokenStore
    assert isinstance(RedisTokenStore("redis://127.0.0.1:1/0"), TokenStore)


async def test_borrowed_client_stays_open(redis_url: str) -> None:
    borrowed = aioredis.Redis.from_url(redis_url)
    store = RedisTokenStore(client=borrowed)
    assert "borrowed" in repr(store)
    await store.aclose()
    assert await borrowed.ping()
    await borrowed.aclose()


# -- clients in one process ----------------------------------------------------------------


async def test_two_clients_one_token_request(
    redis_url: str, token_server: tuple[TokenServer, str]
) -> None:
    server, base_url = token_server
    # Separate stores = separate connection pools: to Redis these are two processes.
    async with (
        RedisTokenStore(redis_url) as store_a,
        RedisTokenStore(redis_url) as store_b,
        make_client(base_url, store_a) as client_a,
        make_client(base_url, store_b) as client_b,
    ):
        answers = await asyncio.gather(
            *(fetch_patient(c) for c in (client_a, client_b) for _ in range(50))
        )
        assert len(answers) == 100
        assert server.token_requests == 1
        assert client_a.metrics.token_refreshes + client_b.metrics.token_refreshes == 1
        stored = await store_a.get(store_key(base_url))
        assert stored is not None and stored.access_token == "tok-1"


async def test_keys_carry_no_client_id(
    redis_url: str, control: aioredis.Redis, token_server: tuple[TokenServer, str]
) -> None:
    _, base_url = token_server
    async with RedisTokenStore(redis_url) as store, make_client(base_url, store) as client:
        await fetch_patient(client)
    keys = [k.decode() for k in await control.keys("*")]
    assert keys == [store_key(base_url)]
    assert CLIENT_ID not in keys[0].removeprefix("satusehat:token:")
    assert CLIENT_SECRET.encode() not in await control.get(keys[0])


# -- several OS processes ------------------------------------------------------------------

WORKER = """
import asyncio, json, sys
import redis.asyncio as aioredis
from satusehat_async import SatuSehatClient
from satusehat_async.auth import MemoryTokenStore
from satusehat_async.redis_store import RedisTokenStore
from satusehat_async.testing import Sandbox

async def main():
    redis_url, base_url, kind, barrier, requests = sys.argv[1:6]
    store = RedisTokenStore(redis_url) if kind == "redis" else MemoryTokenStore()
    client = SatuSehatClient("cid", "csecret-do-not-leak", base_url=base_url, token_store=store)
    async with client:
        if barrier != "-":  # everyone is ready: start at one moment
            control = aioredis.Redis.from_url(redis_url)
            await control.incr(barrier + ":ready")
            await control.blpop([barrier + ":go"], timeout=30)
            await control.aclose()
        paths = ["/fhir-r4/v1/Patient/P00000001"] * int(requests)
        answers = await asyncio.gather(*(client.request("GET", p) for p in paths))
    if kind == "redis":
        await store.aclose()
    print(json.dumps({"ok": len(answers), "refreshes": client.metrics.token_refreshes}))

asyncio.run(main())
"""


async def run_workers(
    count: int, redis_url: str, base_url: str, *, kind: str = "redis", requests: int = 5
) -> list[dict[str, int]]:
    """Start ``count`` Python processes; release them at once through a Redis barrier."""
    barrier = f"barrier:{os.getpid()}:{time.monotonic_ns()}" if count > 1 else "-"
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            redis_url,
            base_url,
            kind,
            barrier,
            str(requests),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(count)
    ]
    try:
        if count > 1:
            control = aioredis.Redis.from_url(redis_url)
            try:
                deadline = time.monotonic() + 30
                while int(await control.get(barrier + ":ready") or 0) < count:
                    assert time.monotonic() < deadline, "workers did not get ready"
                    await asyncio.sleep(0.02)
                await control.rpush(barrier + ":go", *["go"] * count)
            finally:
                await control.aclose()
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in processes)), timeout=60
        )
    finally:
        for process in processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
    results = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        assert CLIENT_SECRET not in out.decode() + err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


async def test_six_processes_at_once_make_one_token_request(
    redis_url: str, token_server: tuple[TokenServer, str]
) -> None:
    server, base_url = token_server
    results = await run_workers(6, redis_url, base_url)
    assert [r["ok"] for r in results] == [5] * 6
    assert server.token_requests == 1
    assert sum(r["refreshes"] for r in results) == 1
    assert server.unauthorized == 0


async def test_control_four_processes_without_redis_make_four_token_requests(
    redis_url: str, token_server: tuple[TokenServer, str]
) -> None:
    # The same harness with per-process stores: proves the barrier makes them race.
    server, base_url = token_server
    results = await run_workers(4, redis_url, base_url, kind="memory")
    assert [r["ok"] for r in results] == [5] * 4
    assert server.token_requests == 4
    assert server.max_in_flight > 1


async def test_401_invalidates_across_processes_without_deleting_the_newer_token(
    redis_url: str, token_server: tuple[TokenServer, str]
) -> None:
    server, base_url = token_server
    async with RedisTokenStore(redis_url) as store, make_client(base_url, store) as client:
        await fetch_patient(client)  # this process caches tok-1, shared through Redis
        assert server.token_requests == 1
        server.revoke_all()
        # Another process reads tok-1 from Redis, gets a 401, deletes tok-1 (it matches)
        # and stores tok-2.
        [other] = await run_workers(1, redis_url, base_url, requests=1)
        assert other == {"ok": 1, "refreshes": 1}
        assert server.token_requests == 2
        # Our cached tok-1 now gets a 401 too: compare-and-delete must keep tok-2, which
        # we then re-read instead of asking for a third token.
        await fetch_patient(client)
        assert server.token_requests == 2
        assert client.metrics.token_refreshes == 1
        stored = await store.get(store_key(base_url))
        assert stored is not None and stored.access_token == "tok-2"
        assert server.unauthorized == 2


# -- Redis down -----------------------------------------------------------------------------


def redis_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "satusehat_async.redis_store" and r.levelno >= logging.WARNING
    ]


async def test_redis_unreachable_calls_succeed_on_the_in_process_cache(
    token_server: tuple[TokenServer, str], caplog: pytest.LogCaptureFixture
) -> None:
    server, base_url = token_server
    closed = f"redis://127.0.0.1:{free_port()}/0"
    caplog.set_level(logging.WARNING)
    # retry_interval=0: every operation really tries Redis, and still warns only once.
    async with (
        RedisTokenStore(closed, retry_interval=0.0) as store,
        make_client(base_url, store) as client_a,
        make_client(base_url, store) as client_b,
    ):
        answers = await asyncio.gather(
            *(fetch_patient(c) for c in (client_a, client_b) for _ in range(20))
        )
        assert len(answers) == 40
        assert store.degraded
        assert "degraded" in repr(store)
        # The in-process fallback is still shared by the clients of this process.
        assert server.token_requests == 1
    warnings = redis_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "unavailable" in warnings[0] and "in-process" in warnings[0]
    assert CLIENT_SECRET not in caplog.text


async def test_lock_falls_back_to_an_in_process_lock(caplog: pytest.LogCaptureFixture) -> None:
    inside = 0
    most = 0

    async def critical(store: RedisTokenStore) -> None:
        nonlocal inside, most
        async with store.lock("k"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    caplog.set_level(logging.WARNING)
    async with RedisTokenStore(f"redis://127.0.0.1:{free_port()}/0", retry_interval=0.0) as store:
        await asyncio.gather(*(critical(store) for _ in range(10)))
    assert most == 1
    assert len(redis_warnings(caplog)) == 1


async def test_redis_stopping_midway_then_coming_back(
    own_redis: RedisServer,
    token_server: tuple[TokenServer, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, base_url = token_server
    caplog.set_level(logging.WARNING)
    async with (
        RedisTokenStore(own_redis.url, retry_interval=0.0) as store,
        make_client(base_url, store) as client,
    ):
        await fetch_patient(client)
        assert not store.degraded and redis_warnings(caplog) == []

        own_redis.stop()
        server.revoke_all()  # forces a 401, an invalidation and a refresh while Redis is down
        await asyncio.gather(*(fetch_patient(client) for _ in range(10)))
        assert server.token_requests == 2
        assert store.degraded
        assert len(redis_warnings(caplog)) == 1

        own_redis.start()  # same port, empty
        server.revoke_all()
        await fetch_patient(client)
        assert server.token_requests == 3
        assert not store.degraded
        assert "reachable again" in redis_warnings(caplog)[-1]
        stored = await store.get(store_key(base_url))
        assert stored is not None and stored.access_token == "tok-3"
