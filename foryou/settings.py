"""The one settings object. Nothing else in foryou reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from foryou.errors import ConfigError


class Settings(BaseSettings):
    """Typed settings read from `FORYOU_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="FORYOU_", extra="forbid", frozen=True)

    database_url: str | None = Field(
        default=None,
        description="Postgres URL (postgresql://user@host:port/db). Unset: an embedded Postgres under home.",
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL (redis://host:port/db). Unset: an embedded Redis under home."
    )
    home: Path = Field(default=Path(".foryou"), description="Data folder for embedded stores and artifacts.")

    @property
    def artifacts_dir(self) -> Path:
        """Model versions (foryou/artifacts.py) and indexes live here."""
        return self.home / "artifacts"

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ValueError(
                f"FORYOU_DATABASE_URL must start with postgresql:// (got {value!r}); "
                "for example postgresql://postgres@127.0.0.1:5432/foryou"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://")):
            raise ValueError(
                f"FORYOU_REDIS_URL must start with redis:// (got {value!r}); for example redis://127.0.0.1:6379/0"
            )
        return value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().absolute()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process; invalid values raise ConfigError."""
    try:
        return Settings()
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise ConfigError(f"Invalid foryou settings: {exc}") from exc
