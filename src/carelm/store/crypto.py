"""Encryption at rest: AES-256-GCM for note text and identities, HMAC for lookup keys.

Each ciphertext is ``version byte | key id (4 bytes) | nonce (12) | ciphertext+tag`` and
is bound to the row it belongs to through associated data (``note:<id>``, ``patient:<id>``,
``surrogates:<patient id>``), so a ciphertext copied into another row fails authentication
instead of decrypting.  The key id in the header is the row's key version: a cipher holds the
current key (which encrypts) and any previous keys (which only decrypt), and picks the key a
ciphertext names, so reads keep working while a rotation re-encrypts rows one batch at a time.

Lookup hashes and surrogate seeds must not change when the encryption key does (stored lookup
hashes cannot be recomputed without the identifiers they hide), so they come from
:class:`LookupSecrets`, which the store keeps encrypted under the current key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from carelm.core.errors import CryptoError

FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_ID_BYTES = 4
HEADER_BYTES = 1 + KEY_ID_BYTES
# Purposes whose secrets existed before lookup secrets were stored: they keep their original derivation.
STABLE_PURPOSES = ("surrogates",)


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"carelm", info=purpose).derive(master)


def key_fingerprint(master_key: bytes) -> bytes:
    """The 4-byte id written into every ciphertext made with this key (reveals nothing about the key)."""
    return hashlib.sha256(_derive(master_key, b"carelm/key-id/v1")).digest()[:KEY_ID_BYTES]


def key_version_of(blob: bytes) -> str | None:
    """The key version (hex key id) named by a ciphertext's header, or None if it is not a ciphertext."""
    if not blob or len(blob) < HEADER_BYTES or blob[0] != FORMAT_VERSION:
        return None
    return blob[1:HEADER_BYTES].hex()


@dataclass(frozen=True)
class LookupSecrets:
    """Secrets that outlive key rotation: the HMAC key of lookup hashes and the root of derived secrets."""

    mac_key: bytes
    secret_root: bytes
    fixed: Mapping[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_master(cls, master_key: bytes) -> LookupSecrets:
        """The secrets a database gets when first opened: derived from the key current at that moment."""
        fixed = {p: _derive(master_key, f"carelm/secret/{p}".encode()) for p in STABLE_PURPOSES}
        return cls(_derive(master_key, b"carelm/hmac/v1"), _derive(master_key, b"carelm/secret-root/v1"), fixed)

    def secret(self, purpose: str) -> bytes:
        if purpose in self.fixed:
            return self.fixed[purpose]
        return _derive(self.secret_root, f"carelm/secret/{purpose}".encode())

    def to_json(self) -> str:
        def b64(value: bytes) -> str:
            return base64.b64encode(value).decode()

        return json.dumps({"mac_key": b64(self.mac_key), "secret_root": b64(self.secret_root),
                           "fixed": {k: b64(v) for k, v in sorted(self.fixed.items())}}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LookupSecrets:
        data = json.loads(text)
        return cls(base64.b64decode(data["mac_key"]), base64.b64decode(data["secret_root"]),
                   {k: base64.b64decode(v) for k, v in data["fixed"].items()})


class TextCipher:
    """Encrypts with the current key, decrypts with whichever configured key a ciphertext names."""

    def __init__(self, master_key: bytes, previous: Iterable[bytes] = (), lookup: LookupSecrets | None = None):
        self._keys: dict[bytes, AESGCM] = {}
        self._masters: list[bytes] = []
        for n, key in enumerate([master_key, *previous]):
            if len(key) != 32:
                raise CryptoError("the master key must be 32 bytes" if n == 0 else f"previous key {n} is not 32 bytes")
            key_id = key_fingerprint(key)
            if key_id not in self._keys:
                self._keys[key_id] = AESGCM(_derive(key, b"carelm/aes-gcm/v1"))
                self._masters.append(key)
        self.key_id = key_fingerprint(master_key)
        self._aead = self._keys[self.key_id]
        self.lookup = lookup or LookupSecrets.from_master(master_key)

    @property
    def key_version(self) -> str:
        """The current key's version: the hex key id that new ciphertexts carry."""
        return self.key_id.hex()

    @property
    def key_versions(self) -> list[str]:
        """Every configured key's version, the current one first."""
        return [key_id.hex() for key_id in self._keys]

    @property
    def master_keys(self) -> tuple[bytes, ...]:
        """The configured keys themselves, the current one first (for the store's keyring only)."""
        return tuple(self._masters)

    def with_current(self, new_master: bytes) -> TextCipher:
        """A cipher that encrypts with ``new_master`` and still decrypts with every key of this one."""
        return TextCipher(new_master, self._masters, self.lookup)

    def with_lookup(self, lookup: LookupSecrets) -> TextCipher:
        return TextCipher(self._masters[0], self._masters[1:], lookup)

    def encrypt(self, text: str, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), context.encode())
        return bytes([FORMAT_VERSION]) + self.key_id + nonce + sealed

    def decrypt(self, blob: bytes, context: str) -> str:
        if len(blob) < HEADER_BYTES + NONCE_BYTES + 16 or blob[0] != FORMAT_VERSION:
            raise CryptoError("ciphertext is truncated or of an unknown format", location=context)
        aead = self._keys.get(blob[1:HEADER_BYTES])
        if aead is None:
            raise CryptoError(
                f"ciphertext was written with key version {blob[1:HEADER_BYTES].hex()}, which is not configured "
                f"(configured: {', '.join(self.key_versions)}); add the old key to CARELM_PREVIOUS_KEYS",
                location=context,
            )
        nonce, sealed = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES], blob[HEADER_BYTES + NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, sealed, context.encode()).decode("utf-8")
        except InvalidTag:
            raise CryptoError("ciphertext failed authentication (tampered or moved)", location=context) from None

    def reencrypt(self, blob: bytes, context: str) -> bytes:
        """The same plaintext under the current key, bound to the same context (authenticated on the way)."""
        return self.encrypt(self.decrypt(blob, context), context)

    def derived_secret(self, purpose: str) -> bytes:
        """A 32-byte secret for one purpose (e.g. surrogate seeds); stable across key rotation."""
        return self.lookup.secret(purpose)

    def keyed_hash(self, *parts: str) -> str:
        """A keyed SHA-256 of the parts: stable lookup keys that reveal nothing without the key."""
        mac = hmac.new(self.lookup.mac_key, digestmod=hashlib.sha256)
        for part in parts:
            data = part.encode("utf-8")
            mac.update(len(data).to_bytes(8, "big"))
            mac.update(data)
        return mac.hexdigest()
