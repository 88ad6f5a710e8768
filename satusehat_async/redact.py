"""Every redaction in one place: personal numbers, sensitive query values, secrets.

Whatever text may reach a log line, an error message, a metrics label or a screen is
passed through one of these first:

- :func:`redact_niks` / :func:`mask_nik` — NIKs (and any long digit run) masked;
- :func:`redact_url` — credentials and personal query values (``identifier``,
  ``name``, ``birthdate``...) replaced by ``***``, ``user:password@`` dropped;
- :func:`scrub_secrets` / :func:`scrubbed_error` — the client secret, in any encoding,
  and the value of any ``client_secret`` field, replaced by ``***``.
"""

from __future__ import annotations

import copy
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec
from yarl import URL

__all__ = [
    "SENSITIVE_PARAMS",
    "mask_nik",
    "redact_niks",
    "redact_url",
    "scrub_secrets",
    "scrubbed_error",
    "secret_forms",
]

# -- NIKs ------------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"[0-9]{12,}")


def mask_nik(value: str) -> str:
    """A value that may be a NIK, safe to show: ``3171012345678901`` -> ``3171********8901``.

    Values of 12 characters or more keep their first and last 4 (enough to tell which
    record a typo was made in), shorter ones are all ``*``.
    """
    if len(value) >= 12:
        return value[:4] + "********" + value[-4:]
    return "*" * len(value)


def redact_niks(text: str) -> str:
    """``text`` with every run of 12 or more digits masked by :func:`mask_nik`."""
    return _DIGIT_RUN.sub(lambda found: mask_nik(found.group()), text)


# -- URLs ------------------------------------------------------------------------------

# Query parameters whose values never reach a log line, a hook or a metric label:
# credentials, and personal data (a NIK inside `identifier=...|3201...`, a patient's name,
# birth date, gender, contact details — every Patient search parameter).
SENSITIVE_PARAMS = frozenset(
    {
        "client_id",
        "client_secret",
        "access_token",
        "token",
        "password",
        "identifier",
        "nik",
        "name",
        "given",
        "family",
        "birthdate",
        "gender",
        "address",
        "phone",
        "telecom",
        "email",
    }
)


def redact_url(url: str | URL) -> str:
    """The URL with sensitive query values replaced by ``***`` and no ``user:password@``."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
    except (TypeError, ValueError):
        return "<unparsable URL>"
    if parsed.user is not None or parsed.password is not None:
        parsed = parsed.with_user(None)
    if not parsed.query:
        return str(parsed)
    items = [(k, "***" if k.lower() in SENSITIVE_PARAMS else v) for k, v in parsed.query.items()]
    return str(parsed.with_query(items))


# -- secrets ---------------------------------------------------------------------------

# `client_secret` followed by its value, as a form (``client_secret=v&``), JSON
# (``"client_secret": "v"``) or a Python repr echoes it: the value is hidden even when
# the secret itself is not known here.
_SECRET_FIELD = re.compile(
    r"""(client[_-]?secret["']?\s*[=:]\s*)(?:(["'])(?:\\.|(?!\2).)*\2|[^&\s,;}\])"']+)""",
    re.IGNORECASE,
)
_HIDDEN = "***"
# Shorter secrets are hidden by their field only: replacing every "abc" would garble text.
_MIN_SCRUBBED_SECRET = 4

E = TypeVar("E", bound=BaseException)


def secret_forms(secrets: Iterable[str]) -> list[str]:
    """Each secret as it may appear: raw, URL-encoded (form and path), JSON-escaped."""
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) < _MIN_SCRUBBED_SECRET:
            continue
        forms.update(
            (
                secret,
                urllib.parse.quote_plus(secret),
                urllib.parse.quote(secret, safe=""),
                urllib.parse.quote(secret),
                msgspec.json.encode(secret).decode()[1:-1],
            )
        )
    return sorted(forms, key=len, reverse=True)  # longest first: no partial leftovers


def scrub_secrets(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` (text, or a body of dicts/lists) with the secrets and any ``client_secret``
    field's value replaced by ``***``; other values are returned as they are."""
    return _scrub(value, secret_forms(secrets))


def _scrub(value: Any, forms: list[str]) -> Any:
    if isinstance(value, str):
        for form in forms:
            value = value.replace(form, _HIDDEN)
        return _SECRET_FIELD.sub(lambda found: found.group(1) + _HIDDEN, value)
    if isinstance(value, (bytes, bytearray)):
        return _scrub(bytes(value).decode("utf-8", errors="replace"), forms).encode()
    if isinstance(value, dict):
        return {
            _scrub(key, forms): _HIDDEN
            if isinstance(key, str) and _SECRET_FIELD.match(f"{key}=x")
            else _scrub(item, forms)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(item, forms) for item in value)
    return value


def scrubbed_error(exc: E, secrets: Iterable[str]) -> E:
    """A copy of ``exc`` with secrets scrubbed from its message, body and arguments.

    The copy has no ``__cause__``/``__context__`` (the original, echoing the secret,
    must not ride along in the chain) and no traceback.
    """
    forms = secret_forms(secrets)
    clean = copy.copy(exc)
    clean.args = tuple(_scrub(arg, forms) for arg in exc.args)
    for name, value in vars(exc).items():
        setattr(clean, name, _scrub(value, forms))
    clean.__cause__ = clean.__context__ = None
    clean.__traceback__ = None
    return clean
