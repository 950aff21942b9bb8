"""The service context: settings plus the store, opened lazily and shared by CLI and API."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from carelm.core.settings import Settings, write_key_file
from carelm.lifecycle.access import Principal
from carelm.store.store import Store


@dataclass
class Context:
    """Everything a use-case needs; built once per CLI command or API app."""

    settings: Settings
    actor: str = "system"
    # Who acts (carelm.service.access).  None only for trusted in-process callers (library use, tests); the API
    # and the CLI always set one, or give ``api_key`` to authenticate at the first permission check.
    principal: Principal | None = None
    api_key: str | None = field(default=None, repr=False)
    purpose: str | None = None  # the stated purpose of use, needed for PHI reads (break-glass)

    @cached_property
    def store(self) -> Store:
        return Store.open(self.settings)

    def acting_as(self, principal: Principal, purpose: str | None = None) -> Context:
        """A context for one request of ``principal``, sharing this context's open store."""
        other = Context(self.settings, actor=principal.name, principal=principal, purpose=purpose)
        other.__dict__["store"] = self.store
        return other

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
