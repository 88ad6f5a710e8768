"""satusehat-async: an asyncio client for SATUSEHAT, Indonesia's national health-data API.

>>> from satusehat_async import SatuSehatClient
>>> async with SatuSehatClient.from_env() as client:          # doctest: +SKIP
...     async for facility in client.msi.facilities(jenis_sarana=[104]):
...         print(facility.kode_satusehat, facility.nama)
"""

__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names load on first use: `import satusehat_async` stays cheap
    from satusehat_async.auth import AccessToken, MemoryTokenStore, TokenStore
    from satusehat_async.client import SatuSehatClient
    from satusehat_async.config import Environment
    from satusehat_async.errors import (
        AmbiguousIdentifierError,
        AmbiguousMatchError,
        APIError,
        AuthenticationError,
        BadRequestError,
        CheckpointError,
        CircuitOpenError,
        ConfigurationError,
        ConflictError,
        ConsentError,
        ConsentRequiredError,
        CreateOutcomeUnknown,
        ForbiddenError,
        IncompleteSearchError,
        NotFoundError,
        RateLimitError,
        RequestTimeout,
        ResponseTooLarge,
        ResumeRefused,
        SatuSehatError,
        ServerError,
        TransactionError,
        TransportError,
        UnverifiableCreateOutcome,
        UnverifiableTransactionOutcome,
        ValidationError,
    )
    from satusehat_async.metrics import Metrics, RequestEvent
    from satusehat_async.resilience import CircuitBreaker, RateLimiter
    from satusehat_async.retry import RetryPolicy

__all__ = [
    "APIError",
    "AccessToken",
    "AmbiguousIdentifierError",
    "AmbiguousMatchError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointError",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigurationError",
    "ConflictError",
    "ConsentError",
    "ConsentRequiredError",
    "CreateOutcomeUnknown",
    "Environment",
    "ForbiddenError",
    "IncompleteSearchError",
    "MemoryTokenStore",
    "Metrics",
    "NotFoundError",
    "RateLimitError",
    "RateLimiter",
    "RequestEvent",
    "RequestTimeout",
    "ResponseTooLarge",
    "ResumeRefused",
    "RetryPolicy",
    "SatuSehatClient",
    "SatuSehatError",
    "ServerError",
    "TokenStore",
    "TransactionError",
    "TransportError",
    "UnverifiableCreateOutcome",
    "UnverifiableTransactionOutcome",
    "ValidationError",
    "__version__",
]

_HOMES = {
    "AmbiguousIdentifierError": "satusehat_async.errors",
    "IncompleteSearchError": "satusehat_async.errors",
    "UnverifiableCreateOutcome": "satusehat_async.errors",
    "TransactionError": "satusehat_async.errors",
    "UnverifiableTransactionOutcome": "satusehat_async.errors",
    "AmbiguousMatchError": "satusehat_async.errors",
    "CheckpointError": "satusehat_async.errors",
    "CreateOutcomeUnknown": "satusehat_async.errors",
    "ResumeRefused": "satusehat_async.errors",
    "AccessToken": "satusehat_async.auth",
    "MemoryTokenStore": "satusehat_async.auth",
    "TokenStore": "satusehat_async.auth",
    "SatuSehatClient": "satusehat_async.client",
    "Environment": "satusehat_async.config",
    "APIError": "satusehat_async.errors",
    "AuthenticationError": "satusehat_async.errors",
    "BadRequestError": "satusehat_async.errors",
    "CircuitOpenError": "satusehat_async.errors",
    "ConfigurationError": "satusehat_async.errors",
    "ConflictError": "satusehat_async.errors",
    "ConsentError": "satusehat_async.errors",
    "ConsentRequiredError": "satusehat_async.errors",
    "ForbiddenError": "satusehat_async.errors",
    "NotFoundError": "satusehat_async.errors",
    "RateLimitError": "satusehat_async.errors",
    "RequestTimeout": "satusehat_async.errors",
    "ResponseTooLarge": "satusehat_async.errors",
    "SatuSehatError": "satusehat_async.errors",
    "ServerError": "satusehat_async.errors",
    "TransportError": "satusehat_async.errors",
    "ValidationError": "satusehat_async.errors",
    "Metrics": "satusehat_async.metrics",
    "RequestEvent": "satusehat_async.metrics",
    "CircuitBreaker": "satusehat_async.resilience",
    "RateLimiter": "satusehat_async.resilience",
    "RetryPolicy": "satusehat_async.retry",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module when it is first used (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
