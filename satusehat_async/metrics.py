"""Request events, built-in counters, and hooks for callers' own metrics or tracing."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from yarl import URL

__all__ = ["Metrics", "RequestEvent", "endpoint_label", "redact_url"]

# Query parameters whose values never reach a log line, a hook or a metric label:
# credentials, and personal data (a NIK inside `identifier=...|3201...`, a patient's name,
# birth date, gender, contact details — every Patient search parameter).
SENSITIVE_PARAMS = frozenset(
    {
        "client_id",
        "client_secret",
        "access_token",
        "token",
        "password",
        "identifier",
        "nik",
        "name",
        "given",
        "family",
        "birthdate",
        "gender",
        "address",
        "phone",
        "telecom",
        "email",
    }
)
_ID_SEGMENT = re.compile(r"^(?:[A-Za-z]?\d{5,}|[0-9a-fA-F-]{20,})$")


def redact_url(url: str | URL) -> str:
    """The URL with sensitive query values replaced by ``***`` and no ``user:password@``."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
    except (TypeError, ValueError):
        return "<unparsable URL>"
    if parsed.user is not None or parsed.password is not None:
        parsed = parsed.with_user(None)
    if not parsed.query:
        return str(parsed)
    items = [(k, "***" if k.lower() in SENSITIVE_PARAMS else v) for k, v in parsed.query.items()]
    return str(parsed.with_query(items))


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
