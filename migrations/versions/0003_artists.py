"""artist gallery: artists with their voiceprint, reference recordings with their embedding
(float4 arrays on PostgreSQL, JSON lists on SQLite), a version counter per tenant's gallery,
and the pipeline a job runs (analysis, or the enrolment of a reference)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMBEDDING = sa.JSON().with_variant(postgresql.ARRAY(postgresql.REAL()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("pipeline", sa.String(length=16), nullable=False, server_default="analysis")
        )
    op.create_table(
        "artists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("voiceprint", EMBEDDING, nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "name"),
        sa.UniqueConstraint("tenant_id", "external_id"),
    )
    op.create_index("ix_artists_tenant_revision", "artists", ["tenant_id", "revision"])
    op.create_table(
        "artist_references",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("artist_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("embedding", EMBEDDING, nullable=True),
        sa.Column("vocal_seconds", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["artist_id"], ["artists.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id"),
    )
    op.create_index(
        "ix_artist_references_artist_sha256", "artist_references", ["artist_id", "sha256"]
    )
    op.create_table(
        "artist_galleries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("artist_galleries")
    op.drop_index("ix_artist_references_artist_sha256", table_name="artist_references")
    op.drop_table("artist_references")
    op.drop_index("ix_artists_tenant_revision", table_name="artists")
    op.drop_table("artists")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("pipeline")
