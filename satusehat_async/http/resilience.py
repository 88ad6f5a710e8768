"""Circuit breaker and client-wide rate limiter: small, clock-injected, loop-safe state."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from satusehat_async.errors import CircuitOpenError, ValidationError

__all__ = ["CircuitBreaker", "RateLimiter", "check_count", "check_seconds"]

logger = logging.getLogger("satusehat_async.transport")  # the name users filter on


def check_count(name: str, value: object, *, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum``, else ValidationError (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise ValidationError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_seconds(name: str, value: object, *, positive: bool = True) -> float:
    """``value`` as a finite number of seconds (> 0, or >= 0), else ValidationError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be a number of seconds, not {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        bound = "positive" if positive else "zero or more"
        raise ValidationError(f"{name} must be a finite, {bound} number of seconds, got {value}")
    return seconds


@dataclass
class _Circuit:
    # (when, ok) of the most recent logical calls, oldest first
    outcomes: deque[tuple[float, bool]] = field(default_factory=deque)
    failures: int = 0
    opened_at: float | None = None
    probe_since: float | None = None  # a half-open trial call is in flight since then


class CircuitBreaker:
    """Fail fast for a host whose recent calls mostly fail.

    The breaker judges a host by its **failure rate** over a sliding window: the last
    ``window_size`` calls, of which only those of the last ``window_seconds`` count. While
    fewer than ``minimum_calls`` are in the window it never opens; otherwise it opens when
    the share of failures reaches ``failure_rate_threshold``. Open, it fails fast with
    :class:`CircuitOpenError` for ``cooldown`` seconds; then it is half-open and lets one
    trial call through (others still fail fast): its success closes the circuit with an
    empty window, its failure opens it again. A trial that never reports (cancelled) frees
    its slot after another ``cooldown``.

    A *call* is one logical request after all its retries — the transport reports
    outcomes, not attempts, so transient faults that retries absorb never count. A
    failure is a 5xx, 408, 429, connection failure or timeout; any other answer (a 4xx)
    proves the host is up and counts as a success.
    """

    def __init__(
        self,
        failure_rate_threshold: float = 0.5,
        *,
        minimum_calls: int = 20,
        window_size: int = 100,
        window_seconds: float = 60.0,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        rate = failure_rate_threshold
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
            raise ValidationError(
                f"failure_rate_threshold must be a number in (0, 1], got {rate!r}"
            )
        self.failure_rate_threshold = float(rate)
        self.minimum_calls = check_count("minimum_calls", minimum_calls)
        self.window_size = check_count("window_size", window_size, minimum=self.minimum_calls)
        self.window_seconds = check_seconds("window_seconds", window_seconds)
        self.cooldown = check_seconds("cooldown", cooldown, positive=False)
        if not callable(clock):
            raise ValidationError("clock must be a callable returning seconds")
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(failure_rate_threshold={self.failure_rate_threshold}, "
            f"minimum_calls={self.minimum_calls}, window_size={self.window_size}, "
            f"window_seconds={self.window_seconds}, cooldown={self.cooldown})"
        )

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

    def failure_rate(self, host: str) -> float | None:
        """The failure share in ``host``'s current window (None below ``minimum_calls``)."""
        circuit = self._circuits.get(host)
        if circuit is None:
            return None
        self._expire(circuit, self._clock())
        if len(circuit.outcomes) < self.minimum_calls:
            return None
        return circuit.failures / len(circuit.outcomes)

    def check(self, host: str) -> bool:
        """Admit a call to ``host``, or raise CircuitOpenError while its circuit is open.

        Returns True when the call is the half-open trial: its caller must report an
        outcome, or call :meth:`release` if it ends without one.
        """
        circuit = self._circuits.get(host)
        if circuit is None or circuit.opened_at is None:
            return False
        now = self._clock()
        elapsed = now - circuit.opened_at
        if elapsed < self.cooldown:
            raise CircuitOpenError(host, self.cooldown - elapsed)
        if circuit.probe_since is not None and now - circuit.probe_since < self.cooldown:
            # one trial at a time: the others wait for its verdict
            raise CircuitOpenError(host, self.cooldown - (now - circuit.probe_since))
        circuit.probe_since = now
        return True

    def release(self, host: str) -> None:
        """The half-open trial ended without an outcome: let another call try."""
        circuit = self._circuits.get(host)
        if circuit is not None:
            circuit.probe_since = None

    def record_success(self, host: str) -> None:
        """A call to ``host`` got an answer from it (closes a half-open circuit)."""
        circuit = self._circuits.setdefault(host, _Circuit())
        if circuit.opened_at is not None:
            if self._clock() - circuit.opened_at < self.cooldown:
                return  # a straggler from before the circuit opened: no verdict
            logger.info("circuit for %s closed", host)
            circuit.outcomes.clear()
            circuit.failures = 0
            circuit.opened_at = None
            circuit.probe_since = None
        self._add(circuit, ok=True)

    def record_failure(self, host: str) -> None:
        """A call to ``host`` failed after its retries."""
        circuit = self._circuits.setdefault(host, _Circuit())
        now = self._clock()
        if circuit.opened_at is not None:
            if now - circuit.opened_at >= self.cooldown:  # the half-open trial failed
                circuit.opened_at = now
                circuit.probe_since = None
                logger.warning("circuit for %s open again for %.0fs", host, self.cooldown)
            return
        self._add(circuit, ok=False)
        calls = len(circuit.outcomes)
        if calls >= self.minimum_calls and circuit.failures >= self.failure_rate_threshold * calls:
            circuit.opened_at = now
            logger.warning(
                "circuit for %s open for %.0fs: %d of the last %d calls failed",
                host,
                self.cooldown,
                circuit.failures,
                calls,
            )

    def _add(self, circuit: _Circuit, *, ok: bool) -> None:
        now = self._clock()
        circuit.outcomes.append((now, ok))
        if not ok:
            circuit.failures += 1
        while len(circuit.outcomes) > self.window_size:
            self._drop_oldest(circuit)
        self._expire(circuit, now)

    def _expire(self, circuit: _Circuit, now: float) -> None:
        while circuit.outcomes and now - circuit.outcomes[0][0] > self.window_seconds:
            self._drop_oldest(circuit)

    @staticmethod
    def _drop_oldest(circuit: _Circuit) -> None:
        _, ok = circuit.outcomes.popleft()
        if not ok:
            circuit.failures -= 1


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
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise ValidationError(
                f"rate must be a number of requests per second, not {type(rate).__name__}"
            )
        if not math.isfinite(rate) or rate <= 0:
            raise ValidationError(
                f"rate must be a finite, positive number of requests per second, got {rate}"
            )
        if not callable(clock) or not callable(sleep):
            raise ValidationError("clock and sleep must be callables")
        self.rate = float(rate)
        self._interval = 1.0 / self.rate
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
