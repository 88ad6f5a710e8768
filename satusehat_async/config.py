"""Environments, endpoint URLs and settings read from the environment."""

from __future__ import annotations

import enum
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from satusehat_async.errors import ConfigurationError

__all__ = ["ENV_VARS", "Endpoints", "Environment", "Settings"]

ENV_VARS = (
    "SATUSEHAT_CLIENT_ID",
    "SATUSEHAT_CLIENT_SECRET",
    "SATUSEHAT_ENV",
    "SATUSEHAT_BASE_URL",
    "SATUSEHAT_AUTH_URL",
    "SATUSEHAT_FHIR_URL",
    "SATUSEHAT_MASTERDATA_URL",
    "SATUSEHAT_ORGANIZATION_ID",
)

AUTH_PATH = "/oauth2/v1/accesstoken"
FHIR_PATH = "/fhir-r4/v1"
MASTERDATA_PATH = "/masterdata/v1"


class Environment(str, enum.Enum):
    """A SATUSEHAT deployment. The value is its base URL."""

    SANDBOX = "https://api-satusehat-stg.dto.kemkes.go.id"
    PRODUCTION = "https://api-satusehat.kemkes.go.id"

    @property
    def base_url(self) -> str:
        """The deployment's base URL (no trailing slash)."""
        return self.value

    @classmethod
    def parse(cls, value: str | Environment) -> Environment:
        """Accept a member or a name: ``sandbox`` (``staging``) or ``production`` (``prod``)."""
        if isinstance(value, Environment):
            return value
        aliases = {
            "sandbox": cls.SANDBOX,
            "staging": cls.SANDBOX,
            "stg": cls.SANDBOX,
            "production": cls.PRODUCTION,
            "prod": cls.PRODUCTION,
        }
        key = str(value).strip().lower()
        if key in aliases:
            return aliases[key]
        if "/" in key or "@" in key:  # a URL (perhaps with a password): never echoed
            raise ConfigurationError(
                "unknown SATUSEHAT environment: expected 'sandbox' or 'production'; "
                "a URL goes in base_url (SATUSEHAT_BASE_URL)"
            )
        raise ConfigurationError(
            f"unknown SATUSEHAT environment {str(value)[:40]!r}: expected 'sandbox' or 'production'"
        )


def _shown(url: str) -> str:
    """``url`` safe for a message: no query or fragment, nothing before an ``@``."""
    url = re.split(r"[?#]", url, maxsplit=1)[0]
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" in rest:  # user:password@ — or a password with a '/' in it: mask it all
        rest = "***@" + rest.rpartition("@")[2]
    shown = scheme + sep + rest
    return shown if len(shown) <= 120 else shown[:117] + "..."


def _check_url(name: str, url: object) -> str:
    """``url`` stripped of a trailing ``/``; ConfigurationError, naming ``name``, if unusable.

    Credentials in the URL (``https://user:password@host``) are refused: the client
    authenticates with its client id and secret, and a password in a URL would reach
    logs and error messages. No message ever shows the part before an ``@``.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"{name} must be a string, not {type(url).__name__}")
    url = url.strip().rstrip("/")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ConfigurationError(
            f"{name} must not contain spaces or control characters, got {_shown(url)!r}"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - validates the port (a number, 0-65535)
    except ValueError:
        raise ConfigurationError(f"{name} is not a valid URL: {_shown(url)!r}") from None
    if parts.scheme not in ("https", "http") or not url.lower().startswith(parts.scheme + "://"):
        raise ConfigurationError(f"{name} must be an http(s) URL, got {_shown(url)!r}")
    if "@" in parts.netloc:
        raise ConfigurationError(
            f"{name} must not carry credentials (user:password@): SATUSEHAT authenticates "
            f"with client_id and client_secret; got {_shown(url)!r}"
        )
    if not parts.hostname:
        raise ConfigurationError(f"{name} has no host: {_shown(url)!r}")
    return url


def _resolve(
    environment: str | Environment, urls: Mapping[str, str | None], names: Mapping[str, str]
) -> Endpoints:
    """The endpoints from ``urls`` (keyed by field); errors name ``names[field]``."""
    try:
        env = Environment.parse(environment)
    except ConfigurationError as exc:
        where = names.get("environment")
        raise ConfigurationError(f"{where}: {exc}" if where else str(exc)) from None
    base = _check_url(names["base_url"], urls.get("base_url") or env.base_url)
    defaults = {"auth_url": AUTH_PATH, "fhir_url": FHIR_PATH, "masterdata_url": MASTERDATA_PATH}
    parts = {
        field: _check_url(names[field], urls.get(field) or base + path)
        for field, path in defaults.items()
    }
    return Endpoints(base_url=base, **parts)


def organization_id_setting(value: object, name: str = "SATUSEHAT_ORGANIZATION_ID") -> str | None:
    """An organization id setting, checked: None or blank is None; else an Organization
    id such as ``100025753`` (ConfigurationError naming ``name`` otherwise)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, not {type(value).__name__}")
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", value) or value in (".", ".."):
        raise ConfigurationError(f"{name} must be an Organization id (such as 100025753)")
    return value


