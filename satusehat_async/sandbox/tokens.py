"""The sandbox's OAuth token endpoint and the gateway's token check.

Tokens are random, expire ``ttl`` seconds after issue by the injected clock, and are
checked the way SATUSEHAT's Apigee gateway does (401 ``fault`` envelopes).

Two knobs make the issuer misbehave on purpose, for tests of the client's defences:
``expires_in`` (what the answer claims, whatever the real ``ttl``) and ``access_token``
(the token value handed out).
"""

from __future__ import annotations

import math
import secrets
import string
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from aiohttp import web

from satusehat_async.sandbox.faults import auth_fault

__all__ = ["OMIT", "TokenIssuer", "application_name"]

OMIT: Any = object()
"""Set :attr:`TokenIssuer.expires_in` or :attr:`TokenIssuer.access_token` to this to leave
the field out of the token answer."""

_ALPHABET = string.ascii_letters + string.digits
_AUTH_FAILED = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "invalid",
            "code": "value",
            "details": {
                "text": "The user or system was not able to be authenticated "
                "(either client_id or client_secret combination is unacceptable)"
            },
        }
    ],
}
_encode = msgspec.json.Encoder().encode


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=_encode(body), content_type="application/json")


class TokenIssuer:
    """Issues access tokens for one client id and secret, and checks them.

    Attributes:
        ttl: how long an issued token really stays valid (seconds by ``clock``).
        expires_in: what the answer's ``expires_in`` says. None (the default) tells the
            truth as SATUSEHAT does (``str(int(ttl))``); any other value (``"0"``, ``-5``,
            ``"nan"``, ``1e300``, a list; a ``msgspec.Raw`` for a literal such as
            ``1e400``) is answered as given, and :data:`OMIT` leaves the field out. The
            token still lives ``ttl``.
        access_token: the token value to hand out instead of a random one (``""``, a
            value with CR/LF...), or :data:`OMIT` to leave it out. None: random.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        ttl: float,
        clock: Callable[[], float],
        application: str,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.ttl = ttl
        self.clock = clock
        self._application = application
        self.expires_in: Any = None
        self.access_token: Any = None
        self._expiry: dict[str, float] = {}  # access token -> expiry time by the clock

    def __len__(self) -> int:
        return len(self._expiry)

    def expire_all(self) -> None:
        """Expire every token issued so far."""
        for token in self._expiry:
            self._expiry[token] = -math.inf

    def issue(self, grant_type: str | None, form: Mapping[str, Any]) -> web.Response:
        """Answer a token request (``grant_type`` from the query string or the form)."""
        if grant_type != "client_credentials":
            error = (
                "Invalid grant_type" if not grant_type else f"Unsupported grant type : {grant_type}"
            )
            return _json(400, {"ErrorCode": "invalid_request", "Error": error})
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if (
            not isinstance(client_id, str)
            or not isinstance(client_secret, str)
            or not secrets.compare_digest(client_id.encode(), self.client_id.encode())
            or not secrets.compare_digest(client_secret.encode(), self.client_secret.encode())
        ):
            return _json(401, _AUTH_FAILED)
        token = self.access_token
        if token is None:
            token = "".join(secrets.choice(_ALPHABET) for _ in range(28))
        now = self.clock()
        if isinstance(token, str):
            self._expiry[token] = now + self.ttl
        answer = {
            "refresh_token_expires_in": "0",
            "api_product_list": "[api-sandbox]",
            "api_product_list_json": ["api-sandbox"],
            "organization_name": "ihs-prod-1",
            "developer.email": "sandbox@example.invalid",
            "token_type": "BearerToken",
            "issued_at": str(int(now * 1000)),
            "client_id": self.client_id,
            "access_token": token,
            "application_name": self._application,
            "scope": "",
            "expires_in": str(int(self.ttl)) if self.expires_in is None else self.expires_in,
            "refresh_count": "0",
            "status": "approved",
        }
        return _json(200, {key: value for key, value in answer.items() if value is not OMIT})

    def check(self, authorization: str | None) -> web.Response | None:
        """The 401 answer for a missing, unknown or expired bearer token, or None if valid."""
        scheme, _, token = (authorization or "").partition(" ")
        expiry = self._expiry.get(token.strip()) if scheme.lower() == "bearer" else None
        if expiry is None:
            return auth_fault(expired=False)
        if self.clock() >= expiry:
            return auth_fault(expired=True)
        return None


def application_name(seed: int) -> str:
    """A stable application id for the token answer's ``application_name``."""
    return str(uuid.UUID(int=seed % 2**128))
