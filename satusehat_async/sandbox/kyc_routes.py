"""The sandbox's KYC endpoints: ``/kyc/v1/generate-url`` and ``/kyc/v1/challenge-code``.

The real platform serves KYC in production only; the sandbox serves it so the client can
be tested. It has its own server key pair (:func:`kyc_public_key` gives the PEM a client
passes as ``server_public_key``), decrypts each ``generate-url`` request with it and
answers ``text/plain``, encrypted to the client's key from the request. A refused request
is answered ``{"metadata":{"code":"400","message":"Bad Request"},"data":null}``. The
challenge code is plain JSON: 6 digits, valid 5 minutes, timestamps in ``+07:00``; its
``ihs_number`` is the MPI patient's with that NIK, else one derived from the NIK.

State in ``sandbox.extensions["kyc"]`` (:class:`KycService`): the keys, the tokens issued,
and ``tamper_next`` (for tests: corrupt the next encrypted answer).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec
from aiohttp import web

if TYPE_CHECKING:
    from satusehat_async.sandbox.kyc_crypto import KycKeys
    from satusehat_async.sandbox.server import LocalSandbox

__all__ = ["KYC_PATH", "KycService", "add_routes", "kyc_public_key", "kyc_service"]

KYC_PATH = "/kyc/v1"
_NIK = re.compile(r"[0-9]{16}")
_WIB = dt.timezone(dt.timedelta(hours=7))
_VALID_FOR = dt.timedelta(minutes=5)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class KycService:
    """The sandbox's KYC state."""

    def __init__(self, sandbox: LocalSandbox) -> None:
        self._sandbox = sandbox
        self._keys: KycKeys | None = None
        self._random = random.Random(sandbox.seed * 59 + 13)
        self.tokens: dict[str, str] = {}
        """Issued KYC token -> the agent's NIK."""
        self.tamper_next = False
        """Corrupt the next encrypted answer (one byte of its ciphertext), then reset."""

    @property
    def keys(self) -> KycKeys:
        """The server key pair (drawn on first use; needs ``cryptography``)."""
        if self._keys is None:
            from satusehat_async.sandbox.kyc_crypto import KycKeys

            self._keys = KycKeys()
        return self._keys

    def _ihs_number(self, nik: str) -> str:
        bundle = self._sandbox.patients.search(
            [("identifier", f"https://fhir.kemkes.go.id/id/nik|{nik}")]
        ).body
        for entry in bundle.get("entry", []) if isinstance(bundle, dict) else []:
            return str(entry["resource"]["id"])
        return "P" + str(int(hashlib.sha256(nik.encode()).hexdigest(), 16))[:11]

    def generate_url(self, body: bytes, base_url: str) -> web.Response:
        """Decrypt the request, issue a token, answer encrypted to the client's key."""
        from satusehat_async.sandbox.kyc_crypto import KycMessageError

        try:
            request = _decode(self.keys.open(body))
        except (KycMessageError, msgspec.DecodeError):
            return _refused()
        fields = request if isinstance(request, Mapping) else {}
        name, nik, pem = (fields.get(k) for k in ("agent_name", "agent_nik", "public_key"))
        if not (isinstance(name, str) and name.strip() and isinstance(nik, str)):
            return _refused()
        if not _NIK.fullmatch(nik) or not isinstance(pem, str):
            return _refused()
        token = f"{self._random.getrandbits(128):032x}"
        data = {"agent_name": name, "agent_nik": nik, "token": token}
        data["url"] = f"{base_url}{KYC_PATH}/validation-web/{token}"
        answer = {"metadata": {"code": "200", "message": "OK"}, "data": data}
        tamper, self.tamper_next = self.tamper_next, False
        try:
            sealed = self.keys.seal(_encode(answer), pem, tamper=tamper)
        except (ValueError, TypeError):
            return _refused()
        self.tokens[token] = nik
        return web.Response(text=sealed, content_type="text/plain")

    def challenge_code(self, body: bytes) -> web.Response:
        """A challenge code for ``{"metadata":{"method":"request_per_nik"},"data":{nik,name}}``."""
        try:
            request = _decode(body)
        except msgspec.DecodeError:
            return _refused()
        data = request.get("data") if isinstance(request, Mapping) else None
        metadata = request.get("metadata") if isinstance(request, Mapping) else None
        if not isinstance(data, Mapping) or not isinstance(metadata, Mapping):
            return _refused()
        nik, name = data.get("nik"), data.get("name")
        if metadata.get("method") != "request_per_nik" or not isinstance(name, str):
            return _refused()
        if not isinstance(nik, str) or not _NIK.fullmatch(nik) or not name.strip():
            return _refused()
        now = dt.datetime.fromtimestamp(int(self._sandbox.clock()), _WIB)
        answer = {
            "nik": nik,
            "name": name,
            "ihs_number": self._ihs_number(nik),
            "challenge_code": f"{self._random.randrange(1_000_000):06d}",
            "created_timestamp": now.isoformat(),
            "expired_timestamp": (now + _VALID_FOR).isoformat(),
        }
        body_out = {"metadata": {"code": "200", "message": "OK"}, "data": answer}
        return web.Response(body=_encode(body_out), content_type="application/json")


def _refused() -> web.Response:
    body = {"metadata": {"code": "400", "message": "Bad Request"}, "data": None}
    return web.Response(status=400, body=_encode(body), content_type="application/json")


def kyc_service(sandbox: LocalSandbox) -> KycService:
    """The sandbox's KYC service (created on first use)."""
    service = sandbox.extensions.get("kyc")
    if service is None:
        service = sandbox.extensions["kyc"] = KycService(sandbox)
    assert isinstance(service, KycService)
    return service


def kyc_public_key(sandbox: LocalSandbox) -> str:
    """The sandbox's KYC server public key (PEM), for ``client.kyc.generate_url``."""
    return kyc_service(sandbox).keys.public_pem


def _unavailable() -> web.Response:
    return web.Response(status=501, text="KYC needs the cryptography package (the kyc extra)")


def add_routes(app: web.Application, sandbox: LocalSandbox) -> None:
    """Serve ``POST /kyc/v1/generate-url`` and ``POST /kyc/v1/challenge-code``."""

    async def generate_url(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            service = kyc_service(sandbox)
            service.keys  # noqa: B018 - draws the key pair, or finds cryptography missing
        except ImportError:
            return _unavailable()
        return service.generate_url(body, f"{request.scheme}://{request.host}")

    async def challenge_code(request: web.Request) -> web.Response:
        return kyc_service(sandbox).challenge_code(await request.read())

    app.router.add_post(KYC_PATH + "/generate-url", generate_url)
    app.router.add_post(KYC_PATH + "/challenge-code", challenge_code)
