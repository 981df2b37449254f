"""batches: catalogue scans (batches, their items in submission order), jobs and webhook
attempts that belong to a batch, per-API-key rate-limit windows

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("webhook_url", sa.String(length=2048), nullable=True),
        sa.Column("job_webhooks", sa.Boolean(), nullable=False),
        sa.Column("metadata", JSON, nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "idempotency_key"),
    )
    op.create_index("ix_batches_status", "batches", ["status"])
    op.create_index("ix_batches_tenant_created", "batches", ["tenant_id", "created_at", "id"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("batch_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            "jobs_batch_id_fkey", "batches", ["batch_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index("ix_jobs_batch_status", "jobs", ["batch_id", "status"])
    op.create_table(
        "batch_items",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("custom_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", JSON, nullable=True),
        sa.Column("metadata", JSON, nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("batch_id", "seq"),
        sa.UniqueConstraint("batch_id", "custom_id"),
        sa.UniqueConstraint("job_id"),
    )
    op.create_index("ix_batch_items_status", "batch_items", ["batch_id", "status", "seq"])
    with op.batch_alter_table("webhook_attempts") as batch:
        batch.alter_column("job_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("batch_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            "webhook_attempts_batch_id_fkey",
            "batches",
            ["batch_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.create_index("ix_webhook_attempts_batch_id", "webhook_attempts", ["batch_id"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("window_start", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("window_count", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("window_count")
        batch.drop_column("window_start")
    op.drop_index("ix_webhook_attempts_batch_id", table_name="webhook_attempts")
    # Batch webhook attempts have no job: they go with the batches.
    op.execute("DELETE FROM webhook_attempts WHERE job_id IS NULL")
    with op.batch_alter_table("webhook_attempts") as batch:
        batch.drop_constraint("webhook_attempts_batch_id_fkey", type_="foreignkey")
        batch.drop_column("batch_id")
        batch.alter_column("job_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("ix_batch_items_status", table_name="batch_items")
    op.drop_table("batch_items")
    op.drop_index("ix_jobs_batch_status", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("jobs_batch_id_fkey", type_="foreignkey")
        batch.drop_column("batch_id")
    op.drop_index("ix_batches_tenant_created", table_name="batches")
    op.drop_index("ix_batches_status", table_name="batches")
    op.drop_table("batches")
