"""Issue 13: KYC (SATUSEHAT Mobile identity verification) with its encrypted framing."""

from __future__ import annotations

import base64
import datetime as dt
import sys
from typing import Any

import pytest

from satusehat_async import (
    APIError,
    BadRequestError,
    ConfigurationError,
    SatuSehatClient,
    ValidationError,
)
from satusehat_async.kyc import ChallengeCode, ValidationURL
from satusehat_async.kyc.framing import BEGIN, END, decrypt_message, encrypt_message, new_key_pair
from satusehat_async.sandbox import LocalSandbox
from satusehat_async.sandbox.kyc_routes import kyc_public_key, kyc_service
from satusehat_async.testing import MockBackend

AGENT, AGENT_NIK = "Budi Santoso", "3171012345678901"
PATIENT_NAME, PATIENT_NIK = "Siti Aminah", "3201234567890001"


@pytest.fixture
def satusehat_sandbox_options() -> dict[str, Any]:
    return {"facilities": 10, "seed": 11, "clock": lambda: 1_700_000_000.0}


def _kyc_requests(sb: LocalSandbox) -> int:
    return sum(n for key, n in sb.stats.requests_by_path.items() if "/kyc/v1/" in key)


def _masked(text: str) -> bool:
    return all(s not in text for s in (AGENT_NIK, PATIENT_NIK, "Santoso", "Aminah"))


