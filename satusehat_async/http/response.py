"""The :class:`Response` every request returns: a successful (2xx) answer, fully read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from multidict import CIMultiDictProxy

from satusehat_async.errors import APIError, body_summary
from satusehat_async.redact import redact_url

__all__ = ["Response"]


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
