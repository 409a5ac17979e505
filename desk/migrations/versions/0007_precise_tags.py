"""The precise tier's tags, kept beside the fast tier's (core.store.PreciseTagRow).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "precise_tags",
        sa.Column("post_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sentiment", sa.String(length=32), nullable=False),
        sa.Column("sentiment_score", sa.Float(), nullable=False),
        sa.Column("emotion", sa.String(length=32), nullable=False),
        sa.Column("emotion_score", sa.Float(), nullable=False),
        sa.Column("emotion_scores", sa.JSON(), nullable=False),
        sa.Column("polarity", sa.String(length=16), nullable=False),
        sa.Column("polarity_score", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("tagged_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id"),
    )


def downgrade() -> None:
    op.drop_table("precise_tags")
