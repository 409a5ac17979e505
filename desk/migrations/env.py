"""Alembic's environment: the migrations run on the connection that ``desk.migrations``
passes, inside its transaction, which holds the schema lock."""

from alembic import context

from desk.migrations import METADATA, TABLES

settings = context.config
say = settings.attributes["say"]


def include_name(name, type_, parent_names) -> bool:
    """Only the store's and the desk's tables: others in the database (the scheduler's
    job store) belong to other programs."""
    return type_ != "table" or name in TABLES


def report(ctx, step, heads, run_args) -> None:
    say(f"applied {step.up_revision_id}: {step.up_revision.doc}")


connection = settings.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=list(METADATA),
    include_name=include_name,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters most things by copying the table
    on_version_apply=report,
)
with context.begin_transaction():
    context.run_migrations()
