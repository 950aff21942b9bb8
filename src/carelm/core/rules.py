"""Rules, lexicons and terminology shipped as JSON data: one loader and one schema check for all of them."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError


def load_json_rules(folder: str, default_file: str, path: str | Path | None = None) -> tuple[Any, str]:
    """Read ``resources/<folder>/<default_file>`` (or the user's ``path``); returns the data and its location.

    A missing file or invalid JSON is a ConfigError naming the file (and line): a broken rules file
    never falls back silently to weaker defaults.
    """
    if path is None:
        source: Any = resources.files("carelm").joinpath("resources", folder, default_file)
        where = f"carelm/resources/{folder}/{default_file}"
    else:
        source, where = Path(path), str(path)
    try:
        return json.loads(source.read_text(encoding="utf-8")), where
    except FileNotFoundError:
        raise ConfigError("rules file not found", location=where) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}", location=f"{where}:{exc.lineno}") from None


def check_fields(data: Any, fields: dict[str, type | tuple[type, ...]], required: set[str], where: str) -> None:
    """Reject a rules object with unknown keys, missing keys or values of the wrong type (a bool is only a bool)."""
    if not isinstance(data, dict):
        raise ConfigError("expected a JSON object", location=where)
    accepted = ", ".join(sorted(fields))
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"unknown key {key!r}; accepted keys: {accepted}", location=where)
        kinds = fields[key] if isinstance(fields[key], tuple) else (fields[key],)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(kind.__name__ for kind in kinds)
            raise ConfigError(f"key {key!r} must be of type {names} (wrong type given)", location=where)
    missing = sorted(required - set(data))
    if missing:
        raise ConfigError(f"missing keys {missing}; accepted keys: {accepted}", location=where)
    if "version" in data and data["version"] != 1:
        raise ConfigError(f"unsupported version {data['version']!r}; supported: 1", location=where)


def trie_regex(words: list[str]) -> str:
    """An alternation of ``words`` sharing common prefixes (much faster to search than a flat one)."""
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [(r"\s+" if char == " " else re.escape(char)) + emit(child)
                    for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return emit(tree)
