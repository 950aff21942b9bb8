"""The stage contract and the registry of stages under versioned names.

A stage has a cheap ``__init__`` taking JSON-safe parameters, a ``warm_up()`` that
loads models or compiles rules, and ``__call__(notes) -> notes`` that adds views or
layers.  It declares what it ``reads`` and ``writes`` so a Pipeline can be checked
before it runs, and it round-trips through ``to_dict``/``from_dict``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, ClassVar

from carelm.core.errors import PipelineError
from carelm.core.types import Note

_REGISTRY: dict[str, type[Stage]] = {}

# Modules whose import registers the built-in stages.  Kept as data so that
# core/ imports nothing from the stage folders until a name is looked up.
BUILTIN_STAGE_MODULES = (
    "carelm.extract.normalize",
    "carelm.extract.sections",
    "carelm.extract.sentences",
    "carelm.extract.terms",
    "carelm.extract.assertion",
    "carelm.deid.stage",
    "carelm.coding.icd10",
    "carelm.lab.stage",
)


class Stage:
    """Base class of pipeline stages."""

    name: ClassVar[str] = ""
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        if params:
            raise PipelineError(f"stage {self.name} takes no parameters, got {sorted(params)}")
        self._warm = False

    @property
    def params(self) -> dict[str, Any]:
        """The JSON-safe parameters this stage was built with."""
        return {}

    @property
    def version(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def warm_up(self) -> None:
        """Load models and compile rules; called once before the first batch."""
        self._warm = True

    def __call__(self, notes: list[Note]) -> list[Note]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.name, "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stage:
        return create_stage(data["stage"], **data.get("params", {}))


def register_stage(cls: type[Stage]) -> type[Stage]:
    """Class decorator: register a stage under its versioned ``name`` (e.g. ``carelm.sections.v1``)."""
    name = cls.name
    parts = name.split(".")
    if len(parts) < 3 or not parts[-1].startswith("v") or not parts[-1][1:].isdigit():
        raise PipelineError(f"stage name {name!r} must look like 'package.stage.vN'")
    if cls.__module__ not in BUILTIN_STAGE_MODULES:
        load_builtin_stages()  # so a third-party stage cannot take a built-in name
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls:
        raise PipelineError(f"stage name {name!r} is already registered by {existing.__qualname__}")
    _REGISTRY[name] = cls
    return cls


def load_builtin_stages() -> None:
    for module in BUILTIN_STAGE_MODULES:
        importlib.import_module(module)


def registered_stages() -> dict[str, type[Stage]]:
    """All registered stages by name, built-ins included."""
    load_builtin_stages()
    return dict(sorted(_REGISTRY.items()))


def create_stage(name: str, **params: Any) -> Stage:
    stages = registered_stages()
    if name not in stages:
        raise PipelineError(f"unknown stage {name!r}; registered stages: {', '.join(stages)}")
    cls = stages[name]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = set(params) - accepted
    if unknown and "params" not in accepted:
        raise PipelineError(
            f"stage {name} got unknown parameters {sorted(unknown)}; accepted: {sorted(accepted) or 'none'}"
        )
    return cls(**params)
