"""The keyring of a store: which keys decrypt, which one encrypts, and what rotation re-encrypts.

Keys come from the settings: ``CARELM_SECRET_KEY`` (or the key file) is the current key, which
encrypts every new value; ``CARELM_PREVIOUS_KEYS`` and the previous-keys file list old keys that
only decrypt.  Every encrypted column is listed in :data:`ENCRYPTED_COLUMNS` with the associated
data that binds each value to its row, so rotation can re-encrypt all of them in batches, and a
restarted rotation continues with the rows whose header still names another key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import LargeBinary, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from carelm.core.errors import ConfigError, CryptoError
from carelm.core.settings import Settings
from carelm.store.audit import write_transaction
from carelm.store.crypto import KEY_ID_BYTES, LookupSecrets, TextCipher, key_version_of
from carelm.store.models import KeyMaterialRow, NoteRow, PatientRow, SurrogateMapRow, new_id

LOOKUP_SECRETS = "lookup-secrets"
DATABASE_ID = "database-id"


@dataclass(frozen=True)
class EncryptedColumn:
    """One column of ciphertexts: the row key, the column, and the associated data of each value."""

    name: str
    key: InstrumentedAttribute
    column: InstrumentedAttribute
    context: Callable[[Any], str]
    keep: tuple[InstrumentedAttribute, ...] = ()  # columns an update must not touch (e.g. onupdate timestamps)

    @property
    def model(self) -> type:
        return self.key.class_


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn("key_material.value_enc", KeyMaterialRow.name, KeyMaterialRow.value_enc,
                    lambda name: f"key-material:{name}"),
    EncryptedColumn("patients.identity_enc", PatientRow.id, PatientRow.identity_enc, lambda pid: f"patient:{pid}"),
    EncryptedColumn("notes.raw_text_enc", NoteRow.id, NoteRow.raw_text_enc, lambda nid: f"note:{nid}"),
    EncryptedColumn("surrogate_maps.map_enc", SurrogateMapRow.patient_id, SurrogateMapRow.map_enc,
                    lambda pid: f"surrogates:{pid}", keep=(SurrogateMapRow.updated_at,)),
)


def cipher_from_settings(settings: Settings) -> TextCipher:
    """A cipher over the configured keys (current first), without the store's lookup secrets yet."""
    return TextCipher(settings.master_key, settings.previous_master_keys)


def _header_key(column: InstrumentedAttribute):
    return func.substr(column, 2, KEY_ID_BYTES)


def _key_id_param(cipher: TextCipher):
    return bindparam("target_key_id", cipher.key_id, type_=LargeBinary)


# --- key material ------------------------------------------------------------------------------
def open_cipher(sessions: sessionmaker[Session], cipher: TextCipher) -> tuple[TextCipher, str]:
    """The store's cipher with its lookup secrets, and the database id; both created on first open."""
    with sessions() as session:
        rows = {r.name: r for r in session.scalars(select(KeyMaterialRow))}
    if LOOKUP_SECRETS not in rows or DATABASE_ID not in rows:
        _create_material(sessions, cipher)
        with sessions() as session:
            rows = {r.name: r for r in session.scalars(select(KeyMaterialRow))}
    try:
        material = {name: cipher.decrypt(rows[name].value_enc, f"key-material:{name}")
                    for name in (LOOKUP_SECRETS, DATABASE_ID)}
    except CryptoError as exc:
        raise ConfigError(f"the configured keys cannot open this database: {exc.message}") from None
    return cipher.with_lookup(LookupSecrets.from_json(material[LOOKUP_SECRETS])), material[DATABASE_ID]


def _create_material(sessions: sessionmaker[Session], cipher: TextCipher) -> None:
    lookup = _original_lookup(sessions, cipher)
    values = {LOOKUP_SECRETS: lookup.to_json(), DATABASE_ID: new_id()}
    try:
        with write_transaction(sessions) as session:  # serialised with another process opening it first
            for name, value in values.items():
                if session.get(KeyMaterialRow, name) is None:
                    session.add(KeyMaterialRow(name=name, value_enc=cipher.encrypt(value, f"key-material:{name}")))
    except IntegrityError:  # another process created them first
        pass


def _original_lookup(sessions: sessionmaker[Session], cipher: TextCipher) -> LookupSecrets:
    """Lookup secrets that reproduce the hashes already stored: derived from whichever configured key made them."""
    with sessions() as session:
        patient = session.scalars(select(PatientRow).order_by(PatientRow.created_at).limit(1)).first()
    if patient is None:
        return LookupSecrets.from_master(cipher.master_keys[0])
    try:
        external_id = json.loads(cipher.decrypt(patient.identity_enc, f"patient:{patient.id}"))["external_id"]
    except CryptoError as exc:
        raise ConfigError(f"the configured keys cannot open this database: {exc.message}") from None
    for master in cipher.master_keys:
        candidate = LookupSecrets.from_master(master)
        if TextCipher(master, lookup=candidate).keyed_hash("patient", external_id) == patient.external_key:
            return candidate
    raise ConfigError("none of the configured keys made this database's lookup hashes; configure the key the "
                      "database was created with as CARELM_SECRET_KEY or in CARELM_PREVIOUS_KEYS")


# --- key versions and re-encryption ------------------------------------------------------------
def key_version_counts(sessions: sessionmaker[Session]) -> dict[str, dict[str, int]]:
    """Per encrypted column, how many values each key version encrypted."""
    counts: dict[str, dict[str, int]] = {}
    with sessions() as session:
        for col in ENCRYPTED_COLUMNS:
            header = _header_key(col.column)
            query = select(header, func.count()).where(col.column.is_not(None)).group_by(header)
            counts[col.name] = {bytes(kid).hex(): n for kid, n in session.execute(query)}
    return counts


def pending_counts(sessions: sessionmaker[Session], cipher: TextCipher) -> dict[str, int]:
    """Per encrypted column, how many values are not yet under the cipher's current key."""
    return {name: sum(n for version, n in by_version.items() if version != cipher.key_version)
            for name, by_version in key_version_counts(sessions).items()}


@dataclass
class BatchResult:
    """What one committed batch of a rotation did."""

    column: str
    rotated: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    last_key: Any = None
    size: int = 0


def reencrypt_batch(
    sessions: sessionmaker[Session], col: EncryptedColumn, cipher: TextCipher, after: Any, limit: int
) -> BatchResult:
    """Re-encrypt up to ``limit`` values of ``col`` after row key ``after`` that another key encrypted; one commit.

    Each update only applies if the value is still the one that was read, so a concurrent write wins.
    A value no configured key decrypts is reported in ``failed`` and left as it is.
    """
    result = BatchResult(col.name)
    columns = (col.key, col.column, *col.keep)
    query = (select(*columns).where(col.column.is_not(None), _header_key(col.column) != _key_id_param(cipher))
             .order_by(col.key).limit(limit))
    if after is not None:
        query = query.where(col.key > after)
    with write_transaction(sessions) as session:
        rows = session.execute(query).all()
        for row in rows:
            key, blob = row[0], row[1]
            result.last_key, result.size = key, result.size + 1
            try:
                fresh = cipher.reencrypt(blob, col.context(key))
            except CryptoError as exc:
                result.failed.append({"column": col.name, "id": str(key), "key_version": key_version_of(blob) or "?",
                                      "reason": exc.message})
                continue
            values = {col.column.key: fresh, **{kept.key: value for kept, value in zip(col.keep, row[2:], strict=True)}}
            change = update(col.model).where(col.key == key, col.column == blob).values(values)
            done = session.execute(change, execution_options={"synchronize_session": False})
            result.rotated += done.rowcount
    return result
