"""The store of record: every post exactly once, its tags, and what each stage has done.

SQLite (WAL) by default, PostgreSQL by URL; the same SQLAlchemy 2 code runs on both.
Stages hand work on through the store, never through memory alone:

* a post is keyed by (platform, platform_id); storing it again updates its counts;
* a post is *to tag* while it has no ``tags`` row;
* a post is *to index* while ``indexed_rev`` differs from ``rev``; every change to a
  post or its tags bumps ``rev``, and the index stage records the ``rev`` it indexed.

Each batch is one transaction, so a stage killed at any moment resumes where its last
committed batch ended, and running it again never duplicates anything.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Iterable, Iterator, Sequence

import numpy as np
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    any_,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    inspect,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from core import near_duplicates
from core.schema import Capture, Post, Tags


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def naive_utc(value: datetime | None) -> datetime | None:
    """Timestamps are stored as naive UTC, the one form both databases keep alike."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class PostRow(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="post")
    parent_id: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(32), index=True)
    # the near-duplicate cluster: the content hash of its first post (see core.near_duplicates)
    cluster: Mapped[str | None] = mapped_column(String(32), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[str | None] = mapped_column(String(200))
    author_name: Mapped[str | None] = mapped_column(String(200))
    author_verified: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    reposts_count: Mapped[int] = mapped_column(BigInteger, default=0)
    comments_count: Mapped[int] = mapped_column(BigInteger, default=0)
    likes_count: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(200), default="")
    capture_sha: Mapped[str | None] = mapped_column(String(64))  # the raw response it was read from
    stored_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    rev: Mapped[int] = mapped_column(Integer, default=1)
    indexed_rev: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("platform", "platform_id", name="uq_posts_platform_id"),
        Index("ix_posts_parent", "platform", "parent_id"),  # a post's replies, for tagging and display
        Index(
            "ix_posts_index_pending",
            "id",
            sqlite_where=indexed_rev.is_distinct_from(rev),
            postgresql_where=indexed_rev.is_distinct_from(rev),
        ),
    )


class TagRow(Base):
    __tablename__ = "tags"
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    rumor_prob: Mapped[float] = mapped_column(Float)
    sentiment: Mapped[str] = mapped_column(String(32))
    sentiment_score: Mapped[float] = mapped_column(Float)
    topics: Mapped[list] = mapped_column(JSON)
    emotion: Mapped[str | None] = mapped_column(String(32))
    emotion_score: Mapped[float | None] = mapped_column(Float)
    topic_scores: Mapped[dict | None] = mapped_column(JSON)
    places: Mapped[list] = mapped_column(JSON, default=list)
    organisations: Mapped[list | None] = mapped_column(JSON)
    locations: Mapped[list | None] = mapped_column(JSON)
    model_version: Mapped[str] = mapped_column(String(200))
    emotion_scores: Mapped[dict | None] = mapped_column(JSON)
    polarity: Mapped[str | None] = mapped_column(String(16))
    polarity_score: Mapped[float | None] = mapped_column(Float)
    tagged_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PreciseTagRow(Base):
    """A post's sentiment, emotion and polarity by the precise tier (nlp.precise), kept
    beside its fast tags; where a post has them, readers and the index take these."""

    __tablename__ = "precise_tags"
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    sentiment: Mapped[str] = mapped_column(String(32))
    sentiment_score: Mapped[float] = mapped_column(Float)
    emotion: Mapped[str] = mapped_column(String(32))
    emotion_score: Mapped[float] = mapped_column(Float)
    emotion_scores: Mapped[dict] = mapped_column(JSON)
    polarity: Mapped[str] = mapped_column(String(16))
    polarity_score: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(200))
    tagged_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CorrectionRow(Base):
    """An analyst's label for one task of one post; the latest per post and task counts."""

    __tablename__ = "corrections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    task: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(500))  # a set of topics is one comma-joined label
    analyst: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CrawlRunRow(Base):
    __tablename__ = "crawl_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(200), index=True)
    spider: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(32), default="running")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")


class CaptureRow(Base):
    """A raw HTTP response as captured, gzip-compressed, once per distinct body: the
    evidence behind the posts read from it, kept when the original is deleted."""

    __tablename__ = "captures"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict] = mapped_column(JSON)
    body_gzip: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime] = mapped_column(DateTime)


class ClusterBandRow(Base):
    """One band key of a near-duplicate cluster's signature: new texts with the same key
    are compared with that cluster.

    On SQLite the key is the table (WITHOUT ROWID): no second copy of every row in a rowid
    table, which made a fifth of the import's writes. A database made by an earlier
    version keeps its table, which is read and written the same way."""

    __tablename__ = "cluster_bands"
    __table_args__ = {"sqlite_with_rowid": False}
    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    cluster: Mapped[str] = mapped_column(String(32), primary_key=True)


