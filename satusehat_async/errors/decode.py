"""The pure decoding of every SATUSEHAT error shape into the exception tree.

Nothing here performs I/O: :func:`error_from_response` takes a status, headers and the
raw body and returns the exception to raise, so every shape the API is known to answer
with (see ``reference/satusehat-api.md``) is tested without a server.
"""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import msgspec

from satusehat_async.errors.consent import is_consent_refusal
from satusehat_async.errors.tree import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConsentError,
    ConsentRequiredError,
    ForbiddenError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from satusehat_async.redact import redact_niks

__all__ = [
    "body_summary",
    "consent_error_from_body",
    "decode_body",
    "error_from_response",
    "parse_retry_after",
]

# Long bodies (HTML pages, stack traces) are cut in messages; the full body stays on `.body`.
_MESSAGE_LIMIT = 300

_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    412: ConflictError,
    422: BadRequestError,
    429: RateLimitError,
}

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
_WWW_AUTH_DESC = re.compile(r'error_description="([^"]*)"')


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, val in headers.items():
            if key.lower() == lowered:
                return val
    return value


def _clip(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    if len(text) > _MESSAGE_LIMIT:
        return text[: _MESSAGE_LIMIT - 1] + "…"
    return text


def _outcome_message(outcome: Mapping[str, Any]) -> str:
    parts: list[str] = []
    issues = outcome.get("issue")
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, Mapping):
            continue
        details = issue.get("details")
        text = details.get("text") if isinstance(details, Mapping) else None
        bits = [b for b in (text, issue.get("diagnostics")) if isinstance(b, str) and b]
        code = issue.get("code")
        if not bits and isinstance(code, str):
            bits.append(code)
        expression = issue.get("expression")
        if isinstance(expression, list) and expression:
            where = [e for e in expression if isinstance(e, str)]
            if where:
                bits.append("at " + ", ".join(where))
        if bits:
            parts.append(": ".join(bits[:2]) + (f" ({bits[2]})" if len(bits) > 2 else ""))
    return "; ".join(parts)


def _json_message(body: Any) -> str | None:
    """The server's message from any known JSON error shape, or None for an unknown one."""
    if not isinstance(body, Mapping):
        return None
    if body.get("resourceType") == "OperationOutcome":
        return _outcome_message(body) or "OperationOutcome without a message"
    fault = body.get("fault")
    if isinstance(fault, Mapping):
        text = fault.get("faultstring")
        message = text if isinstance(text, str) and text else "gateway fault"
        detail = fault.get("detail")
        code = detail.get("errorcode") if isinstance(detail, Mapping) else None
        return f"{message} ({code})" if isinstance(code, str) and code else message
    if "ErrorCode" in body or "Error" in body:
        code, text = body.get("ErrorCode"), body.get("Error")
        return ": ".join(str(x) for x in (code, text) if isinstance(x, (str, int, float)) and x)
    # OAuth2 (RFC 6749 §5.2) style, used by standard token endpoints.
    if isinstance(body.get("error"), str):
        desc = body.get("error_description")
        return f"{body['error']}: {desc}" if isinstance(desc, str) and desc else body["error"]
    detail = body.get("detail")
    if isinstance(detail, list):  # FastAPI/pydantic (the KFA): {"detail": [{"loc", "msg"}]}
        return _fastapi_message(detail) or "request refused"
    for key in ("message", "detail", "title"):
        if isinstance(body.get(key), str) and body[key]:
            return str(body[key])
    return None


def _fastapi_message(detail: list[Any]) -> str:
    """FastAPI/pydantic validation errors as ``query.code: field required; ...``."""
    parts: list[str] = []
    for entry in detail:
        if not isinstance(entry, Mapping):
            continue
        loc = entry.get("loc")
        where = (
            ".".join(str(x) for x in loc if isinstance(x, (str, int)))
            if isinstance(loc, list)
            else ""
        )
        msg = entry.get("msg")
        text = msg if isinstance(msg, str) and msg else str(entry.get("type") or "invalid")
        parts.append(f"{where}: {text}" if where else text)
    return "; ".join(parts)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
            current = time.time() if now is None else now
            seconds = when.timestamp() - current
        except (TypeError, ValueError, OverflowError, AttributeError):
            return None  # not a date a server could mean (3.10 returns None for junk)
    if not math.isfinite(seconds):  # NaN, "inf", 1e400: no usable advice
        return None
    return max(0.0, seconds)


