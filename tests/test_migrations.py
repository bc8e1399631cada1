"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic import command
from sqlalchemy.engine import Engine

from bot.db import alembic_config


def test_models_and_migrations_agree(engine: Engine) -> None:
    command.check(alembic_config(engine))  # raises if autogenerate would find a difference
