"""Checking the client's constructor arguments: a wrong one is a ValidationError, at once.

The aiohttp-specific ones (``session``, ``trace_configs``) are checked by the backend.
"""

from __future__ import annotations

import enum
import logging
import ssl
from collections.abc import Mapping, Sequence

from satusehat_async.errors import ConfigurationError, ValidationError
from satusehat_async.http.backend import DEFAULT_MAX_RESPONSE_SIZE, Backend, Timeout
from satusehat_async.http.resilience import CircuitBreaker, check_count, check_seconds
from satusehat_async.http.retry import RetryPolicy

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "Default",
    "check_arguments",
    "check_count",
    "check_seconds",
    "optional_seconds",
]


logger = logging.getLogger("satusehat_async")


class Default(enum.Enum):
    """A sentinel: the argument was not given (``None`` means "none" where it is allowed)."""

    DEFAULT = "default"


def optional_seconds(name: str, value: object) -> float | None:
    """None (no limit), or ``value`` checked as a positive, finite number of seconds."""
    return None if value is None else check_seconds(name, value)


def check_arguments(args: Mapping[str, object]) -> Timeout:
    """Refuse wrongly typed or out-of-range constructor arguments with ValidationError.

    ``args`` are the client constructor's arguments by name; the per-attempt Timeout
    they describe is returned. The aiohttp-specific ones (``session``,
    ``trace_configs``) are the default backend's to check.
    """
    for name in ("client_id", "client_secret"):
        value = args[name]
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{name} must be a non-empty string")
    for name in ("base_url", "auth_url", "fhir_url", "masterdata_url"):
        url = args[name]
        if url is not None and not isinstance(url, str):
            raise ConfigurationError(f"{name} must be a URL string, not {type(url).__name__}")
    _check_parts(args)
    for name in ("clock", "sleep", "monotonic"):
        if args[name] is not None and not callable(args[name]):
            raise ValidationError(f"{name} must be a callable or None")
    if not isinstance(args["trust_env"], bool):
        raise ValidationError("trust_env must be True or False")
    proxy, verify_ssl = args["proxy"], args["verify_ssl"]
    if proxy is not None and not isinstance(proxy, str):
        raise ValidationError(f"proxy must be a URL string or None, not {type(proxy).__name__}")
    if not isinstance(verify_ssl, (bool, ssl.SSLContext)):
        raise ValidationError("verify_ssl must be True, False or an ssl.SSLContext")
    check_seconds("refresh_margin", args["refresh_margin"], positive=False)
    check_count("max_response_size", args["max_response_size"])
    if args["backend"] is not None and args["session"] is not None:
        raise ValidationError("pass session (for the default backend) or backend, not both")
    if verify_ssl is False:
        logger.warning("TLS certificate verification is OFF: anyone on the path can listen")
    return Timeout(
        total=optional_seconds("timeout", args["timeout"]),
        connect=optional_seconds("connect_timeout", args["connect_timeout"]),
    )


def _check_parts(args: Mapping[str, object]) -> None:
    """The pieces handed in: token store, retry policy, breaker, hooks, backend."""
    methods = ("get", "set", "delete", "lock")
    store = args["token_store"]
    if store is not None and not all(callable(getattr(store, m, None)) for m in methods):
        raise ValidationError("token_store must be a TokenStore (get, set, delete, lock)")
    check_count("connection_limit", args["connection_limit"])
    retry = args["retry"]
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ValidationError(f"retry must be a RetryPolicy or None, not {type(retry).__name__}")
    if args["circuit_breaker"] is not None and not isinstance(
        args["circuit_breaker"], (CircuitBreaker, Default)
    ):
        raise ValidationError("circuit_breaker must be a CircuitBreaker or None")
    hooks = args["hooks"]
    if isinstance(hooks, (str, bytes)) or not isinstance(hooks, Sequence):
        raise ValidationError("hooks must be a list or tuple")
    for hook in hooks:
        if not callable(hook):
            raise ValidationError(f"hooks holds {type(hook).__name__}, not a callable")
    backend = args["backend"]
    if backend is not None and not isinstance(backend, Backend):
        raise ValidationError("backend must be a Backend (exchange and aclose)")