def decode_body(body: bytes, content_type: str | None) -> Any:
    """Parse a body as JSON when it looks like JSON, else return the text (None if empty)."""
    if not body or not body.strip():
        return None
    stripped = body.lstrip()
    if stripped[:1] in (b"{", b"["):
        try:
            parsed = msgspec.json.decode(body)
        except (msgspec.DecodeError, RecursionError):
            pass  # not JSON after all, or nested too deeply to decode: keep the text
        else:
            if not _deeper_than(parsed, _MAX_DEPTH):
                return parsed
            # kept as text: an error holding such a tree could not be pickled or printed
    return body.decode("utf-8", errors="replace")


# No error shape nests beyond a handful of levels; a body deeper than this is hostile.
_MAX_DEPTH = 64


def _deeper_than(value: Any, limit: int) -> bool:
    """Does ``value`` nest lists/dicts more than ``limit`` deep? (Iterative: no recursion.)"""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend(
                (child, depth + 1) for child in children if isinstance(child, (dict, list))
            )
    return False


def _text_message(text: str, content_type: str | None) -> str:
    looks_html = (content_type or "").startswith("text/html") or text.lstrip()[:1] == "<"
    if looks_html:
        match = _TITLE.search(text.encode())
        raw = match.group(1).decode(errors="replace") if match else _TAGS.sub(" ", text)
        return _clip(html.unescape(raw))
    return _clip(text)


def body_summary(body: bytes, content_type: str | None = None) -> str:
    """A short one-line description of a non-JSON body (an HTML page's title, clipped text)."""
    return _text_message(body.decode("utf-8", errors="replace"), content_type)


def _message(parsed: Any, body: bytes, content_type: str | None) -> str | None:
    if isinstance(parsed, str):
        return _text_message(parsed, content_type)
    message = _json_message(parsed)
    if message is None and parsed is not None:
        # an unknown JSON shape: its start is the best message there is
        message = _clip(body[: _MESSAGE_LIMIT * 4].decode("utf-8", errors="replace"))
    return message


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str = "",
    url: str = "",
) -> APIError:
    """Build the exception for an HTTP error answer. Pure: no I/O.

    Understands OperationOutcome (including ``severity: "invalid"``), the Apigee
    ``fault`` envelope, MSI's ``{status_code, message, data}``, ``{ErrorCode, Error}``,
    OAuth2 ``{error, error_description}``, ``text/plain``, HTML and empty bodies. A 400
    ``forbidden`` about consent is a :class:`ConsentRequiredError` (the rule:
    :func:`~satusehat_async.errors.consent.is_consent_refusal`).
    """
    content_type = _header(headers, "Content-Type")
    parsed = decode_body(body, content_type)
    message: str | None
    try:
        message = _message(parsed, body, content_type)
    except Exception:
        # Total by design: whatever a hostile body holds, the caller gets an APIError (and a
        # 5xx stays retryable) rather than a TypeError or RecursionError from parsing it.
        message = None
    if not message:
        www = _header(headers, "WWW-Authenticate")
        found = _WWW_AUTH_DESC.search(www) if www else None
        if found:
            message = found.group(1)
        else:
            try:
                message = HTTPStatus(status).phrase
            except ValueError:
                message = "error"
            message += " (empty body)" if not body.strip() else " (unreadable body)"
    # Servers quote what they refused (a NIK in a diagnostics text): mask it in messages;
    # the body itself stays on `.body` for whoever needs it.
    message = redact_niks(message)
    cls = _STATUS_CLASSES.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    elif cls is BadRequestError and is_consent_refusal(status, parsed):
        cls = ConsentRequiredError
    common: dict[str, Any] = {
        "status": status,
        "request_id": _header(headers, "X-Request-Id"),
        "body": parsed,
        "method": method,
        "url": url,
        "retry_after": parse_retry_after(_header(headers, "Retry-After")),
    }
    return cls(message, **common)


def consent_error_from_body(
    parsed: Any,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    method: str = "",
    url: str = "",
) -> ConsentError | None:
    """The error hidden in a 2xx answer: an OperationOutcome with an issue ``suppressed``.

    A successful answer that is an OperationOutcome with only informational issues and no
    ``suppressed`` code is returned as data by the caller (None here).
    """
    if not isinstance(parsed, Mapping) or parsed.get("resourceType") != "OperationOutcome":
        return None
    issues = parsed.get("issue")
    if not isinstance(issues, list) or not any(
        isinstance(i, Mapping) and i.get("code") == "suppressed" for i in issues
    ):
        return None
    return ConsentError(
        redact_niks(_outcome_message(parsed) or "data suppressed (consent or privacy)"),
        status=status,
        request_id=_header(headers or {}, "X-Request-Id"),
        body=parsed,
        method=method,
        url=url,
    )