_FIELDS = ("base_url", "auth_url", "fhir_url", "masterdata_url")


@dataclass(frozen=True)
class Endpoints:
    """The resolved URLs: a base and the three parts that derive from it unless overridden."""

    base_url: str
    auth_url: str
    fhir_url: str
    masterdata_url: str

    @classmethod
    def resolve(
        cls,
        environment: str | Environment = Environment.SANDBOX,
        *,
        base_url: str | None = None,
        auth_url: str | None = None,
        fhir_url: str | None = None,
        masterdata_url: str | None = None,
    ) -> Endpoints:
        """Derive the endpoints: ``base_url`` overrides the environment, each part its own.

        Raises ConfigurationError for a URL that is not http(s), has no host or a bad
        port, or carries credentials (``user:password@``), naming the argument but never
        showing the credentials.
        """
        urls = {
            "base_url": base_url,
            "auth_url": auth_url,
            "fhir_url": fhir_url,
            "masterdata_url": masterdata_url,
        }
        return _resolve(environment, urls, {field: field for field in _FIELDS})


@dataclass(frozen=True)
class Settings:
    """Credentials and endpoints read from ``SATUSEHAT_*`` environment variables."""

    client_id: str
    client_secret: str
    endpoints: Endpoints
    organization_id: str | None = None

    def __repr__(self) -> str:
        return f"Settings(endpoints={self.endpoints!r})"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        environment: str | Environment | None = None,
        base_url: str | None = None,
        auth_url: str | None = None,
        fhir_url: str | None = None,
        masterdata_url: str | None = None,
    ) -> Settings:
        """Read the settings; a missing credential raises naming the variable (never a value).

        ``SATUSEHAT_ORGANIZATION_ID`` (optional) is the Organization id the credentials
        belong to. Explicit arguments win over the variables. Choosing a deployment explicitly
        (``environment`` or ``base_url``) also sets aside the URL variables, so the parts
        derive from the deployment chosen unless overridden by argument too.
        """
        env = os.environ if environ is None else environ
        missing = [
            name
            for name in ("SATUSEHAT_CLIENT_ID", "SATUSEHAT_CLIENT_SECRET")
            if not env.get(name, "").strip()
        ]
        if missing:
            raise ConfigurationError(
                "missing credential: set the environment variable"
                + ("s " if len(missing) > 1 else " ")
                + " and ".join(missing)
            )
        arguments = {
            "base_url": base_url,
            "auth_url": auth_url,
            "fhir_url": fhir_url,
            "masterdata_url": masterdata_url,
        }
        names = {field: field for field in _FIELDS}
        if environment is not None or base_url is not None:
            endpoints = _resolve(environment or Environment.SANDBOX, arguments, names)
        else:
            urls: dict[str, str | None] = {}
            for field in _FIELDS:
                variable = "SATUSEHAT_" + field.upper()
                urls[field] = arguments[field] or env.get(variable) or None
                if not arguments[field]:
                    names[field] = variable  # errors name what the user set
            names["environment"] = "SATUSEHAT_ENV"
            endpoints = _resolve(env.get("SATUSEHAT_ENV") or Environment.SANDBOX, urls, names)
        return cls(
            client_id=env["SATUSEHAT_CLIENT_ID"].strip(),
            client_secret=env["SATUSEHAT_CLIENT_SECRET"].strip(),
            endpoints=endpoints,
            organization_id=organization_id_setting(env.get("SATUSEHAT_ORGANIZATION_ID")),
        )
