"""Settings: key sources, refusal of unsafe keys outside dev, key file creation."""

from __future__ import annotations

import stat

import pytest

from carelm.core.errors import ConfigError
from carelm.core.settings import DEV_SECRET_KEY, get_settings
from carelm.service.context import initialise
from tests.conftest import TEST_KEY


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("CARELM_PROFILE", "CARELM_SECRET_KEY", "CARELM_KEY_FILE", "CARELM_DATABASE_URL", "CARELM_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("profile", "secret", "expected"),
    [
        ("dev", None, "dev"),
        ("prod", None, ConfigError),
        ("test", None, ConfigError),
        ("prod", DEV_SECRET_KEY, ConfigError),
        ("dev", DEV_SECRET_KEY, "env"),
        ("prod", TEST_KEY, "env"),
        ("prod", "a long passphrase nobody guesses", "env"),
        ("prod", "", ConfigError),
    ],
)
def test_key_sources_and_refusals(tmp_path, profile, secret, expected):
    settings = get_settings(profile=profile, data_dir=tmp_path, secret_key=secret)
    if expected is ConfigError:
        with pytest.raises(ConfigError):
            _ = settings.master_key
    else:
        assert settings.key_source() == expected
        assert len(settings.master_key) == 32


def test_environment_variables_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELM_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("CARELM_BATCH_SIZE", "7")
    settings = get_settings(data_dir=tmp_path)
    assert settings.resolved_database_url == "sqlite:///elsewhere.db" and settings.batch_size == 7
    assert get_settings(data_dir=tmp_path, database_url="sqlite:///cli.db").resolved_database_url == "sqlite:///cli.db"


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path):
    settings = get_settings(data_dir=tmp_path / "d")
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'd' / 'carelm.db'}"


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"profile": "staging"}, {"port": 70000}])
def test_invalid_settings_are_config_errors(tmp_path, bad):
    with pytest.raises(ConfigError) as err:
        get_settings(data_dir=tmp_path, **bad)
    assert next(iter(bad)) in str(err.value)


def test_init_writes_a_private_key_file_once(tmp_path):
    settings = get_settings(data_dir=tmp_path / "data")
    info = initialise(settings)
    key_file = tmp_path / "data" / "secret.key"
    assert info["key_file_created"] and key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    again = initialise(get_settings(data_dir=tmp_path / "data"))
    assert not again["key_file_created"] and key_file.read_text() == first
    assert get_settings(data_dir=tmp_path / "data").key_source() == "file"
