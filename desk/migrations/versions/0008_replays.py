"""Replays of a scenario (a living demo or a drill) and the entries each has played.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("speed", sa.Float(), nullable=False),
        sa.Column("length", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("paused_at", sa.DateTime(), nullable=True),
        sa.Column("pauses", sa.JSON(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("org_ids", sa.JSON(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "replay_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("replay_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["replay_id"], ["replays.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("replay_id", "entry_id"),
    )


def downgrade() -> None:
    op.drop_table("replay_events")
    op.drop_table("replays")
