"""Per-request options, travelling through the stages as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass

from satusehat_async.errors import ValidationError
from satusehat_async.http.backend import Timeout
from satusehat_async.http.retry import RetryPolicy

__all__ = ["RequestOptions", "as_timeout"]


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """How one logical request is sent (every field defaults to the client's behaviour).

    Attributes:
        idempotent: may the request be re-sent after it may have reached the server?
            None decides by method (GET/HEAD/PUT/DELETE/OPTIONS). A non-idempotent
            request is re-sent only when it provably never left (connection refused).
        authenticate: add the bearer token, and on a 401 about it refresh and replay once.
        retry: the retry policy for this request (None: the client's).
        timeout: the per-attempt timeout (None: the client's).
        count_failure: record a final failure in the circuit breaker. False lets a caller
            that may still reconcile the outcome (an ambiguous create) report it itself
            (``Transport.record_outcome``); successes are recorded either way.
    """

    idempotent: bool | None = None
    authenticate: bool = True
    retry: RetryPolicy | None = None
    timeout: Timeout | None = None
    count_failure: bool = True


DEFAULT_OPTIONS = RequestOptions()


def as_timeout(value: object) -> Timeout | None:
    """A :class:`Timeout` from ``value``: None, a Timeout, or anything with ``total`` (and
    ``sock_connect``, as ``aiohttp.ClientTimeout`` has) — the type earlier releases took."""
    if value is None or isinstance(value, Timeout):
        return value
    if hasattr(value, "total"):
        return Timeout(total=value.total, connect=getattr(value, "sock_connect", None))
    raise ValidationError(f"timeout must be a Timeout or None, not {type(value).__name__}")
