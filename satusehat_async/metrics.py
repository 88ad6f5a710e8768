"""Request events, built-in counters, and hooks for callers' own metrics or tracing."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from yarl import URL

from satusehat_async.redact import SENSITIVE_PARAMS, redact_url

__all__ = ["SENSITIVE_PARAMS", "Metrics", "RequestEvent", "endpoint_label", "redact_url"]
# redact_url and SENSITIVE_PARAMS live in satusehat_async.redact; importable here as before.

_ID_SEGMENT = re.compile(r"^(?:[A-Za-z]?\d{5,}|[0-9a-fA-F-]{20,})$")


def endpoint_label(url: str | URL) -> str:
    """A low-cardinality label for metrics: the path with ids replaced by ``{id}``."""
    parsed = url if isinstance(url, URL) else URL(url)
    parts = ["{id}" if _ID_SEGMENT.match(p) else p for p in parsed.path.split("/")]
    return "/".join(parts)


@dataclass(frozen=True)
class RequestEvent:
    """One HTTP attempt as the transport saw it (no bodies, no secrets).

    ``status`` is None when no answer arrived (``error`` says why). ``attempt`` counts
    from 1 (a 401 replay reuses the attempt number of the request it replays).
    """

    method: str
    url: str
    endpoint: str
    status: int | None
    duration: float
    attempt: int
    request_id: str | None
    error: str | None


Hook = Callable[[RequestEvent], None]


@dataclass
class Metrics:
    """Counters and timings a service can export (e.g. to Prometheus) or log.

    Attributes:
        requests: attempts by (method, endpoint, status or error class).
        retries: attempts that were retries.
        token_refreshes: token endpoint fetches that succeeded.
        latency_sum / latency_count: per endpoint, for averages.
        latency_max: per endpoint.
        circuits: returns each host's circuit-breaker state (set by the client).
    """

    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    retries: int = 0
    token_refreshes: int = 0
    latency_sum: dict[str, float] = field(default_factory=dict)
    latency_count: Counter[str] = field(default_factory=Counter)
    latency_max: dict[str, float] = field(default_factory=dict)
    circuits: Callable[[], dict[str, str]] | None = field(default=None, repr=False)

    def observe(self, event: RequestEvent) -> None:
        """Record one attempt."""
        outcome = str(event.status) if event.status is not None else (event.error or "error")
        self.requests[(event.method, event.endpoint, outcome)] += 1
        if event.attempt > 1:
            self.retries += 1
        total = self.latency_sum.get(event.endpoint, 0.0)
        self.latency_sum[event.endpoint] = total + event.duration
        self.latency_count[event.endpoint] += 1
        if event.duration > self.latency_max.get(event.endpoint, 0.0):
            self.latency_max[event.endpoint] = event.duration

    def snapshot(self) -> dict[str, object]:
        """A plain-dict view, JSON-serialisable."""
        return {
            "requests": [
                {"method": m, "endpoint": e, "outcome": o, "count": c}
                for (m, e, o), c in sorted(self.requests.items())
            ],
            "retries": self.retries,
            "token_refreshes": self.token_refreshes,
            "circuits": self.circuits() if self.circuits is not None else {},
            "latency": {
                e: {
                    "count": self.latency_count[e],
                    "mean": self.latency_sum[e] / self.latency_count[e],
                    "max": self.latency_max.get(e, 0.0),
                }
                for e in self.latency_count
            },
        }
