"""Moved to :mod:`satusehat_async.auth.origins`; importable from here as before."""

from __future__ import annotations

from satusehat_async.auth.origins import Origins, origin, warn_plain_http

__all__ = ["Origins", "origin", "warn_plain_http"]
