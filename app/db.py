"""Database engines and sessions; one engine per URL per process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.config import PROJECT_ROOT

if TYPE_CHECKING:
    from alembic.config import Config


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@lru_cache(maxsize=8)
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def upsert(session: Session, model: type, keys: dict[str, Any], values: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE: safe when two workers write the same row.
    A new row gets a fresh uuid ``id``; an existing row keeps its own."""
    statement = _insert(session, model).values(id=uuid.uuid4(), **keys, **values)
    session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=values))


def insert_missing(
    session: Session, model: type, keys: dict[str, Any], values: dict[str, Any]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO NOTHING: the first writer's row stays as it is."""
    statement = _insert(session, model).values(id=uuid.uuid4(), **keys, **values)
    session.execute(statement.on_conflict_do_nothing(index_elements=list(keys)))


def _insert(session: Session, model: type) -> Any:
    """The dialect's INSERT, which has ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    else:
        raise NotImplementedError(f"ON CONFLICT is not written for {dialect}")
    return insert(model)
