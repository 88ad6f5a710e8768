"""Asking the token endpoint for a token (client credentials), through the request stages."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

from satusehat_async.auth import AccessToken, decode_token_response
from satusehat_async.errors import APIError, AuthenticationError
from satusehat_async.http.retry import RetryPolicy
from satusehat_async.http.transport import Transport

__all__ = ["TOKEN_RETRY", "fetch_token"]

# The token endpoint is said to allow about one attempt a minute after a failure: one
# spaced retry for a passing fault, then TokenProvider holds back (15, 30, 60 s).
TOKEN_RETRY = RetryPolicy(max_attempts=2, base_delay=2.0, max_delay=2.0, max_time=30.0)


async def fetch_token(
    transport: Transport,
    auth_url: str,
    client_id: str,
    client_secret: str,
    *,
    clock: Callable[[], float],
) -> AccessToken:
    """One token fetch; a refusal of any kind is an AuthenticationError.

    ``clock`` (epoch seconds) is read when the answer arrived: the token's lifetime
    starts then.
    """
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
    ).encode()
    try:
        response = await transport.send(
            "POST",
            auth_url,
            params={"grant_type": "client_credentials"},
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            authenticate=False,
            idempotent=True,
            retry=TOKEN_RETRY,
        )
    except APIError as exc:
        if isinstance(exc, AuthenticationError):
            raise
        raise AuthenticationError(
            f"token request refused: {exc.message}",
            status=exc.status,
            request_id=exc.request_id,
            body=exc.body,
            method=exc.method,
            url=exc.url,
        ) from None
    return decode_token_response(response.body, now=clock())
