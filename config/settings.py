"""Typed settings for Keyworker, read from KEYWORKER_* environment variables and an optional TOML file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "changethis", "secret", "placeholder"}


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it in one line."""


class Settings(BaseSettings):
    """Every setting of a Keyworker deployment."""

    model_config = SettingsConfigDict(env_prefix="KEYWORKER_", extra="forbid")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    secret_key: SecretStr | None = None
    encryption_keys: SecretStr | None = None  # Fernet keys, newest first, comma-separated
    index_key: SecretStr | None = None  # keyed hashes for finding people by name
    encryption_key_file: Path | None = None  # or both in a file ('data:' lines, one 'index:' line)
    public_url: str = "http://127.0.0.1:8000"
    timezone: str = "Europe/London"

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_poll_timeout: int = Field(default=25, ge=0, le=50)
    # How long to wait for the Bot API to answer a send before treating it as failed and retrying.
    telegram_send_timeout: float = Field(default=15, gt=0, le=120)
    # An update that fails this many times for a reason other than the database is kept aside,
    # encrypted, for staff to read (bot/intake.py), so it cannot hold up everyone else's.
    telegram_update_attempts: int = Field(default=5, ge=1, le=100)
    # Sends a second to Telegram in all: its limit for bots is about 30 (more with paid broadcasts).
    telegram_global_rate: int = Field(default=30, ge=1, le=100_000)

    alert_escalation_minutes: float = Field(default=15, gt=0)
    # An urgent message whose stored reply is not committed this soon (a slow or unreachable
    # database) gets the helplines straight through the channel (bot/lifeline.py); 0: at once.
    crisis_reply_seconds: float = Field(default=5, ge=0, le=60)
    # The trained model may lower a rule's urgent verdict to concern when it is very sure the message
    # is not urgent ("my ex used to slap me but we split up ages ago"); False: a rule's urgent always stands.
    risk_model_may_lower: bool = True
    scheduler_interval_seconds: float = Field(default=5.0, ge=0)
    # A job or an outgoing message claimed this long ago by a process that never finished it (it
    # stopped or crashed) is taken over by another; longer than any job or delivery with its retries.
    claim_lease_seconds: float = Field(default=300, gt=0)
    # When set, /metrics answers only a scraper sending it as a bearer token.
    metrics_token: SecretStr | None = None
    invite_ttl_days: int = Field(default=7, ge=1, le=60)
    out_of_hours_phone: str = "your council's out-of-hours line"
    session_idle_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # When appointment reminders go: "1d@18:00" is 18:00 local the day before, "2h" two hours before.
    appointment_reminders: list[Annotated[str, Field(pattern=r"^(\d+d@([01]\d|2[0-3]):[0-5]\d|\d+[hm])$")]] = ["1d@18:00", "2h"]
    checkin_missed_flag_after: int = Field(default=3, ge=1, le=30)
    # A dashboard page shows figures worked out at most this many seconds before (docs/indicators.md, "Kept
    # fresh"): at council scale the whole service's take most of a second to work out; 0: always worked out afresh.
    dashboard_fresh_seconds: int = Field(default=60, ge=0, le=3600)
    # Retention (docs/data-protection.md): a closed case is erased this many days after the young
    # person left the service; "anonymise" keeps counts and times for the figures, "delete" keeps nothing.
    retention_days_after_leaving: int = Field(default=365, ge=1)
    retention_erase: Literal["anonymise", "delete"] = "anonymise"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("KEYWORKER_CONFIG_FILE")
        if config_file:
            if not Path(config_file).is_file():
                raise SettingsError(f"KEYWORKER_CONFIG_FILE: no such file {config_file!r}")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("telegram_api_url", "public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must use sqlite+aiosqlite:// or postgresql+asyncpg://, "
                f"got {value.split('://')[0]!r}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'keyworker.db'}"
        if self.telegram_webhook_url:
            if not self.telegram_token:
                raise ValueError("telegram_webhook_url is set but telegram_token is not")
            secret = self.telegram_webhook_secret
            if secret is None or len(secret.get_secret_value()) < 16:
                raise ValueError(
                    "telegram_webhook_secret must be set (16+ characters) in webhook mode"
                )
        if self.environment == "production":
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            if key.lower() in PLACEHOLDER_SECRETS or len(key) < 32:
                raise ValueError("secret_key must be set to 32+ random characters in production")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def mode(self) -> str:
        """Say which channels run: 'webhook', 'polling' or 'webchat-only'."""
        if not self.telegram_token:
            return "webchat-only"
        return "webhook" if self.telegram_webhook_url else "polling"

    def resolved_secret_key(self) -> str:
        """Return the secret key, creating a development key file under data_dir if none is set."""
        if self.secret_key and self.secret_key.get_secret_value().lower() not in PLACEHOLDER_SECRETS:
            return self.secret_key.get_secret_value()
        if self.environment == "production":
            raise SettingsError("KEYWORKER_SECRET_KEY: must be set in production")
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Load settings, turning any validation error into one line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = "_".join(str(part) for part in error["loc"])
        name = f"KEYWORKER_{loc.upper()}" if loc else "settings"
        message = error["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None
