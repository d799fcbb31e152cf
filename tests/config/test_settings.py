"""Settings: defaults, TOML file, and one clear line naming any bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("KEYWORKER_"):
            monkeypatch.delenv(name)


def test_defaults_run_web_chat_only_on_sqlite_under_var() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///var/keyworker.db"
    assert settings.mode == "webchat-only"
    assert settings.telegram_api_url == "https://api.telegram.org"


def test_environment_variables_choose_polling_or_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYWORKER_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("KEYWORKER_TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    assert load_settings().mode == "polling"
    assert load_settings().telegram_api_url == "http://127.0.0.1:8081"
    monkeypatch.setenv("KEYWORKER_TELEGRAM_WEBHOOK_URL", "https://keyworker.example.org/telegram/webhook")
    monkeypatch.setenv("KEYWORKER_TELEGRAM_WEBHOOK_SECRET", "a-long-enough-secret-value")
    assert load_settings().mode == "webhook"


def test_toml_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "keyworker.toml"
    config.write_text('timezone = "Europe/Belfast"\nout_of_hours_phone = "0300 000 0000"\n')
    monkeypatch.setenv("KEYWORKER_CONFIG_FILE", str(config))
    settings = load_settings()
    assert settings.timezone == "Europe/Belfast" and settings.out_of_hours_phone == "0300 000 0000"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KEYWORKER_DATABASE_URL", "mysql://x", "KEYWORKER_DATABASE_URL: must use sqlite+aiosqlite:// or postgresql+asyncpg://"),
        ("KEYWORKER_TIMEZONE", "Mars/Olympus", "KEYWORKER_TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ("KEYWORKER_TELEGRAM_API_URL", "api.telegram.org", "KEYWORKER_TELEGRAM_API_URL: must start with http"),
        ("KEYWORKER_INVITE_TTL_DAYS", "0", "KEYWORKER_INVITE_TTL_DAYS:"),
        ("KEYWORKER_ENVIRONMENT", "staging", "KEYWORKER_ENVIRONMENT:"),
        ("KEYWORKER_SURPRISE", "1", "KEYWORKER_SURPRISE:"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    if name == "KEYWORKER_SURPRISE":
        # Unknown KEYWORKER_ variables in the environment are ignored; unknown keys in a file are not.
        assert load_settings()
        return
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_webhook_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYWORKER_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("KEYWORKER_TELEGRAM_WEBHOOK_URL", "https://keyworker.example.org/telegram/webhook")
    with pytest.raises(SettingsError, match="telegram_webhook_secret must be set"):
        load_settings()


def test_production_refuses_a_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYWORKER_ENVIRONMENT", "production")
    monkeypatch.setenv("KEYWORKER_SECRET_KEY", "changeme")
    with pytest.raises(SettingsError, match="secret_key must be set"):
        load_settings()


def test_unknown_key_in_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "keyworker.toml"
    config.write_text('timezon = "Europe/London"\n')
    monkeypatch.setenv("KEYWORKER_CONFIG_FILE", str(config))
    with pytest.raises(SettingsError, match="KEYWORKER_TIMEZON"):
        load_settings()


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYWORKER_CONFIG_FILE", "/nonexistent/keyworker.toml")
    with pytest.raises(SettingsError, match="KEYWORKER_CONFIG_FILE: no such file"):
        load_settings()


def test_development_secret_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    first = settings.resolved_secret_key()
    assert first == settings.resolved_secret_key()
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
