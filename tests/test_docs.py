"""The docs name every command and every setting, so neither can be added silently."""

from __future__ import annotations

from pathlib import Path

import typer

from carelm.api.errors import HTTP_CODES, STATUS_BY_ERROR
from carelm.cli.main import app
from carelm.core.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_command_is_documented():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name, command in typer.main.get_command(app).commands.items():
        assert f"`carelm {name}" in text, f"docs/cli.md does not describe `carelm {name}`"
        for sub in getattr(command, "commands", {}):
            assert f"`carelm {name} {sub}" in text, f"docs/cli.md does not describe `carelm {name} {sub}`"


def test_every_setting_is_documented():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for field in Settings.model_fields:
        assert f"`CARELM_{field.upper()}`" in text, f"docs/configuration.md lacks CARELM_{field.upper()}"


def test_every_error_code_is_documented():
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    codes = {cls.code for cls in STATUS_BY_ERROR} | {"method_not_allowed", "internal_error"}
    for code in codes:
        assert f"`{code}`" in text, f"docs/api.md lacks error code {code}"
    assert HTTP_CODES[413] == "payload_too_large"


def test_readme_quick_start_is_the_two_make_targets():
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    ci = (DOCS.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
