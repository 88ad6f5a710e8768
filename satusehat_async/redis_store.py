"""Moved to :mod:`satusehat_async.auth.redis`; importable from here as before.

Importing this module does not import the ``redis`` package: building a store does.
"""

from __future__ import annotations

from satusehat_async.auth.redis import RedisTokenStore

__all__ = ["RedisTokenStore"]
