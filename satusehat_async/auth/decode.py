"""Reading a token endpoint's answer: the lifetime rules and the header-safety check.

A token answer's ``expires_in`` is believed when it is a number of seconds (SATUSEHAT
sends a string) of at least one second, cut to a day; anything else counts as unknown
and means an hour (see :func:`token_lifetime`). A token value unfit for a header never
gets past :func:`decode_token_response` (see :func:`usable_token`).
"""

from __future__ import annotations

import math
import re

import msgspec

from satusehat_async.auth.tokens import AccessToken
from satusehat_async.errors import AuthenticationError

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "MAX_TOKEN_LIFETIME",
    "MIN_TOKEN_LIFETIME",
    "decode_token_response",
    "token_lifetime",
    "usable_token",
]

DEFAULT_TOKEN_LIFETIME = 3600.0
"""Seconds a token is assumed to live when the answer's ``expires_in`` is unusable."""
MIN_TOKEN_LIFETIME = 1.0
"""The shortest ``expires_in`` believed; shorter (0, negative) counts as unusable."""
MAX_TOKEN_LIFETIME = 86_400.0
"""The longest lifetime used: a longer ``expires_in`` (``1e300``) is cut to one day."""

# A decimal number of seconds as a JSON number or string carries it; "nan", "inf",
# "Infinity", words, booleans, lists are not numbers (Python's float() would take some).
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A token goes verbatim into a header: visible ASCII only (RFC 6750's b64token and more),
# so CR/LF, spaces, controls and non-ASCII never reach it.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


class _TokenAnswer(msgspec.Struct):
    """Both token answers: SATUSEHAT's (numbers as strings, ``issued_at`` in ms) and RFC 6749's.

    Fields stay raw JSON so that a hostile value (``1e400``, a list, nesting) is judged
    here, field by field, instead of failing the whole answer.
    """

    access_token: msgspec.Raw = msgspec.Raw(b"null")
    expires_in: msgspec.Raw = msgspec.Raw(b"null")
    issued_at: msgspec.Raw = msgspec.Raw(b"null")
    token_type: msgspec.Raw = msgspec.Raw(b"null")


_token_decoder = msgspec.json.Decoder(_TokenAnswer)


def _raw_string(raw: msgspec.Raw) -> str | None:
    """A raw JSON value's content if it is a string, else None."""
    data = bytes(raw).strip()
    if not data.startswith(b'"'):
        return None
    try:
        return msgspec.json.decode(data, type=str)
    except msgspec.DecodeError:  # pragma: no cover - msgspec hands out valid JSON only
        return None


def _raw_text(raw: msgspec.Raw) -> str | None:
    """A raw JSON value as text: a string's content or a number's literal; else None."""
    string = _raw_string(raw)
    if string is not None:
        return string.strip()
    text = bytes(raw).strip().decode("ascii", errors="replace")
    return text if _DECIMAL.fullmatch(text) else None


def _seconds(raw: msgspec.Raw) -> float | None:
    """A JSON number (or numeric string) of seconds, ``inf`` when beyond a double."""
    text = _raw_text(raw)
    if text is None or not _DECIMAL.fullmatch(text):
        return None
    return float(text)  # a decimal literal never gives nan; an overflow gives inf


def token_lifetime(expires_in: object) -> float:
    """The lifetime in seconds to use for a token answer's ``expires_in``.

    A decimal number of seconds (a JSON number, or a string as SATUSEHAT sends it:
    ``"14399"``) from :data:`MIN_TOKEN_LIFETIME` up is believed, capped at
    :data:`MAX_TOKEN_LIFETIME`; anything else (missing, ``0``, negative, ``"nan"``,
    ``"inf"``, a word, a boolean) means unknown: :data:`DEFAULT_TOKEN_LIFETIME`.
    """
    if isinstance(expires_in, msgspec.Raw):
        seconds = _seconds(expires_in)
    elif isinstance(expires_in, (int, float, str)) and not isinstance(expires_in, bool):
        text = str(expires_in).strip()
        seconds = float(text) if _DECIMAL.fullmatch(text) else None
    else:
        seconds = None
    if seconds is None or not seconds >= MIN_TOKEN_LIFETIME:
        return DEFAULT_TOKEN_LIFETIME
    return min(seconds, MAX_TOKEN_LIFETIME)


def usable_token(value: object) -> bool:
    """Whether ``value`` may go into an ``Authorization`` header: visible ASCII, not blank."""
    return isinstance(value, str) and _TOKEN_CHARS.fullmatch(value) is not None


def _token_type(raw: msgspec.Raw) -> str:
    """The answer's token type as sent in the header; SATUSEHAT's ``BearerToken`` is Bearer."""
    token_type = (_raw_string(raw) or "").strip()
    if not usable_token(token_type) or token_type.lower() in ("bearertoken", "bearer"):
        return "Bearer"
    return token_type


def decode_token_response(body: bytes, *, now: float) -> AccessToken:
    """Decode a token endpoint's success body. Pure; raises AuthenticationError on nonsense.

    The lifetime follows :func:`token_lifetime`; an ``access_token`` that is missing,
    blank, not a string or not fit for a header (CR/LF, spaces, controls) is refused.
    """
    try:
        answer = _token_decoder.decode(body)
    except (msgspec.DecodeError, RecursionError) as exc:
        # The message names the problem, never the body (it may hold the token).
        raise AuthenticationError(
            f"token endpoint answered an unreadable body ({type(exc).__name__})", status=200
        ) from None
    access_token = _raw_string(answer.access_token)
    if access_token is None:
        raise AuthenticationError("token endpoint answered no access_token", status=200)
    if not usable_token(access_token):
        raise AuthenticationError(
            "token endpoint answered an access_token unfit for a header "
            "(blank, or with spaces, line breaks or control characters)",
            status=200,
        )
    issued_ms = _seconds(answer.issued_at)
    issued_at = issued_ms / 1000.0 if issued_ms is not None and math.isfinite(issued_ms) else None
    return AccessToken(
        access_token=access_token,
        issued_at=now,
        expires_at=now + token_lifetime(answer.expires_in),
        token_type=_token_type(answer.token_type),
        server_issued_at=issued_at,
    )