class ClusterSignatureRow(Base):
    __tablename__ = "cluster_signatures"
    cluster: Mapped[str] = mapped_column(String(32), primary_key=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class CheckpointRow(Base):
    """How far a crawl job got, per source and key (a keyword, a user, a thread)."""

    __tablename__ = "crawl_checkpoints"
    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


@dataclass
class UpsertResult:
    inserted: int = 0
    duplicates: int = 0

    def __iadd__(self, other: "UpsertResult") -> "UpsertResult":
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        return self


@dataclass
class PlatformCounts:
    platform: str
    stored: int
    tagged: int
    indexed: int


_COUNT_FIELDS = ("reposts_count", "comments_count", "likes_count")
# SQLite's page cache on a connection that stores posts: a large batch dirties pages all
# over the indexes of posts and cluster bands, and with SQLite's default of 2 MB a page
# that did not fit was written to the WAL early and again at the commit (200,000 posts:
# 9.7 GB written instead of 2.2). Memory is taken as pages are read, up to this.
WRITE_CACHE_KIB = 256 * 1024


SQLITE_WAIT_S = 60  # how long a connection waits for another's lock


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_WAIT_S * 1000}")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor) -> None:
    """Put the database in WAL mode (kept in the file: once one connection has switched a
    new file, the others find it so). The switch needs the file to itself, and SQLite says
    "database is locked" at once, without its busy wait, while another process is
    switching it or making the tables of a new home: so wait and look again."""
    deadline = time.monotonic() + SQLITE_WAIT_S
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# The key of PostgreSQL's advisory lock that one process at a time takes to change the schema.
SCHEMA_LOCK_KEY = 0x63770001
# Where a new database finds the builder of the whole schema of the installed release: the
# package that keeps the migration history registers it (pyproject.toml), as plugins do.
SCHEMA_ENTRY_POINTS = "crisiswatch.schema"


