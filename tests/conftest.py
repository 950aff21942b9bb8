"""Shared fixtures: settings on a temporary SQLite file, and a real PostgreSQL database per test."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import pytest

# Test models are tiny: extra math threads buy nothing, and on a machine shared with other processes their
# busy-waiting makes each step many times slower.  Set before torch or onnxruntime is first imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

try:  # usearch's and onnxruntime's native libraries crash a process that loads onnxruntime second
    import onnxruntime  # noqa: F401
except ImportError:
    pass

from carelm.core.settings import Settings, get_settings
from carelm.service.context import Context
from carelm.store.store import Store

TEST_KEY = base64.b64encode(bytes(range(32))).decode()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return get_settings(profile="test", data_dir=tmp_path / "data", secret_key=TEST_KEY)


def _pg_admin_url() -> str:
    url = os.environ.get("CARELM_TEST_PG_URL")
    if not url:
        if IN_CI:
            pytest.fail("CARELM_TEST_PG_URL is not set; CI must start a PostgreSQL server (see .ci/run)")
        pytest.skip("no PostgreSQL server configured (set CARELM_TEST_PG_URL)")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    admin = _pg_admin_url()
    name = f"carelm_t_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at CARELM_TEST_PG_URL is not reachable: {exc}")
        pytest.skip("PostgreSQL at CARELM_TEST_PG_URL is not reachable")
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_settings(request, tmp_path) -> Settings:
    """Settings for each storage backend: the conformance suite runs once per backend."""
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    return get_settings(profile="test", data_dir=tmp_path / "data", secret_key=TEST_KEY, database_url=url)


@pytest.fixture
def store(backend_settings) -> Iterator[Store]:
    opened = Store.open(backend_settings)
    yield opened
    opened.close()


@pytest.fixture
def ctx(backend_settings) -> Iterator[Context]:
    context = Context(backend_settings, actor="test")
    yield context
    context.close()


def issue_key(settings: Settings, role: str = "admin", name: str | None = None) -> str:
    """A new principal with ``role`` (named ``name`` or a random test name) and an API key for it."""
    from carelm.service import access

    context = Context(settings, actor="test")  # a trusted in-process caller: no principal
    try:
        principal = access.add_principal(context, name or f"test-{role}-{uuid.uuid4().hex[:8]}", role)
        return access.create_key(context, principal.name)[1]
    finally:
        context.close()


@pytest.fixture
def admin_key(backend_settings) -> str:
    """An API key of a fresh ``admin`` principal in the backend's database."""
    return issue_key(backend_settings, "admin")


@pytest.fixture
def sqlite_ctx(settings) -> Iterator[Context]:
    context = Context(settings, actor="test")
    yield context
    context.close()
