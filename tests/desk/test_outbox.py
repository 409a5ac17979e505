"""The publishing outbox on a real SQLite database, with a real webhook receiver on
loopback (every signature checked), and a file channel in a temporary folder."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from core.store import utcnow
from crisiswatch import publishing
from crisiswatch.schedule import start_scheduler
from desk import audit, outbox, transmitters
from desk.database import create_tables
from desk.outbox import Channel, ChannelConfigError
from desk.rules import Invalid, InvalidTransition
from desk.tables import AuditEntry, Delivery, Release
from tests.conftest import cli, free_port
from tests.desk.samples import DUE, GOV, GRID, SECRETS, enqueue, make_release


def verified(received: dict) -> bool:
    """Whether a POST's signature is that of its path's secret over its body."""
    expected = "sha256=" + hmac.new(SECRETS[received["path"]].encode(), received["raw"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received["headers"]["X-Crisiswatch-Signature"])


@pytest.fixture
def channels(receiver, tmp_path):
    return {
        GOV: [Channel("website", "webhook", url=receiver.url("/gov"), secret=SECRETS["/gov"]),
              Channel("archive", "file", folder=tmp_path / "exports")],
        GRID: [Channel("press-room", "webhook", url=receiver.url("/grid"), secret=SECRETS["/grid"])],
    }


def state_of(sessions, release_id) -> tuple[str, datetime | None, list[outbox.DeliveryLine]]:
    with sessions() as session:
        release = session.get(Release, release_id)
        return release.state, release.published_at, outbox.status(session, release)


def audit_log(sessions) -> list[AuditEntry]:
    with sessions() as session:
        assert audit.verify(session).ok
        return list(session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())


def test_a_joint_release_reaches_every_channel_once_at_its_time(sessions, channels, receiver, tmp_path):
    release_id = make_release(sessions)
    assert enqueue(sessions, release_id, channels) == []
    _, _, rows = state_of(sessions, release_id)
    assert {(r.org, r.channel) for r in rows} == {(GOV, "archive"), (GOV, "website"), (GRID, "press-room")}
    assert {r.due_at for r in rows} == {DUE} and {r.status for r in rows} == {"pending"}

    early = outbox.deliver_due(sessions, channels, now=DUE - timedelta(seconds=1))
    assert early.results == [] and receiver.received == [] and not (tmp_path / "exports").exists()

    report = outbox.deliver_due(sessions, channels, now=DUE)
    assert sorted(r.status for r in report.results) == ["delivered"] * 3 and report.published == [release_id]
    outbox.deliver_due(sessions, channels, now=DUE + timedelta(hours=2))  # nothing is sent twice
    assert [r["path"] for r in receiver.received] == ["/gov", "/grid"]
    assert all(verified(r) for r in receiver.received)

    body = receiver.received[0]["body"]
    assert body["title"] == "关于东湖区停电的通报" and body["version"] == 2 and body["kind"] == "release"
    assert [o["name"] for o in body["organisations"]] == [GOV, GRID]
    assert body["scheduled_at"] == "2024-07-25T02:00:00+00:00" and body["corrects_id"] is None
    assert body["destination"] == {"organisation": GOV, "channel": "website"}
    headers = receiver.received[0]["headers"]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["X-Crisiswatch-Delivery"] == str(body["delivery_id"])
    [exported] = (tmp_path / "exports").iterdir()
    gov_id = body["organisations"][0]["id"]
    assert exported.name == f"release-{release_id}-{gov_id}-archive.json"
    on_file = json.loads(exported.read_text(encoding="utf-8"))
    assert "东湖区约1.2万户停电" in exported.read_text(encoding="utf-8")  # UTF-8, not \\u escapes
    assert on_file["destination"] == {"organisation": GOV, "channel": "archive"} and on_file["body"] == body["body"]

    state, published_at, rows = state_of(sessions, release_id)
    assert (state, published_at) == ("published", DUE)
    assert {(r.status, r.attempts, r.delivered_at) for r in rows} == {("delivered", 1, DUE)}
    actions = [e.action for e in audit_log(sessions)]
    assert actions == ["deliver"] * 3 + ["release.publish"]


def test_a_failing_webhook_is_retried_and_the_release_waits_for_it(sessions, channels, receiver):
    release_id = make_release(sessions)
    enqueue(sessions, release_id, channels)
    receiver.status["/grid"] = 500

    outbox.deliver_due(sessions, channels, now=DUE)
    state, _, rows = state_of(sessions, release_id)
    grid = next(r for r in rows if r.org == GRID)
    assert state == "scheduled"
    assert (grid.status, grid.attempts, grid.next_attempt_at) == ("pending", 1, DUE + timedelta(seconds=30))
    assert grid.last_error == "HTTP 500 Internal Server Error: receiver says no"

    assert outbox.deliver_due(sessions, channels, now=DUE + timedelta(seconds=29)).results == []
    second = outbox.deliver_due(sessions, channels, now=DUE + timedelta(seconds=30))
    assert [(r.org, r.attempts, r.next_attempt_at) for r in second.results] == [
        (GRID, 2, DUE + timedelta(seconds=90))]  # 30 s, then 60 s

    receiver.status["/grid"] = 200
    third = outbox.deliver_due(sessions, channels, now=DUE + timedelta(seconds=90))
    assert [(r.status, r.attempts) for r in third.results] == [("delivered", 3)] and third.published == [release_id]
    assert len(receiver.got("/gov")) == 1 and len(receiver.got("/grid")) == 1
    assert len([r for r in receiver.received if r["path"] == "/grid"]) == 3
    state, published_at, _ = state_of(sessions, release_id)
    assert (state, published_at) == ("published", DUE + timedelta(seconds=90))
    failures = [e for e in audit_log(sessions) if e.action == "delivery_failed"]
    assert [(f.detail["attempt"], f.detail["final"]) for f in failures] == [(1, False), (2, False)]


def test_an_unreachable_channel_fails_after_its_attempts_and_an_admin_retries_it(sessions, channels, receiver):
    release_id = make_release(sessions)
    closed = Channel("press-room", "webhook", url=f"http://127.0.0.1:{free_port()}/grid", secret=SECRETS["/grid"])
    broken = {**channels, GRID: [closed]}
    enqueue(sessions, release_id, broken)
    now, delays = DUE, []
    for _ in range(outbox.MAX_ATTEMPTS):
        [result] = [r for r in outbox.deliver_due(sessions, broken, now=now).results if r.org == GRID]
        if result.next_attempt_at:
            delays.append(int((result.next_attempt_at - now).total_seconds()))
            now = result.next_attempt_at
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert (result.status, result.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert "cannot reach the webhook" in result.error and "refused" in result.error
    assert outbox.deliver_due(sessions, broken, now=now + timedelta(days=1)).results == []
    state, _, rows = state_of(sessions, release_id)
    assert state == "scheduled" and [r.status for r in rows if r.org == GRID] == ["failed"]

    with sessions() as session, session.begin():
        outbox.retry(session, next(r.id for r in rows if r.org == GRID), actor="admin")
    _, _, rows = state_of(sessions, release_id)
    assert [(r.status, r.attempts) for r in rows if r.org == GRID] == [("pending", 0)]
    report = outbox.deliver_due(sessions, channels, now=now + timedelta(days=1))  # the receiver is back
    assert [(r.org, r.status) for r in report.results] == [(GRID, "delivered")] and report.published == [release_id]
    assert len(receiver.got("/gov")) == 1 and len(receiver.got("/grid")) == 1

    entries = audit_log(sessions)
    assert [e.actor for e in entries if e.action == "delivery_retry"] == ["admin"]
    assert sum(e.action == "delivery_failed" for e in entries) == outbox.MAX_ATTEMPTS
    logged = json.dumps([e.detail for e in entries], ensure_ascii=False)
    assert not any(secret in logged for secret in SECRETS.values())


def test_enqueue_is_idempotent_and_cancel_takes_back_what_is_pending(sessions, channels):
    release_id = make_release(sessions, extra_org="东湖区人民政府")
    assert enqueue(sessions, release_id, channels) == ["东湖区人民政府"]  # it has no channel: the UI warns
    with sessions() as session, session.begin():
        session.get(Release, release_id).scheduled_at = DUE + timedelta(hours=1)
    enqueue(sessions, release_id, channels)
    _, _, rows = state_of(sessions, release_id)
    assert len(rows) == 3 and {r.due_at for r in rows} == {DUE + timedelta(hours=1)}

    with sessions() as session, session.begin():
        assert outbox.cancel(session, session.get(Release, release_id)) == 3
    cancelled = state_of(sessions, release_id)[2]
    assert [r.status for r in cancelled] == ["cancelled"] * 3  # kept as the record
    assert outbox.deliver_due(sessions, channels, now=DUE + timedelta(days=1)).results == []

    # Scheduled again (after an edit, say): new rows, so no delivery id ever carries two texts.
    enqueue(sessions, release_id, channels)
    rows = state_of(sessions, release_id)[2]
    fresh = [r for r in rows if r.status == "pending"]
    assert len(rows) == 6 and len(fresh) == 3 and not {r.id for r in fresh} & {r.id for r in cancelled}


def test_a_release_being_sent_cannot_be_cancelled(sessions, channels):
    release_id = make_release(sessions)
    enqueue(sessions, release_id, channels)
    with sessions() as session:
        first = outbox.due(session, DUE)[0].id
    assert outbox._claim(sessions, first, DUE)  # a publisher is sending it now
    with sessions() as session, session.begin():
        with pytest.raises(InvalidTransition):
            outbox.cancel(session, session.get(Release, release_id), now=DUE + outbox.LEASE / 2)
    # a publisher that died mid-send: after its lease the delivery is due again, or can be cancelled
    with sessions() as session:
        assert first in [d.id for d in outbox.due(session, DUE + outbox.LEASE)]
    with sessions() as session, session.begin():
        assert outbox.cancel(session, session.get(Release, release_id), now=DUE + outbox.LEASE) == 3


def test_only_scheduled_releases_are_sent(sessions, channels, receiver):
    release_id = make_release(sessions)
    enqueue(sessions, release_id, channels)
    with sessions() as session, session.begin():
        session.get(Release, release_id).state = "approved"  # taken back without cancelling
    assert outbox.deliver_due(sessions, channels, now=DUE).results == [] and receiver.received == []


def test_the_channels_file(tmp_path):
    example = outbox.load_channels(outbox.Path(outbox.__file__).with_name("channels.example.toml"))
    assert [c.kind for c in example["滨海市人民政府新闻办公室"]] == ["webhook", "file"]
    assert "secret" not in repr(example)

    def error(text: str) -> str:
        path = tmp_path / "channels.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ChannelConfigError) as raised:
            outbox.load_channels(path)
        return str(raised.value)

    org = '[[organisation]]\nname = "供电局"\n[[organisation.channel]]\n'
    assert "needs a secret of 16" in error(org + 'name = "w"\nkind = "webhook"\nurl = "https://x.cn/"\n')
    assert "kind must be one of webhook, file, email, wecom, dingtalk" in error(org + 'name = "w"\nkind = "sms"\n')
    assert "unknown key(s) ['url']" in error(org + 'name = "f"\nkind = "file"\nfolder = "x"\nurl = "y"\n')
    assert "configured twice" in error(org + 'name = "f"\nkind = "file"\nfolder = "x"\n' + '[[organisation]]\nname = "供电局"\n')
    assert "letters, digits" in error(org + 'name = "a/b"\nkind = "file"\nfolder = "x"\n')
    assert "does not exist" in str(pytest.raises(ChannelConfigError, outbox.load_channels, tmp_path / "none.toml").value)
    (tmp_path / "ok.toml").write_text(org + 'name = "f"\nkind = "file"\nfolder = "out"\n', encoding="utf-8")
    assert outbox.load_channels(tmp_path / "ok.toml")["供电局"][0].folder == tmp_path / "out"


def write_channels(home, folder) -> None:
    home.channels_file.write_text(
        "\n".join(f'[[organisation]]\nname = "{org}"\n[[organisation.channel]]\nname = "archive"\n'
                  f'kind = "file"\nfolder = "{folder}"\n' for org in (GOV, GRID)), encoding="utf-8")


def test_the_scheduler_publishes_every_15_seconds(home, tmp_path):
    assert publishing.publish_due(home) is None  # no channels file: nothing to deliver to
    first = start_scheduler(home, {}, run_now=False)
    first.shutdown()
    again = start_scheduler(home, {}, run_now=False)  # the crawl jobs' clean-up keeps it
    try:
        job = again.get_job(publishing.JOB_ID)
        assert job.func is publishing.publish_due and job.trigger.interval == timedelta(seconds=15)
    finally:
        again.shutdown()
    release_id = make_release(publishing.sessions(home.database_url, home.home))
    write_channels(home, tmp_path / "out")
    with publishing.sessions(home.database_url, home.home)() as session, session.begin():
        outbox.enqueue(session, session.get(Release, release_id), outbox.load_channels(home.channels_file))
    assert publishing.publish_due(home, now=DUE).published == [release_id]
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_the_publish_command_delivers_what_is_due(home, tmp_path):
    engine = create_engine(home.database_url)
    create_tables(engine)
    factory = sessionmaker(engine)
    release_id = make_release(factory, scheduled_at=utcnow() - timedelta(minutes=1))
    write_channels(home, tmp_path / "out")
    with factory() as session, session.begin():
        outbox.enqueue(session, session.get(Release, release_id), outbox.load_channels(home.channels_file))
    engine.dispose()

    dry = cli("publish", "--dry-run", home=home)
    assert f"due       release {release_id} -> {GOV} / archive" in dry.stdout and "2 deliveries due" in dry.stdout
    assert not (tmp_path / "out").exists()
    done = cli("publish", home=home)
    assert f"delivered release {release_id} -> {GRID} / archive" in done.stdout
    assert f"published release {release_id}" in done.stdout
    assert len(list((tmp_path / "out").glob(f"release-{release_id}-*-archive.json"))) == 2
    assert "0 deliveries attempted" in cli("publish", home=home).stdout
    with sessionmaker(create_engine(home.database_url))() as session:
        assert session.get(Release, release_id).state == "published"
        assert {d.status for d in session.execute(select(Delivery)).scalars()} == {"delivered"}


@pytest.fixture
def registry():
    """The transmitters a test registers are gone after it."""
    before = dict(transmitters.TRANSMITTERS)
    yield transmitters.TRANSMITTERS
    transmitters.TRANSMITTERS.clear()
    transmitters.TRANSMITTERS.update(before)


def test_a_kind_of_channel_registers_its_transmitter_and_the_outbox_uses_it(sessions, tmp_path, registry):
    sent = []

    @dataclass(frozen=True)
    class QueueChannel(Channel):
        queue: str = ""

    @transmitters.register_transmitter("queue")
    class QueueTransmitter(transmitters.Transmitter):
        keys = frozenset({"queue"})

        def channel(self, name, entry, where, base):
            if not isinstance(entry.get("queue"), str):
                raise ChannelConfigError(f"{where}: a queue channel needs queue = \"NAME\"")
            return QueueChannel(name, "queue", queue=entry["queue"])

        def send(self, channel, body, delivery, now):
            if channel.queue == "down":
                raise ConnectionRefusedError("the queue is down")
            sent.append((channel.queue, delivery.id, json.loads(body)["title"]))

    path = tmp_path / "channels.toml"
    org = '[[organisation]]\nname = "{}"\n[[organisation.channel]]\nname = "bus"\nkind = "queue"\n'
    path.write_text(org.format(GOV) + 'queue = "gov"\n' + org.format(GRID) + 'queue = "down"\n', encoding="utf-8")
    channels = outbox.load_channels(path)
    assert channels[GOV] == [QueueChannel("bus", "queue", queue="gov")]
    release_id = make_release(sessions)
    enqueue(sessions, release_id, channels)

    report = outbox.deliver_due(sessions, channels, now=DUE)
    assert {(r.org, r.status, r.error) for r in report.results} == {
        (GOV, "delivered", ""), (GRID, "pending", "ConnectionRefusedError: the queue is down")}
    assert [(queue, title) for queue, _, title in sent] == [("gov", "关于东湖区停电的通报")]

    path.write_text(org.format(GOV) + 'queue = "gov"\nurl = "x"\n', encoding="utf-8")
    with pytest.raises(ChannelConfigError, match=r"unknown key\(s\) \['url'\] for a queue channel"):
        outbox.load_channels(path)
    path.write_text(org.format(GOV), encoding="utf-8")
    with pytest.raises(ChannelConfigError, match="needs queue"):
        outbox.load_channels(path)
    del registry["queue"]
    with pytest.raises(ChannelConfigError, match="kind must be one of webhook, file, email, wecom, dingtalk, got 'queue'"):
        outbox.load_channels(path)


def test_scheduling_queues_the_channels_of_the_file_or_is_refused(sessions, tmp_path):
    release_id = make_release(sessions, extra_org="东湖区人民政府")
    path = tmp_path / "channels.toml"
    with sessions() as session, session.begin():
        release = session.get(Release, release_id)
        with pytest.raises(Invalid, match="does not exist"):
            outbox.schedule_deliveries(session, release, path)
        path.write_text("", encoding="utf-8")
        with pytest.raises(Invalid, match="no organisation of this release has a publishing channel"):
            outbox.schedule_deliveries(session, release, path)  # it would stay scheduled for ever
        path.write_text(f'[[organisation]]\nname = "{GOV}"\n[[organisation.channel]]\nname = "archive"\n'
                        f'kind = "file"\nfolder = "out"\n', encoding="utf-8")
        assert outbox.schedule_deliveries(session, release, path) == [GRID, "东湖区人民政府"]
    _, _, rows = state_of(sessions, release_id)
    assert [(r.org, r.channel, r.status) for r in rows] == [(GOV, "archive", "pending")]


def test_a_channels_file_of_the_wrong_shape_is_refused_with_where(tmp_path):
    """An organisation or a channel that is not a table, or a folder that is no path, is a
    ChannelConfigError naming its place (the page and `crisiswatch publish` show it),
    never an AttributeError (a 500 when scheduling, a traceback when publishing)."""
    path = tmp_path / "channels.toml"
    org = '[[organisation]]\nname = "供电局"\n'
    for text, says in [('organisation = "供电局"\n', "[[organisation]] tables"),
                       ("organisation = [1]\n", "number 1 is not a table"),
                       (org + 'channel = "website"\n', "[[organisation.channel]] tables"),
                       (org + "channel = [1, 2]\n", "channel 1 is not a table"),
                       (org + '[[organisation.channel]]\nname = "f"\nkind = "file"\nfolder = "~nosuchuser9/x"\n',
                        "folder"),
                       (org + '[[organisation.channel]]\nname = "f"\nkind = "file"\nfolder = "a\\u0000b"\n',
                        "folder"),
                       (org + '[[organisation.channel]]\nname = "w"\nkind = "webhook"\nurl = "https://[::1/h"\n'
                        'secret = "0123456789abcdef"\n', "needs url"),
                       (org + '[[organisation.channel]]\nname = "w"\nkind = "webhook"\nurl = "https:///h"\n'
                        'secret = "0123456789abcdef"\n', "needs url")]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ChannelConfigError, match=re.escape(says)):
            outbox.load_channels(path)