async def test_generate_url_round_trip(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    pem = kyc_public_key(satusehat_sandbox)
    link = await satusehat_client.kyc.generate_url(
        agent_name=AGENT, agent_nik=AGENT_NIK, server_public_key=pem
    )
    assert isinstance(link, ValidationURL)
    assert link.url.endswith(f"/kyc/v1/validation-web/{link.token}") and len(link.token) == 32
    assert link.agent_name == AGENT and link.agent_nik == AGENT_NIK
    assert kyc_service(satusehat_sandbox).tokens == {link.token: AGENT_NIK}
    assert _masked(repr(link))
    # a fresh client key pair per call: the server sees a new public key each time
    again = await satusehat_client.kyc.generate_url(
        agent_name=AGENT, agent_nik=AGENT_NIK, server_public_key=pem
    )
    assert again.token != link.token
    satusehat_client.kyc.server_public_key = pem  # the default of every call
    assert (await satusehat_client.kyc.generate_url(agent_name=AGENT, agent_nik=AGENT_NIK)).token


def test_the_framing_is_the_documented_one() -> None:
    private, public_pem = new_key_pair()
    from satusehat_async.kyc.framing import load_public_key

    message = encrypt_message(b'{"x":1}', load_public_key(public_pem))
    assert message.startswith(BEGIN + "\r\n") and message.endswith("\n" + END)
    body = message[len(BEGIN) : -len(END)]
    assert all(len(line) <= 76 for line in body.split())
    raw = base64.b64decode("".join(body.split()))
    assert len(raw) == 256 + 12 + len(b'{"x":1}') + 16  # wrapped key, iv, ciphertext, tag
    assert decrypt_message(message, private) == b'{"x":1}'
    assert "BEGIN PUBLIC KEY" in public_pem


async def test_a_tampered_answer_is_a_clear_error(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    kyc_service(satusehat_sandbox).tamper_next = True
    with pytest.raises(APIError, match=r"could not be decrypted.*tampered") as error:
        await satusehat_client.kyc.generate_url(
            agent_name=AGENT,
            agent_nik=AGENT_NIK,
            server_public_key=kyc_public_key(satusehat_sandbox),
        )
    assert _masked(str(error.value))


async def test_a_wrong_server_key_is_refused_by_the_server(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    _, other_pem = new_key_pair()  # not the sandbox's key: it cannot decrypt the request
    with pytest.raises(BadRequestError, match="Bad Request"):
        await satusehat_client.kyc.generate_url(
            agent_name=AGENT, agent_nik=AGENT_NIK, server_public_key=other_pem
        )


def _mock(answer: Any, content_type: str = "application/json") -> MockBackend:
    def handler(request: Any) -> Any:
        if "accesstoken" in request.url:
            return 200, {"access_token": "t", "expires_in": "3600"}
        return 200, {"Content-Type": content_type}, answer

    return MockBackend(handler)


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (
            {"fault": {"faultstring": "Invalid access token"}},
            "not an encrypted message.*Invalid access",
        ),
        ({"metadata": {"code": "400", "message": "Bad Request"}, "data": {}}, "KYC refused: 400"),
        (b"<html>maintenance</html>", "not JSON"),
        (f"{BEGIN}\r\nAAAA\n{END}".encode(), "too short"),
        (f"{BEGIN}\r\n!!!!\n{END}".encode(), "base64"),
    ],
)
async def test_non_encrypted_or_broken_answers_are_errors(answer: Any, match: str) -> None:
    backend = _mock(answer)
    _, pem = new_key_pair()
    async with SatuSehatClient("id", "secret", base_url="https://x.test", backend=backend) as c:
        with pytest.raises(APIError, match=match) as error:
            await c.kyc.generate_url(agent_name=AGENT, agent_nik=AGENT_NIK, server_public_key=pem)
    assert _masked(str(error.value))
    sent = backend.requests[-1]
    assert sent.url == "https://x.test/kyc/v1/generate-url"
    assert sent.headers["Content-Type"] == "text/plain"
    assert sent.body.startswith(BEGIN.encode()) and AGENT_NIK.encode() not in sent.body


async def test_challenge_code(satusehat_sandbox: LocalSandbox, satusehat_client: Any) -> None:
    code = await satusehat_client.kyc.challenge_code(nik=PATIENT_NIK, name=PATIENT_NAME)
    assert isinstance(code, ChallengeCode)
    assert len(code.challenge_code) == 6 and code.challenge_code.isdigit()
    assert code.created is not None and code.expires is not None
    assert code.expires - code.created == dt.timedelta(minutes=5)
    assert code.created.utcoffset() == dt.timedelta(hours=7)  # WIB, as the platform answers
    assert code.created == dt.datetime.fromtimestamp(1_700_000_000, dt.timezone.utc)
    assert not code.expired(code.created) and code.expired(code.expires)
    assert code.ihs_number.startswith("P") and len(code.ihs_number) == 12
    assert code.nik == PATIENT_NIK and _masked(repr(code)) and code.challenge_code not in repr(code)


@pytest.mark.parametrize(
    "arguments",
    [
        {"agent_name": AGENT, "agent_nik": "317101234567890"},  # 15 digits
        {"agent_name": AGENT, "agent_nik": None},
        {"agent_name": "", "agent_nik": AGENT_NIK},
        {"agent_name": None, "agent_nik": AGENT_NIK},
        {"agent_name": AGENT, "agent_nik": AGENT_NIK, "server_public_key": "not a key"},
        {"agent_name": AGENT, "agent_nik": AGENT_NIK, "server_public_key": None},
    ],
)
async def test_generate_url_validation_sends_nothing(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any, arguments: dict[str, Any]
) -> None:
    arguments.setdefault("server_public_key", kyc_public_key(satusehat_sandbox))
    with pytest.raises(ValidationError) as error:
        await satusehat_client.kyc.generate_url(**arguments)
    assert _masked(str(error.value)) and "3171012345678901"[:15] not in str(error.value)
    assert _kyc_requests(satusehat_sandbox) == 0


@pytest.mark.parametrize(
    ("nik", "name"),
    [("12345", PATIENT_NAME), (PATIENT_NIK, "  "), (PATIENT_NIK, 42), ("0000000000000000", "X")],
)
async def test_challenge_code_validation_sends_nothing(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any, nik: Any, name: Any
) -> None:
    with pytest.raises(ValidationError) as error:
        await satusehat_client.kyc.challenge_code(nik=nik, name=name)
    assert _masked(str(error.value))
    assert _kyc_requests(satusehat_sandbox) == 0


async def test_without_the_kyc_extra_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    pem = kyc_public_key(satusehat_sandbox)  # the sandbox's key is drawn before hiding it
    for name in [m for m in sys.modules if m == "cryptography" or m.startswith("cryptography.")]:
        monkeypatch.setitem(sys.modules, name, None)  # `import cryptography...` now fails
    with pytest.raises(ConfigurationError, match=r"pip install 'satusehat-async\[kyc\]'"):
        await satusehat_client.kyc.generate_url(
            agent_name=AGENT, agent_nik=AGENT_NIK, server_public_key=pem
        )
    assert _kyc_requests(satusehat_sandbox) == 0
    # the challenge code is plain JSON: it works without the extra
    assert (
        await satusehat_client.kyc.challenge_code(nik=PATIENT_NIK, name=PATIENT_NAME)
    ).ihs_number
