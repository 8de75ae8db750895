"""Secrets at rest and signatures.

One master key (32 random bytes) per deployment. Purpose-specific keys are derived from it with
HKDF so that, for example, a leaked call-tag key cannot decrypt stored PINs.

Ciphertext layout: ``version (1 byte) || nonce (12 bytes) || AES-GCM ciphertext+tag``; the caller
passes associated data naming what the value is (table, column, row), so a ciphertext copied to
another row does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE_BYTES = 12
KEY_BYTES = 32


class SecretKeyError(Exception):
    """The master key is missing, malformed or does not match stored data."""


def generate_master_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def decode_master_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise SecretKeyError("the secret key is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise SecretKeyError(f"the secret key must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def load_or_create_key_file(path: Path) -> bytes:
    """Read the key file, creating it (mode 0600) with a fresh key the first time."""
    if path.exists():
        return decode_master_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_master_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    return key


def derive_key(master: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()
    ).derive(master)


class SecretBox:
    """AES-256-GCM encryption bound to associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str, associated: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), associated.encode())
        return _VERSION + nonce + sealed

    def decrypt(self, blob: bytes, associated: str) -> str:
        if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _VERSION:
            raise SecretKeyError("stored secret has an unknown format")
        nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, associated.encode()).decode()
        except InvalidTag as exc:
            raise SecretKeyError(
                "stored secret does not decrypt: was the secret key changed?"
            ) from exc


class Signer:
    """Truncated HMAC-SHA256 signatures for values meetbridge hands out and later gets back."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, message: str, length: int = 32) -> str:
        digest = hmac.new(self._key, as_bytes(message), hashlib.sha256).hexdigest()
        return digest[:length]

    def verify(self, message: str, signature: str, length: int = 32) -> bool:
        """True only for our signature of ``message``; any other text (non-ASCII, a NUL, the
        wrong length) is simply not it."""
        if len(signature) != length:
            return False
        return constant_time_equal(self.sign(message, length), signature)


def as_bytes(value: str | bytes) -> bytes:
    """Text as bytes for signing and comparing; never raises (lone surrogates included)."""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogatepass")


def constant_time_equal(given: str | bytes, expected: str | bytes) -> bool:
    """Constant-time equality of two secrets, whatever text a client sent.

    ``hmac.compare_digest`` raises on ``str`` holding non-ASCII characters, so an attacker's
    "é" would become an exception; as bytes it is just a mismatch.
    """
    return hmac.compare_digest(as_bytes(given), as_bytes(expected))


def random_password(length: int = 32) -> str:
    return secrets.token_urlsafe(length)[:length]
