"""Authentication: where tokens come from, how long they live, where they are kept and go.

- :mod:`.tokens` — :class:`AccessToken`, the :class:`TokenStore` seam,
  :class:`MemoryTokenStore` (the default), :func:`token_cache_key`.
- :mod:`.decode` — reading the token endpoint's answer: the lifetime rules
  (:func:`token_lifetime`) and header-safe tokens (:func:`usable_token`).
- :mod:`.provider` — :class:`TokenProvider`: one cached token per client, refreshed
  early and single-flight, held back after a failure.
- :mod:`.schedule` — how long a token call may take: :data:`TOKEN_RETRY` (one fetch) and
  :data:`TOKEN_HOLD_BACK` (after a failure), both schedules of the one retry engine.
- :mod:`.fetch` — the client-credentials request, sent through the request stages.
- :mod:`.redis` — :class:`RedisTokenStore`, one token for every process (the ``redis``
  extra, imported only when a store is built).
- :mod:`.origins` — the origins the token may be sent to.

The request stage that adds the token and replays a request once after a 401 is
:mod:`satusehat_async.http.bearer`.
"""

from __future__ import annotations

from satusehat_async.auth.decode import (
    DEFAULT_TOKEN_LIFETIME,
    MAX_TOKEN_LIFETIME,
    MIN_TOKEN_LIFETIME,
    decode_token_response,
    token_lifetime,
    usable_token,
)
from satusehat_async.auth.fetch import fetch_token
from satusehat_async.auth.provider import TokenProvider
from satusehat_async.auth.redis import RedisTokenStore
from satusehat_async.auth.schedule import TOKEN_HOLD_BACK, TOKEN_RETRY, HoldBack
from satusehat_async.auth.tokens import AccessToken, MemoryTokenStore, TokenStore, token_cache_key

# scrub_secrets lives in satusehat_async.redact (every redaction in one place); it stays
# importable from here, where it was first published.
from satusehat_async.redact import scrub_secrets

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "MAX_TOKEN_LIFETIME",
    "MIN_TOKEN_LIFETIME",
    "TOKEN_HOLD_BACK",
    "TOKEN_RETRY",
    "AccessToken",
    "HoldBack",
    "MemoryTokenStore",
    "RedisTokenStore",
    "TokenProvider",
    "TokenStore",
    "decode_token_response",
    "fetch_token",
    "scrub_secrets",
    "token_cache_key",
    "token_lifetime",
    "usable_token",
]
