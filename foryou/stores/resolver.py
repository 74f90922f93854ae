"""Decide which stores to use: the configured URLs, else embedded servers started on demand."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from foryou.settings import Settings
from foryou.stores._proc import file_lock
from foryou.stores.embedded_postgres import EmbeddedPostgres
from foryou.stores.embedded_redis import EmbeddedRedis


@dataclass(frozen=True)
class StoreUrls:
    """The database and Redis URLs in use, and whether each is embedded."""

    database_url: str
    redis_url: str
    embedded_postgres: bool
    embedded_redis: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _embedded(settings: Settings) -> tuple[EmbeddedPostgres, EmbeddedRedis]:
    return EmbeddedPostgres(settings.home / "postgres"), EmbeddedRedis(settings.home / "redis")


def ensure_stores(settings: Settings) -> StoreUrls:
    """URLs of usable stores, starting embedded Postgres/Redis for whichever URL is not configured."""
    postgres, redis_server = _embedded(settings)
    database_url, redis_url = settings.database_url, settings.redis_url
    if database_url is None or redis_url is None:
        with file_lock(settings.home / "stores.lock"):
            if database_url is None:
                database_url = postgres.start()
            if redis_url is None:
                redis_url = redis_server.start()
    return StoreUrls(
        database_url=database_url,
        redis_url=redis_url,
        embedded_postgres=settings.database_url is None,
        embedded_redis=settings.redis_url is None,
    )


def store_status(settings: Settings) -> dict[str, object]:
    """What is configured and what is running, without starting anything."""
    postgres, redis_server = _embedded(settings)
    pg_port, redis_port = postgres.running_port(), redis_server.running_port()
    return {
        "database_url": settings.database_url or (postgres.url(pg_port) if pg_port else None),
        "redis_url": settings.redis_url or (redis_server.url(redis_port) if redis_port else None),
        "embedded_postgres": settings.database_url is None,
        "embedded_redis": settings.redis_url is None,
        "embedded_postgres_running": pg_port is not None,
        "embedded_redis_running": redis_port is not None,
        "home": str(settings.home),
    }


def stop_embedded_stores(settings: Settings) -> dict[str, bool]:
    """Stop the embedded servers under FORYOU_HOME; configured services are never touched."""
    postgres, redis_server = _embedded(settings)
    with file_lock(settings.home / "stores.lock"):
        return {"postgres": postgres.stop(), "redis": redis_server.stop()}
