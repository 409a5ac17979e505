"""The alert outbox's test desk (``Desk``): a home, its organisations and channels, a
scheme, and the posts that fire its rules; the ``desk`` fixture (``conftest``) makes one."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.schema import CHINA_TZ, Tags, make_post
from core.store import Store
from crisiswatch import publishing
from desk import alert_outbox, alerts
from desk.tables import Organisation, User
from indexes.backends import open_index
from indexes.indexer import index_pending

NOW = datetime(2024, 7, 25, 23, 0, tzinfo=CHINA_TZ)  # within the quiet hours 22:00-07:00
SECRET = "alert-secret-0123456789abcdef"
CHANNELS = {"龙华区人民政府": ["duty", "zhang"], "海口市人民政府": ["duty"],
            "海南省人民政府": ["duty"], "龙华区应急管理局": ["duty"]}
COUNTY, CITY, PROVINCE, DEPARTMENT = CHANNELS


def path(org: str, channel: str = "duty") -> str:
    """Where the receiver takes a channel's notices: ``/<organisation number>/<channel>``."""
    return f"/{list(CHANNELS).index(org)}/{channel}"


class Desk:
    """A home with its store and index, the organisations county -> city -> province (and a
    department beside the county), their webhook channels (``CHANNELS``) in the channels
    file, and a keyword scheme of the county's."""

    def __init__(self, home, receiver):
        self.home, self.receiver = home, receiver
        self.store = Store(home.database_url)
        self.session = publishing.sessions(home.database_url, home.home)()
        self.orgs: dict[str, Organisation] = {}
        parent = None
        for name, level in ((PROVINCE, "province"), (CITY, "city"), (COUNTY, "county")):
            parent = Organisation(name=name, kind="government", level=level, parent_id=parent and parent.id)
            self.session.add(parent)
            self.session.flush()
            self.orgs[level] = parent
        self.orgs["department"] = Organisation(name=DEPARTMENT, kind="government", level="county")
        self.zhang = User(username="zhang", display_name="张值班", password_hash="x", roles=["analyst"],
                          org_id=self.orgs["county"].id)
        self.session.add_all([self.orgs["department"], self.zhang])
        self.session.flush()
        home.channels_file.write_text("".join(
            f'[[organisation]]\nname = "{org}"\n' + "".join(
                f'[[organisation.channel]]\nname = "{name}"\nkind = "webhook"\n'
                f'url = "{receiver.url(path(org, name))}"\nsecret = "{SECRET}"\n' for name in names)
            for org, names in CHANNELS.items()), encoding="utf-8")
        self.scheme = alerts.add_scheme(self.session, "龙华停电", self.orgs["county"], "停电", actor="test")
        self.serial = 0

    def rule(self, levels=(5, 20, 50)):
        return alerts.add_rule(self.session, self.scheme, "keyword", {"words": ["停电"]}, list(levels), actor="test")

    def add(self, count: int, minutes_before: float = 5) -> None:
        """``count`` posts that many minutes before NOW, tagged and indexed (after what the
        session did is committed, as a crawl is another process)."""
        self.session.commit()
        posts = []
        for _ in range(count):
            self.serial += 1
            when = NOW - timedelta(minutes=minutes_before)
            posts.append(make_post(platform="weibo", platform_id=f"p{self.serial}",
                                   text=f"龙华区停电了 {self.serial}", created_at=when.isoformat()))
        self.store.upsert_posts(posts)
        stored = self.store.get_posts(range(1, self.serial + 1)).values()
        ids = [post["id"] for post in stored if post["tags"] is None]
        self.store.save_tags([Tags(post_id, 0.1, "anger", 0.9, [], "test-model") for post_id in ids])
        index_pending(self.store, open_index(self.home))

    def check(self, minutes_after: float = 0) -> list[alerts.Change]:
        at = NOW + timedelta(minutes=minutes_after)
        changes = alerts.check(self.session, self.store, open_index(self.home), at)
        self.session.commit()
        return changes

    def deliver(self, after: timedelta = timedelta()) -> list[alert_outbox.AlertDeliveryResult]:
        """The scheduler's sending at NOW + ``after``: escalation, then what is due."""
        self.session.commit()
        results = publishing.deliver_alerts(self.home, NOW + after)
        self.session.expire_all()
        return results

    def to(self, level: str, channel: str = "duty", user: User | None = None) -> None:
        alert_outbox.add_recipient(self.session, self.scheme, self.orgs[level], channel, user and user.id)


def webhook_paths() -> set[str]:
    """The paths of every channel of ``CHANNELS`` (all webhooks, signed with ``SECRET``)."""
    return {path(org, name) for org, names in CHANNELS.items() for name in names}
