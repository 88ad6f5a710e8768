"""Test doubles shared by the foundation tests: a settable clock, a recording sleep, and
a scripted server (:class:`Routes`) behind the official fake backend, MockBackend."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from satusehat_async.http import BackendRequest
from satusehat_async.testing import MockBackend


class FakeClock:
    """A settable clock for token expiry and breaker cool-downs."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSleep:
    """An injected sleep that records waits instead of waiting."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.waits: list[float] = []
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)


# -- a scripted server for MockBackend -------------------------------------------------

Reply = tuple[Any, ...] | BaseException | Callable[[BackendRequest], Any]


@dataclass
class _Route:
    method: str
    url: str | re.Pattern[str]
    replies: list[Reply]
    repeat: bool

    def matches(self, request: BackendRequest) -> bool:
        if request.method != self.method or not self.replies:
            return False
        if isinstance(self.url, re.Pattern):
            return self.url.match(request.url) is not None
        return request.url == self.url or request.url.startswith(self.url + "?")


@dataclass
class Routes:
    """A scripted server behind :class:`MockBackend`: replies per method and URL, in order.

    Each registration's replies are used once each (the last one again and again with
    ``repeat=True``); registrations for the same route are consumed in the order made, as
    aioresponses does. A reply is what a MockBackend handler returns — ``(status, body)``
    or ``(status, headers, body)`` —, an exception to raise (a simulated connection
    failure), or a callable computing the reply from the request. A string URL matches
    whatever the query; a compiled pattern must match the whole URL, query included.
    """

    routes: list[_Route] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.backend = MockBackend(self)

    def add(
        self, method: str, url: str | re.Pattern[str], *replies: Reply, repeat: bool = False
    ) -> None:
        """Register ``replies`` for ``method`` and ``url``."""
        self.routes.append(_Route(method, url, list(replies), repeat))

    def get(self, url: str | re.Pattern[str], *replies: Reply, repeat: bool = False) -> None:
        self.add("GET", url, *replies, repeat=repeat)

    def post(self, url: str | re.Pattern[str], *replies: Reply, repeat: bool = False) -> None:
        self.add("POST", url, *replies, repeat=repeat)

    def calls(self, method: str | None = None) -> list[BackendRequest]:
        """The requests received (only ``method``'s when given), in order."""
        return [r for r in self.backend.requests if method is None or r.method == method]

    def __call__(self, request: BackendRequest) -> Any:
        route = next((r for r in self.routes if r.matches(request)), None)
        if route is None:
            raise AssertionError(f"no reply scripted for {request.method} {request.url}")
        reply = route.replies[0] if route.repeat and len(route.replies) == 1 else None
        if reply is None:
            reply = route.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply(request) if callable(reply) else reply
