"""Which proxy a request goes through: an explicit ``proxy=``, else the environment.

The environment is read the way ``urllib``, httpx and aiohttp read it (``HTTP_PROXY``,
``HTTPS_PROXY``, ``NO_PROXY``, lower-case too; the system settings on Windows and
macOS), once when the client is created. The lookup is done here rather than with
aiohttp's ``trust_env=True``, which would also add ``~/.netrc`` credentials to our
requests (and fail on the bearer header) and hop to a thread on every request.
"""

from __future__ import annotations

import base64
import logging
import urllib.request
from collections.abc import Mapping

from yarl import URL

from satusehat_async.errors import ConfigurationError
from satusehat_async.metrics import redact_url

__all__ = ["ProxyResolver"]

logger = logging.getLogger("satusehat_async")

Proxy = tuple[URL | None, Mapping[str, str] | None]
"""A proxy URL (None: go direct) and the headers for it (``Proxy-Authorization``)."""


def _parse(source: str, value: str) -> Proxy:
    text = value.strip()
    if "://" not in text:
        text = "http://" + text  # "proxy.local:3128", as curl and httpx read it
    try:
        url = URL(text)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{source} is not a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"{source} must be an http:// or https:// proxy URL, got {url.scheme}://..."
        )
    headers: dict[str, str] | None = None
    if url.user:
        # aiohttp ignores credentials in a per-request proxy URL, and its proxy_auth is
        # deprecated: send them as the header itself (RFC 7617, UTF-8)
        pair = f"{url.user}:{url.password or ''}".encode()
        headers = {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return url.with_user(None).with_path("").with_query(None), headers


class ProxyResolver:
    """The proxy for each request URL.

    Args:
        proxy: an ``http://[user:pass@]host:port`` proxy for every request; wins over
            the environment.
        trust_env: read the proxy variables (ignored when ``proxy`` is given).
    """

    def __init__(self, proxy: str | None = None, *, trust_env: bool = True) -> None:
        self._explicit: Proxy | None = _parse("proxy", proxy) if proxy is not None else None
        self._env: dict[str, Proxy] = {}
        self._trust_env = trust_env and proxy is None
        if self._trust_env:
            for scheme, value in urllib.request.getproxies().items():
                if scheme in ("http", "https") and value:
                    self._env[scheme] = _parse(f"the {scheme.upper()}_PROXY setting", value)
        self._decided: dict[tuple[str, str], Proxy] = {}
        if self._explicit is not None:
            logger.debug("requests go through the proxy %s", redact_url(self._explicit[0] or ""))

    def __repr__(self) -> str:
        explicit = self._explicit is not None
        return f"ProxyResolver(explicit={explicit}, from_env={sorted(self._env)})"

    @property
    def active(self) -> bool:
        """Is any proxy configured at all?"""
        return self._explicit is not None or bool(self._env)

    def for_url(self, url: URL) -> Proxy:
        """``(proxy URL or None, headers for the proxy or None)`` for a request to ``url``."""
        if self._explicit is not None:
            return self._explicit
        if not self._env:
            return None, None
        key = (url.scheme, url.host or "")
        decided = self._decided.get(key)
        if decided is None:
            env = self._env.get(url.scheme)
            # NO_PROXY (or the system's bypass list) names hosts reached directly
            if env is None or (url.host and urllib.request.proxy_bypass(url.host)):
                decided = (None, None)
            else:
                decided = env
            self._decided[key] = decided
        return decided
