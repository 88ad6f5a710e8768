"""`satusehat token`: credentials from the environment, one token request, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from satusehat_async.cli.main import main
from satusehat_async.testing import Sandbox, ThreadedSandbox


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with ThreadedSandbox(facilities=10) as sandbox:
        yield sandbox


@pytest.fixture
def env(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in sb.environ().items():
        monkeypatch.setenv(name, value)


def test_token_reports_expiry_without_the_token(
    sb: Sandbox, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sb.stats.token_requests
    assert main(["token"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["token_type"] == "Bearer"
    assert 3500 < report["expires_in"] <= 3600
    assert report["auth_url"] == sb.base_url + "/oauth2/v1/accesstoken"
    assert "access_token" not in report
    assert sb.stats.token_requests == before + 1


def test_token_print_gives_a_token_the_sandbox_accepts(
    sb: Sandbox, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--print"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 16
    assert sb.tokens.check(f"Bearer {token}") is None  # a live token of this sandbox
    assert sb.tokens.check("Bearer not-a-token") is not None


def test_wrong_secret_exits_1_with_one_line(
    sb: Sandbox, env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SATUSEHAT_CLIENT_SECRET", "not-the-secret")
    assert main(["token"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("satusehat: AuthenticationError: HTTP 401:")
    assert "not-the-secret" not in err


def test_missing_credentials_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SATUSEHAT_CLIENT_ID", raising=False)
    monkeypatch.delenv("SATUSEHAT_CLIENT_SECRET", raising=False)
    assert main(["token"]) == 1
    assert "SATUSEHAT_CLIENT_ID and SATUSEHAT_CLIENT_SECRET" in capsys.readouterr().err
