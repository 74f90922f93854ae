from pathlib import Path

import pytest

from foryou.errors import ConfigError
from foryou.settings import Settings, get_settings


def test_defaults_use_embedded_stores_under_dot_foryou(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORYOU_DATABASE_URL", "FORYOU_REDIS_URL", "FORYOU_HOME"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url is None and settings.redis_url is None
    assert settings.home == Path(".foryou").absolute()


def test_environment_is_read_with_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FORYOU_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x")
    monkeypatch.setenv("FORYOU_REDIS_URL", "redis://127.0.0.1:6379/1")
    monkeypatch.setenv("FORYOU_HOME", str(tmp_path))
    settings = get_settings()
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/x"
    assert settings.redis_url == "redis://127.0.0.1:6379/1"
    assert settings.home == tmp_path


def test_empty_url_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORYOU_DATABASE_URL", "")
    assert get_settings().database_url is None


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [
        ("FORYOU_DATABASE_URL", "mysql://x", "postgresql://"),
        ("FORYOU_REDIS_URL", "127.0.0.1:6379", "redis://"),
    ],
)
def test_bad_urls_raise_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, hint: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert name in str(info.value) and hint in str(info.value)
