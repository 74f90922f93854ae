"""Fixtures: real Postgres and Redis — the configured services when FORYOU_*_URL are set, else embedded ones.

Each test that needs a database gets a fresh one cloned from a migrated template, so tests never see each
other's rows and both store paths run the same test bodies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from foryou import migrate
from foryou.scratch import create_database, drop_database, scratch_database
from foryou.settings import Settings, get_settings
from foryou.stores import ensure_stores, stop_embedded_stores

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS = REPO_ROOT.parent / "shared" / "datasets"
TEMPLATE_DB = f"foryou_tpl_{os.getpid()}"


def _server_settings(tmp_root: Path) -> Settings:
    """Settings for the server the suite runs on: configured URLs from the environment, else embedded."""
    configured = Settings()
    return Settings(
        database_url=configured.database_url, redis_url=configured.redis_url, home=tmp_root / "home"
    )


@pytest.fixture(scope="session")
def server_settings() -> Iterator[Settings]:
    # Not under pytest's tmp_path: pytest prunes old basetemps, which would pull the data folder from under
    # a running embedded Postgres when two sessions run at once.
    root = Path(tempfile.mkdtemp(prefix="foryou-test-stores-"))
    settings = _server_settings(root)
    yield settings
    stop_embedded_stores(settings)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def server_urls(server_settings: Settings):  # type: ignore[no-untyped-def]
    return ensure_stores(server_settings)


@pytest.fixture(scope="session")
def template_database(server_urls) -> Iterator[str]:  # type: ignore[no-untyped-def]
    drop_database(server_urls.database_url, TEMPLATE_DB)
    migrate.upgrade(create_database(server_urls.database_url, TEMPLATE_DB))
    yield TEMPLATE_DB
    drop_database(server_urls.database_url, TEMPLATE_DB)


@pytest.fixture
def empty_database_url(server_urls) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A brand-new database with no schema at all."""
    with scratch_database(server_urls.database_url, "foryou_t") as url:
        yield url


@pytest.fixture
def database_url(server_urls, template_database: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh database at schema head, cloned from the migrated template."""
    with scratch_database(server_urls.database_url, "foryou_t", template=template_database) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    from foryou.db import make_engine

    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(database_url: str, server_urls, tmp_path: Path) -> Settings:  # type: ignore[no-untyped-def]
    """Settings pointing at this test's fresh database, the suite's Redis and a private home."""
    return Settings(database_url=database_url, redis_url=server_urls.redis_url, home=tmp_path / "home")


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for running the `foryou` CLI as a subprocess against this test's stores."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORYOU_")}
    env.update(
        FORYOU_DATABASE_URL=str(settings.database_url),
        FORYOU_REDIS_URL=str(settings.redis_url),
        FORYOU_HOME=str(settings.home),
    )
    return env


def run_cli(args: list[str], env: dict[str, str], check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `foryou ARGS` in a subprocess, as a user would; returns the completed process."""
    result = subprocess.run(
        [sys.executable, "-m", "foryou", *args], env=env, capture_output=True, text=True, timeout=900
    )
    if check and result.returncode != 0:
        raise AssertionError(f"foryou {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


@pytest.fixture(autouse=True)
def _fresh_settings_cache() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def table_count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def datasets_dir(name: str) -> Path:
    path = DATASETS / name
    if not path.exists():
        pytest.skip(f"dataset {name} not present under {DATASETS}")
    return path


@contextmanager
def feature_world(
    server_urls,
    template: str,
    statements: Sequence[str],
    until: datetime,
    view: str,  # type: ignore[no-untyped-def]
) -> Iterator[sa.Engine]:
    """A scratch database holding hand-written rows, with feature `view` built up to `until`."""
    from foryou.db import make_engine
    from pipelines.features.build import build

    with scratch_database(server_urls.database_url, "foryou_t", template=template) as url:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement))
            build(engine, until, views=[view], now=until)
            yield engine
        finally:
            engine.dispose()
