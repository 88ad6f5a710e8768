"""Constructor arguments (issue 9): every wrong one is a ValidationError, raised at once.

Covers every argument of SatuSehatClient, RetryPolicy, CircuitBreaker and RateLimiter.
"""

from __future__ import annotations

from typing import Any

import pytest

from satusehat_async import (
    CircuitBreaker,
    RateLimiter,
    RetryPolicy,
    SatuSehatClient,
    SatuSehatError,
    ValidationError,
)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": float("nan")},
        {"timeout": "30"},
        {"connect_timeout": 0},
        {"connection_limit": 0},
        {"connection_limit": "10"},
        {"connection_limit": 2.5},
        {"rate_limit": -1},
        {"rate_limit": 0},
        {"rate_limit": float("inf")},
        {"rate_limit": "5"},
        {"retry": 3},
        {"circuit_breaker": "on"},
        {"session": object()},
        {"token_store": object()},
        {"hooks": print},
        {"hooks": [1]},
        {"trace_configs": [object()]},
        {"clock": 5},
        {"sleep": 5},
        {"refresh_margin": -1},
        {"refresh_margin": "60"},
        {"max_response_size": 0},
        {"max_response_size": 1.5},
        {"proxy": 8080},
        {"trust_env": "yes"},
        {"verify_ssl": "no"},
    ],
)
def test_wrong_client_arguments_are_validation_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SatuSehatClient("a", "b", **kwargs)


def test_wrong_url_arguments_are_configuration_errors() -> None:
    with pytest.raises(SatuSehatError):
        SatuSehatClient("a", "b", base_url=5)  # type: ignore[arg-type]


def test_timeout_none_means_no_limit_explicitly() -> None:
    client = SatuSehatClient("a", "b", timeout=None, connect_timeout=None)
    assert client.transport.timeout.total is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": "3"},
        {"max_attempts": True},
        {"max_time": 0},
        {"max_time": float("inf")},
        {"base_delay": -1},
        {"max_delay": "1"},
        {"max_retry_after": float("nan")},
        {"retry_statuses": 503},
        {"retry_statuses": {"503"}},
        {"respect_retry_after": "yes"},
        {"jitter": 1},
    ],
)
def test_wrong_retry_policies_are_validation_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(**kwargs)


def test_retry_statuses_given_as_a_set_are_kept() -> None:
    assert RetryPolicy(retry_statuses={503}).retry_statuses == frozenset({503})


@pytest.mark.parametrize(
    "args",
    [
        ((0,), {}),
        ((1.5,), {}),
        (("0.5",), {}),
        ((), {"minimum_calls": 0}),
        ((), {"minimum_calls": 30, "window_size": 20}),
        ((), {"window_seconds": 0}),
        ((), {"cooldown": -1}),
        ((), {"cooldown": float("inf")}),
        ((), {"clock": 1}),
    ],
)
def test_wrong_circuit_breakers_are_validation_errors(
    args: tuple[tuple[Any, ...], dict[str, Any]],
) -> None:
    with pytest.raises(ValidationError):
        CircuitBreaker(*args[0], **args[1])


@pytest.mark.parametrize("rate", [0, -1, float("nan"), "2", None])
def test_wrong_rate_limiters_are_validation_errors(rate: Any) -> None:
    with pytest.raises(ValidationError):
        RateLimiter(rate)
