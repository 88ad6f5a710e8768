"""The KYC encrypted message: AES-256-GCM payload, RSA-OAEP-SHA256 key wrap, PEM-like framing.

``reference/satusehat-clinical.md`` §9.1, as SATUSEHAT's own libraries do it:

1. a random 32-byte AES key and a 12-byte IV;
2. AES-256-GCM over the plaintext: the ciphertext and a 16-byte tag;
3. the AES key wrapped with the recipient's RSA public key, OAEP with SHA-256 (and MGF1
   SHA-256): as long as the key's modulus (256 bytes for RSA-2048);
4. ``wrapped_key ‖ iv ‖ ciphertext ‖ tag``, base64, in lines of 76 characters;
5. ``-----BEGIN ENCRYPTED MESSAGE-----\\r\\n{base64}\\n-----END ENCRYPTED MESSAGE-----``.

Reading strips the markers and every whitespace. ``cryptography`` is imported on first
use only (the ``kyc`` extra): without it, :class:`~satusehat_async.errors.ConfigurationError`.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import os
from types import SimpleNamespace
from typing import Any

from satusehat_async.errors import ConfigurationError, ValidationError

__all__ = [
    "BEGIN",
    "END",
    "FramingError",
    "crypto",
    "decrypt_message",
    "encrypt_message",
    "is_encrypted",
    "load_public_key",
    "new_key_pair",
]

BEGIN = "-----BEGIN ENCRYPTED MESSAGE-----"
END = "-----END ENCRYPTED MESSAGE-----"
_LINE = 76  # the base64 line length of SATUSEHAT's KYC documentation
_IV, _TAG, _AES_KEY = 12, 16, 32
INSTALL_HINT = "pip install 'satusehat-async[kyc]'"


class FramingError(Exception):
    """An encrypted message that cannot be read (malformed, tampered, not for this key)."""


def crypto() -> Any:
    """The parts of ``cryptography`` used here (ConfigurationError when it is missing)."""
    try:
        aead = importlib.import_module("cryptography.hazmat.primitives.ciphers.aead")
        hashes = importlib.import_module("cryptography.hazmat.primitives.hashes")
        padding = importlib.import_module("cryptography.hazmat.primitives.asymmetric.padding")
        rsa = importlib.import_module("cryptography.hazmat.primitives.asymmetric.rsa")
        serialization = importlib.import_module("cryptography.hazmat.primitives.serialization")
        exceptions = importlib.import_module("cryptography.exceptions")
    except ImportError:
        raise ConfigurationError(
            f"KYC needs the 'cryptography' package (the kyc extra): {INSTALL_HINT}"
        ) from None
    oaep = padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
    )
    return SimpleNamespace(
        AESGCM=aead.AESGCM,
        oaep=oaep,
        rsa=rsa,
        serialization=serialization,
        InvalidTag=exceptions.InvalidTag,
    )


def new_key_pair() -> tuple[Any, str]:
    """A fresh RSA-2048 private key and its public key as SPKI PEM text."""
    lib = crypto()
    private = lib.rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        lib.serialization.Encoding.PEM, lib.serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, pem.decode("ascii")


def load_public_key(pem: object) -> Any:
    """An RSA public key from PEM text or bytes (ValidationError if it is not one)."""
    lib = crypto()
    if isinstance(pem, str):
        pem = pem.encode("ascii", errors="replace")
    if not isinstance(pem, bytes) or not pem.strip():
        raise ValidationError("server_public_key must be SATUSEHAT's KYC public key as PEM")
    try:
        key = lib.serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise ValidationError("server_public_key is not a readable PEM public key") from None
    if not isinstance(key, lib.rsa.RSAPublicKey) or key.key_size < 2048:
        raise ValidationError("server_public_key must be an RSA key of at least 2048 bits")
    return key


def encrypt_message(plaintext: bytes, public_key: Any) -> str:
    """``plaintext`` encrypted to ``public_key``, framed (see the module doc)."""
    lib = crypto()
    key, iv = os.urandom(_AES_KEY), os.urandom(_IV)
    sealed = lib.AESGCM(key).encrypt(iv, plaintext, None)  # ciphertext ‖ tag
    wrapped = public_key.encrypt(key, lib.oaep)
    text = base64.b64encode(wrapped + iv + sealed).decode("ascii")
    lines = "\r\n".join(text[i : i + _LINE] for i in range(0, len(text), _LINE))
    return f"{BEGIN}\r\n{lines}\n{END}"


def is_encrypted(body: bytes) -> bool:
    """Does ``body`` look like an encrypted message (starts with the BEGIN marker)?"""
    return body.lstrip().startswith(BEGIN.encode())


def decrypt_message(message: bytes | str, private_key: Any) -> bytes:
    """The plaintext of a framed message encrypted to ``private_key`` (FramingError if not)."""
    lib = crypto()
    text = message.decode("ascii", "replace") if isinstance(message, bytes) else message
    text = text.strip()
    if not text.startswith(BEGIN) or not text.endswith(END):
        raise FramingError("not an encrypted message (no BEGIN/END ENCRYPTED MESSAGE markers)")
    inner = "".join(text[len(BEGIN) : -len(END)].split())
    try:
        raw = base64.b64decode(inner, validate=True)
    except (binascii.Error, ValueError):
        raise FramingError("the encrypted message is not valid base64") from None
    size = private_key.key_size // 8
    if len(raw) < size + _IV + _TAG:
        raise FramingError(f"the encrypted message is too short ({len(raw)} bytes)")
    try:
        key = private_key.decrypt(raw[:size], lib.oaep)
        return bytes(lib.AESGCM(key).decrypt(raw[size : size + _IV], raw[size + _IV :], None))
    except (ValueError, lib.InvalidTag):
        raise FramingError(
            "the encrypted message does not decrypt with this key (tampered, or not meant "
            "for this request)"
        ) from None