@contextmanager
def schema_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the database's schema lock, committed at
    the end: one process at a time creates or upgrades the tables, and the next one finds
    them made (the demo starts its UI workers, a crawl and a trainer on one new home at
    once). On SQLite the lock is the write lock (``BEGIN IMMEDIATE``, which also makes
    the DDL one transaction), with foreign keys off so that rebuilding a table in a
    migration cannot cascade deletes; on PostgreSQL an advisory lock."""
    with engine.connect() as conn:
        on_sqlite = conn.dialect.name == "sqlite"
        try:
            if on_sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
            yield conn
            conn.commit()
        finally:
            conn.rollback()  # nothing left to roll back after the commit
            if on_sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def create_schema(engine: Engine) -> None:
    """Give a new database the whole schema of the installed release, through the builder
    that the package keeping the migration history registers (which also records the
    revision, so the database is not taken for one made before the history). Without it
    the tables would be made without their revision, and a later upgrade would take the
    database for an old one: refused, saying how to install the package."""
    for builder in entry_points(group=SCHEMA_ENTRY_POINTS):
        builder.load()(engine)
        return
    raise RuntimeError(f"no {SCHEMA_ENTRY_POINTS} entry point: crisiswatch is not installed in this Python; "
                       "install it (make install, or pip install -e .) before opening a new database")


class Store:
    """The store of record behind one database URL.

    Opening it creates the tables of a new database and never changes those of one that
    has them: upgrading them is the migrations' work (``crisiswatch db upgrade``)."""

    def __init__(self, url: str):
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if not set(Base.metadata.tables) & set(inspect(self.engine).get_table_names()):
            create_schema(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def _insert(self):
        return insert_for(self.engine.dialect.name)

    # -- posts -------------------------------------------------------------------------

    def upsert_posts(self, posts: Sequence[Post]) -> UpsertResult:
        """Store new posts; for known ones update the counts. One transaction."""
        result = UpsertResult()
        unique: dict[tuple[str, str], Post] = {}
        for post in posts:
            if post.key in unique:
                result.duplicates += 1
            unique[post.key] = post
        if not unique:
            return result
        now = utcnow()
        rows = [
            {
                "platform": p.platform,
                "platform_id": p.platform_id,
                "kind": p.kind,
                "parent_id": p.parent_id,
                "title": p.title,
                "text": p.text,
                "truncated": p.truncated,
                "content_hash": p.content_hash,
                "url": p.url,
                "author_id": p.author_id,
                "author_name": p.author_name,
                "author_verified": p.author_verified,
                "created_at": naive_utc(p.created_at),
                "reposts_count": p.reposts_count,
                "comments_count": p.comments_count,
                "likes_count": p.likes_count,
                "source": p.source,
                "capture_sha": p.capture_sha,
                "cluster": None,  # set for new posts by _assign_clusters
                "stored_at": now,
                "updated_at": now,
                "rev": 1,
            }
            for p in unique.values()
        ]
        table = PostRow.__table__
        stmt = self._insert(table)
        changed = None
        for name in _COUNT_FIELDS:
            differs = table.c[name].is_distinct_from(stmt.excluded[name])
            changed = differs if changed is None else changed | differs
        stmt = stmt.on_conflict_do_update(
            index_elements=["platform", "platform_id"],
            set_={
                **{name: stmt.excluded[name] for name in _COUNT_FIELDS},
                "updated_at": stmt.excluded.updated_at,
                "rev": table.c.rev + 1,
            },
            where=changed,
        )
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")
            existing: set[tuple[str, str]] = set()
            by_platform: dict[str, list[str]] = {}
            for platform, platform_id in unique:
                by_platform.setdefault(platform, []).append(platform_id)
            # one platform per query: a row-value IN would make SQLite scan the whole index
            for platform, ids in by_platform.items():
                found = conn.execute(select(table.c.platform_id).where(
                    table.c.platform == platform, _among(conn, table.c.platform_id, ids)))
                existing.update((platform, platform_id) for platform_id in found.scalars())
            new_rows = [row for row in rows if (row["platform"], row["platform_id"]) not in existing]
            _assign_clusters(conn, new_rows)
            added = Counter(row["cluster"] for row in new_rows if row.get("cluster"))
            before = _copies(conn, list(added))
            conn.execute(stmt, rows)
            # A cluster whose size crosses one the index records: re-index its earlier posts.
            crossed = [c for c, n in before.items() if any(n < size <= n + added[c] for size in INDEXED_CLUSTER_SIZES)]
            if crossed:
                conn.execute(update(table).where(table.c.cluster.in_(crossed)).values(rev=table.c.rev + 1))
            self._retag_parents(conn, [p for key, p in unique.items() if key not in existing and p.parent_id])
        result.duplicates += len(existing)
        result.inserted += len(rows) - len(existing)
        return result

    @staticmethod
    def _retag_parents(conn, replies: list[Post]) -> None:
        """A post's new replies change what its rumor tag reads (the earliest replies):
        clear the tags of their parents, so the tag stage tags them again."""
        parents: dict[str, set[str]] = {}
        for reply in replies:
            parents.setdefault(reply.platform, set()).add(reply.parent_id)
        table = PostRow.__table__
        for platform, ids in parents.items():
            ids = sorted(ids)
            for start in range(0, len(ids), 500):
                parent_rows = select(table.c.id).where(table.c.platform == platform,
                                                       table.c.platform_id.in_(ids[start : start + 500]))
                conn.execute(delete(TagRow.__table__).where(TagRow.__table__.c.post_id.in_(parent_rows)))

    def get_posts(self, ids: Iterable[int]) -> dict[int, dict]:
        """Posts with their tags, by id, as plain dicts for display."""
        ids = list(ids)
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(_posts_by_ids(), {"ids": ids}).all()
        return {row.id: _row_dict(row._mapping) for row in rows}

    def all_texts(self):
        """Every post's title and text, in id order (for checks that scan everything)."""
        with self.engine.connect() as conn:
            for title, text in conn.execute(select(PostRow.title, PostRow.text).order_by(PostRow.id)):
                yield f"{title}\n{text}" if title else text

    def latest_post_time(self) -> datetime | None:
        """When the newest post was posted (or stored, where its time is unknown)."""
        with self.engine.connect() as conn:
            latest = conn.execute(select(func.max(_post_time()))).scalar_one()
        return _utc(latest)

    def texts_between(self, since: datetime, until: datetime, limit: int) -> list[tuple[int, str, datetime]]:
        """(id, text, time) of up to ``limit`` posts posted in [since, until), newest first."""
        when = _post_time()
        query = (select(PostRow.id, PostRow.text, when.label("at"))
                 .where(when >= _naive(since), when < _naive(until)).order_by(when.desc(), PostRow.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [(row.id, row.text, _utc(row.at)) for row in conn.execute(query)]

    def get_post(self, post_id: int) -> dict | None:
        return self.get_posts([post_id]).get(post_id)

    def cluster_spread(self, clusters: Sequence[str]) -> dict[str, tuple[datetime, dict]]:
        """For each near-duplicate cluster: when its first post appeared, and that post."""
        if not clusters:
            return {}
        first = (select(PostRow.cluster, func.min(PostRow.id).label("first_id"))
                 .where(PostRow.cluster.in_(list(clusters))).group_by(PostRow.cluster))
        with self.engine.connect() as conn:
            ids = dict(conn.execute(first).all())
        posts = self.get_posts(ids.values())
        return {cluster: (posts[post_id]["created_at"] or posts[post_id]["stored_at"], posts[post_id])
                for cluster, post_id in ids.items() if post_id in posts}

    def cluster_texts(self, clusters: Sequence[str]) -> dict[str, str]:
        """The text of each near-duplicate cluster's earliest post (by post time, then id):
        what the UI names a cluster by."""
        if not clusters:
            return {}
        order = func.row_number().over(partition_by=PostRow.cluster, order_by=(_post_time(), PostRow.id))
        ranked = (select(PostRow.cluster, PostRow.text, order.label("n"))
                  .where(PostRow.cluster.in_(list(clusters))).subquery())
        with self.engine.connect() as conn:
            return dict(conn.execute(select(ranked.c.cluster, ranked.c.text).where(ranked.c.n == 1)).all())

    def cluster_times(self, cluster: str, since: datetime, limit: int = 100_000) -> list[datetime]:
        """The times of a near-duplicate cluster's posts since ``since`` (for its volume)."""
        when = _post_time()
        query = (select(when).where(PostRow.cluster == cluster, when >= _naive(since)).limit(limit))
        with self.engine.connect() as conn:
            return [_utc(value) for value in conn.execute(query).scalars()]

    def replies_of(self, platform: str, platform_id: str, limit: int = 50) -> list[dict]:
        with Session(self.engine) as session:
            rows = session.execute(
                select(PostRow.id)
                .where(PostRow.platform == platform, PostRow.parent_id == platform_id)
                .order_by(PostRow.created_at, PostRow.id)
                .limit(limit)
            ).scalars()
            ids = list(rows)
        found = self.get_posts(ids)
        return [found[i] for i in ids if i in found]

    # -- tagging -----------------------------------------------------------------------

    def posts_to_tag(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, text) of untagged posts with id > after_id, in id order."""
        query = (
            select(PostRow.id, PostRow.title, PostRow.text)
            .where(PostRow.id > after_id)
            .where(~select(TagRow.post_id).where(TagRow.post_id == PostRow.id).exists())
            .order_by(PostRow.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(row.id, _text_to_tag(row)) for row in conn.execute(query)]

    def posts_to_retag(self, version_end: str, after_id: int, limit: int) -> list[tuple[int, str, list, str]]:
        """(id, text, topics, model version) of tagged posts with id > after_id whose
        model version does not end with ``version_end``, in id order."""
        query = (
            select(PostRow.id, PostRow.title, PostRow.text, TagRow.topics, TagRow.model_version)
            .join(TagRow, TagRow.post_id == PostRow.id)
            .where(PostRow.id > after_id)
            .where(~TagRow.model_version.endswith(version_end, autoescape=True))
            .order_by(PostRow.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(row.id, _text_to_tag(row), row.topics, row.model_version) for row in conn.execute(query)]

    def count_to_retag(self, version_end: str) -> int:
        query = select(func.count()).select_from(TagRow).where(
            ~TagRow.model_version.endswith(version_end, autoescape=True))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def save_places(self, found: Sequence[tuple[int, list, list, list, str]]) -> None:
        """Replace the places, organisations, locations and model version of tagged posts
        ((post id, places, organisations, locations, model version) each; their other tags
        stay) and mark the posts for re-indexing, in one transaction."""
        if not found:
            return
        table = TagRow.__table__
        stmt = update(table).where(table.c.post_id == bindparam("b_id")).values(
            places=bindparam("b_places"), organisations=bindparam("b_organisations"),
            locations=bindparam("b_locations"), model_version=bindparam("b_version"), tagged_at=utcnow())
        rows = [{"b_id": post_id, "b_places": list(places), "b_organisations": list(organisations),
                 "b_locations": list(locations), "b_version": version}
                for post_id, places, organisations, locations, version in found]
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
            conn.execute(update(PostRow).where(PostRow.id.in_([row[0] for row in found]))
                         .values(rev=PostRow.rev + 1, updated_at=utcnow()))

    def reply_texts(self, post_ids: Sequence[int], per_post: int) -> dict[int, list[str]]:
        """The texts of each post's earliest replies (reposts and comments), oldest first."""
        if not post_ids:
            return {}
        parent, reply = PostRow.__table__.alias("parent"), PostRow.__table__.alias("reply")
        order = func.row_number().over(partition_by=parent.c.id, order_by=(reply.c.created_at, reply.c.id))
        ranked = (
            select(parent.c.id.label("post_id"), reply.c.text, order.label("n"))
            .join(reply, (reply.c.platform == parent.c.platform) & (reply.c.parent_id == parent.c.platform_id))
            .where(parent.c.id.in_(list(post_ids)))
            .subquery()
        )
        query = select(ranked.c.post_id, ranked.c.text).where(ranked.c.n <= per_post).order_by(ranked.c.post_id, ranked.c.n)
        replies: dict[int, list[str]] = {}
        with self.engine.connect() as conn:
            for post_id, text in conn.execute(query):
                replies.setdefault(post_id, []).append(text)
        return replies

    def count_to_tag(self) -> int:
        query = select(func.count()).select_from(PostRow).where(
            ~select(TagRow.post_id).where(TagRow.post_id == PostRow.id).exists()
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def save_tags(self, tags: Sequence[Tags]) -> None:
        """Write tags (replacing older ones) and mark their posts for re-indexing."""
        if not tags:
            return
        now = utcnow()
        rows = [
            {
                "post_id": t.post_id,
                "rumor_prob": float(t.rumor_prob),
                "sentiment": t.sentiment,
                "sentiment_score": float(t.sentiment_score),
                "topics": list(t.topics),
                "emotion": t.emotion,
                "emotion_score": None if t.emotion_score is None else float(t.emotion_score),
                "emotion_scores": t.emotion_scores,
                "polarity": t.polarity,
                "polarity_score": None if t.polarity_score is None else float(t.polarity_score),
                "topic_scores": dict(t.topic_scores),
                "places": list(t.places),
                "organisations": list(t.organisations),
                "locations": list(t.locations),
                "model_version": t.model_version,
                "tagged_at": now,
            }
            for t in tags
        ]
        stmt = self._insert(TagRow.__table__)
        stmt = stmt.on_conflict_do_update(
            index_elements=["post_id"],
            set_={k: stmt.excluded[k] for k in ("rumor_prob", "sentiment", "sentiment_score", "topics", "emotion",
                                                "emotion_score", "emotion_scores", "polarity", "polarity_score",
                                                "topic_scores", "places", "organisations", "locations",
                                                "model_version", "tagged_at")},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
            conn.execute(
                update(PostRow)
                .where(PostRow.id.in_([t.post_id for t in tags]))
                .values(rev=PostRow.rev + 1, updated_at=now)
            )

    def posts_to_tag_precisely(self, version: str, limit: int, among: Sequence[int] | None = None) -> list[tuple[int, str]]:
        """(id, text) of tagged posts without precise tags of model version ``version``:
        those of ``among`` in its order, or else the newest first."""
        query = (select(PostRow.id, PostRow.title, PostRow.text)
                 .join(TagRow, TagRow.post_id == PostRow.id)
                 .outerjoin(PreciseTagRow, PreciseTagRow.post_id == PostRow.id)
                 .where(PreciseTagRow.model_version.is_distinct_from(version)))
        if among is None:
            with self.engine.connect() as conn:
                rows = conn.execute(query.order_by(_post_time().desc(), PostRow.id.desc()).limit(limit)).all()
            return [(row.id, _text_to_tag(row)) for row in rows]
        found: dict[int, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(among), 500):
                chunk = list(among[start:start + 500])
                found.update((row.id, _text_to_tag(row)) for row in conn.execute(query.where(PostRow.id.in_(chunk))))
                if len(found) >= limit:
                    break
        return [(post_id, found[post_id]) for post_id in dict.fromkeys(among) if post_id in found][:limit]

    def count_to_tag_precisely(self, version: str) -> int:
        query = (select(func.count()).select_from(TagRow)
                 .outerjoin(PreciseTagRow, PreciseTagRow.post_id == TagRow.post_id)
                 .where(PreciseTagRow.model_version.is_distinct_from(version)))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def save_precise_tags(self, rows: Sequence[dict]) -> None:
        """Write precise tags (each a dict of ``PreciseTagRow``'s columns but ``tagged_at``),
        replacing older ones, and mark their posts for re-indexing, in one transaction."""
        if not rows:
            return
        now = utcnow()
        stmt = self._insert(PreciseTagRow.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=["post_id"],
                                          set_={k: stmt.excluded[k] for k in (*_PRECISE_FIELDS, "model_version",
                                                                             "tagged_at")})
        with self.engine.begin() as conn:
            conn.execute(stmt, [{**row, "tagged_at": now} for row in rows])
            conn.execute(update(PostRow).where(PostRow.id.in_([row["post_id"] for row in rows]))
                         .values(rev=PostRow.rev + 1, updated_at=now))

    # -- indexing ----------------------------------------------------------------------

    def posts_to_index(self, after_id: int, limit: int, pending_only: bool = True) -> list[dict]:
        """Posts (by default only those whose indexed revision is stale) in id order, with the
        fields an index document is made of (``indexes.documents``), ``time`` (when it was
        posted, or else stored), their tags (None when untagged) and ``copies``: how many
        posts share its text.

        Only those columns are read, as plain rows: this feeds the index stage, a hot loop.
        """
        posts, tags, precise = PostRow.__table__, TagRow.__table__, PreciseTagRow.__table__
        query = (select(*(posts.c[name] for name in _INDEX_COLUMNS), _post_time().label("time"),
                        tags.c.post_id.label("tagged"), *(tag_column(name) for name in _INDEX_TAGS))
                 .outerjoin(tags, tags.c.post_id == posts.c.id)
                 .outerjoin(precise, precise.c.post_id == posts.c.id)
                 .where(posts.c.id > after_id).order_by(posts.c.id).limit(limit))
        if pending_only:
            query = query.where(posts.c.indexed_rev.is_distinct_from(posts.c.rev))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            copies = _copies(conn, list({row.cluster for row in rows if row.cluster}))
        found = []
        first_tag = len(_INDEX_COLUMNS) + 2
        for row in rows:
            post = dict(zip(_INDEX_COLUMNS, row))
            post["time"] = _utc(row[first_tag - 2])
            post["tags"] = None if row[first_tag - 1] is None else dict(zip(_INDEX_TAGS, row[first_tag:]))
            post["copies"] = copies.get(post["cluster"], 1)
            found.append(post)
        return found

    def count_to_index(self) -> int:
        query = select(func.count()).select_from(PostRow).where(PostRow.indexed_rev.is_distinct_from(PostRow.rev))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def mark_indexed(self, revisions: Sequence[tuple[int, int]]) -> None:
        """Record that post ``id`` was indexed at revision ``rev``."""
        if not revisions:
            return
        table = PostRow.__table__
        by_rev: dict[int, list[int]] = {}  # a batch's posts share a few revisions: one UPDATE per 500 ids
        for post_id, rev in revisions:
            by_rev.setdefault(rev, []).append(post_id)
        with self.engine.begin() as conn:
            for rev, ids in by_rev.items():
                for start in range(0, len(ids), 500):
                    conn.execute(update(table).where(table.c.id.in_(ids[start : start + 500])).values(indexed_rev=rev))

    # -- status ------------------------------------------------------------------------

    def counts(self) -> list[PlatformCounts]:
        query = (
            select(
                PostRow.platform,
                func.count(PostRow.id),
                func.count(TagRow.post_id),
                func.count(PostRow.indexed_rev).filter(PostRow.indexed_rev == PostRow.rev),
            )
            .outerjoin(TagRow, TagRow.post_id == PostRow.id)
            .group_by(PostRow.platform)
            .order_by(PostRow.platform)
        )
        with self.engine.connect() as conn:
            return [PlatformCounts(*row) for row in conn.execute(query)]

    # -- analyst corrections -----------------------------------------------------------

    def add_correction(self, post_id: int, task: str, label: str, analyst: str | None = None) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(CorrectionRow(post_id=post_id, task=task, label=label, analyst=analyst, created_at=utcnow()))

    def _latest_corrections(self):
        latest = select(func.max(CorrectionRow.id)).group_by(CorrectionRow.post_id, CorrectionRow.task)
        return select(CorrectionRow).where(CorrectionRow.id.in_(latest))

    def corrections_of(self, post_id: int) -> dict[str, str]:
        """The label analysts gave this post for each task they corrected."""
        with Session(self.engine) as session:
            rows = session.scalars(self._latest_corrections().where(CorrectionRow.post_id == post_id))
            return {row.task: row.label for row in rows}

    def corrected_examples(self, task: str) -> list[tuple[int, str, str]]:
        """(post id, text, label) of every post whose ``task`` tag an analyst corrected."""
        latest = self._latest_corrections().where(CorrectionRow.task == task).subquery()
        query = select(PostRow.id, PostRow.text, latest.c.label).join(latest, latest.c.post_id == PostRow.id)
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query.order_by(PostRow.id))]

    def model_versions(self) -> dict[str, int]:
        query = select(TagRow.model_version, func.count()).group_by(TagRow.model_version)
        with self.engine.connect() as conn:
            return {version: n for version, n in conn.execute(query)}

    # -- captures and checkpoints ------------------------------------------------------

    def save_captures(self, captures: Sequence[Capture]) -> None:
        """Keep each distinct raw response once (a search page holds many posts)."""
        rows = {c.sha256: {"sha256": c.sha256, "url": c.url, "status": c.status, "headers": c.headers,
                           "body_gzip": c.body_gzip, "fetched_at": naive_utc(c.fetched_at)} for c in captures}
        if rows:
            with self.engine.begin() as conn:
                conn.execute(self._insert(CaptureRow.__table__).on_conflict_do_nothing(), list(rows.values()))

    def capture_of(self, post_id: int) -> Capture | None:
        query = select(CaptureRow).join(PostRow, PostRow.capture_sha == CaptureRow.sha256).where(PostRow.id == post_id)
        with Session(self.engine) as session:
            row = session.execute(query).scalar_one_or_none()
            if row is None:
                return None
            return Capture(url=row.url, status=row.status, headers=row.headers, body_gzip=row.body_gzip,
                           fetched_at=row.fetched_at.replace(tzinfo=timezone.utc), sha256=row.sha256)

    def checkpoints(self, job: str) -> dict[tuple[str, str], str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(CheckpointRow.source, CheckpointRow.key, CheckpointRow.value)
                                .where(CheckpointRow.job == job))
            return {(source, key): value for source, key, value in rows}

    def save_checkpoint(self, job: str, source: str, key: str, value: str) -> None:
        stmt = self._insert(CheckpointRow.__table__).values(job=job, source=source, key=key, value=value,
                                                             updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(index_elements=["job", "source", "key"],
                                          set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at})
        with self.engine.begin() as conn:
            conn.execute(stmt)

    # -- crawl runs --------------------------------------------------------------------

    def start_crawl_run(self, job: str, spider: str) -> int:
        with Session(self.engine) as session, session.begin():
            run = CrawlRunRow(job=job, spider=spider, started_at=utcnow(), status="running")
            session.add(run)
            session.flush()
            return run.id

    def finish_crawl_run(self, run_id: int, *, status: str, pages: int, stored: int,
                         duplicates: int, rejected: int, message: str = "") -> None:
        with Session(self.engine) as session, session.begin():
            run = session.get(CrawlRunRow, run_id)
            run.finished_at = utcnow()
            run.status = status
            run.pages, run.stored, run.duplicates, run.rejected = pages, stored, duplicates, rejected
            run.message = message[:2000]

    def interrupted_jobs(self) -> set[str]:
        """Jobs whose latest run never finished (its process was killed); marks those runs
        ``interrupted`` so that they no longer read as running."""
        latest = select(func.max(CrawlRunRow.id)).group_by(CrawlRunRow.job)
        with Session(self.engine) as session, session.begin():
            runs = session.execute(select(CrawlRunRow).where(CrawlRunRow.id.in_(latest),
                                                             CrawlRunRow.status == "running")).scalars().all()
            for run in runs:
                run.status, run.finished_at = "interrupted", utcnow()
            return {run.job for run in runs}

    def recent_run_statuses(self, job: str, limit: int) -> list[str]:
        """The statuses of a job's latest runs, newest first."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(CrawlRunRow.status).where(CrawlRunRow.job == job)
                                     .order_by(CrawlRunRow.id.desc()).limit(limit)).scalars())

    def last_crawl_runs(self) -> list[dict]:
        """The latest run of each job."""
        latest = select(func.max(CrawlRunRow.id)).group_by(CrawlRunRow.job)
        with Session(self.engine) as session:
            runs = session.execute(
                select(CrawlRunRow).where(CrawlRunRow.id.in_(latest)).order_by(CrawlRunRow.job)
            ).scalars()
            return [
                {
                    "job": r.job,
                    "spider": r.spider,
                    "status": r.status,
                    "started_at": _iso(r.started_at),
                    "finished_at": _iso(r.finished_at),
                    "pages": r.pages,
                    "stored": r.stored,
                    "duplicates": r.duplicates,
                    "rejected": r.rejected,
                    "message": r.message,
                }
                for r in runs
            ]


def insert_for(dialect: str):
    """The dialect's INSERT, which has ON CONFLICT (SQLite and PostgreSQL)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _copies(conn, clusters: list[str]) -> dict[str, int]:
    """How many posts each of these near-duplicate clusters has."""
    table = PostRow.__table__
    query = select(table.c.cluster, func.count()).where(_among(conn, table.c.cluster, clusters)).group_by(table.c.cluster)
    return dict(conn.execute(query).all())


def _assign_clusters(conn, rows: list[dict]) -> None:
    """Set ``cluster`` on new post rows: the cluster of a stored post with the same text,
    else the first by name of the clusters whose signature shares a band key with the
    post's and is similar enough, else a new cluster named by the post's own content hash.

    A batch's texts are signed together, its band keys looked up in one query and the
    stored candidates compared at once. Only the posts that share a band key with another
    post of the batch are then read one by one, in batch order, since a cluster made by
    one of them may be the next one's match.
    """
    posts = PostRow.__table__
    found = conn.execute(select(posts.c.content_hash, posts.c.cluster).where(
        _among(conn, posts.c.content_hash, list({row["content_hash"] for row in rows})), posts.c.cluster.is_not(None)))
    cluster_of: dict[str, str] = dict(found.all())
    fresh: dict[str, str] = {}  # content hash -> text, of the texts new to the store, in batch order
    for row in rows:
        if row["content_hash"] not in cluster_of:
            fresh.setdefault(row["content_hash"], row["text"])
    hashes = list(fresh)
    numbers, signatures = near_duplicates.signatures(list(fresh.values()))
    keys = near_duplicates.band_keys(signatures)
    own = [hashes[number] for number in numbers.tolist()]  # the name of each signature's text
    clusters = _stored_matches(conn, signatures, keys)
    made: dict[int, list[int]] = {}  # band key -> the signatures that made a cluster in this batch
    entangled = _sharing_a_key(keys)
    for row, row_keys in zip(entangled.tolist(), keys[entangled].tolist()):
        others = list({other for key in row_keys for other in made.get(key, ())})
        matches = [clusters[row]] if clusters[row] else []
        if others:
            similar = near_duplicates.similar(signatures[row], signatures[others])
            matches += [own[other] for other, near in zip(others, similar) if near]
        clusters[row] = min(matches, default=None)
        if clusters[row] is None:
            for key in row_keys:
                made.setdefault(key, []).append(row)
    new = [row for row, cluster in enumerate(clusters) if cluster is None]
    for row in new:
        clusters[row] = own[row]
    cluster_of.update(zip(own, clusters))
    for row in rows:  # a text too short to sign is its own cluster; a wordless repost is in none
        if not near_duplicates.is_repost_marker(row["text"]):
            row["cluster"] = cluster_of.setdefault(row["content_hash"], row["content_hash"])
    # another process may have made the same cluster meanwhile
    _insert_new(conn, ClusterSignatureRow.__table__,
                list(zip([own[row] for row in new], near_duplicates.to_bytes(signatures[new]))))
    _insert_new(conn, ClusterBandRow.__table__,
                [(key, own[row]) for row, row_keys in zip(new, keys[new].tolist()) for key in row_keys])


def _sharing_a_key(keys: np.ndarray) -> np.ndarray:
    """The rows of a matrix of band keys that share a key with another row."""
    flat = keys.ravel()
    order = np.argsort(flat, kind="stable")
    repeated = np.zeros(len(flat), dtype=bool)
    same = flat[order][1:] == flat[order][:-1]
    repeated[order[1:][same]] = repeated[order[:-1][same]] = True
    return np.flatnonzero(repeated.reshape(keys.shape).any(axis=1))


def _stored_matches(conn, signatures: np.ndarray, keys: np.ndarray) -> list[str | None]:
    """For each signature (with its band keys), the first by name of the stored clusters
    that share a band key with it and are similar enough, or None."""
    bands, stored = ClusterBandRow.__table__, ClusterSignatureRow.__table__
    query = (select(bands.c.band_key, bands.c.cluster, stored.c.signature)
             .join(stored, stored.c.cluster == bands.c.cluster)
             .where(_among(conn, bands.c.band_key, np.unique(keys).tolist())))
    found = conn.execute(query).all()
    if not found:
        return [None] * len(keys)
    signature_of = {cluster: signature for _, cluster, signature in found}
    names = sorted(signature_of)  # a cluster's number is its place by name: the smallest number comes first
    number_of = {name: number for number, name in enumerate(names)}
    # every (signature, stored cluster) pair sharing a key: the signature's keys in order,
    # and for each key found the range of them that it equals
    order = np.argsort(keys.ravel())
    ordered, found_keys = keys.ravel()[order], np.array([key for key, _, _ in found], dtype=np.int64)
    low = np.searchsorted(ordered, found_keys, "left")
    counts = np.searchsorted(ordered, found_keys, "right") - low
    starts = np.repeat(low - (np.cumsum(counts) - counts), counts)
    rows = order[starts + np.arange(counts.sum())] // keys.shape[1]
    pairs = np.unique(rows * len(names) + np.repeat([number_of[cluster] for _, cluster, _ in found], counts))
    rows, clusters = pairs // len(names), pairs % len(names)
    near = near_duplicates.similar(signatures[rows], near_duplicates.from_bytes([signature_of[n] for n in names])[clusters])
    first = np.full(len(keys), len(names))
    np.minimum.at(first, rows[near], clusters[near])
    return [names[number] if number < len(names) else None for number in first.tolist()]


def _among(conn, column, values: list):
    """``column IN values`` with the values bound as one parameter (an array on PostgreSQL,
    a JSON array read by ``json_each`` on SQLite), so that a batch's thousands of keys make
    one query: SQLAlchemy's expanding IN spent more time composing a parameter per value
    than the database spent finding the rows."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    listed = select(literal_column("value")).select_from(func.json_each(bindparam(None, json.dumps(values))))
    return column.in_(listed)


def _insert_new(conn, table, rows: list[tuple]) -> None:
    """Insert rows (tuples in the table's column order), skipping those already there, in
    one ``executemany`` of the driver: SQLAlchemy's handling of each row's parameters cost
    more than the insert."""
    if rows:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        names = ", ".join(column.name for column in table.columns)
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(mark for _ in table.columns)}) "
                             "ON CONFLICT DO NOTHING", rows)


_TAG_FIELDS = ("rumor_prob", "sentiment", "sentiment_score", "topics", "topic_scores", "emotion", "emotion_score",
               "emotion_scores", "polarity", "polarity_score",
               "places", "organisations", "locations", "model_version")
_TAG_LISTS = ("topics", "places", "organisations", "locations")
# The tags the precise tier re-tags (PreciseTagRow): its value wins over the fast tier's.
_PRECISE_FIELDS = ("sentiment", "sentiment_score", "emotion", "emotion_score", "emotion_scores", "polarity",
                   "polarity_score")
# Cluster sizes that change a post's index document (see indexes.documents): a text with
# copies joins its cluster's facet (2), a large cluster is counted first (50).
INDEXED_CLUSTER_SIZES = (2, 50)
# What the index stage reads of a post and of its tags.
_INDEX_COLUMNS = ("id", "rev", "platform", "platform_id", "title", "text", "reposts_count", "comments_count",
                  "likes_count", "cluster", "author_verified")
_INDEX_TAGS = ("rumor_prob", "sentiment", "polarity", "emotion", "topics", "places")


def _text_to_tag(row) -> str:
    """What the tagger reads of a post: its text, after its title where the text lacks it."""
    return f"{row.title}\n{row.text}" if row.title and row.title not in row.text else row.text


@lru_cache(maxsize=1)  # built once: composing the statement cost more than running it
def _posts_with_tags():
    """Posts joined with their tags (if any), as plain rows for ``_row_dict``."""
    posts, tags, precise = PostRow.__table__, TagRow.__table__, PreciseTagRow.__table__
    tag_columns = [tag_column(name).label(f"tag_{name}") for name in _TAG_FIELDS]
    tier = case((precise.c.post_id.is_not(None), "precise"), else_="fast").label("tag_tier")
    return (select(posts, tags.c.post_id.label("tagged"), *tag_columns, tier)
            .outerjoin(tags, tags.c.post_id == posts.c.id).outerjoin(precise, precise.c.post_id == posts.c.id))


def tag_column(name: str):
    """A tag as readers see it: the precise tier's where the post has precise tags, else the
    fast tier's (in a query joined to ``tags`` and outer-joined to ``precise_tags``)."""
    tags, precise = TagRow.__table__, PreciseTagRow.__table__
    if name not in _PRECISE_FIELDS:
        return tags.c[name]
    return case((precise.c.post_id.is_not(None), precise.c[name]), else_=tags.c[name]).label(name)


@lru_cache(maxsize=1)
def _posts_by_ids():
    """``_posts_with_tags`` of the posts whose ids are bound as ``ids``: composed once (a
    result page's read cost twice as much with the statement built each time)."""
    return _posts_with_tags().where(PostRow.__table__.c.id.in_(bindparam("ids", expanding=True)))


def _row_dict(row) -> dict:
    """A post and its tags (None when untagged) as a plain dict, the form every reader gets."""
    post = {name: row[name] for name in PostRow.__table__.c.keys() if name != "indexed_rev"}
    post["created_at"] = post["created_at"].replace(tzinfo=timezone.utc) if post["created_at"] else None
    post["stored_at"] = post["stored_at"].replace(tzinfo=timezone.utc)
    del post["updated_at"]
    post["tags"] = None if row["tagged"] is None else {
        name: (list(row[f"tag_{name}"] or []) if name in _TAG_LISTS else row[f"tag_{name}"])
        for name in _TAG_FIELDS
    }
    if post["tags"] is not None:
        post["tags"]["tier"] = row["tag_tier"]
    return post


def _post_time():
    return func.coalesce(PostRow.created_at, PostRow.stored_at)


def _naive(value: datetime) -> datetime:
    """Times are stored as naive UTC."""
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _utc(value) -> datetime | None:
    if isinstance(value, str):  # SQLite returns the coalesced column as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=timezone.utc).isoformat() if value else None
