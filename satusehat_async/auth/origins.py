"""Where the token may go: the configured origins, and paths resolved against the base URL.

The bearer token goes only to the configured SATUSEHAT origins — scheme, host and port
must all match, the port made explicit as browsers compare them. The bearer stage
(:mod:`satusehat_async.http.bearer`) adds the token; this module says where it may.
"""

from __future__ import annotations

import logging
import re

from yarl import URL

from satusehat_async.config import Endpoints
from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_url

__all__ = ["Origins", "origin", "warn_plain_http"]

logger = logging.getLogger("satusehat_async")

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_USERINFO = re.compile(r"//[^/?#@]*@")


def origin(url: str | URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) — the port made explicit (443 for https), as browsers compare."""
    parsed = url if isinstance(url, URL) else URL(url)
    return (parsed.scheme, (parsed.host or "").lower(), parsed.port)


def warn_plain_http(endpoints: Endpoints) -> None:
    """Log a warning for every endpoint reached over plain HTTP beyond this machine."""
    for url in (endpoints.auth_url, endpoints.fhir_url, endpoints.masterdata_url):
        parsed = URL(url)
        if parsed.scheme == "http" and parsed.host not in _LOOPBACK:
            logger.warning(
                "%s uses plain HTTP: credentials and health data would travel unencrypted",
                redact_url(parsed.with_query(None)),
            )


class Origins:
    """The configured endpoints' origins, and URL resolution against the base URL."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.base_url = endpoints.base_url
        self.trusted = frozenset(
            origin(url)
            for url in (
                endpoints.base_url,
                endpoints.auth_url,
                endpoints.fhir_url,
                endpoints.masterdata_url,
            )
        )

    def url_for(self, path_or_url: str) -> str:
        """Resolve ``"/path"`` against the base URL; absolute URLs pass through.

        A URL carrying credentials (``user:password@``) is refused without quoting them.
        """
        if not isinstance(path_or_url, str):
            raise ValidationError(f"expected a path or URL string, not {type(path_or_url)}")
        shown = _USERINFO.sub("//***@", path_or_url)
        if shown != path_or_url:
            raise ValidationError(f"URLs carrying credentials are refused: {shown!r}")
        if path_or_url.startswith(("https://", "http://")):
            return path_or_url
        if path_or_url.startswith("/"):
            return self.base_url + path_or_url
        raise ValidationError(
            f"expected a path starting with '/' or an absolute URL, got {shown!r}"
        )

    def check_token_may_go_to(self, url: str) -> None:
        """Refuse (ValidationError) to send the token to an origin not configured."""
        found = origin(url)
        if found not in self.trusted:
            scheme, host, port = found
            raise ValidationError(
                f"refusing to send the SATUSEHAT token to {host} ({scheme}, port {port}), "
                "which is not a configured endpoint; pass authenticate=False to call it "
                "without"
            )
