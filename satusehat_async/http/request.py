"""The first stage, pure: a call's arguments become one prepared :class:`Request`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from yarl import URL

from satusehat_async.errors import ValidationError
from satusehat_async.params import Params, encode_params

__all__ = ["Request", "build_request", "host_of"]

_json_encoder = msgspec.json.Encoder()


def host_of(url: URL) -> str:
    """The circuit breaker's key for ``url``: its host, with an explicit port if any."""
    return f"{url.host}:{url.explicit_port}" if url.explicit_port else str(url.host)


@dataclass(frozen=True, slots=True)
class Request:
    """A request ready to send: method upper-cased, query encoded, body bytes, headers set.

    The bearer token is not among the headers: the auth stage adds it per attempt.
    """

    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        return f"Request({self.method} {self.url.with_query(None)!s})"

    @property
    def host(self) -> str:
        """The breaker's key (see :func:`host_of`)."""
        return host_of(self.url)


def build_request(
    method: str,
    url: str,
    *,
    params: Params | None = None,
    json: Any = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    user_agent: str = "satusehat-async",
) -> Request:
    """Prepare a request; bad input raises ValidationError before anything is sent."""
    if json is not None and content is not None:
        raise ValidationError("pass json or content, not both")
    body = _json_encoder.encode(json) if json is not None else content
    prepared = {"User-Agent": user_agent, "Accept": "application/json"}
    if json is not None:
        prepared["Content-Type"] = "application/json"
    prepared.update(headers or {})
    target = URL(url)
    if target.user is not None or target.password is not None:
        # a backend would turn them into a Basic header (clashing with the bearer one)
        raise ValidationError("URLs carrying credentials (user:password@) are refused")
    if params:
        target = target.update_query(encode_params(params))
    return Request(method.upper(), target, prepared, body or b"")
