"""The outbox when things go wrong mid-way, on a real SQLite file and a real webhook
receiver on loopback: a publisher killed (SIGKILL) while a webhook is in flight is
replaced within a minute and the receiver sees the same delivery id twice; a slow send
keeps its claim by renewing its lease; a release scheduled for later that the fact sheet
has since come to contradict is held, with its reason, instead of delivered."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from desk import outbox, releases
from desk.facts import set_fact
from desk.tables import AuditEntry, Delivery, Organisation, Release, User
from tests.desk.samples import DUE, GOV, GRID, SECRETS, enqueue, make_release

ROOT = Path(__file__).resolve().parents[2]
PUBLISHER = """
import sys
from datetime import datetime
from pathlib import Path
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from desk import outbox
database, channels, now = sys.argv[1:]
outbox.deliver_due(sessionmaker(create_engine(f"sqlite:///{database}")), outbox.load_channels(Path(channels)),
                   datetime.fromisoformat(now))
"""


class SlowReceiver(ThreadingHTTPServer):
    """A webhook that records each POST's delivery id (header and body) as it arrives,
    then answers only after ``hold_seconds`` or once ``go`` is set."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SlowHandler)
        self.posts: list[tuple[str, int]] = []
        self.go = threading.Event()
        self.hold_seconds = 30.0

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/gov"

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count:
            assert time.monotonic() < deadline, f"{len(self.posts)} POSTs arrived, not {count}"
            time.sleep(0.02)


class SlowHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.posts.append((self.headers["X-Crisiswatch-Delivery"], body["delivery_id"]))
        self.server.go.wait(self.server.hold_seconds)
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:  # the publisher was killed meanwhile
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def slow():
    server = SlowReceiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.go.set()
    server.shutdown()
    server.server_close()


def webhook(slow: SlowReceiver) -> dict[str, list[outbox.Channel]]:
    return {GOV: [outbox.Channel("website", "webhook", url=slow.url(), secret=SECRETS["/gov"])]}


def the_delivery(sessions) -> Delivery:
    with sessions() as session:
        return session.execute(select(Delivery)).scalar_one()


@pytest.mark.slow
def test_a_publisher_killed_mid_send_is_replaced_within_a_minute_with_the_same_delivery_id(sessions, slow, tmp_path):
    release_id = make_release(sessions)
    channels_file = tmp_path / "channels.toml"
    channels_file.write_text(f'[[organisation]]\nname = "{GOV}"\n[[organisation.channel]]\nname = "website"\n'
                             f'kind = "webhook"\nurl = "{slow.url()}"\nsecret = "{SECRETS["/gov"]}"\n', encoding="utf-8")
    channels = outbox.load_channels(channels_file)
    enqueue(sessions, release_id, channels)
    publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(tmp_path / "workflow.db"), str(channels_file),
                                  DUE.isoformat()], cwd=ROOT)
    try:
        slow.wait_for(1)  # the webhook is in flight
    finally:
        publisher.kill()
        publisher.wait()
    slow.go.set()
    assert the_delivery(sessions).status == "sending"
    assert outbox.deliver_due(sessions, channels, DUE + timedelta(seconds=30)).results == []  # its lease holds
    report = outbox.deliver_due(sessions, channels, DUE + outbox.LEASE + timedelta(seconds=15))
    assert [r.status for r in report.results] == ["delivered"] and report.published == [release_id]
    delivery_id = the_delivery(sessions).id
    assert slow.posts == [(str(delivery_id), delivery_id)] * 2  # sent again, under the same id
    assert outbox.LEASE <= timedelta(minutes=1)


def test_a_slow_send_renews_its_lease_so_no_other_publisher_sends_it_again(sessions, slow, monkeypatch):
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=1))
    monkeypatch.setattr(outbox, "RENEW_EVERY", timedelta(seconds=0.2))
    slow.hold_seconds = 3  # three leases long
    release_id = make_release(sessions)
    channels = webhook(slow)
    enqueue(sessions, release_id, channels)
    started = time.monotonic()
    first = threading.Thread(target=outbox.deliver_due, args=(sessions, channels, DUE))
    first.start()
    slow.wait_for(1)
    time.sleep(1.5)  # past the first lease: only its renewals hold the claim now
    second = outbox.deliver_due(sessions, channels, DUE + timedelta(seconds=time.monotonic() - started))
    first.join()
    assert second.results == [] and len(slow.posts) == 1
    assert the_delivery(sessions).status == "delivered"


