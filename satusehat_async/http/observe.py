"""Per-attempt observation: the debug log line and the :class:`RequestEvent` for hooks."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from yarl import URL

from satusehat_async.metrics import Hook, RequestEvent, endpoint_label
from satusehat_async.redact import redact_url

__all__ = ["observe"]

logger = logging.getLogger("satusehat_async.transport")


def observe(
    hooks: Sequence[Hook],
    *,
    method: str,
    url: URL,
    status: int | None,
    duration: float,
    attempt: int,
    request_id: str | None,
    error: str | None,
) -> None:
    """Log one attempt at DEBUG and hand its event to every hook (a broken hook is logged)."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s %s -> %s in %.1f ms (attempt %d, request id %s)",
            method,
            redact_url(url),
            status if status is not None else error,
            duration * 1000,
            attempt,
            request_id,
        )
    if not hooks:
        return
    event = RequestEvent(
        method=method,
        url=redact_url(url),
        endpoint=endpoint_label(url),
        status=status,
        duration=duration,
        attempt=attempt,
        request_id=request_id,
        error=error,
    )
    for hook in hooks:
        try:
            hook(event)
        except Exception:  # a broken metrics hook must never break a request
            logger.exception("request hook %r failed", hook)
