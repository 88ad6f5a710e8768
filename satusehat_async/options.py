"""Checking the client's constructor arguments: a wrong one is a ValidationError, at once."""

from __future__ import annotations

import enum
import ssl
from collections.abc import Mapping, Sequence

import aiohttp

from satusehat_async.body import DEFAULT_MAX_RESPONSE_SIZE
from satusehat_async.errors import ConfigurationError, ValidationError
from satusehat_async.resilience import CircuitBreaker, check_count, check_seconds
from satusehat_async.retry import RetryPolicy

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "Default",
    "check_arguments",
    "check_count",
    "check_seconds",
    "optional_seconds",
]


class Default(enum.Enum):
    """A sentinel: the argument was not given (``None`` means "none" where it is allowed)."""

    DEFAULT = "default"


def optional_seconds(name: str, value: object) -> float | None:
    """None (no limit), or ``value`` checked as a positive, finite number of seconds."""
    return None if value is None else check_seconds(name, value)


def check_arguments(
    *,
    urls: Mapping[str, object],
    session: object,
    token_store: object,
    connection_limit: object,
    retry: object,
    circuit_breaker: object,
    hooks: object,
    trace_configs: object,
    callables: Mapping[str, object],
    flags: Mapping[str, object],
    proxy: object,
    verify_ssl: object,
) -> None:
    """Refuse wrongly typed or out-of-range constructor arguments with ValidationError."""
    for name, url in urls.items():
        if url is not None and not isinstance(url, str):
            raise ConfigurationError(f"{name} must be a URL string, not {type(url).__name__}")
    if session is not None and not isinstance(session, aiohttp.ClientSession):
        raise ValidationError(f"session must be an aiohttp.ClientSession, not {type(session)}")
    methods = ("get", "set", "delete", "lock")
    if token_store is not None and not all(
        callable(getattr(token_store, m, None)) for m in methods
    ):
        raise ValidationError("token_store must be a TokenStore (get, set, delete, lock)")
    check_count("connection_limit", connection_limit)
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ValidationError(f"retry must be a RetryPolicy or None, not {type(retry).__name__}")
    if circuit_breaker is not None and not isinstance(circuit_breaker, (CircuitBreaker, Default)):
        raise ValidationError("circuit_breaker must be a CircuitBreaker or None")
    for name, items, kind in (
        ("hooks", hooks, None),
        ("trace_configs", trace_configs, aiohttp.TraceConfig),
    ):
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise ValidationError(f"{name} must be a list or tuple")
        for item in items:
            if not (callable(item) if kind is None else isinstance(item, kind)):
                raise ValidationError(f"{name} holds {type(item).__name__}, not what it takes")
    for name, value in callables.items():
        if value is not None and not callable(value):
            raise ValidationError(f"{name} must be a callable or None")
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ValidationError(f"{name} must be True or False")
    if proxy is not None and not isinstance(proxy, str):
        raise ValidationError(f"proxy must be a URL string or None, not {type(proxy).__name__}")
    if not isinstance(verify_ssl, (bool, ssl.SSLContext)):
        raise ValidationError("verify_ssl must be True, False or an ssl.SSLContext")
