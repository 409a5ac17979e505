"""The drill report (演练报告): how the teams of a drill answered its scenario, scored from
the drill home's own tables (alerts, the audit log, releases, the posts' rumor clusters)
against the times the scenario knows.

Each rumor is a post that a release of the scenario answers (``answers``); its first post
appeared at ``replay.appeared_at(post.at)``, and its near-duplicate cluster in the store
is that of the stored post (by its stored id, or by its text where a platform's crawl keys
posts its own way). From that time the report measures the first alert that
names the cluster (its evidence, its posts, or the release that answered it), its first
acknowledgement, the first answer (a release linking the cluster) approved by every
required organisation (the audit log's ``release.approve`` that made it approved) and
published, each in wall time and in scenario time (the offsets reached, so a pause counts
for nothing); and the rumor's clocks (``desk.clocks.rumor_clock``) with the home's clocks,
which ``crisiswatch drill start`` scaled by the drill's speed, as the teams saw them on
the incident's page. Besides: the contradictions the checks caught (``workflow.blocked``
entries with a contradiction), the approvals that waited longest since the release's
submission, and the alerts still open at the end.

The report is a ``desk.reports.Report`` of kind ``drill``: kept with the other reports
(``keep``) and rendered in the briefing formats, in a section set of its own.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.schema import CHINA_TZ
from core.store import PostRow, Store
from desk import report_archive
from desk.alerts import OPEN_STATES
from desk.clocks import Clock, rumor_clock
from desk.dashboard import aware
from desk.releases import current_version
from desk.replay import sent_injects
from desk.report_docx import duration_label
from desk.reports import Report
from desk.scenario import Scenario
from desk.states import ReleaseState
from desk.tables import (Alert, AlertRule, AlertScheme, Approval, AuditEntry, Incident, KeptReport, Organisation,
                         Release, User)

KIND = "drill"
TITLE = "演练报告"
APPROVAL_WAITS = 5  # the approvals that waited longest, listed
STEPS = ("alert", "acknowledgement", "approval", "publication")  # a rumor's response, in order


def make_report(session: Session, store: Store, replay, scenario: Scenario, clocks: list[Clock],
                now: datetime | None = None) -> Report:
    """The drill report of ``replay`` (its scenario loaded as ``scenario``) at ``now``: its
    window is the drill's, from the start to its end (or now)."""
    now = now or datetime.now(timezone.utc)
    since = aware(replay.started_at) or now
    until = aware(replay.ended_at) or now
    window = {"query": "", "since": _iso(since), "until": _iso(until)}
    incident = session.get(Incident, replay.incident_id) if replay.incident_id else None
    rumors = [_rumor(session, replay, scenario, post, clocks, incident, until) for post in rumor_posts(scenario)]
    sections = {
        "drill": {**window, "filters": {"drill": scenario.name}, "scenario": scenario.name,
                  "scenario_title": scenario.title, "speed": replay.speed, "state": str(replay.state),
                  "offset_s": replay.offset_at(until).total_seconds(), "length_s": scenario.length.total_seconds(),
                  "injects": _injects_sent(session, replay, scenario)},
        "rumors": {**window, "filters": {"rumor": True}, "rumors": rumors},
        "contradictions": {**window, "filters": {"audit": "workflow.blocked"}, "caught": _contradictions(session)},
        "approvals": {**window, "filters": {"audit": "release.submit, release.approve"},
                      "longest": _longest_approvals(session)},
        "unhandled": {**window, "filters": {"state": [str(state) for state in OPEN_STATES]},
                      "alerts": _unhandled(session)},
    }
    total = session.scalar(select(func.count(PostRow.id))) or 0
    sections = {"summary": _summary(scenario, replay, since, until, total, sections, window), **sections}
    return Report(KIND, f"{TITLE}：{scenario.title}", scenario.query, since.astimezone(CHINA_TZ),
                  until.astimezone(CHINA_TZ), now.astimezone(CHINA_TZ), total, sections)


def keep(session: Session, replay, made: Report, *, made_by: str) -> KeptReport:
    """Keep the report for everyone of the drill home (audited) and note it on the replay."""
    kept = report_archive.keep(session, made, made_by=made_by, org_id=None, incident_id=replay.incident_id)
    replay.report_id = kept.id
    return kept


