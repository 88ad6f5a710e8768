"""Moved to :mod:`satusehat_async.auth.fetch`; importable from here as before."""

from __future__ import annotations

from satusehat_async.auth.fetch import TOKEN_RETRY, fetch_token

__all__ = ["TOKEN_RETRY", "fetch_token"]