class FirstFailsSlowly(SlowHandler):
    """The first POST is answered 500 after ``hold_seconds``, any later one 200 at once."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.headers["X-Crisiswatch-Delivery"], 0))
        first = len(self.server.posts) == 1
        if first:
            time.sleep(self.server.hold_seconds)
        self.send_response(500 if first else 200)
        self.end_headers()


def test_a_late_failure_does_not_undo_a_delivery_another_publisher_made(sessions, monkeypatch):
    """A publisher whose lease ran out (its renewals stalled) while its send hung: another
    one delivered meanwhile and the release was published; the first one's failure then
    put the delivery back to pending, under a published release that is never sent again."""
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=1))
    monkeypatch.setattr(outbox, "RENEW_EVERY", timedelta(seconds=30))  # no renewal gets through in time
    receiver = SlowReceiver()
    receiver.RequestHandlerClass, receiver.hold_seconds = FirstFailsSlowly, 2.0
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        release_id = make_release(sessions)
        channels = webhook(receiver)
        enqueue(sessions, release_id, channels)
        first = threading.Thread(target=outbox.deliver_due, args=(sessions, channels, DUE))
        first.start()
        receiver.wait_for(1)
        time.sleep(1.2)  # the first lease has run out
        second = outbox.deliver_due(sessions, channels, DUE + timedelta(seconds=1.2))
        assert second.published == [release_id]
        first.join()
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert the_delivery(sessions).status == "delivered"


def contradicted_later(sessions, channels) -> tuple[int, int, int]:
    """A release agreeing with the fact sheet, scheduled for DUE; the fact sheet then
    changes. Returns the ids of the release, its drafter and its incident."""
    with sessions() as session, session.begin():
        gov = Organisation(name=GOV, kind="government", level="city")
        grid = Organisation(name=GRID, kind="enterprise", level="company")
        session.add_all([gov, grid])
        session.flush()
        people = {name: User(username=name, display_name=name, password_hash="-", org_id=gov.id, roles=[role])
                  for name, role in (("draft", "drafter"), ("appr", "approver"), ("pub", "publisher"))}
        session.add_all(people.values())
        session.flush()
        incident = releases.create_incident(session, people["draft"], "东湖区停电")
        set_fact(session, people["draft"], incident, "households", "12000")
        release = releases.create_release(session, people["draft"], incident, "关于东湖区停电的通报",
                                          "东湖区约1.2万户停电，预计今晚22时前恢复。", "weibo", [])
        releases.submit(session, people["draft"], release)
        releases.approve(session, people["appr"], release)
        releases.schedule(session, people["pub"], release, DUE, now=DUE - timedelta(hours=1),
                          enqueue=lambda s, r: outbox.enqueue(s, r, channels))
        set_fact(session, people["draft"], incident, "households", "15000")  # after scheduling
        return release.id, people["draft"].id, incident.id


def test_a_release_the_fact_sheet_now_contradicts_is_held_at_delivery_time(sessions, slow):
    slow.hold_seconds = 0
    channels = webhook(slow)
    release_id, drafter_id, incident_id = contradicted_later(sessions, channels)
    report = outbox.deliver_due(sessions, channels, DUE)
    assert report.results == [] and slow.posts == []  # not delivered
    [reason] = report.held[release_id]
    assert "Household count differs from the fact sheet" in reason and "15000" in reason
    held = the_delivery(sessions)
    assert held.status == "held" and "15000" in held.last_error
    outbox.deliver_due(sessions, channels, DUE + timedelta(minutes=1))  # still held: audited once
    with sessions() as session, session.begin():
        assert [e.action for e in session.execute(select(AuditEntry)).scalars()].count("release.held") == 1
        set_fact(session, session.get(User, drafter_id), releases.get_incident(session, incident_id),
                 "households", "12000")  # the fact sheet is right again
    report = outbox.deliver_due(sessions, channels, DUE + timedelta(minutes=2))
    assert [r.status for r in report.results] == ["delivered"] and report.published == [release_id]
    with sessions() as session:
        assert session.get(Release, release_id).state == "published"


def test_a_release_one_channel_has_already_is_not_held_from_the_others(sessions, slow, tmp_path):
    """Held, the rest could never go out: a release some channel has cannot be unscheduled,
    and one never published cannot be corrected. Its text is public: the other channels
    get it too, and a correction then answers the fact sheet."""
    slow.hold_seconds = 0
    down = {GOV: [outbox.Channel("website", "webhook", url=slow.url(), secret=SECRETS["/gov"]),
                  outbox.Channel("wechat", "webhook", url="http://127.0.0.1:9/down", secret=SECRETS["/gov"])]}
    release_id, drafter_id, incident_id = contradicted_later(sessions, down)
    with sessions() as session, session.begin():
        drafter, incident = session.get(User, drafter_id), releases.get_incident(session, incident_id)
        set_fact(session, drafter, incident, "households", "12000")  # as when it was approved
    first = outbox.deliver_due(sessions, down, DUE)
    assert sorted(r.status for r in first.results) == ["delivered", "pending"]  # the WeChat receiver is down
    with sessions() as session, session.begin():
        set_fact(session, session.get(User, drafter_id), releases.get_incident(session, incident_id),
                 "households", "15000")  # the fact sheet changes before the retry
    up = {GOV: [outbox.Channel(c.name, "webhook", url=slow.url(), secret=c.secret) for c in down[GOV]]}
    retried = outbox.deliver_due(sessions, up, DUE + timedelta(minutes=10))
    assert [r.status for r in retried.results] == ["delivered"] and retried.published == [release_id]
