"""Encryption at rest: AES-256-GCM for note text and identities, HMAC for lookup keys.

Each ciphertext is ``version byte | key id (4 bytes) | nonce (12) | ciphertext+tag`` and
is bound to the row it belongs to through associated data, so a ciphertext copied
into another row fails authentication instead of decrypting.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from carelm.core.errors import CryptoError

FORMAT_VERSION = 1
NONCE_BYTES = 12


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"carelm", info=purpose).derive(master)


class TextCipher:
    """Encrypts and authenticates text with a key derived from the master key."""

    def __init__(self, master_key: bytes):
        if len(master_key) != 32:
            raise CryptoError("the master key must be 32 bytes")
        self._master = master_key
        self._aead = AESGCM(_derive(master_key, b"carelm/aes-gcm/v1"))
        self._mac_key = _derive(master_key, b"carelm/hmac/v1")
        self.key_id = hashlib.sha256(_derive(master_key, b"carelm/key-id/v1")).digest()[:4]

    def encrypt(self, text: str, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), context.encode())
        return bytes([FORMAT_VERSION]) + self.key_id + nonce + sealed

    def decrypt(self, blob: bytes, context: str) -> str:
        if len(blob) < 1 + 4 + NONCE_BYTES + 16 or blob[0] != FORMAT_VERSION:
            raise CryptoError("ciphertext is truncated or of an unknown format", location=context)
        if blob[1:5] != self.key_id:
            raise CryptoError("ciphertext was written with another key", location=context)
        nonce, sealed = blob[5 : 5 + NONCE_BYTES], blob[5 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, context.encode()).decode("utf-8")
        except InvalidTag:
            raise CryptoError("ciphertext failed authentication (tampered or moved)", location=context) from None

    def derived_secret(self, purpose: str) -> bytes:
        """A 32-byte secret for one purpose (e.g. surrogate seeds), independent of the other keys."""
        return _derive(self._master, f"carelm/secret/{purpose}".encode())

    def keyed_hash(self, *parts: str) -> str:
        """A keyed SHA-256 of the parts: stable lookup keys that reveal nothing without the key."""
        mac = hmac.new(self._mac_key, digestmod=hashlib.sha256)
        for part in parts:
            data = part.encode("utf-8")
            mac.update(len(data).to_bytes(8, "big"))
            mac.update(data)
        return mac.hexdigest()
