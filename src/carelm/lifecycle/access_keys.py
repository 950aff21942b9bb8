"""API keys: ``clm_<key id>_<secret>``, shown once, stored as a SHA-256 digest.

The key id (12 hex characters) is public: it finds the stored row and names the key in listings, the
audit log and ``carelm keys revoke``.  The secret is 256 random bits, so a plain SHA-256 digest is as
strong as a slow hash here (nothing to guess), and checking a key costs one hash.  Digests are compared
in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from carelm.core.errors import Unauthenticated

KEY_PREFIX = "clm"
KEY_PATTERN = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})")
KEY_ID_PATTERN = re.compile(r"[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly made key: ``text`` is given to its holder once; only ``digest`` is stored."""

    key_id: str
    text: str
    digest: str


def make_key() -> NewKey:
    key_id = secrets.token_hex(6)
    text = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return NewKey(key_id, text, key_digest(text))


def key_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def key_id_of(text: str) -> str:
    """The key id of a presented key; Unauthenticated when it is not shaped like a carelm key."""
    match = KEY_PATTERN.fullmatch(text.strip())
    if match is None:
        raise Unauthenticated(f"malformed API key: expected {KEY_PREFIX}_<12 hex>_<43 characters> "
                              "(as printed by `carelm keys create`)")
    return match.group(1)


def digest_matches(stored_digest: str, text: str) -> bool:
    return hmac.compare_digest(stored_digest.encode(), key_digest(text.strip()).encode())
