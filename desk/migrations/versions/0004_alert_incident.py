"""An alert linked to the incident it is part of.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_alerts_incident_id", "incidents", ["incident_id"], ["id"])
        batch.create_index("ix_alerts_incident_id", ["incident_id"])


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_incident_id")
        batch.drop_constraint("fk_alerts_incident_id", type_="foreignkey")
        batch.drop_column("incident_id")
