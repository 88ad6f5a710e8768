"""The exception tree (:mod:`.tree`) and the pure decoding of error answers (:mod:`.decode`).

Everything the library raises is a :class:`SatuSehatError`; each error answers for
itself whether it may be retried, whether a write may have committed and whether it
counts against the host (see :mod:`satusehat_async.errors.tree`).
"""

from __future__ import annotations

from satusehat_async.errors.consent import is_consent_refusal
from satusehat_async.errors.decode import (
    body_summary,
    consent_error_from_body,
    decode_body,
    error_from_response,
    parse_retry_after,
)
from satusehat_async.errors.outcomes import (
    AmbiguousIdentifierError,
    AmbiguousMatchError,
    CheckpointError,
    CreateOutcomeUnknown,
    IncompleteSearchError,
    ResumeRefused,
    TransactionError,
    UnverifiableCreateOutcome,
    UnverifiableTransactionOutcome,
)
from satusehat_async.errors.tree import (
    DEFAULT_RETRY_STATUSES,
    APIError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ConfigurationError,
    ConflictError,
    ConsentError,
    ConsentRequiredError,
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

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "APIError",
    "AmbiguousIdentifierError",
    "AmbiguousMatchError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointError",
    "CircuitOpenError",
    "ConfigurationError",
    "ConflictError",
    "ConsentError",
    "ConsentRequiredError",
    "CreateOutcomeUnknown",
    "ForbiddenError",
    "IncompleteSearchError",
    "NotFoundError",
    "RateLimitError",
    "RequestTimeout",
    "ResponseTooLarge",
    "ResumeRefused",
    "SatuSehatError",
    "ServerError",
    "TransactionError",
    "TransportError",
    "UnverifiableCreateOutcome",
    "UnverifiableTransactionOutcome",
    "ValidationError",
    "body_summary",
    "consent_error_from_body",
    "decode_body",
    "error_from_response",
    "is_consent_refusal",
    "parse_retry_after",
]
