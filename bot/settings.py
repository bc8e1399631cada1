"""Process settings read from the environment (secrets stay ``SecretStr``)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot import roomlinks

EXAMPLE_CONFIG = Path(__file__).with_name("hotel.example.toml")
DEFAULT_DATABASE_URL = "sqlite:///concierge.db"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"


class Settings(BaseSettings):
    """Environment of one bot process; see the README's configuration reference."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    telegram_bot_token: SecretStr = Field(validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_base_url: str = Field(default=DEFAULT_BASE_URL, validation_alias="TELEGRAM_BASE_URL")
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    config_path: Path = Field(default=EXAMPLE_CONFIG, validation_alias="CONCIERGE_CONFIG")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    messages_per_second: float = Field(
        default=30.0, gt=0, le=1000, validation_alias="TELEGRAM_MESSAGES_PER_SECOND"
    )
    webhook_url: str | None = Field(default=None, validation_alias="WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, validation_alias="WEBHOOK_SECRET")
    webhook_listen: str = Field(default="0.0.0.0:8080", validation_alias="WEBHOOK_LISTEN")
    room_link_secret: SecretStr | None = Field(default=None, validation_alias="ROOM_LINK_SECRET")

    @field_validator("room_link_secret")
    @classmethod
    def _room_secret_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError("must have at least 16 characters")
        return value

    @property
    def room_link_key(self) -> bytes:
        """The key of the printed room links: from ``ROOM_LINK_SECRET``, else from the token."""
        if self.room_link_secret is not None:
            return roomlinks.secret_key(self.room_link_secret.get_secret_value())
        return roomlinks.room_key(self.telegram_bot_token.get_secret_value())

    @field_validator("webhook_secret")
    @classmethod
    def _secret_usable(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram allows 1-256 characters A-Z, a-z, 0-9, _ and -.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{16,256}", value.get_secret_value()
        ):
            raise ValueError("must be 16 to 256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("webhook_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 0.0.0.0:8080")
        return value

    @property
    def listen(self) -> tuple[str, int]:
        """``WEBHOOK_LISTEN`` as host and port."""
        host, _, port = self.webhook_listen.rpartition(":")
        return host.strip("[]"), int(port)

    def webhook_problem(self) -> str | None:
        """Why webhook mode cannot start with these settings, if it cannot."""
        if not self.webhook_url:
            return "WEBHOOK_URL is not set (the public HTTPS URL Telegram posts updates to)"
        if not self.webhook_url.startswith(("https://", "http://")):
            return "WEBHOOK_URL must start with https://"
        if self.webhook_secret is None:
            return "WEBHOOK_SECRET is not set (16-256 characters of A-Z, a-z, 0-9, _ and -)"
        return None

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value


class DatabaseSettings(BaseSettings):
    """The part of the environment that commands without a bot (db, staff) need."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    config_path: Path = Field(default=EXAMPLE_CONFIG, validation_alias="CONCIERGE_CONFIG")
