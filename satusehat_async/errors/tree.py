"""The exception tree, and the facts each error answers about itself.

Three questions are answered here, once, by the error's own class and fields — never
re-derived by the code that catches it:

- :attr:`~SatuSehatError.retryable`: may the request be sent again at all (a 5xx,
  429 or 408 answer, a transient connection failure)? Whether it *will* be also depends
  on the request's idempotency and the retry policy (:func:`~satusehat_async.retry.may_retry`).
- :attr:`~SatuSehatError.may_have_committed`: could a write have taken effect on the
  server (the request left and no definite answer came back: a dropped connection, a
  timeout, a 5xx, 408 or 429)?
- :attr:`~SatuSehatError.host_unhealthy`: does the error count against the host in the
  circuit breaker (as opposed to the host refusing our input, which proves it is up)?
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ConfigurationError",
    "ConflictError",
    "ConsentError",
    "ConsentRequiredError",
    "ForbiddenError",
    "NotFoundError",
    "RateLimitError",
    "RequestTimeout",
    "ResponseTooLarge",
    "SatuSehatError",
    "ServerError",
    "TransportError",
    "ValidationError",
]

DEFAULT_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth another attempt (a :class:`RetryPolicy` may choose its own)."""

# Answers after which a write may or may not have been applied: the server failed or
# gave up mid-way (5xx), timed out reading us (408), or a gateway shed it (429).
_UNSETTLED_STATUSES = frozenset({408, 429})


def _rebuild(cls: type[Exception], args: tuple[Any, ...], state: dict[str, Any]) -> Exception:
    """Unpickle an exception without calling its ``__init__``."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class SatuSehatError(Exception):
    """Base class of every error this library raises.

    Its three facts are all False: an error that is neither an HTTP answer nor a
    connection failure (bad input, a closed client...) is never retried, never
    committed anything and says nothing about the host.
    """

    @property
    def retryable(self) -> bool:
        """May the request that failed so be sent again (given it is idempotent)?"""
        return False

    @property
    def may_have_committed(self) -> bool:
        """Could a write that failed so have taken effect on the server?"""
        return False

    @property
    def host_unhealthy(self) -> bool:
        """Does this outcome count against the host in the circuit breaker?"""
        return False


class ConfigurationError(SatuSehatError):
    """The client is misconfigured (a missing credential, an unknown environment...)."""


class ValidationError(SatuSehatError, ValueError):
    """Bad input caught before anything was sent."""


class TransportError(SatuSehatError):
    """The request failed below HTTP: connection refused or reset, DNS, TLS, dropped answer.

    ``sent`` tells whether the request may have reached the server (``False`` only when
    it provably did not, such as a refused connection). ``transient`` is False for
    failures that retrying cannot heal (a TLS certificate problem). ``kind`` names the
    failure for metrics and logs (``"timeout"``, the HTTP library's exception class).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        sent: bool = True,
        transient: bool = True,
        kind: str | None = None,
    ):
        super().__init__(message)
        self.method = method
        self.url = url
        self.sent = sent
        self.transient = transient
        self.kind = kind or type(self).__name__

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (process pools, task queues) despite keyword-only arguments.
        return (_rebuild, (type(self), self.args, self.__dict__))

    @property
    def retryable(self) -> bool:
        return self.transient

    @property
    def may_have_committed(self) -> bool:
        return self.sent

    @property
    def host_unhealthy(self) -> bool:
        return True


class RequestTimeout(TransportError):
    """No complete answer arrived within the configured timeout."""


class ResponseTooLarge(TransportError):
    """The answer (after decompression) exceeded the client's ``max_response_size``.

    Reading stopped at the limit and the connection was dropped, so a hostile or broken
    server cannot exhaust memory. Not transient: the same request would get the same
    answer. ``limit`` is the size in bytes; ``status`` the HTTP status of the answer.
    """

    def __init__(self, message: str, *, method: str = "", url: str = "", limit: int, status: int):
        super().__init__(message, method=method, url=url, sent=True, transient=False)
        self.limit = limit
        self.status = status

    @property
    def host_unhealthy(self) -> bool:
        return False  # the host answered; the answer is the problem


class CircuitOpenError(SatuSehatError):
    """The circuit breaker for a host is open: failing fast instead of piling on."""

    def __init__(self, host: str, retry_in: float):
        super().__init__(
            f"circuit open for {host}: too many of its recent calls failed; "
            f"retrying allowed in {retry_in:.1f}s"
        )
        self.host = host
        self.retry_in = retry_in

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class APIError(SatuSehatError):
    """An HTTP error answer from SATUSEHAT.

    Attributes:
        status: the HTTP status code.
        message: the server's own message, as well as it could be extracted.
        request_id: the ``X-Request-Id`` header, for support tickets.
        retry_after: the ``Retry-After`` header in seconds, when the server sent one.
        body: the parsed body (an OperationOutcome, an envelope, or the text), or None.
        method, url: the request (the URL never carries a secret).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        body: Any = None,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
    ):
        self.message = message
        self.retry_after = retry_after
        self.status = status
        self.request_id = request_id
        self.body = body
        self.method = method
        self.url = url
        super().__init__(self._format())

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))

    def _format(self) -> str:
        text = f"HTTP {self.status}: {self.message}"
        if self.request_id:
            text += f" (X-Request-Id: {self.request_id})"
        return text

    @property
    def operation_outcome(self) -> dict[str, Any] | None:
        """The OperationOutcome carried by the answer, if it was one."""
        if isinstance(self.body, dict) and self.body.get("resourceType") == "OperationOutcome":
            return self.body
        return None

    @property
    def retryable(self) -> bool:
        return self.status in DEFAULT_RETRY_STATUSES

    @property
    def may_have_committed(self) -> bool:
        return self.status >= 500 or self.status in _UNSETTLED_STATUSES

    @property
    def host_unhealthy(self) -> bool:
        return self.status >= 500 or self.status in _UNSETTLED_STATUSES

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, message={self.message!r}, "
            f"request_id={self.request_id!r})"
        )


class BadRequestError(APIError):
    """400/422: the server refused the request as invalid."""


class AuthenticationError(APIError):
    """The token endpoint refused the credentials, or a 401 survived a token refresh."""


class ForbiddenError(APIError):
    """403: the credentials may not do this (often an HTML page from the gateway)."""


class NotFoundError(APIError):
    """404: no such resource (or a wrong URL, answered with an empty body)."""


class ConflictError(APIError):
    """409/412: a version conflict or a failed precondition."""


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` holds the server's advice in seconds."""


class ServerError(APIError):
    """5xx: the server or the gateway in front of it failed."""


class ConsentError(APIError):
    """HTTP 200 carrying an OperationOutcome ``suppressed``: data withheld (consent/privacy)."""


class ConsentRequiredError(BadRequestError):
    """400 OperationOutcome ``forbidden`` about consent: the patient has not opted in.

    SATUSEHAT refuses a read of a patient's clinical data with this while the patient has
    never given consent ("belum OPTIN"); ``client.consent.update(patient, action="OPTIN",
    agent=...)`` records it. Distinct from :class:`ConsentError` (an HTTP 200 answer
    ``suppressed``: data withheld, e.g. after an OPTOUT) and never retryable. The rule that
    tells it from other ``forbidden`` refusals is
    :func:`satusehat_async.errors.consent.is_consent_refusal`.
    """
