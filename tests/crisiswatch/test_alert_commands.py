"""crisiswatch alert: schemes and rules made, a spike and a keyword found in stored, tagged
and indexed posts as at a given time, the alerts listed as JSON and handled in order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from core.schema import CHINA_TZ, Tags, make_post
from core.settings import Settings
from core.store import Store
from desk import accounts, alert_outbox, releases
from desk.database import open_sessions
from indexes.backends import open_index
from indexes.indexer import index_pending
from tests.conftest import cli

NOW = datetime(2024, 7, 25, 12, 0, tzinfo=CHINA_TZ)
AT = ("--at", "2024-07-25T12:00")
KEYS = {"id", "rule", "kind", "level", "state", "opened_at", "first_post_at", "count", "baseline", "post_ids", "query"}


@pytest.fixture
def fed_home(home) -> Settings:
    """A steady post every 15 minutes for 12 hours, then 30 in the last 15 minutes before
    NOW, two of them on a rumored transformer explosion; an organisation and its user."""
    times = [NOW - timedelta(minutes=16 + 15 * i) for i in range(48)] + [NOW - timedelta(minutes=14 - i * 0.4)
                                                                        for i in range(30)]
    store = Store(home.database_url)
    store.upsert_posts([make_post(platform="weibo", platform_id=f"p{n}", created_at=when.isoformat(),
                                  text=f"海口停电了 {n}" + (" 变压器爆炸" if n in (60, 70) else ""))
                        for n, when in enumerate(times)])
    store.save_tags([Tags(post_id, 0.1, "anger", 0.9, [], "test-model") for post_id in range(1, len(times) + 1)])
    index_pending(store, open_index(home))
    store.close()
    cli("org", "add", "海口供电局", "--kind", "enterprise", "--level", "branch", home=home)
    cli("user", "add", "duty", "--org", "海口供电局", "--role", "analyst", "--password-stdin", home=home,
        input="duty-password-1\n")
    return home


def alerts_json(home: Settings) -> list[dict]:
    return json.loads(cli("alert", "list", "--json", home=home).stdout)


def test_schemes_and_rules_are_made_listed_and_removed(fed_home):
    added = cli("alert", "scheme", "add", "海口停电", "--query", "停电 -演习", "--org", "海口供电局",
                "--platform", "weibo", home=fed_home)
    assert added.stdout == "created monitoring scheme 海口停电\n"
    assert cli("alert", "rule", "add", "海口停电", "--kind", "spike", "--window", "15m", "--baseline", "12h",
               "--ratio", "3", "--min-count", "20", "--levels", "5,10,20", home=fed_home).stdout == \
        "added rule 1: spike on 海口停电\n"
    listed = cli("alert", "scheme", "list", home=fed_home).stdout.splitlines()
    assert listed[0] == "海口停电\t海口供电局\t停电 -演习\tweibo\t"
    assert listed[1] == "  rule 1: spike window=15m baseline=12h ratio=3.0 min_count=20 levels [5.0, 10.0, 20.0]"

    refused = [
        (("alert", "scheme", "add", "海口停电", "--org", "海口供电局"), "a monitoring scheme named 海口停电 exists already"),
        (("alert", "scheme", "add", "其他", "--org", "无此单位"), "unknown organisation 无此单位"),
        (("alert", "scheme", "add", "其他", "--query", "停电 OR", "--org", "海口供电局"), "the scheme's query: the query ends"),
        (("alert", "rule", "add", "海口停电", "--kind", "keyword", "--ratio", "3", "--word", "爆炸"),
         "a keyword rule takes no ratio"),
        (("alert", "rule", "add", "海口停电", "--kind", "rumour"), "unknown alert rule kind rumour; use one of spike"),
        (("alert", "rule", "add", "无此方案", "--kind", "spike"), "no monitoring scheme named 无此方案"),
        (("alert", "rule", "add", "海口停电", "--kind", "spike", "--ratio", "-1"), "ratio must be a number above 0"),
    ]
    for args, message in refused:
        result = cli(*args, home=fed_home, check=False)
        assert result.exit_code == 1 and message in result.stderr, (args, result.stderr)
    bad_window = cli("alert", "rule", "add", "海口停电", "--kind", "spike", "--window", "soon", home=fed_home,
                     check=False)
    assert bad_window.exit_code == 2 and "not a duration such as 15m" in bad_window.stderr

    assert cli("alert", "scheme", "remove", "海口停电", home=fed_home).stdout == "removed monitoring scheme 海口停电\n"
    assert cli("alert", "scheme", "list", home=fed_home).stdout == ""
    audit = cli("audit", "export", home=fed_home, check=False).stdout
    assert all(action in audit for action in ("alert.scheme_add", "alert.rule_add", "alert.scheme_remove"))


def test_check_opens_alerts_once_and_list_gives_their_json(fed_home):
    cli("alert", "scheme", "add", "海口停电", "--query", "停电", "--org", "海口供电局", home=fed_home)
    cli("alert", "rule", "add", "海口停电", "--kind", "spike", home=fed_home)
    cli("alert", "rule", "add", "海口停电", "--kind", "keyword", "--word", "变压器爆炸", "--word", "塌方", home=fed_home)
    assert cli("alert", "check", "--at", "2024-07-25T11:40", home=fed_home).stdout == "no alert\n"

    checked = cli("alert", "check", *AT, home=fed_home).stdout.splitlines()
    assert checked == ["opened alert 1: level I spike 15m, 30 posts against 1.0 expected",
                       "opened alert 2: level IV keyword 变压器爆炸, 2 posts against 0.0 expected"]
    again = cli("alert", "check", "--at", "2024-07-25T12:05", home=fed_home).stdout.splitlines()
    assert [line.split(":")[0] for line in again] == ["updated alert 1", "updated alert 2"]

    listed = alerts_json(fed_home)
    assert [item["id"] for item in listed] == [2, 1]  # the newest first
    spike = next(item for item in listed if item["kind"] == "spike")
    assert KEYS <= set(spike)
    assert spike["rule"] == 1 and spike["level"] == "I" and spike["state"] == "new"
    assert spike["opened_at"] == "2024-07-25T04:00:00+00:00"  # 12:00 China time
    assert spike["first_post_at"] == "2024-07-25T03:46:00+00:00"
    assert spike["count"] == 20 and len(spike["post_ids"]) == 5  # the window 11:50-12:05 at the update
    assert "sort=newest" in spike["query"] and "q=%E5%81%9C%E7%94%B5" in spike["query"]
    text = cli("alert", "list", home=fed_home).stdout
    assert "\tI\tnew\tspike 15m\t20 posts\topened 2024-07-25 12:00\tfirst post 2024-07-25 11:46\t/?q=" in text


def test_alerts_are_handled_in_order_and_a_step_out_of_order_is_refused(fed_home):
    cli("alert", "scheme", "add", "海口停电", "--query", "停电", "--org", "海口供电局", home=fed_home)
    cli("alert", "rule", "add", "海口停电", "--kind", "spike", home=fed_home)
    cli("alert", "check", *AT, home=fed_home)

    assert cli("alert", "ack", "1", home=fed_home).stdout == "alert 1: handling\n"
    refused = cli("alert", "ack", "1", home=fed_home, check=False)
    assert refused.exit_code == 1 and "cannot acknowledge an alert in state handling" in refused.stderr
    assigned = cli("alert", "assign", "1", "--to", "duty", "--due", "2024-07-25T17:00", home=fed_home).stdout
    assert assigned == "alert 1: handling, assigned to duty, due 2024-07-25 17:00\n"
    assert alerts_json(fed_home)[0]["due_at"] == "2024-07-25T09:00:00+00:00"
    for args, message in [(("assign", "1"), "assigned to a person or to an organisation: give --to USER or --org ORG"),
                          (("assign", "1", "--to", "nobody"), "unknown user nobody"),
                          (("close", "9"), "no alert 9")]:
        result = cli("alert", *args, home=fed_home, check=False)
        assert result.exit_code == 1 and message in result.stderr, args
    assert cli("alert", "assign", "1", "--org", "海口供电局", home=fed_home).exit_code == 0
    assert cli("alert", "close", "1", home=fed_home).stdout == "alert 1: closed\n"
    closed = cli("alert", "close", "1", home=fed_home, check=False)
    assert closed.exit_code == 1 and "cannot close an alert in state closed" in closed.stderr
    assert alerts_json(fed_home)[0]["state"] == "closed"

    audit = cli("audit", "export", home=fed_home, check=False).stdout
    assert [action for action in ("alert.open", "alert.acknowledge", "alert.assign", "alert.close")
            if action not in audit] == []


def test_backtest_lists_the_alerts_that_would_have_fired_and_writes_none(fed_home):
    cli("alert", "scheme", "add", "海口停电", "--query", "停电", "--org", "海口供电局", home=fed_home)
    cli("alert", "rule", "add", "海口停电", "--kind", "spike", home=fed_home)
    assert cli("alert", "rule", "add", "海口停电", "--kind", "share", "--share", "0.6", home=fed_home).exit_code == 0
    assert cli("alert", "rule", "add", "海口停电", "--kind", "rumor", "--rate", "10", "--probability", "0.8",
               home=fed_home).stdout == "added rule 3: rumor on 海口停电\n"
    assert cli("alert", "rule", "add", "海口停电", "--kind", "clock", "--elapsed", "0.5", home=fed_home).exit_code == 0
    listed = cli("alert", "scheme", "list", home=fed_home).stdout.splitlines()
    assert listed[2] == "  rule 2: share share=0.6 levels [0.68, 0.8, 0.92]"
    assert listed[3] == "  rule 3: rumor probability=0.8 rate=10.0 levels [10.0, 30.0, 100.0]"

    span = ("--since", "2024-07-25T11:30", "--until", "2024-07-25T12:30")
    fired = json.loads(cli("alert", "backtest", *span, "--json", home=fed_home).stdout)
    assert [(item["rule"], item["kind"], item["opened_at"]) for item in fired] == [
        (1, "spike", "2024-07-25T03:55:00+00:00"), (2, "share", "2024-07-25T03:55:00+00:00")]
    assert fired[0]["count"] == 24 and fired[0]["level"] == "I" and fired[0]["updated_at"] == "2024-07-25T04:05:00+00:00"
    text = cli("alert", "backtest", *span, "--every", "10m", home=fed_home).stdout.splitlines()
    assert text[0] == ("2024-07-25 12:00\tlevel I at 2024-07-25 12:00\tspike 15m\t30 posts against 1.0 expected\tfirst post 2024-07-25 11:46"
                       "\t/?q=%E5%81%9C%E7%94%B5&since=2024-07-25T11%3A45%3A00&until=2024-07-25T12%3A00%3A00&sort=newest")
    assert cli("alert", "backtest", "--since", "2024-07-25T08:00", "--until", "2024-07-25T09:00",
               home=fed_home).stdout == "no alert\n"
    backwards = cli("alert", "backtest", "--since", "2024-07-25T12:30", "--until", "2024-07-25T11:30",
                    home=fed_home, check=False)
    assert backwards.exit_code == 2 and "--since is after --until" in backwards.stderr
    assert alerts_json(fed_home) == []


def test_watched_accounts_are_added_listed_and_removed(fed_home):
    assert cli("alert", "account", "add", "weibo", "u1", "--org", "海口供电局", "--name", "龙华热心网友",
               home=fed_home).stdout == "海口供电局 watches weibo account u1\n"
    cli("alert", "account", "add", "news", "n7", "--org", "海口供电局", home=fed_home)
    listed = cli("alert", "account", "list", "--org", "海口供电局", home=fed_home).stdout.splitlines()
    assert [line.split("\t")[:4] for line in listed] == [["海口供电局", "news", "n7", ""],
                                                        ["海口供电局", "weibo", "u1", "龙华热心网友"]]
    for args, message in [(("add", "weibo", "u1", "--org", "海口供电局"), "海口供电局 watches weibo account u1 already"),
                          (("add", "douyin", "u1", "--org", "海口供电局"), "unknown platform douyin"),
                          (("add", "weibo", "u2", "--org", "无此单位"), "unknown organisation 无此单位"),
                          (("remove", "weibo", "u2", "--org", "海口供电局"), "海口供电局 watches no weibo account u2")]:
        result = cli("alert", "account", *args, home=fed_home, check=False)
        assert result.exit_code == 1 and message in result.stderr, (args, result.stderr)
    assert cli("alert", "account", "remove", "news", "n7", "--org", "海口供电局", home=fed_home).stdout == \
        "海口供电局 no longer watches news account n7\n"
    assert len(cli("alert", "account", "list", home=fed_home).stdout.splitlines()) == 1

    cli("alert", "scheme", "add", "海口停电", "--query", "停电", "--org", "海口供电局", home=fed_home)
    assert cli("alert", "rule", "add", "海口停电", "--kind", "account", "--sentiment", "anger", "--levels", "2,3,4",
               home=fed_home).stdout == "added rule 1: account on 海口停电\n"
    audit = cli("audit", "export", home=fed_home, check=False).stdout
    assert "alert.account_add" in audit and "alert.account_remove" in audit


def test_an_alert_is_linked_to_an_incident_and_its_escalation_listed(fed_home):
    cli("org", "add", "海南电网", "--kind", "enterprise", "--level", "company", home=fed_home)
    cli("org", "add", "龙华供电局", "--kind", "enterprise", "--level", "branch", "--parent", "海南电网", home=fed_home)
    cli("alert", "scheme", "add", "龙华停电", "--query", "停电", "--org", "龙华供电局", home=fed_home)
    cli("alert", "rule", "add", "龙华停电", "--kind", "spike", home=fed_home)
    cli("alert", "check", *AT, home=fed_home)
    [listed] = alerts_json(fed_home)
    assert (listed["incident_id"], listed["escalated_to"], listed["escalated_at"]) == (None, None, None)
    assert "escalated" not in cli("alert", "list", home=fed_home).stdout

    store = Store(fed_home.database_url)
    with open_sessions(store.engine, fed_home.home).begin() as session:
        duty = accounts.find_user(session, "duty")
        incident_id = releases.create_incident(session, duty, "龙华区停电").id
        alert_outbox.escalate_due(session, {}, NOW + timedelta(hours=1))  # level I waits half an hour
    store.close()
    assert cli("alert", "link", "1", "--incident", str(incident_id), home=fed_home).stdout == \
        f"alert 1: linked to incident {incident_id} 龙华区停电\n"
    [listed] = alerts_json(fed_home)
    assert listed["incident_id"] == incident_id and KEYS <= set(listed)
    assert listed["escalated_to"] == "海南电网" and listed["escalated_at"] == "2024-07-25T05:00:00+00:00"
    assert cli("alert", "list", home=fed_home).stdout.endswith("\tescalated to 海南电网 2024-07-25 13:00\n")
    missing = cli("alert", "link", "1", "--incident", "99", home=fed_home, check=False)
    assert missing.exit_code == 1 and "no such incident" in missing.stderr
    assert "alert.link" in cli("audit", "export", home=fed_home, check=False).stdout


def test_out_of_range_rules_quiet_hours_and_recipients_are_refused_and_nothing_is_kept(fed_home):
    cli("org", "add", "海口市人民政府", "--kind", "government", "--level", "city", home=fed_home)
    cli("user", "add", "city", "--org", "海口市人民政府", "--role", "analyst", "--password-stdin", home=fed_home,
        input="city-password-1\n")
    cli("alert", "scheme", "add", "海口停电", "--query", "停电", "--org", "海口供电局", home=fed_home)
    rule = ("alert", "rule", "add", "海口停电")
    recipient = ("alert", "recipient", "add", "海口停电", "--org", "海口供电局")
    refused = [
        ((*rule, "--kind", "spike", "--window", "99999d"), "window is at most 7d, not 99999d"),
        ((*rule, "--kind", "rumor", "--rate", "inf"), "rate must be a number above 0, not inf"),
        ((*rule, "--kind", "spike", "--levels", "5,10,inf"), "levels must be a number above 0, not inf"),
        ((*rule, "--kind", "rumor", "--probability", "5"), "probability is a share above 0 and at most 1, not 5.0"),
        ((*rule, "--kind", "share", "--share", "1.5", "--levels", "1.6,1.7,1.8"), "share is a share above 0"),
        ((*rule, "--kind", "share", "--sentiment", "angry"),
         "unknown sentiment angry; use one of weak_negative, anger, anxiety, positive"),
        ((*recipient, "--channel", "duty"), "channels.toml does not exist"),
    ]
    for args, message in refused:
        result = cli(*args, home=fed_home, check=False)
        assert result.exit_code == 1 and message in result.stderr, (args, result.stderr)
    fed_home.channels_file.write_text(
        '[[organisation]]\nname = "海口供电局"\n[[organisation.channel]]\nname = "duty"\nkind = "webhook"\n'
        'url = "http://127.0.0.1:9/hook"\nsecret = "alert-secret-0123456789abcdef"\n'
        '[[organisation.channel]]\nname = "archive"\nkind = "file"\nfolder = "archive"\n', encoding="utf-8")
    for args, message in [
            ((*recipient, "--channel", "nosuch"), "海口供电局 has no channel nosuch that takes alert notices"),
            ((*recipient, "--channel", "duty", "--user", "city"), "city is not a person of 海口供电局"),
            (recipient, "a recipient names one of its organisation's channels")]:
        result = cli(*args, home=fed_home, check=False)
        assert result.exit_code == 1 and message in result.stderr, (args, result.stderr)
    assert cli("alert", "recipient", "list", "海口停电", home=fed_home).stdout == ""
    assert cli("alert", "scheme", "list", home=fed_home).stdout.count("rule") == 0
    cli(*recipient, "--channel", "duty", "--user", "duty", home=fed_home)

    same = cli("alert", "quiet", "duty", "00:00-00:00", home=fed_home, check=False)
    assert same.exit_code == 2 and "starts and ends at the same time" in same.stderr
    assert cli("alert", "quiet", "duty", "22:00-07:00", home=fed_home).exit_code == 0
