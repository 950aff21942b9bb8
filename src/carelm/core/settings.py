"""Settings from the environment (``CARELM_*``) built by a factory, never at import time."""

from __future__ import annotations

import base64
import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from carelm.core.errors import ConfigError

# A fixed key for throw-away development databases only.  Any profile other
# than ``dev`` refuses to start with it.
DEV_SECRET_KEY = "carelm-development-key-not-for-real-data"
KEY_BYTES = 32


class Settings(BaseSettings):
    """carelm's configuration.  Every field can be set as ``CARELM_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CARELM_", extra="forbid")

    profile: Literal["dev", "test", "prod"] = Field(
        "prod", description="dev allows the built-in development key; test and prod never do."
    )
    data_dir: Path = Field(Path("carelm-data"), description="Folder for the SQLite file, key file and indexes.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default a SQLite file in data_dir.")
    secret_key: SecretStr | None = Field(None, description="Encryption key: 32 bytes base64, or a passphrase.")
    key_file: Path | None = Field(None, description="File holding the key; default data_dir/secret.key.")
    previous_keys: SecretStr | None = Field(
        None, description="Old keys, comma-separated, that still decrypt (never encrypt) until a rotation ends."
    )
    previous_keys_file: Path | None = Field(
        None, description="File of old keys, one per line; default data_dir/previous.keys when it exists."
    )
    audit_checkpoint_dir: Path | None = Field(
        None, description="Folder for the signed copy of the audit log's newest entry; default data_dir/audit."
    )
    batch_size: int = Field(32, ge=1, le=10_000, description="Notes per pipeline batch.")
    log_level: str = Field("INFO", description="Python logging level.")
    host: str = Field("127.0.0.1", description="Address the API server binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port the API server binds.")
    max_request_bytes: int = Field(10_000_000, ge=1024, description="Largest accepted request body.")
    rate_limit_per_second: float = Field(
        20.0, ge=0, description="Requests per second each API client may sustain (token bucket); 0 turns it off."
    )
    rate_limit_burst: int = Field(100, ge=1, le=1_000_000, description="Requests a client may send at once.")
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed to call the API from a browser; empty: no CORS headers."
    )
    index_on_process: bool = Field(True, description="Update the records search index after `carelm process`.")
    retention_policy: Path | None = Field(
        None, description="Retention policy file (.json or .toml) that `carelm lifecycle run` applies."
    )
    llm_backend: Literal["extractive", "transformers", "openai"] = Field(
        "extractive", description="Text generator: extractive (no model), transformers (local LM), openai (server)."
    )
    llm_model: str | None = Field(None, description="transformers: model folder or registered lm; openai: model name.")
    llm_base_url: str | None = Field(None, description="openai: the server's base URL, e.g. http://127.0.0.1:8001/v1.")
    llm_api_key: SecretStr | None = Field(None, description="openai: sent as a Bearer token when set.")
    llm_external: bool = Field(True, description="openai: the endpoint is outside this trust boundary (PHI guard on).")
    llm_timeout: float = Field(60.0, gt=0, le=3600, description="openai: seconds per HTTP attempt.")
    llm_retries: int = Field(2, ge=0, le=10, description="openai: retries after connection errors, 429 and 5xx.")
    llm_phi_policy: Literal["refuse", "redact"] = Field(
        "refuse", description="What the PHI guard does with identifiers bound for an external backend."
    )
    api_key: SecretStr | None = Field(None, description="CLI: act as the principal of this API key.")
    local_operator: Literal["auto", "on", "off"] = Field(
        "auto", description="CLI without a key: act as the local admin operator (auto: for SQLite files you own)."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'carelm.db').as_posix()}"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "secret.key"

    def key_source(self) -> str:
        """Where the encryption key comes from: 'env', 'file', 'dev' or 'none'."""
        if self.secret_key is not None:
            return "env"
        if self.resolved_key_file.exists():
            return "file"
        return "dev" if self.profile == "dev" else "none"

    @cached_property
    def master_key(self) -> bytes:
        """The 32-byte master key; raises ConfigError when missing or unsafe."""
        source = self.key_source()
        if source == "env":
            secret = self.secret_key.get_secret_value()  # type: ignore[union-attr]
        elif source == "file":
            secret = self.resolved_key_file.read_text(encoding="utf-8").strip()
        elif source == "dev":
            secret = DEV_SECRET_KEY
        else:
            raise ConfigError(
                "no encryption key: set CARELM_SECRET_KEY, point CARELM_KEY_FILE at a key file, "
                "or run `carelm init` to create one (profiles: dev allows a built-in key)"
            )
        if secret == DEV_SECRET_KEY and self.profile != "dev":
            raise ConfigError(f"the built-in development key is refused in the {self.profile!r} profile")
        if not secret:
            raise ConfigError("the encryption key is empty")
        return decode_key(secret)

    @property
    def resolved_previous_keys_file(self) -> Path:
        return self.previous_keys_file or self.data_dir / "previous.keys"

    @property
    def resolved_audit_checkpoint_dir(self) -> Path:
        return self.audit_checkpoint_dir or self.data_dir / "audit"

    @cached_property
    def previous_master_keys(self) -> list[bytes]:
        """Old keys that may still decrypt during a key rotation (the current key left out, duplicates dropped).

        Raises ConfigError for an empty entry, a missing previous-keys file that was named explicitly, or a
        previous-keys file other users may read (outside the dev profile).
        """
        texts: list[tuple[str, str]] = []
        if self.previous_keys is not None:
            for n, part in enumerate(self.previous_keys.get_secret_value().split(","), 1):
                texts.append((f"CARELM_PREVIOUS_KEYS entry {n}", part.strip()))
        path = self.resolved_previous_keys_file
        if self.previous_keys_file is not None and not path.exists():
            raise ConfigError(f"the previous-keys file {path} does not exist (CARELM_PREVIOUS_KEYS_FILE)")
        if path.exists():
            check_private_file(path, self.profile)
            lines = path.read_text(encoding="utf-8").splitlines()
            texts += [(f"{path}:{n}", line.strip()) for n, line in enumerate(lines, 1)
                      if line.strip() and not line.lstrip().startswith("#")]
        keys: list[bytes] = []
        for where, text in texts:
            if not text:
                raise ConfigError(f"{where}: empty key; separate keys with single commas (or one per line in a file)")
            key = decode_key(text)
            if key != self.master_key and key not in keys:
                keys.append(key)
        return keys


def check_private_file(path: Path, profile: str) -> None:
    """Refuse a key file that other users may read or write (POSIX permissions; the dev profile is exempt)."""
    if os.name != "posix" or profile == "dev":
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path} is accessible to other users (mode {mode:o}); run `chmod 600 {path}`")


def decode_key(secret: str) -> bytes:
    """A base64 string of 32 bytes is used as is; anything else is a passphrase hashed to 32 bytes."""
    try:
        raw = base64.b64decode(secret, validate=True)
        if len(raw) == KEY_BYTES:
            return raw
    except ValueError:
        pass
    return hashlib.sha256(("carelm-passphrase:" + secret).encode()).digest()


def new_key_text() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def write_key_file(path: Path) -> bool:
    """Create a fresh random key file readable by its owner only; False if it already exists."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(new_key_text() + "\n")
    return True


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (e.g. ``--db``) winning."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValueError as exc:  # pydantic.ValidationError subclasses ValueError
        raise ConfigError(f"invalid settings: {exc}") from None
