"""Identity verification in SATUSEHAT Mobile (KYC) — production only, the ``kyc`` extra.

>>> link = await client.kyc.generate_url(                     # doctest: +SKIP
...     agent_name="Budi Santoso", agent_nik="3171012345678901", server_public_key=PEM)
>>> link.url                                                  # doctest: +SKIP
'https://.../kyc/v1/validation-web/<token>'
>>> code = await client.kyc.challenge_code(nik="3171...", name="Siti Aminah")  # doctest: +SKIP

``POST {base}/kyc/v1/generate-url`` sends an encrypted message (:mod:`.framing`: a fresh
RSA-2048 client key pair per call, AES-256-GCM, the AES key wrapped RSA-OAEP-SHA256 with
SATUSEHAT's published KYC public key) and decrypts the answer with the call's private key;
``POST {base}/kyc/v1/challenge-code`` is plain JSON (``reference/satusehat-clinical.md`` §9).
The real platform serves KYC in **production only** (and only to clients holding the KYC
API product); the local sandbox serves both calls for tests
(:func:`satusehat_async.sandbox.kyc_routes.kyc_public_key`). ``generate_url`` needs
``cryptography``: ``pip install 'satusehat-async[kyc]'``. NIKs and names are validated
before anything is sent and masked in every message and repr.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from satusehat_async.consent.names import validate_person_name
from satusehat_async.context import context_of
from satusehat_async.errors import APIError, BadRequestError, ValidationError
from satusehat_async.kyc.framing import (
    FramingError,
    decrypt_message,
    encrypt_message,
    is_encrypted,
    load_public_key,
    new_key_pair,
)
from satusehat_async.kyc.models import ChallengeCode, ValidationURL
from satusehat_async.patients.identifiers import validate_nik
from satusehat_async.redact import redact_niks, redact_url

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext
    from satusehat_async.http.response import Response

__all__ = ["KYC", "ChallengeCode", "ValidationURL"]


class KYC:
    """``client.kyc``: the validation URL and the challenge code of SATUSEHAT Mobile KYC.

    ``server_public_key``: SATUSEHAT's KYC public key (PEM; different keys for staging and
    production), the default of every :meth:`generate_url`; settable later as the attribute.
    """

    def __init__(self, context: ResourceContext, *, server_public_key: str | bytes | None = None):
        self._context = context_of(context)
        self.server_public_key = server_public_key

    @property
    def url(self) -> str:
        """``{base}/kyc/v1``."""
        return self._context.endpoints.base_url.rstrip("/") + "/kyc/v1"

    async def generate_url(
        self,
        *,
        agent_name: str,
        agent_nik: str,
        server_public_key: str | bytes | None = None,
    ) -> ValidationURL:
        """A validation page for the agent (the officer) to verify a patient's identity.

        Validated before sending (ValidationError): the agent's name and NIK, the server
        key (PEM, RSA >= 2048 bits). An answer that is not an encrypted message (an Apigee
        fault, an error envelope) or does not decrypt with this call's key raises
        :class:`APIError`. Without ``cryptography``: ConfigurationError.
        """
        name = validate_person_name(agent_name, what="agent_name")
        nik = validate_nik(agent_nik, what="agent NIK")
        pem = server_public_key if server_public_key is not None else self.server_public_key
        if pem is None:
            raise ValidationError("server_public_key is required (SATUSEHAT's KYC public key)")
        server_key = load_public_key(pem)
        private_key, public_pem = new_key_pair()
        plain = msgspec.json.encode(
            {"agent_name": name, "agent_nik": nik, "public_key": public_pem}
        )
        response = await self._context.send(
            "POST",
            self.url + "/generate-url",
            content=encrypt_message(plain, server_key).encode("ascii"),
            headers={"Content-Type": "text/plain"},
        )
        data = _data(response, _opened(response, private_key), "not an encrypted message")
        token, link = data.get("token"), data.get("url")
        if not isinstance(token, str) or not isinstance(link, str) or not token or not link:
            raise _error(response, "KYC generate-url answer without a token and url")
        return ValidationURL(
            token=token,
            url=link,
            agent_name=str(data.get("agent_name") or name),
            agent_nik=str(data.get("agent_nik") or nik),
        )

    async def challenge_code(self, *, nik: str, name: str) -> ChallengeCode:
        """A challenge code (valid 5 minutes) for the patient to enter in SATUSEHAT Mobile.

        ``nik`` and ``name`` are the patient's (validated, nothing sent otherwise).
        """
        patient_nik = validate_nik(nik)
        patient_name = validate_person_name(name, what="name")
        body = {
            "metadata": {"method": "request_per_nik"},
            "data": {"nik": patient_nik, "name": patient_name},
        }
        response = await self._context.send("POST", self.url + "/challenge-code", json=body)
        data = _data(response, _json(response, response.body), "not the metadata/data envelope")
        code = data.get("challenge_code")
        if not isinstance(code, str) or not code:
            raise _error(response, "KYC challenge-code answer without a challenge_code")
        return ChallengeCode(
            challenge_code=code,
            created=_time(data.get("created_timestamp")),
            expires=_time(data.get("expired_timestamp")),
            ihs_number=str(data.get("ihs_number") or ""),
            nik=str(data.get("nik") or patient_nik),
            name=str(data.get("name") or patient_name),
        )


def _error(response: Response, message: str, cls: type[APIError] = APIError) -> APIError:
    return cls(
        redact_niks(message),
        status=response.status,
        request_id=response.request_id,
        method=response.method,
        url=redact_url(response.url),
    )


def _json(response: Response, raw: bytes) -> Any:
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        raise _error(response, "KYC answer is not JSON") from None


def _opened(response: Response, private_key: Any) -> Any:
    """The decrypted answer (or the plain JSON of an answer that is not encrypted)."""
    if not is_encrypted(response.body):
        # not encrypted: an Apigee fault, an error envelope — or the documented plain
        # variant, accepted only with metadata.code "200" (see _data)
        return _json(response, response.body)
    try:
        plain = decrypt_message(response.body, private_key)
    except FramingError as error:
        raise _error(response, f"KYC answer could not be decrypted: {error}") from None
    return _json(response, plain)


def _data(response: Response, answer: Any, unexpected: str) -> Mapping[str, Any]:
    """``answer["data"]`` of a ``metadata.code == "200"`` answer, else the error it is."""
    metadata = answer.get("metadata") if isinstance(answer, Mapping) else None
    code = str(metadata.get("code")) if isinstance(metadata, Mapping) else None
    data = answer.get("data") if isinstance(answer, Mapping) else None
    if code == "200" and isinstance(data, Mapping):
        return data
    if isinstance(metadata, Mapping):
        message = f"KYC refused: {metadata.get('code')} {metadata.get('message') or ''}".strip()
        kind = BadRequestError if code == "400" else APIError
        raise _error(response, message, kind)
    fault = answer.get("fault") if isinstance(answer, Mapping) else None
    text = fault.get("faultstring") if isinstance(fault, Mapping) else None
    raise _error(response, f"KYC answer is {unexpected}: {text or 'unknown shape'}")


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