def rumor_posts(scenario: Scenario):
    """The posts that the scenario's releases answer: each the first post of a rumor."""
    answered = {post_id for release in scenario.releases for post_id in release.answers}
    return [post for post in scenario.posts if post.id in answered]


def _rumor(session: Session, replay, scenario: Scenario, post, clocks: list[Clock], incident: Incident | None,
           until: datetime) -> dict:
    first = replay.appeared_at(post.at)
    cluster = session.scalar(select(PostRow.cluster).where(
        PostRow.platform == post.platform,
        or_(PostRow.platform_id == scenario.stored_id(post.id), PostRow.text == post.text)).order_by(PostRow.id).limit(1))
    found = _responses(session, cluster) if cluster else dict.fromkeys(STEPS)
    steps = []
    for step in STEPS:
        at = found[step]
        steps.append({"step": step, "at": _iso(at),
                      "after_s": (at - first).total_seconds() if at else None,
                      "scenario_after_s": (replay.offset_at(at) - post.at).total_seconds() if at else None})
    answers = found.get("answers", [])
    clock = rumor_clock(cluster or post.id, first, answers, until, clocks, incident.major if incident else True)
    return {"post": post.id, "platform": post.platform, "text": post.text, "cluster": cluster,
            "first_post_at": _iso(first), "steps": steps,
            "deadlines": [{"clock": deadline.name, "due": _iso(deadline.due), "state": deadline.state,
                           "scenario_hours": _hours(clocks, deadline.name) * replay.speed}
                          for deadline in clock.deadlines]}


def _responses(session: Session, cluster: str) -> dict:
    """When the cluster was first alerted, acknowledged, answered by an approved release and
    by a published one (aware UTC, or None), and the answers as ``rumor_clock`` takes them."""
    releases = [release for release in session.scalars(select(Release).order_by(Release.id))
                if cluster in (release.rumor_clusters or [])]
    release_ids = {release.id for release in releases}
    posts = set(session.scalars(select(PostRow.id).where(PostRow.cluster == cluster)))
    alerts = [alert for alert in session.scalars(select(Alert).order_by(Alert.opened_at, Alert.id))
              if (alert.evidence or {}).get("cluster") == cluster or posts & set(alert.post_ids or ())
              or alert.release_id in release_ids]
    approved = session.scalar(select(func.min(AuditEntry.at)).where(
        AuditEntry.action == "release.approve", AuditEntry.target.in_([f"release:{n}" for n in release_ids]),
        AuditEntry.detail["state"].as_string() == ReleaseState.APPROVED.value))
    return {"alert": _first(alert.opened_at for alert in alerts),
            "acknowledgement": _first(alert.acknowledged_at for alert in alerts),
            "approval": aware(approved),
            "publication": _first(release.published_at for release in releases),
            "answers": [(release.id, aware(release.published_at), release.channel) for release in releases]}


def _injects_sent(session: Session, replay, scenario: Scenario) -> list[dict]:
    sent = sent_injects(session, replay)
    return [{"id": inject.id, "kind": inject.kind, "to": scenario.organisation(inject.to).name, "text": inject.text,
             "at_s": inject.at.total_seconds(), "sent_at": _iso(aware(sent.get(inject.id)))}
            for inject in scenario.injects]


def _contradictions(session: Session) -> list[dict]:
    """The approvals and schedulings the checks refused for a contradiction."""
    names = dict(session.execute(select(Organisation.id, Organisation.name)).all())
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "workflow.blocked")
                              .order_by(AuditEntry.id))
    return [{"at": _iso(aware(entry.at)), "actor": entry.actor, "org": names.get(entry.org_id, ""),
             "target": entry.target, "attempted": entry.detail.get("attempted", "")}
            for entry in entries if "contradiction" in entry.detail.get("problems", ())]


