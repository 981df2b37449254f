"""Alembic environment: migrates the database named by the settings (or -x / config URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from app.config import load_settings
from app.db import get_engine
from app.tables import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = get_engine(database_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


_ = pool  # NullPool is not needed: the engine is shared with the process
if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
