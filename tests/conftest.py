"""Shared fixtures: a tiny in-test aiohttp server for tests where real sockets matter.

Also the Hypothesis profiles of the fuzz suite (``tests/test_fuzz_*.py``), chosen with
``HYPOTHESIS_PROFILE``: ``ci`` (the default) is quick and deterministic, so a CI failure
replays on every machine; ``long`` explores at random with many more examples.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from _support import FakeClock, RecordingSleep
from aiohttp import web
from hypothesis import HealthCheck, Phase, settings

# ci: derandomized (a seed fixed per test) and no example database, so every run of the
# same code draws the same inputs: CI cannot flake on an input it happened to draw today.
# No deadline in either profile: timing on a shared CI runner is not what is tested.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# long: random exploration (a new seed each run), the example database replays failures.
settings.register_profile(
    "long",
    max_examples=5_000,
    deadline=None,
    print_blob=True,
    phases=list(Phase),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _aioresponses_compat() -> None:
    """aioresponses 0.7.x builds ClientResponse without aiohttp 3.14's new ``stream_writer``.

    Upstream: pnuckowski/aioresponses#289 (fix pending in #288). Real requests always pass
    ``stream_writer``; only the mock's responses get this stand-in.
    """
    params = inspect.signature(aiohttp.ClientResponse.__init__).parameters
    if (
        "stream_writer" not in params
        or params["stream_writer"].default is not inspect.Parameter.empty
    ):
        return
    original = aiohttp.ClientResponse.__init__

    def init(self: aiohttp.ClientResponse, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        original(self, method, url, **kwargs)

    aiohttp.ClientResponse.__init__ = init  # type: ignore[method-assign]


_aioresponses_compat()

ServerFactory = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[ServerFactory]:
    """Start aiohttp apps on 127.0.0.1 (free port); returns their base URL; stops them after."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def no_sleep() -> RecordingSleep:
    return RecordingSleep()
