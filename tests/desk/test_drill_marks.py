"""What leaves a drill's home says 【演练】 (desk.drills): its briefings' titles, its alert
notices and the releases it delivers; a home that plays the demo, or nothing, is not marked."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from core.settings import Settings
from core.store import Store
from desk import alert_outbox, outbox, releases, replay as replays
from desk.clocks import load_clocks
from desk.database import open_sessions
from desk.reports import make_report
from desk.scenario import load
from desk.states import AlertState
from desk.tables import Alert, AlertDelivery, AlertRule, AlertScheme, Incident
from indexes.backends import open_index

TYPHOON = load("binhai_typhoon")
NOW = datetime.now(timezone.utc)


@pytest.mark.parametrize("kind, mark", [("drill", "【演练】"), ("demo", ""), (None, "")])
def test_what_a_drill_sends_out_is_marked(tmp_path, kind, mark):
    settings = Settings.load(tmp_path, database_url=f"sqlite:///{tmp_path / 'crisiswatch.db'}",
                             index_backend="embedded").ensure_home()
    store = Store(settings.database_url)
    with open_sessions(store.engine, settings.home)() as session:
        replays.seed_organisations(session, TYPHOON)
        grid = replays.side_organisations(session, TYPHOON)["grid"]
        drafter, approver, publisher = (replays.side_user(session, grid, role)
                                        for role in ("drafter", "approver", "publisher"))
        incident = releases.create_incident(session, drafter, TYPHOON.title, TYPHOON.query)
        if kind is not None:
            replays.start(session, TYPHOON, kind, 60, now=NOW)

        flash = make_report("flash", store, open_index(settings), session, load_clocks(), now=NOW)
        assert flash.title == f"{mark}舆情快报"
        special = make_report("special", store, open_index(settings), session, load_clocks(),
                              incident=session.get(Incident, incident.id), now=NOW)
        assert special.title == f"{mark}舆情专报：{TYPHOON.title}"

        (settings.home / "channels.toml").write_text(
            f'[[organisation]]\nname = "{grid.name}"\n[[organisation.channel]]\nname = "archive"\nkind = "file"\n'
            f'folder = "exports"\n', encoding="utf-8")
        release = releases.create_release(session, drafter, incident, "停电情况通报", "抢修正在进行。", "weibo", [])
        releases.submit(session, drafter, release)
        releases.approve(session, approver, release)
        releases.schedule(session, publisher, release,
                          enqueue=lambda s, r: outbox.schedule_deliveries(s, r, settings.channels_file))
        (delivery,) = outbox.due(session)
        assert json.loads(outbox.payload(session, delivery, NOW))["title"] == f"{mark}停电情况通报"

        scheme = AlertScheme(name="滨海停电", org_id=grid.id, text="停电")
        session.add(scheme)
        session.flush()
        rule = AlertRule(scheme_id=scheme.id, kind="keyword", params={}, levels=[])
        session.add(rule)
        session.flush()
        alert = Alert(rule_id=rule.id, key="全城停电", level="IV", state=AlertState.NEW, opened_at=NOW, updated_at=NOW,
                      count=3, baseline=0.0, query="q=全城停电")
        session.add(alert)
        session.flush()
        sent = AlertDelivery(alert_id=alert.id, reason="opened", level="IV", org_id=grid.id, channel="archive",
                             created_at=NOW)
        session.add(sent)
        session.flush()
        assert alert_outbox.notice(session, sent).title == f"{mark}滨海停电：全城停电"
    store.close()
