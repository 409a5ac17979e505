"""The tables of release 0.1.0, where the history begins.

Release 0.1.0 and those before it made their tables themselves when they opened the
database, and added the columns of later releases in place. So this revision brings a
database of any of them up to 0.1.0 the same way: it creates the tables that are missing
and adds to the others the columns (nullable, as those releases did) and indexes they
lack; a new database simply gets every table. A revision is frozen: these are the tables
as 0.1.0 had them, not the models of the code.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SCHEMA = sa.MetaData()

sa.Table(
    "captures",
    SCHEMA,
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("headers", sa.JSON(), nullable=False),
    sa.Column("body_gzip", sa.LargeBinary(), nullable=False),
    sa.Column("fetched_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("sha256"),
)

sa.Table(
    "cluster_bands",
    SCHEMA,
    sa.Column("band_key", sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column("cluster", sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint("band_key", "cluster"),
    sqlite_with_rowid=False,
)

sa.Table(
    "cluster_signatures",
    SCHEMA,
    sa.Column("cluster", sa.String(length=32), nullable=False),
    sa.Column("signature", sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint("cluster"),
)

sa.Table(
    "crawl_checkpoints",
    SCHEMA,
    sa.Column("job", sa.String(length=200), nullable=False),
    sa.Column("source", sa.String(length=64), nullable=False),
    sa.Column("key", sa.String(length=200), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("job", "source", "key"),
)

sa.Table(
    "crawl_runs",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("job", sa.String(length=200), nullable=False),
    sa.Column("spider", sa.String(length=64), nullable=False),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("finished_at", sa.DateTime(), nullable=True),
    sa.Column("status", sa.String(length=32), nullable=False),
    sa.Column("pages", sa.Integer(), nullable=False),
    sa.Column("stored", sa.Integer(), nullable=False),
    sa.Column("duplicates", sa.Integer(), nullable=False),
    sa.Column("rejected", sa.Integer(), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_crawl_runs_job", "job"),
)

POSTS = sa.Table(
    "posts",
    SCHEMA,
    sa.Column("id", ID, nullable=False),
    sa.Column("platform", sa.String(length=16), nullable=False),
    sa.Column("platform_id", sa.String(length=200), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("parent_id", sa.String(length=200), nullable=True),
    sa.Column("title", sa.String(length=500), nullable=True),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("truncated", sa.Boolean(), nullable=False),
    sa.Column("content_hash", sa.String(length=32), nullable=False),
    sa.Column("cluster", sa.String(length=32), nullable=True),
    sa.Column("url", sa.Text(), nullable=True),
    sa.Column("author_id", sa.String(length=200), nullable=True),
    sa.Column("author_name", sa.String(length=200), nullable=True),
    sa.Column("author_verified", sa.Boolean(), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=True),
    sa.Column("reposts_count", sa.BigInteger(), nullable=False),
    sa.Column("comments_count", sa.BigInteger(), nullable=False),
    sa.Column("likes_count", sa.BigInteger(), nullable=False),
    sa.Column("source", sa.String(length=200), nullable=False),
    sa.Column("capture_sha", sa.String(length=64), nullable=True),
    sa.Column("stored_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.Column("rev", sa.Integer(), nullable=False),
    sa.Column("indexed_rev", sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("platform", "platform_id", name="uq_posts_platform_id"),
    sa.Index("ix_posts_cluster", "cluster"),
    sa.Index("ix_posts_content_hash", "content_hash"),
    sa.Index("ix_posts_parent", "platform", "parent_id"),
)

sa.Table(
    "corrections",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("post_id", ID, nullable=False),
    sa.Column("task", sa.String(length=16), nullable=False),
    sa.Column("label", sa.String(length=500), nullable=False),
    sa.Column("analyst", sa.String(length=200), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_corrections_post_id", "post_id"),
)

sa.Table(
    "tags",
    SCHEMA,
    sa.Column("post_id", ID, nullable=False),
    sa.Column("rumor_prob", sa.Float(), nullable=False),
    sa.Column("sentiment", sa.String(length=32), nullable=False),
    sa.Column("sentiment_score", sa.Float(), nullable=False),
    sa.Column("topics", sa.JSON(), nullable=False),
    sa.Column("emotion", sa.String(length=32), nullable=True),
    sa.Column("emotion_score", sa.Float(), nullable=True),
    sa.Column("topic_scores", sa.JSON(), nullable=True),
    sa.Column("places", sa.JSON(), nullable=False),
    sa.Column("organisations", sa.JSON(), nullable=True),
    sa.Column("locations", sa.JSON(), nullable=True),
    sa.Column("model_version", sa.String(length=200), nullable=False),
    sa.Column("emotion_scores", sa.JSON(), nullable=True),
    sa.Column("polarity", sa.String(length=16), nullable=True),
    sa.Column("polarity_score", sa.Float(), nullable=True),
    sa.Column("tagged_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("post_id"),
)

sa.Table(
    "audit_log",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("at", sa.DateTime(), nullable=False),
    sa.Column("actor", sa.String(length=64), nullable=False),
    sa.Column("org_id", sa.Integer(), nullable=True),
    sa.Column("action", sa.String(length=64), nullable=False),
    sa.Column("target", sa.String(length=100), nullable=False),
    sa.Column("detail", sa.JSON(), nullable=False),
    sa.Column("prev_hash", sa.String(length=64), nullable=False),
    sa.Column("hash", sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("hash"),
)

sa.Table(
    "organisations",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("level", sa.String(length=16), nullable=False),
    sa.Column("parent_id", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(["parent_id"], ["organisations.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("name"),
)

sa.Table(
    "workflow_lock",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("taken", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
)

sa.Table(
    "users",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("username", sa.String(length=64), nullable=False),
    sa.Column("display_name", sa.String(length=200), nullable=False),
    sa.Column("password_hash", sa.String(length=300), nullable=False),
    sa.Column("org_id", sa.Integer(), nullable=False),
    sa.Column("roles", sa.JSON(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("failed_logins", sa.Integer(), nullable=False),
    sa.Column("locked_until", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("username"),
)

sa.Table(
    "incidents",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("title", sa.String(length=200), nullable=False),
    sa.Column("query", sa.String(length=500), nullable=False),
    sa.Column("major", sa.Boolean(), nullable=False),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("created_by", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
    sa.PrimaryKeyConstraint("id"),
)

sa.Table(
    "login_sessions",
    SCHEMA,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_login_sessions_created_at", "created_at"),
    sa.Index("ix_login_sessions_user_id", "user_id"),
)

sa.Table(
    "fact_proposals",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("incident_id", sa.Integer(), nullable=False),
    sa.Column("key", sa.String(length=32), nullable=False),
    sa.Column("value", sa.JSON(), nullable=False),
    sa.Column("org_id", sa.Integer(), nullable=False),
    sa.Column("proposed_by", sa.Integer(), nullable=False),
    sa.Column("proposed_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    sa.ForeignKeyConstraint(["proposed_by"], ["users.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_fact_proposals_incident_id", "incident_id"),
)

sa.Table(
    "facts",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("incident_id", sa.Integer(), nullable=False),
    sa.Column("key", sa.String(length=32), nullable=False),
    sa.Column("value", sa.JSON(), nullable=False),
    sa.Column("owner_org_id", sa.Integer(), nullable=False),
    sa.Column("updated_by", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
    sa.ForeignKeyConstraint(["owner_org_id"], ["organisations.id"]),
    sa.ForeignKeyConstraint(["updated_by"], ["users.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_facts_incident_id", "incident_id"),
)

sa.Table(
    "incident_organisations",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("incident_id", sa.Integer(), nullable=False),
    sa.Column("org_id", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("incident_id", "org_id"),
    sa.Index("ix_incident_organisations_incident_id", "incident_id"),
)

sa.Table(
    "releases",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("incident_id", sa.Integer(), nullable=False),
    sa.Column("drafting_org_id", sa.Integer(), nullable=False),
    sa.Column("required_org_ids", sa.JSON(), nullable=False),
    sa.Column("channel", sa.String(length=16), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("corrects_id", sa.Integer(), nullable=True),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("scheduled_at", sa.DateTime(), nullable=True),
    sa.Column("published_at", sa.DateTime(), nullable=True),
    sa.Column("rumor_clusters", sa.JSON(), nullable=False),
    sa.Column("created_by", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["corrects_id"], ["releases.id"]),
    sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
    sa.ForeignKeyConstraint(["drafting_org_id"], ["organisations.id"]),
    sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_releases_incident_id", "incident_id"),
)

sa.Table(
    "approvals",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("release_id", sa.Integer(), nullable=False),
    sa.Column("org_id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("version_number", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("cleared_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_approvals_release_id", "release_id"),
)

sa.Table(
    "outbox",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("release_id", sa.Integer(), nullable=False),
    sa.Column("org_id", sa.Integer(), nullable=False),
    sa.Column("channel", sa.String(length=100), nullable=False),
    sa.Column("due_at", sa.DateTime(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=False),
    sa.Column("delivered_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
    sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_outbox_due_at", "due_at"),
    sa.Index("ix_outbox_release_id", "release_id"),
)

sa.Table(
    "release_comments",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("release_id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("changes_requested", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_release_comments_release_id", "release_id"),
)

sa.Table(
    "release_versions",
    SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("release_id", sa.Integer(), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("title", sa.String(length=200), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("author_id", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["author_id"], ["users.id"]),
    sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("release_id", "number"),
    sa.Index("ix_release_versions_release_id", "release_id"),
)

sa.Index("ix_posts_index_pending", POSTS.c.id,
         sqlite_where=POSTS.c.indexed_rev.is_distinct_from(POSTS.c.rev),
         postgresql_where=POSTS.c.indexed_rev.is_distinct_from(POSTS.c.rev))


def upgrade() -> None:
    conn = op.get_bind()
    existing = sa.inspect(conn)
    for table in SCHEMA.sorted_tables:
        if not existing.has_table(table.name):
            table.create(conn)
            continue
        have = {column["name"] for column in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:
                op.add_column(table.name, sa.Column(column.name, column.type))
                if column is POSTS.c.cluster:  # each text its own cluster
                    op.execute(POSTS.update().values(cluster=POSTS.c.content_hash))
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def downgrade() -> None:
    raise NotImplementedError("the first revision is not undone: restore a backup of the database instead")
