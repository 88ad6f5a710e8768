"""Circuit breaker and client-wide rate limiter: small, clock-injected, loop-safe state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from satusehat_async.errors import CircuitOpenError

__all__ = ["CircuitBreaker", "RateLimiter"]

logger = logging.getLogger("satusehat_async.transport")


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None


class CircuitBreaker:
    """Fail fast for a host after ``threshold`` consecutive failed requests.

    A *failed request* is one that still failed after all its retries (5xx, connection
    failures, timeouts) — the transport reports outcomes, not attempts, so transient
    faults that retries absorb never open the circuit. Client errors (4xx) prove the
    host is up and count as successes. After ``cooldown`` seconds the circuit is
    half-open: requests go through again, and the next outcome closes it (success) or
    re-opens it (failure).
    """

    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or cooldown < 0:
            raise ValueError("threshold must be >= 1 and cooldown >= 0")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def __repr__(self) -> str:
        return f"CircuitBreaker(threshold={self.threshold}, cooldown={self.cooldown})"

    def state(self, host: str) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"`` for ``host``."""
        circuit = self._circuits.get(host)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if self._clock() - circuit.opened_at >= self.cooldown:
            return "half-open"
        return "open"

    def states(self) -> dict[str, str]:
        """The state of every host seen so far."""
        return {host: self.state(host) for host in self._circuits}

    def check(self, host: str) -> None:
        """Raise CircuitOpenError while the circuit for ``host`` is open."""
        circuit = self._circuits.get(host)
        if circuit is None or circuit.opened_at is None:
            return
        elapsed = self._clock() - circuit.opened_at
        if elapsed < self.cooldown:
            raise CircuitOpenError(host, self.cooldown - elapsed)

    def record_success(self, host: str) -> None:
        """A request to ``host`` got an answer from it: close the circuit."""
        circuit = self._circuits.get(host)
        if circuit is not None and (circuit.failures or circuit.opened_at is not None):
            if circuit.opened_at is not None:
                logger.info("circuit for %s closed", host)
            circuit.failures = 0
            circuit.opened_at = None

    def record_failure(self, host: str) -> None:
        """A request to ``host`` failed after its retries."""
        circuit = self._circuits.setdefault(host, _Circuit())
        circuit.failures += 1
        half_open = circuit.opened_at is not None
        if half_open or circuit.failures >= self.threshold:
            circuit.opened_at = self._clock()
            logger.warning(
                "circuit for %s open for %.0fs after %d failed requests",
                host,
                self.cooldown,
                circuit.failures,
            )


class RateLimiter:
    """A smooth client-wide rate limit: requests are spaced ``1/rate`` seconds apart.

    Reservations are taken synchronously (no await between reading and advancing the
    next free slot), so every task sharing the limiter on one loop is spaced correctly.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (requests per second)")
        self.rate = rate
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate})"

    async def acquire(self) -> None:
        """Wait for this caller's slot."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self._interval
        wait = slot - now
        if wait > 0:
            await self._sleep(wait)
