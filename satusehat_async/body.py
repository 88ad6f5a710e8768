"""Moved: :class:`Response` to :mod:`satusehat_async.http.response`, the bounded reader to
:mod:`satusehat_async.http.aiohttp_backend`, consent detection to
:mod:`satusehat_async.http.classify`. Importable from here as before."""

from __future__ import annotations

from satusehat_async.http.aiohttp_backend import read_body
from satusehat_async.http.backend import DEFAULT_MAX_RESPONSE_SIZE
from satusehat_async.http.classify import consent_error
from satusehat_async.http.response import Response

__all__ = ["DEFAULT_MAX_RESPONSE_SIZE", "Response", "consent_error", "read_body"]
