"""Alembic on a real PostgreSQL: one head, upgrade and downgrade, models in step with migrations."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from app.db import alembic_config, downgrade, get_engine, upgrade
from app.models import Base

pytestmark = pytest.mark.integration


def test_migrations_have_a_single_head(postgres_url):
    assert len(ScriptDirectory.from_config(alembic_config(postgres_url)).get_heads()) == 1


def test_upgrade_downgrade_upgrade_round_trips(postgres_url):
    engine = get_engine(postgres_url)
    upgrade(postgres_url)
    assert {"jobs", "tracks", "tenants", "api_keys", "stage_results", "artifacts"} <= set(
        inspect(engine).get_table_names()
    )
    downgrade(postgres_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(postgres_url)
    assert "jobs" in inspect(engine).get_table_names()


def test_the_models_match_the_migrated_schema(postgres_url):
    upgrade(postgres_url)
    with get_engine(postgres_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
