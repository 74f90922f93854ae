"""The Feast repo in feature_repo/: RepoConfig rendered from settings, apply, and a FeatureStore handle."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import yaml

from foryou.db import sqlalchemy_url
from foryou.errors import ConfigError
from foryou.settings import Settings
from foryou.stores import StoreUrls

if TYPE_CHECKING:
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

PROJECT = "foryou"
FEATURE_REPO = Path(__file__).resolve().parents[1] / "feature_repo"


def redis_connection_string(redis_url: str) -> str:
    """redis://[:pw@]host:port/db → Feast's `host:port,db=N[,password=…]` form."""
    url = sa.engine.make_url(redis_url.replace("redis://", "redis+x://", 1))
    parts = [f"{url.host or '127.0.0.1'}:{url.port or 6379}", f"db={url.database or 0}"]
    if url.password:
        parts.append(f"password={url.password}")
    return ",".join(parts)


def config_dict(settings: Settings, stores: StoreUrls, *, sql_registry: bool = False) -> dict[str, Any]:
    """feature_store.yaml as a dict: Postgres offline store, Redis online store, file (or SQL) registry."""
    pg = sa.engine.make_url(sqlalchemy_url(stores.database_url))
    registry: dict[str, Any] = (
        {
            "registry_type": "sql",
            "path": sqlalchemy_url(stores.database_url),
            "cache_ttl_seconds": 60,
            "sqlalchemy_config_kwargs": {"pool_pre_ping": True},
        }
        if sql_registry
        else {"path": str(settings.home / "feast" / "registry.db"), "cache_ttl_seconds": 60}
    )
    return {
        "project": PROJECT,
        "provider": "local",
        "registry": registry,
        "offline_store": {
            "type": "postgres",
            "host": pg.host or "127.0.0.1",
            "port": pg.port or 5432,
            "database": pg.database,
            "db_schema": "public",
            "user": pg.username or "postgres",
            "password": pg.password or "",
            "sslmode": "disable",
            "entity_select_mode": "embed_query",
        },
        "online_store": {"type": "redis", "connection_string": redis_connection_string(stores.redis_url)},
        "batch_engine": {"type": "local"},
        "entity_key_serialization_version": 3,
    }


def repo_config(settings: Settings, stores: StoreUrls, *, sql_registry: bool = False) -> RepoConfig:
    """A Feast RepoConfig for these stores (what `feast` would read from feature_store.yaml)."""
    from feast.repo_config import RepoConfig

    (settings.home / "feast").mkdir(parents=True, exist_ok=True)
    return RepoConfig(**config_dict(settings, stores, sql_registry=sql_registry), repo_path=FEATURE_REPO)


def render_yaml(settings: Settings, stores: StoreUrls, path: Path | None = None) -> Path:
    """Write feature_store.yaml under FORYOU_HOME for people who run the `feast` CLI directly."""
    path = path or settings.home / "feast" / "feature_store.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_dict(settings, stores), sort_keys=False))
    return path


@contextmanager
def _inside_repo(repo_path: Path) -> Iterator[None]:
    """Feast imports repo files as top-level modules relative to the working directory.

    Those module names are dropped from sys.modules around the block, so applying an edited repo (or another
    copy) in the same process reads the files again instead of a cached import.
    """
    cwd, saved_path = os.getcwd(), list(sys.path)
    names = [p.stem for p in repo_path.glob("*.py")]
    for name in names:
        sys.modules.pop(name, None)
    os.chdir(repo_path)
    sys.path.insert(0, str(repo_path))
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.path[:] = saved_path
        for name in names:
            sys.modules.pop(name, None)


def feature_store(settings: Settings, stores: StoreUrls) -> FeatureStore:
    """A FeatureStore over the registry that `apply` wrote."""
    from feast import FeatureStore

    return FeatureStore(config=repo_config(settings, stores), repo_path=str(FEATURE_REPO))


def check_sources(database_url: str, feature_views: list[Any]) -> None:
    """Every field of every Postgres-backed view must be a column of its source (Feast does not check)."""
    from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource

    from foryou.db import connect, make_engine

    engine = make_engine(database_url)
    problems: list[str] = []
    try:
        with connect(engine, transaction=False) as conn:
            for view in feature_views:
                source = view.batch_source
                if not isinstance(source, PostgreSQLSource):
                    continue
                query = source.get_table_query_string()
                try:
                    columns = set(conn.exec_driver_sql(f"SELECT * FROM {query} AS s LIMIT 0").keys())
                except sa.exc.DBAPIError as exc:
                    conn.rollback()
                    problems.append(
                        f"view {view.name}: its source {source.name} cannot be read "
                        f"({str(exc.orig).strip().splitlines()[0]}); run `foryou db upgrade` and "
                        "`foryou features build`, or fix the source query"
                    )
                    continue
                wanted = [*view.join_keys, source.timestamp_field, source.created_timestamp_column]
                wanted += [f.name for f in view.features]
                for name in wanted:
                    if name and name not in columns:
                        problems.append(
                            f"view {view.name}: field {name!r} is not a column of {query}; add it to "
                            "the feature table (pipelines/features and a migration) or remove the field"
                        )
    finally:
        engine.dispose()
    if problems:
        raise ConfigError("The feature repo does not match its tables:\n  - " + "\n  - ".join(problems))


def apply(settings: Settings, stores: StoreUrls, repo_path: Path = FEATURE_REPO) -> dict[str, list[str]]:
    """`feast apply` for the repo: register (and remove) definitions; errors name the object and the fix."""
    from feast import FeatureStore
    from feast.repo_operations import apply_total_with_repo_instance, parse_repo

    config = repo_config(settings, stores)
    config.repo_path = repo_path
    store = FeatureStore(config=config, repo_path=str(repo_path))
    with _inside_repo(repo_path):
        try:
            contents = parse_repo(repo_path)
            check_sources(stores.database_url, contents.feature_views)
            apply_total_with_repo_instance(
                store, PROJECT, store.registry, contents, skip_source_validation=False
            )
        except ConfigError:
            raise
        except Exception as exc:  # Feast raises many unrelated types for a bad definition
            raise ConfigError(
                f"Feature repo {repo_path} could not be applied: {type(exc).__name__}: {exc}. "
                "Check that every feature view's fields exist in its source table and every FeatureService "
                "names features of registered views."
            ) from exc
    return {
        "feature_views": sorted(v.name for v in contents.feature_views),
        "on_demand_feature_views": sorted(v.name for v in contents.on_demand_feature_views),
        "feature_services": sorted(s.name for s in contents.feature_services),
    }
