"""Answers: reading a body within a size limit, and the decoded :class:`Response`.

A body is read in chunks as aiohttp inflates it (gzip, deflate), and reading stops as
soon as the *decompressed* size passes the limit: neither a huge body nor a small gzip
bomb can take more memory than the limit allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
from multidict import CIMultiDictProxy

from satusehat_async.errors import (
    APIError,
    ResponseTooLarge,
    body_summary,
    consent_error_from_body,
)
from satusehat_async.metrics import redact_url

__all__ = ["DEFAULT_MAX_RESPONSE_SIZE", "Response", "consent_error", "read_body"]

DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024
"""64 MiB: a full 2000-row MSI page is a few MB, so this leaves a wide margin."""

_IDENTITY = frozenset({"", "identity"})


@dataclass(frozen=True, slots=True)
class Response:
    """A successful (2xx) answer, fully read."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    method: str
    url: str
    attempts: int = 1

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-Id`` header."""
        return self.headers.get("X-Request-Id")

    def json(self) -> Any:
        """The body decoded as JSON (None for an empty body).

        A 2xx answer that is not JSON (a gateway's HTML maintenance page), or JSON nested
        too deeply to decode, raises APIError.
        """
        if not self.body.strip():
            return None
        try:
            return msgspec.json.decode(self.body)
        except (msgspec.DecodeError, RecursionError) as exc:
            content_type = self.headers.get("Content-Type")
            what = (
                "JSON nested too deeply to decode"
                if isinstance(exc, RecursionError)
                else f"expected JSON, got {content_type or 'no content type'}: "
                + body_summary(self.body, content_type)
            )
            raise APIError(
                what,
                status=self.status,
                request_id=self.request_id,
                body=self.body.decode("utf-8", errors="replace"),
                method=self.method,
                url=redact_url(self.url),
            ) from None


async def read_body(answer: aiohttp.ClientResponse, limit: int, *, method: str, url: str) -> bytes:
    """The whole (decompressed) body of ``answer``, or ResponseTooLarge past ``limit`` bytes.

    A ``Content-Length`` above the limit on an unencoded body is refused before reading.
    Otherwise chunks are counted as they arrive; the caller's ``async with`` then drops
    the half-read connection.
    """
    encoding = answer.headers.get("Content-Encoding", "").strip().lower()
    declared = answer.content_length
    if declared is not None and declared > limit and encoding in _IDENTITY:
        raise _too_large(method, url, limit, answer.status)
    chunks: list[bytes] = []
    size = 0
    async for chunk in answer.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _too_large(method, url, limit, answer.status)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(method: str, url: str, limit: int, status: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"{method} {url}: the answer (HTTP {status}) is larger than max_response_size "
        f"({limit:,} bytes); reading stopped",
        method=method,
        url=url,
        limit=limit,
        status=status,
    )


def consent_error(response: Response) -> APIError | None:
    """The ConsentError a 2xx answer carries (an OperationOutcome ``suppressed``), if any."""
    # Cheap pre-checks: only bodies mentioning "suppressed" can be a consent refusal, and
    # an OperationOutcome is small — a large body (a 2 MB page of facilities) is one only
    # if it says so at its start, so it is not scanned end to end on every page.
    body = response.body
    if len(body) > 65_536 and b"OperationOutcome" not in body[:512]:
        return None
    if b"suppressed" not in body:
        return None
    try:
        parsed = msgspec.json.decode(response.body)
    except (msgspec.DecodeError, RecursionError):
        return None  # not JSON (or too deep): the caller's .json() says so
    return consent_error_from_body(
        parsed,
        status=response.status,
        headers=response.headers,
        method=response.method,
        url=redact_url(response.url),
    )
