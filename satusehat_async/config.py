"""Environments, endpoint URLs and settings read from the environment."""

from __future__ import annotations

import enum
import os
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
        raise ConfigurationError(
            f"unknown SATUSEHAT environment {value!r}: expected 'sandbox' or 'production'"
        )


def _check_url(name: str, url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ConfigurationError(f"{name} must be an http(s) URL, got {url!r}")
    return url


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
        """Derive the endpoints: ``base_url`` overrides the environment, each part its own."""
        base = _check_url("base_url", base_url or Environment.parse(environment).base_url)
        return cls(
            base_url=base,
            auth_url=_check_url("auth_url", auth_url or base + AUTH_PATH),
            fhir_url=_check_url("fhir_url", fhir_url or base + FHIR_PATH),
            masterdata_url=_check_url("masterdata_url", masterdata_url or base + MASTERDATA_PATH),
        )


@dataclass(frozen=True)
class Settings:
    """Credentials and endpoints read from ``SATUSEHAT_*`` environment variables."""

    client_id: str
    client_secret: str
    endpoints: Endpoints

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

        Explicit arguments win over the variables. Choosing a deployment explicitly
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
        if environment is not None or base_url is not None:
            endpoints = Endpoints.resolve(
                environment or Environment.SANDBOX,
                base_url=base_url,
                auth_url=auth_url,
                fhir_url=fhir_url,
                masterdata_url=masterdata_url,
            )
        else:
            endpoints = Endpoints.resolve(
                env.get("SATUSEHAT_ENV") or Environment.SANDBOX,
                base_url=env.get("SATUSEHAT_BASE_URL") or None,
                auth_url=auth_url or env.get("SATUSEHAT_AUTH_URL") or None,
                fhir_url=fhir_url or env.get("SATUSEHAT_FHIR_URL") or None,
                masterdata_url=masterdata_url or env.get("SATUSEHAT_MASTERDATA_URL") or None,
            )
        return cls(
            client_id=env["SATUSEHAT_CLIENT_ID"].strip(),
            client_secret=env["SATUSEHAT_CLIENT_SECRET"].strip(),
            endpoints=endpoints,
        )
