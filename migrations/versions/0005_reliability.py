"""the stage hand-off record: the stage due next and when its message was published

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The pipelines (jobs.pipeline, 0003) when this revision was written: a job waiting between
# two stages has the next one of its pipeline due (its message was sent by the Celery chain
# the earlier code used).
STAGES_THEN = {
    "analysis": ("ingest", "separate", "identify", "detect", "finalize"),
    "reference": ("ingest", "separate", "enroll"),
}


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("next_stage", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
    jobs = sa.table(
        "jobs",
        sa.column("status", sa.String()),
        sa.column("pipeline", sa.String()),
        sa.column("stage", sa.String()),
        sa.column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.column("next_stage", sa.String()),
        sa.column("dispatched_at", sa.DateTime(timezone=True)),
    )
    for pipeline, stages in STAGES_THEN.items():
        for done, due in zip(stages, stages[1:], strict=False):
            op.execute(
                jobs.update()
                .where(
                    jobs.c.status == "running",
                    jobs.c.pipeline == pipeline,
                    jobs.c.stage == done,
                    jobs.c.heartbeat_at.is_(None),
                )
                .values(next_stage=due, dispatched_at=sa.func.now())
            )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("dispatched_at")
        batch.drop_column("next_stage")
