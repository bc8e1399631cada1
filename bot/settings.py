"""Process settings read from the environment (secrets stay ``SecretStr``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