def _longest_approvals(session: Session) -> list[dict]:
    """Each approval with how long it waited since the release was last submitted before
    it, the longest ``APPROVAL_WAITS``."""
    submitted: dict[str, list[datetime]] = {}
    for target, at in session.execute(select(AuditEntry.target, AuditEntry.at)
                                      .where(AuditEntry.action == "release.submit").order_by(AuditEntry.id)):
        submitted.setdefault(target, []).append(at)
    waits = []
    for approval, user, org in session.execute(
            select(Approval, User, Organisation).join(User, User.id == Approval.user_id)
            .join(Organisation, Organisation.id == Approval.org_id).order_by(Approval.id)):
        since = max((at for at in submitted.get(f"release:{approval.release_id}", []) if at <= approval.created_at),
                    default=None)
        if since is None:
            continue
        release = session.get(Release, approval.release_id)
        waits.append({"release": release.id, "title": current_version(session, release).title, "org": org.name,
                      "approver": user.display_name, "submitted_at": _iso(aware(since)),
                      "approved_at": _iso(aware(approval.created_at)),
                      "waited_s": (approval.created_at - since).total_seconds()})
    return sorted(waits, key=lambda wait: -wait["waited_s"])[:APPROVAL_WAITS]


def _unhandled(session: Session) -> list[dict]:
    """The alerts still waiting for assessment or being handled."""
    found = session.execute(select(Alert, AlertScheme.name).join(AlertRule, Alert.rule_id == AlertRule.id)
                            .join(AlertScheme, AlertRule.scheme_id == AlertScheme.id)
                            .where(Alert.state.in_(OPEN_STATES)).order_by(Alert.opened_at, Alert.id))
    return [{"id": alert.id, "scheme": scheme, "key": alert.key, "level": alert.level, "state": str(alert.state),
             "opened_at": _iso(aware(alert.opened_at)), "acknowledged_at": _iso(aware(alert.acknowledged_at))}
            for alert, scheme in found]


def _summary(scenario: Scenario, replay, since: datetime, until: datetime, total: int, sections: dict,
             window: dict) -> dict:
    """A few sentences made only from the scores (zh_CN)."""
    sent = [inject for inject in sections["drill"]["injects"] if inject["sent_at"]]
    sentences = [f"演练“{scenario.title}”以{replay.speed:g}倍速进行，共收到信息{total}条，"
                 f"导演组发出情景注入{len(sent)}条（共{len(sections['drill']['injects'])}条）。"]
    for rumor in sections["rumors"]["rumors"]:
        steps = {step["step"]: step for step in rumor["steps"]}
        said = [f"{name}{duration_label(steps[step]['after_s'])}" for step, name in STEP_PHRASES.items()
                if steps[step]["after_s"] is not None]
        missing = [name for step, name in STEP_PHRASES.items() if steps[step]["after_s"] is None]
        sentence = f"谣言“{_clip(rumor['text'])}”首发后，" + ("，".join(said) or "未见处置")
        sentence += (f"；未{'、'.join(missing)}" if said and missing else "") + "。"
        clocks = "，".join(f"{deadline['scenario_hours']:g}小时时限{DEADLINE_WORDS[deadline['state']]}"
                           for deadline in rumor["deadlines"])
        sentences.append(sentence + (f"按演练时间折算，{clocks}。" if clocks else ""))
    waits = sections["approvals"]["longest"]
    sentences.append(f"发布前检查拦截矛盾表述{len(sections['contradictions']['caught'])}次；"
                     + (f"审批等待最长{duration_label(waits[0]['waited_s'])}；" if waits else "")
                     + f"演练结束时仍有{len(sections['unhandled']['alerts'])}条预警未处置完毕。")
    return {**window, "filters": {"drill": scenario.name}, "text": "".join(sentences), "sentences": sentences}


STEP_PHRASES = {"alert": "发出预警用时", "acknowledgement": "确认预警用时", "approval": "回应获批用时",
                "publication": "回应发布用时"}
DEADLINE_WORDS = {"met": "内已回应", "running": "尚未到期", "missed": "已超时"}


def _hours(clocks: list[Clock], name: str) -> float:
    return next(clock.hours for clock in clocks if clock.name == name)


def _first(times) -> datetime | None:
    return aware(min((at for at in times if at is not None), default=None))


def _clip(text: str, length: int = 20) -> str:
    return text if len(text) <= length else text[:length] + "…"


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(CHINA_TZ).isoformat() if value is not None else None

