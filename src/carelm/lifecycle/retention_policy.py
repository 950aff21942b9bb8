"""Retention policies: how long each note kind keeps its raw text and the note itself, read from a file.

A policy file is JSON or TOML (by extension: ``.json`` or ``.toml``)::

    version = 1
    [default]                      # notes of every kind not listed below (optional)
    purge_raw_after_days = 365     # then drop the encrypted raw text, keep de-identified text and codes
    delete_after_days = "never"    # then delete the note and everything derived from it
    age_from = "ingested"          # or "authored" (the note's date; ingest time when it has none)
    require_deid = true            # purge raw text only once de-identified text exists

    [kinds.discharge_summary]      # a kind's rule overrides the default key by key
    purge_raw_after_days = 30

Day counts are whole numbers of days, at least 0; ``"never"`` (or JSON ``null``) keeps forever.  Unknown
keys, wrong types and unknown versions are a ConfigError naming the key and what is accepted: a broken
policy never falls back to a weaker one.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError

NEVER = "never"
AGE_FROM = ("ingested", "authored")
TOP_KEYS = ("version", "default", "kinds")
RULE_KEYS = ("purge_raw_after_days", "delete_after_days", "age_from", "require_deid")
MAX_DAYS = 100 * 366
_KIND = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """What happens to notes of one kind as they age; a None day count means never."""

    purge_raw_after_days: int | None = None
    delete_after_days: int | None = None
    age_from: str = "ingested"
    require_deid: bool = True

    @property
    def acts(self) -> bool:
        return self.purge_raw_after_days is not None or self.delete_after_days is not None

    def cutoff(self, days: int | None, as_of: datetime) -> datetime | None:
        """Notes older than this instant are due (None: never due)."""
        return None if days is None else as_of - timedelta(days=days)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """A default rule (for kinds not listed; None keeps them) and rules per note kind."""

    default: RetentionRule | None
    kinds: dict[str, RetentionRule]
    source: str = "<inline>"
    digest: str = ""

    def rule_for(self, kind: str) -> RetentionRule | None:
        return self.kinds.get(kind, self.default)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "sha256": self.digest,
                "default": self.default.to_dict() if self.default else None,
                "kinds": {kind: rule.to_dict() for kind, rule in sorted(self.kinds.items())}}


def load_policy(path: str | Path) -> RetentionPolicy:
    """Read and validate a policy file (``.json`` or ``.toml``)."""
    path = Path(path)
    where = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("retention policy file not found", location=where) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the retention policy ({type(exc).__name__})", location=where) from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(raw.decode("utf-8"))
        elif suffix == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            raise ConfigError(f"unknown policy file type {suffix or '(none)'!r}; accepted: .json, .toml",
                              location=where)
    except UnicodeDecodeError:
        raise ConfigError("the policy file is not UTF-8 text", location=where) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}", location=f"{where}:{exc.lineno}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", location=where) from None
    return parse_policy(data, where, hashlib.sha256(raw).hexdigest())


def parse_policy(data: Any, where: str = "<inline>", digest: str = "") -> RetentionPolicy:
    """Validate a policy object (the parsed file) and build the policy."""
    if not isinstance(data, dict):
        raise ConfigError("a retention policy must be an object/table", location=where)
    _check_keys(data, TOP_KEYS, where)
    if "version" not in data:
        raise ConfigError("missing key 'version'; supported: 1", location=where)
    if data["version"] != 1 or isinstance(data["version"], bool):
        raise ConfigError(f"unsupported version {data['version']!r}; supported: 1", location=f"{where}#version")
    default = _rule(data["default"], RetentionRule(), f"{where}#default") if data.get("default") is not None else None
    kinds_data = data.get("kinds", {})
    if not isinstance(kinds_data, dict):
        raise ConfigError("'kinds' must map note kinds to rules", location=f"{where}#kinds")
    kinds = {}
    for kind, rule in kinds_data.items():
        place = f"{where}#kinds.{kind}"
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise ConfigError("a note kind is lower_snake_case as stored (e.g. discharge_summary, progress_note)",
                              location=place)
        kinds[kind] = _rule(rule, default or RetentionRule(), place)
    if default is None and not kinds:
        raise ConfigError("the policy has no rule: give 'default', 'kinds', or both", location=where)
    return RetentionPolicy(default, kinds, where, digest)


def _rule(data: Any, base: RetentionRule, where: str) -> RetentionRule:
    if not isinstance(data, dict):
        raise ConfigError("a rule must be an object/table", location=where)
    _check_keys(data, RULE_KEYS, where)
    changes: dict[str, Any] = {}
    for key in ("purge_raw_after_days", "delete_after_days"):
        if key in data:
            changes[key] = _days(data[key], f"{where}.{key}")
    if "age_from" in data:
        if data["age_from"] not in AGE_FROM:
            raise ConfigError(f"unknown age_from {data['age_from']!r}; accepted: {', '.join(AGE_FROM)}",
                              location=f"{where}.age_from")
        changes["age_from"] = data["age_from"]
    if "require_deid" in data:
        if not isinstance(data["require_deid"], bool):
            raise ConfigError("require_deid must be true or false", location=f"{where}.require_deid")
        changes["require_deid"] = data["require_deid"]
    return replace(base, **changes)


def _days(value: Any, where: str) -> int | None:
    if value is None or value == NEVER:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise ConfigError(f"expected a whole number of days from 0 to {MAX_DAYS}, or \"never\"", location=where)
    return value


def _check_keys(data: dict[str, Any], accepted: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in accepted:
            raise ConfigError(f"unknown key {key!r}; accepted keys: {', '.join(accepted)}", location=where)
