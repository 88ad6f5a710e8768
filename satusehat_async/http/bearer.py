"""The auth stage: the bearer token on every attempt, one replay after a 401 about it.

As in httpx's auth flows, the stage wraps the exchange: it adds the header, looks at
the answer and may send the request once more with a fresh token. Whether a 401 is
about the token — and so worth a refresh — is decided here, beside the auth, by
:func:`token_problem`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from satusehat_async.errors import TransportError
from satusehat_async.http.backend import BackendResponse

if TYPE_CHECKING:
    from satusehat_async.auth import TokenProvider

__all__ = ["Authorize", "BearerFlow", "Exchange", "token_problem"]

logger = logging.getLogger("satusehat_async.transport")

Authorize = Callable[[], Awaitable[Mapping[str, str]]]
"""Gives the headers that authorize one attempt (called just before it leaves)."""

Exchange = Callable[[Authorize], Awaitable["BackendResponse | TransportError"]]
"""Sends the request, authorized by the headers ``Authorize`` gives just before it leaves;
a connection failure comes back as a value."""

_NO_PRODUCT = "NoApiProductMatchFound"


def token_problem(answer: BackendResponse) -> bool:
    """Is this 401 about the token (expired, invalid) — worth a refresh and a replay?

    A 401 saying the credentials have no API product for this endpoint
    (``InvalidAPICallAsNoApiProductMatchFound``) will not heal with a new token.
    """
    return answer.status == 401 and (
        _NO_PRODUCT not in answer.headers.get("WWW-Authenticate", "")
        and _NO_PRODUCT.encode() not in answer.body
    )


class BearerFlow:
    """Bearer auth for one logical request: at most one 401 replay across all its attempts.

    Errors getting a token propagate: they are not the outcome of the request's host.
    """

    __slots__ = ("_tokens", "replayed")

    def __init__(self, tokens: TokenProvider) -> None:
        self._tokens = tokens
        self.replayed = False

    async def send(self, exchange: Exchange, where: str) -> BackendResponse | TransportError:
        """Run ``exchange`` with the token; replay once if the answer is a 401 about it."""
        while True:
            used: list[str] = []

            async def authorize(used: list[str] = used) -> Mapping[str, str]:
                # Asked for once the attempt holds its connection slot and rate-limit
                # turn, so the token is as fresh as it can be when the request leaves.
                token = (await self._tokens.token()).access_token
                used.append(token)
                return {"Authorization": f"Bearer {token}"}

            answer = await exchange(authorize)
            if (
                self.replayed
                or not isinstance(answer, BackendResponse)
                or not token_problem(answer)
            ):
                return answer
            # Expired or revoked: refresh once and replay, without spending a retry.
            self.replayed = True
            await self._tokens.invalidate(used[-1])
            logger.info("%s: 401, refreshing the token, replaying", where)
