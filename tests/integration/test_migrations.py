"""Alembic on a real PostgreSQL: one head, upgrade and downgrade, models in step with migrations."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from app.db import alembic_config, downgrade, get_engine, upgrade
from app.tables import Base

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


def test_the_hand_off_back_fill_makes_the_next_stage_of_each_jobs_pipeline_due(postgres_url):
    # Jobs waiting between two stages when 0005 arrives: each gets the next stage of its own
    # pipeline due, and a job whose stage is still running (a heartbeat) gets none.
    upgrade(postgres_url)
    downgrade(postgres_url, "0004")
    tenant = uuid.uuid4()
    waiting = {  # job id: (pipeline, stage done, heartbeat written)
        uuid.uuid4(): ("analysis", "separate", False),
        uuid.uuid4(): ("analysis", "identify", False),
        uuid.uuid4(): ("reference", "separate", False),
        uuid.uuid4(): ("reference", "ingest", True),
    }
    engine = get_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, name, webhook_secret, created_at)"
                " VALUES (:id, 'backfill', 'whsec_x', now())"
            ),
            {"id": tenant},
        )
        for job_id, (pipeline, stage, beating) in waiting.items():
            conn.execute(
                text(
                    "INSERT INTO jobs (id, tenant_id, status, progress, source, attempts,"
                    " created_at, updated_at, pipeline, stage, heartbeat_at) VALUES (:id,"
                    " :tenant, 'running', 0.5, '{}', 1, now(), now(), :pipeline, :stage,"
                    " CASE WHEN :beating THEN now() END)"
                ),
                {
                    "id": job_id,
                    "tenant": tenant,
                    "pipeline": pipeline,
                    "stage": stage,
                    "beating": beating,
                },
            )
    try:
        upgrade(postgres_url)
        with engine.connect() as conn:
            due = dict(
                conn.execute(
                    text("SELECT id, next_stage FROM jobs WHERE tenant_id = :t"), {"t": tenant}
                ).all()
            )
        assert [due[job_id] for job_id in waiting] == ["identify", "detect", "enroll", None]
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM tenants WHERE id = :t"), {"t": tenant})
