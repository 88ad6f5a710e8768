"""How long a token call may take — the one place that says it.

Both waits come from the one retry engine (:mod:`satusehat_async.http.retry`):

- **The fetch.** A token request runs through the transport's retry loop under
  :data:`TOKEN_RETRY`: at most two attempts, the second after a jittered wait of up to
  2 s (or the endpoint's ``Retry-After``, when it fits), and only while the 30 s budget
  lasts. So one fetch takes at most 30 s plus one attempt's timeout (the client's
  ``timeout``, 30 s by default).
- **The hold-back.** After a fetch that reached the endpoint failed (it is said to punish
  retries), :class:`~satusehat_async.auth.provider.TokenProvider` does not ask again for
  :data:`TOKEN_HOLD_BACK`'s waits: 15 s, then 30 s, then 60 s for every further failure
  in a row — the retry engine's backoff without jitter — and 60 s at once when the
  credentials are rejected (400, 401, 403). Meanwhile a token that is still valid keeps
  serving; without one, calls fail fast saying how long is left. A refused connection
  or an open circuit sent nothing and holds nothing back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from satusehat_async.http.resilience import check_seconds
from satusehat_async.http.retry import RetryPolicy

__all__ = ["TOKEN_HOLD_BACK", "TOKEN_RETRY", "HoldBack"]

# The token endpoint is said to allow about one attempt a minute after a failure: one
# spaced retry for a passing fault, then the provider holds back (15, 30, 60 s).
TOKEN_RETRY = RetryPolicy(max_attempts=2, base_delay=2.0, max_delay=2.0, max_time=30.0)
"""The retry policy of one token fetch (two attempts within 30 s)."""


@dataclass(frozen=True)
class HoldBack:
    """How long the token endpoint is left alone after failures, on the retry engine's schedule.

    Args:
        first: the wait after the first failure; each further failure in a row doubles
            it (``backoff.expo``, as :meth:`RetryPolicy.delays` draws it, without jitter)...
        longest: ...up to this; rejected credentials wait this long at once, since they
            will not fix themselves.
    """

    first: float = 15.0
    longest: float = 60.0
    schedule: RetryPolicy = field(init=False, repr=False, compare=False)
    """The engine's policy whose (unjittered) delays are the waits."""

    def __post_init__(self) -> None:
        check_seconds("hold-back first wait", self.first, positive=False)
        check_seconds("hold-back longest wait", self.longest, positive=False)
        policy = RetryPolicy(base_delay=self.first, max_delay=self.longest, jitter=None)
        object.__setattr__(self, "schedule", policy)  # frozen: set once, here

    def waits(self) -> Iterator[float]:
        """The waits after the 1st, 2nd, 3rd... failure in a row: 15, 30, 60, 60, ... s."""
        return self.schedule.delays()

    def wait(self, failures: int, *, rejected: bool = False) -> float:
        """Seconds to hold back after ``failures`` failures in a row (the last one included)."""
        if rejected:
            return self.longest
        return next(islice(self.waits(), max(0, failures - 1), None))


TOKEN_HOLD_BACK = HoldBack()
"""The default hold-back: 15 s, 30 s, then 60 s; 60 s for rejected credentials."""
