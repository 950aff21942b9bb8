"""The service context: settings plus the store, opened lazily and shared by CLI and API."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from carelm.core.settings import Settings, write_key_file
from carelm.store.store import Store


@dataclass
class Context:
    """Everything a use-case needs; built once per CLI command or API app."""

    settings: Settings
    actor: str = "system"

    @cached_property
    def store(self) -> Store:
        return Store.open(self.settings)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()


def initialise(settings: Settings) -> dict[str, str | bool]:
    """Create the data folder, a key file when no key is configured, and the schema."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created_key = False
    if settings.key_source() in ("none", "dev") and settings.profile != "dev":
        created_key = write_key_file(settings.resolved_key_file)
    store = Store.open(settings)
    try:
        return {
            "database": store.backend,
            "key_source": settings.key_source(),
            "key_file_created": created_key,
        }
    finally:
        store.close()
