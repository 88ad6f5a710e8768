"""The sandbox's own reading and writing of KYC encrypted messages (no client code).

The oracle implements the documented framing independently of
:mod:`satusehat_async.kyc.framing`: ``wrapped_key(modulus bytes) ‖ iv(12) ‖ ciphertext ‖
tag(16)``, base64, between ``-----BEGIN ENCRYPTED MESSAGE-----`` and ``-----END
ENCRYPTED MESSAGE-----`` (``reference/satusehat-clinical.md`` §9.1). ``cryptography`` is
imported when a KYC request arrives, so a sandbox without the ``kyc`` extra still starts.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any

__all__ = ["MARK_BEGIN", "MARK_END", "KycKeys", "KycMessageError"]

MARK_BEGIN = "-----BEGIN ENCRYPTED MESSAGE-----"
MARK_END = "-----END ENCRYPTED MESSAGE-----"
_FRAMED = re.compile(re.escape(MARK_BEGIN) + r"(.*)" + re.escape(MARK_END), re.DOTALL)


class KycMessageError(Exception):
    """A request body that is not a readable encrypted message."""


def _oaep() -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class KycKeys:
    """The sandbox's KYC server key pair (RSA-2048, drawn on creation)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def public_pem(self) -> str:
        """The server's public key, SPKI PEM (what SATUSEHAT publishes for its clients)."""
        from cryptography.hazmat.primitives import serialization

        pem = self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode()

    def open(self, body: bytes) -> bytes:
        """The plaintext of a request encrypted to the server key (KycMessageError if not)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        found = _FRAMED.search(body.decode("ascii", "replace"))
        if found is None or not body.lstrip().startswith(MARK_BEGIN.encode()):
            raise KycMessageError("the body is not an encrypted message")
        try:
            raw = base64.b64decode(re.sub(r"\s+", "", found.group(1)), validate=True)
            key = self._private.decrypt(raw[:256], _oaep())
            return AESGCM(key).decrypt(raw[256:268], raw[268:], None)
        except (ValueError, InvalidTag) as error:
            raise KycMessageError(f"the message does not decrypt: {type(error).__name__}") from None

    @staticmethod
    def seal(plaintext: bytes, client_pem: str, *, tamper: bool = False) -> str:
        """``plaintext`` encrypted to the client's public key (ValueError for a bad key).

        ``tamper`` flips one byte of the ciphertext (a test of the client's integrity check).
        """
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        public = serialization.load_pem_public_key(client_pem.encode())
        if not isinstance(public, rsa.RSAPublicKey):
            raise ValueError("not an RSA public key")
        key, iv = AESGCM.generate_key(bit_length=256), os.urandom(12)
        sealed = bytearray(AESGCM(key).encrypt(iv, plaintext, None))
        if tamper:
            sealed[0] ^= 0x01
        payload = public.encrypt(key, _oaep()) + iv + bytes(sealed)
        return f"{MARK_BEGIN}\r\n{base64.b64encode(payload).decode()}\n{MARK_END}"
