"""Asking the token endpoint for a token (client credentials), through the request stages.

The request goes through the transport like any other — breaker, the one retry loop
(under :data:`~satusehat_async.auth.schedule.TOKEN_RETRY`), rate limit — without a
bearer token of its own.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING

from satusehat_async.auth.decode import decode_token_response
from satusehat_async.auth.schedule import TOKEN_RETRY
from satusehat_async.auth.tokens import AccessToken
from satusehat_async.errors import APIError, AuthenticationError

if TYPE_CHECKING:
    from satusehat_async.http.transport import Transport

__all__ = ["TOKEN_RETRY", "fetch_token"]


def _form(client_id: str, client_secret: str) -> bytes:
    """The client-credentials form body."""
    return urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
    ).encode()


def _as_refusal(exc: APIError) -> AuthenticationError:
    """An HTTP refusal of the token request (a 500, a 429...) as the AuthenticationError it
    means: no token."""
    return AuthenticationError(
        f"token request refused: {exc.message}",
        status=exc.status,
        request_id=exc.request_id,
        body=exc.body,
        method=exc.method,
        url=exc.url,
    )


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
    try:
        response = await transport.send(
            "POST",
            auth_url,
            params={"grant_type": "client_credentials"},
            content=_form(client_id, client_secret),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            authenticate=False,
            idempotent=True,
            retry=TOKEN_RETRY,
        )
    except AuthenticationError:
        raise
    except APIError as exc:
        raise _as_refusal(exc) from None
    return decode_token_response(response.body, now=clock())
