from __future__ import annotations

import pytest

from satusehat_async import ConfigurationError, Environment, SatuSehatClient
from satusehat_async.config import Endpoints, Settings


def test_sandbox_is_default() -> None:
    ep = Endpoints.resolve()
    assert ep.base_url == "https://api-satusehat-stg.dto.kemkes.go.id"
    assert ep.auth_url == ep.base_url + "/oauth2/v1/accesstoken"
    assert ep.fhir_url == ep.base_url + "/fhir-r4/v1"
    assert ep.masterdata_url == ep.base_url + "/masterdata/v1"


def test_production_and_overrides() -> None:
    ep = Endpoints.resolve("production")
    assert ep.base_url == "https://api-satusehat.kemkes.go.id"
    ep = Endpoints.resolve(
        Environment.PRODUCTION, base_url="http://localhost:9/", auth_url="https://idp/token"
    )
    assert ep.base_url == "http://localhost:9"
    assert ep.auth_url == "https://idp/token"
    assert ep.fhir_url == "http://localhost:9/fhir-r4/v1"


def test_unknown_environment() -> None:
    with pytest.raises(ConfigurationError, match="unknown SATUSEHAT environment"):
        Endpoints.resolve("moon")


def test_bad_url() -> None:
    with pytest.raises(ConfigurationError, match="fhir_url"):
        Endpoints.resolve(fhir_url="ftp://x")


def test_from_env_names_missing_variable_never_value() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({"SATUSEHAT_CLIENT_ID": "my-id-value"})
    assert "SATUSEHAT_CLIENT_SECRET" in str(info.value)
    assert "my-id-value" not in str(info.value)
    with pytest.raises(ConfigurationError, match="SATUSEHAT_CLIENT_ID and SATUSEHAT_CLIENT_SECRET"):
        Settings.from_env({})


def test_client_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SATUSEHAT_CLIENT_ID", "cid")
    monkeypatch.setenv("SATUSEHAT_CLIENT_SECRET", "topsecret")
    monkeypatch.setenv("SATUSEHAT_ENV", "production")
    monkeypatch.setenv("SATUSEHAT_FHIR_URL", "https://fhir.example/R4")
    client = SatuSehatClient.from_env()
    assert client.base_url == "https://api-satusehat.kemkes.go.id"
    assert client.fhir_url == "https://fhir.example/R4"
    assert client.masterdata_url == "https://api-satusehat.kemkes.go.id/masterdata/v1"
    assert "topsecret" not in repr(client)
    assert "topsecret" not in repr(Settings.from_env())


def test_empty_credentials_rejected() -> None:
    with pytest.raises(ConfigurationError, match="client_secret"):
        SatuSehatClient("id", "  ")


def test_request_path_validation() -> None:
    client = SatuSehatClient("id", "secret", base_url="http://127.0.0.1:1")
    assert client.url_for("/x") == "http://127.0.0.1:1/x"
    assert client.url_for("https://other/y") == "https://other/y"
    with pytest.raises(ValueError, match="starting with '/'"):
        client.url_for("relative/path")


def test_from_env_arguments_win_over_variables() -> None:
    env = {
        "SATUSEHAT_CLIENT_ID": "cid",
        "SATUSEHAT_CLIENT_SECRET": "s",
        "SATUSEHAT_BASE_URL": "https://stg.example",
        "SATUSEHAT_FHIR_URL": "https://fhir.example/R4",
    }
    client = SatuSehatClient.from_env(env, environment="production")
    assert client.base_url == "https://api-satusehat.kemkes.go.id"
    assert client.fhir_url == "https://api-satusehat.kemkes.go.id/fhir-r4/v1"
    client = SatuSehatClient.from_env(env, base_url="http://127.0.0.1:9", fhir_url=None)
    assert client.base_url == "http://127.0.0.1:9"
    assert client.fhir_url == "http://127.0.0.1:9/fhir-r4/v1"
    client = SatuSehatClient.from_env(env, auth_url="https://idp.example/token")
    assert client.base_url == "https://stg.example"
    assert client.fhir_url == "https://fhir.example/R4"
    assert client.auth_url == "https://idp.example/token"


def test_plain_http_to_a_remote_host_warns(caplog: pytest.LogCaptureFixture) -> None:
    SatuSehatClient("id", "secret", base_url="http://127.0.0.1:8080")
    assert "plain HTTP" not in caplog.text
    SatuSehatClient("id", "secret", base_url="http://satusehat.example")
    assert "plain HTTP" in caplog.text


async def test_token_never_sent_to_a_foreign_host() -> None:
    client = SatuSehatClient("id", "secret", base_url="http://127.0.0.1:1")
    async with client:
        with pytest.raises(ValueError, match=r"refusing to send the SATUSEHAT token to .*evil"):
            await client.request("GET", "https://evil.example/steal")


async def test_closed_client_refuses_instead_of_leaking_a_session() -> None:
    from satusehat_async import SatuSehatError

    client = SatuSehatClient("id", "secret", base_url="http://127.0.0.1:1")
    async with client:
        pass
    with pytest.raises(SatuSehatError, match="the client is closed"):
        await client.request("GET", "/x")


def test_environment_variable_errors_name_the_variable() -> None:
    env = {"SATUSEHAT_CLIENT_ID": "cid", "SATUSEHAT_CLIENT_SECRET": "s", "SATUSEHAT_ENV": "moon"}
    with pytest.raises(ConfigurationError, match="SATUSEHAT_ENV: unknown SATUSEHAT environment"):
        Settings.from_env(env)
    env = {**env, "SATUSEHAT_ENV": "sandbox", "SATUSEHAT_FHIR_URL": "ftp://x"}
    with pytest.raises(ConfigurationError, match="SATUSEHAT_FHIR_URL must be an http"):
        Settings.from_env(env)
    with pytest.raises(ConfigurationError, match=r"^fhir_url must be an http"):
        Settings.from_env(env, fhir_url="ftp://y")


def test_settings_read_the_organization_id() -> None:
    base = {"SATUSEHAT_CLIENT_ID": "cid", "SATUSEHAT_CLIENT_SECRET": "s"}
    assert Settings.from_env(base).organization_id is None
    assert Settings.from_env({**base, "SATUSEHAT_ORGANIZATION_ID": ""}).organization_id is None
    settings = Settings.from_env({**base, "SATUSEHAT_ORGANIZATION_ID": "100025753"})
    assert settings.organization_id == "100025753"
    with pytest.raises(ConfigurationError, match="SATUSEHAT_ORGANIZATION_ID"):
        Settings.from_env({**base, "SATUSEHAT_ORGANIZATION_ID": "../x"})
