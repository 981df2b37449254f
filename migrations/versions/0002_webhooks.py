"""webhooks (a signing secret per tenant, a log of every delivery attempt); 64-bit sizes;
the index the job listing reads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.tables import new_webhook_secret

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("webhook_secret", sa.String(length=64), nullable=True))
    tenants = sa.table("tenants", sa.column("id", sa.Uuid()), sa.column("webhook_secret"))
    connection = op.get_bind()
    for (tenant_id,) in connection.execute(sa.select(tenants.c.id)).all():
        connection.execute(tenants.update().where(tenants.c.id == tenant_id)
                           .values(webhook_secret=new_webhook_secret()))
    with op.batch_alter_table("tenants") as batch:
        batch.alter_column("webhook_secret", nullable=False)
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_attempts_job_id", "webhook_attempts", ["job_id"])
    op.create_index("ix_jobs_tenant_created", "jobs", ["tenant_id", "created_at", "id"])
    for table in ("tracks", "artifacts"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("size_bytes", type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    for table in ("tracks", "artifacts"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("size_bytes", type_=sa.Integer(), existing_nullable=False)
    op.drop_index("ix_jobs_tenant_created", table_name="jobs")
    op.drop_index("ix_webhook_attempts_job_id", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("webhook_secret")
