"""satusehat-async: an asyncio client for SATUSEHAT, Indonesia's national health-data API.

>>> from satusehat_async import SatuSehatClient
>>> async with SatuSehatClient.from_env() as client:          # doctest: +SKIP
...     async for facility in client.msi.facilities(jenis_sarana=[104]):
...         print(facility.kode_satusehat, facility.nama)
"""

__version__ = "0.1.0"

from satusehat_async.auth import AccessToken, MemoryTokenStore, TokenStore
from satusehat_async.client import SatuSehatClient
from satusehat_async.config import Environment
from satusehat_async.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ConfigurationError,
    ConflictError,
    ConsentError,
    ForbiddenError,
    NotFoundError,
    RateLimitError,
    RequestTimeout,
    ResponseTooLarge,
    SatuSehatError,
    ServerError,
    TransportError,
    ValidationError,
)
from satusehat_async.metrics import Metrics, RequestEvent
from satusehat_async.resilience import CircuitBreaker, RateLimiter
from satusehat_async.retry import RetryPolicy

__all__ = [
    "APIError",
    "AccessToken",
    "AuthenticationError",
    "BadRequestError",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigurationError",
    "ConflictError",
    "ConsentError",
    "Environment",
    "ForbiddenError",
    "MemoryTokenStore",
    "Metrics",
    "NotFoundError",
    "RateLimitError",
    "RateLimiter",
    "RequestEvent",
    "RequestTimeout",
    "ResponseTooLarge",
    "RetryPolicy",
    "SatuSehatClient",
    "SatuSehatError",
    "ServerError",
    "TokenStore",
    "TransportError",
    "ValidationError",
    "__version__",
]
