"""Moved to :mod:`satusehat_async.http.resilience`; importable from here as before."""

from __future__ import annotations

from satusehat_async.http.resilience import (
    CircuitBreaker,
    RateLimiter,
    check_count,
    check_seconds,
)

__all__ = ["CircuitBreaker", "RateLimiter", "check_count", "check_seconds"]
