"""The release workflow's rules, services, fact sheet and checks on a real SQLite database."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from core.store import utcnow
from desk import audit, releases, rules
from desk.checks import load_config, message, pre_publication
from desk.facts import OtherRelease, contradictions, current_facts, extract, fact_history, household_counts, set_fact
from desk.releases import Blocked
from desk.rules import Forbidden, Invalid, InvalidTransition, NotFound
from desk.tables import AuditEntry, Delivery
from tests.desk.samples import (BODY, FACTS, TITLE, approved_release, incident_with_facts, joint_release, org,
                                published_release)


def valid_orgs(db, release):
    return rules.approved_orgs(releases.approvals(db.session, release))


# --- creating --------------------------------------------------------------------------

def test_create_release_has_version_1_and_the_drafting_org_required(db):
    release = joint_release(db)
    assert release.state == "draft" and release.kind == "release"
    assert release.required_org_ids == sorted([org(db, "city"), org(db, "grid")])
    [version] = releases.versions(db.session, release)
    assert (version.number, version.title, version.author_id) == (1, TITLE, db.c_draft.id)


def test_create_needs_a_drafter_and_valid_orgs_and_channel(db):
    incident = releases.create_incident(db.session, db.c_draft, "停电")
    with pytest.raises(Forbidden):
        releases.create_release(db.session, db.c_appr, incident, "t", "b", "weibo", [])
    with pytest.raises(Invalid):  # a joint release needs both kinds
        releases.create_release(db.session, db.c_draft, incident, "t", "b", "weibo", [org(db, "county")], joint=True)
    with pytest.raises(Invalid):
        releases.create_release(db.session, db.c_draft, incident, "t", "b", "weibo", [9999])
    with pytest.raises(Invalid):
        releases.create_release(db.session, db.c_draft, incident, "t", "b", "fax", [])
    with pytest.raises(Invalid):
        releases.create_release(db.session, db.c_draft, incident, " ", "b", "weibo", [])
    single = releases.create_release(db.session, db.g_draft, incident, "t", "b", "weibo", [])
    assert single.required_org_ids == [org(db, "grid")]


# --- transitions -----------------------------------------------------------------------

def test_full_flow_draft_review_approved_scheduled_published(db):
    release = joint_release(db)
    releases.submit(db.session, db.c_draft, release)
    assert release.state == "in_review"
    releases.approve(db.session, db.g_appr, release)
    assert release.state == "in_review"  # the city has not approved yet
    releases.approve(db.session, db.c_appr, release)
    assert release.state == "approved"
    enqueued = []
    when = utcnow() + timedelta(hours=1)
    releases.schedule(db.session, db.c_pub, release, when, enqueue=lambda s, r: enqueued.append(r.id))
    assert (release.state, release.scheduled_at, enqueued) == ("scheduled", when, [release.id])
    releases.unschedule(db.session, db.c_pub, release)
    assert (release.state, release.scheduled_at) == ("approved", None)
    releases.schedule(db.session, db.c_pub, release)
    releases.mark_published(db.session, release)
    assert release.state == "published" and release.published_at is not None


def test_request_changes_needs_a_comment_and_returns_to_draft(db):
    release = joint_release(db)
    releases.submit(db.session, db.c_draft, release)
    releases.approve(db.session, db.c_appr, release)
    with pytest.raises(Invalid):
        releases.request_changes(db.session, db.g_appr, release, "  ")
    comment = releases.request_changes(db.session, db.g_appr, release, "户数请与供电局核对")
    assert release.state == "draft" and comment.changes_requested
    assert valid_orgs(db, release) == {org(db, "city")}  # kept: the text did not change
    releases.submit(db.session, db.c_draft, release)
    with pytest.raises(InvalidTransition):  # an org that signed off the text cannot ask for changes
        releases.request_changes(db.session, db.c_appr, release, "x")
    releases.approve(db.session, db.g_appr, release)
    assert release.state == "approved"


def test_states_refuse_what_they_do_not_allow(db):
    release = joint_release(db)
    with pytest.raises(InvalidTransition):
        releases.approve(db.session, db.g_appr, release)  # still a draft
    with pytest.raises(InvalidTransition):
        releases.request_changes(db.session, db.g_appr, release, "x")
    with pytest.raises(InvalidTransition):
        releases.schedule(db.session, db.c_pub, release)  # only when approved
    with pytest.raises(InvalidTransition):
        releases.unschedule(db.session, db.c_pub, release)
    with pytest.raises(InvalidTransition):
        releases.mark_published(db.session, release)
    with pytest.raises(InvalidTransition):
        releases.correct(db.session, db.c_draft, release, "t", "b")
    releases.submit(db.session, db.c_draft, release)
    with pytest.raises(InvalidTransition):
        releases.submit(db.session, db.c_draft, release)
    with pytest.raises(InvalidTransition):
        releases.schedule(db.session, db.c_pub, release)


def test_schedule_is_for_the_drafting_orgs_publisher_and_not_in_the_past(db):
    release = approved_release(db)
    with pytest.raises(Forbidden):
        releases.schedule(db.session, db.g_pub, release)  # not the drafting org
    with pytest.raises(Forbidden):
        releases.schedule(db.session, db.c_draft, release)
    with pytest.raises(Invalid):
        releases.schedule(db.session, db.c_pub, release, utcnow() - timedelta(hours=1))
    releases.schedule(db.session, db.c_pub, release)
    with pytest.raises(Forbidden):
        releases.unschedule(db.session, db.c_draft, release)


def test_a_release_some_channels_have_cannot_be_unscheduled(db):
    release = approved_release(db)
    releases.schedule(db.session, db.c_pub, release)
    db.session.add(Delivery(release_id=release.id, org_id=release.drafting_org_id, channel="site",
                            due_at=release.scheduled_at, status="delivered"))
    with pytest.raises(InvalidTransition, match="already"):
        releases.unschedule(db.session, db.c_pub, release)
    assert release.state == "scheduled"


def test_nobody_but_the_system_publishes(db):
    release = approved_release(db)
    releases.schedule(db.session, db.c_pub, release)
    with pytest.raises(Forbidden):
        rules.check("publish", db.c_pub, release)


def test_a_publisher_of_the_drafting_organisation_or_an_admin_retries_a_delivery(db):
    release = joint_release(db)  # drafted by the city
    for user in (db.c_pub, db.admin):
        rules.check_retry(user, release)
    for user in (db.g_pub, db.c_draft, db.c_appr):  # the other side's publisher; not publishers
        with pytest.raises(Forbidden):
            rules.check_retry(user, release)


# --- approvals -------------------------------------------------------------------------

def test_who_may_not_approve(db):
    release = joint_release(db)
    releases.submit(db.session, db.c_draft, release)
    with pytest.raises(Forbidden):
        releases.approve(db.session, db.c_draft, release)  # a drafter
    with pytest.raises(NotFound):
        releases.approve(db.session, db.b_appr, release)  # the branch is not required, so it cannot see it
    with pytest.raises(NotFound):
        releases.approve(db.session, db.k_appr, release)  # another organisation
    releases.approve(db.session, db.c_appr, release)
    with pytest.raises(InvalidTransition):
        releases.approve(db.session, db.c_appr, release)  # the city has approved this text


def test_an_org_not_required_cannot_approve_even_when_it_can_view(db):
    incident = incident_with_facts(db)
    release = releases.create_release(db.session, db.k_draft, incident, TITLE, BODY, "website", [org(db, "grid")])
    releases.submit(db.session, db.k_draft, release)
    with pytest.raises(NotFound):
        releases.approve(db.session, db.c_appr, release)
    with pytest.raises(Forbidden):
        releases.approve(db.session, db.admin, release)  # sees everything, approves nothing


def test_nobody_approves_their_own_edit(db):
    incident = incident_with_facts(db)
    release = releases.create_release(db.session, db.c_both, incident, TITLE, BODY, "website", [org(db, "grid")])
    releases.submit(db.session, db.c_both, release)
    with pytest.raises(Forbidden, match="own edit"):
        releases.approve(db.session, db.c_both, release)
    releases.approve(db.session, db.c_appr, release)
    releases.edit(db.session, db.c_draft, release, TITLE, BODY + "特此通报。")  # someone else's change
    releases.approve(db.session, db.c_both, release)  # c_both's own text was approved by c_appr
    assert valid_orgs(db, release) == {org(db, "city")}
    releases.edit(db.session, db.c_both, release, TITLE, BODY)
    with pytest.raises(Forbidden, match="own edit"):
        releases.approve(db.session, db.c_both, release)


def test_editing_clears_exactly_the_approvals_whose_text_changed(db):
    release = joint_release(db)
    releases.submit(db.session, db.c_draft, release)
    releases.approve(db.session, db.c_appr, release)
    releases.edit(db.session, db.c_draft, release, TITLE, BODY)  # same title and body
    assert valid_orgs(db, release) == {org(db, "city")}
    releases.approve(db.session, db.g_appr, release)  # at version 2, the same text
    assert release.state == "approved"
    city, grid = releases.approvals(db.session, release)
    assert (city.version_number, grid.version_number) == (1, 2)
    releases.edit(db.session, db.c_draft, release, TITLE, BODY.replace("95598", "95598或12345"))
    assert valid_orgs(db, release) == set() and release.state == "in_review"
    cleared_at = city.cleared_at
    releases.edit(db.session, db.c_draft, release, TITLE, BODY)  # back to the signed-off text
    assert valid_orgs(db, release) == set() and city.cleared_at == cleared_at  # cleared stays cleared


def test_editing_an_approved_release_without_a_change_keeps_it_approved(db):
    release = approved_release(db)
    releases.edit(db.session, db.c_draft, release, TITLE, BODY)
    assert release.state == "approved" and len(releases.versions(db.session, release)) == 2


def test_edit_is_for_drafters_of_the_drafting_org(db):
    release = joint_release(db)
    with pytest.raises(Forbidden):
        releases.edit(db.session, db.g_draft, release, "t", "b")  # a required org, not the drafter
    with pytest.raises(Forbidden):
        releases.edit(db.session, db.c_appr, release, "t", "b")
    with pytest.raises(NotFound):
        releases.edit(db.session, db.k_draft, release, "t", "b")


# --- published releases ----------------------------------------------------------------

def test_a_published_release_is_corrected_or_withdrawn_by_a_new_linked_release(db):
    release = published_release(db)
    with pytest.raises(InvalidTransition, match="correct or withdraw"):
        releases.edit(db.session, db.c_draft, release, TITLE, "改")
    with pytest.raises(Forbidden):
        releases.correct(db.session, db.g_draft, release, "更正", "更正内容")
    correction = releases.correct(db.session, db.c_draft, release, "更正：" + TITLE, BODY.replace("22时", "23时"))
    withdrawal = releases.withdraw(db.session, db.c_draft, release, "撤回通报", "此前发布的通报撤回。")
    for new, kind in ((correction, "correction"), (withdrawal, "withdrawal")):
        assert (new.kind, new.corrects_id, new.state) == (kind, release.id, "draft")
        assert new.required_org_ids == release.required_org_ids
    assert release.state == "published"
    [version] = releases.versions(db.session, release)
    assert (version.title, version.body) == (TITLE, BODY)  # unchanged


def test_a_withdrawal_cannot_be_withdrawn(db):
    withdrawal = SimpleNamespace(state="published", kind="withdrawal", drafting_org_id=1, required_org_ids=[1])
    user = SimpleNamespace(id=1, org_id=1, roles=["drafter"], active=True)
    with pytest.raises(InvalidTransition):
        rules.check("withdraw", user, withdrawal)


# --- visibility ------------------------------------------------------------------------

def test_visibility_drafting_and_required_orgs_and_admins(db):
    release = joint_release(db)
    for name in ("c_draft", "c_analyst", "g_appr", "admin"):
        assert releases.get_release(db.session, db.users[name], release.id) is release
    for name in ("k_appr", "b_appr"):
        with pytest.raises(NotFound):
            releases.get_release(db.session, db.users[name], release.id)
        assert releases.visible_releases(db.session, db.users[name]) == []
    with pytest.raises(NotFound):
        releases.get_release(db.session, db.admin, 9999)
    assert releases.visible_releases(db.session, db.g_appr) == [release]


def test_another_org_cannot_act_and_gets_not_found(db):
    release = joint_release(db)
    for action, call in {
        "comment": lambda u: releases.add_comment(db.session, u, release, "看看"),
        "submit": lambda u: releases.submit(db.session, u, release),
        "edit": lambda u: releases.edit(db.session, u, release, "t", "b"),
    }.items():
        with pytest.raises(NotFound):
            call(db.k_draft)


def test_anyone_who_can_view_comments_and_disabled_accounts_do_nothing(db):
    release = joint_release(db)
    releases.add_comment(db.session, db.c_analyst, release, "微博上有户数的谣言")
    releases.add_comment(db.session, db.g_appr, release, "请补充热线")
    with pytest.raises(Invalid):
        releases.add_comment(db.session, db.g_appr, release, " ")
    assert [c.body for c in releases.comments(db.session, release)] == ["微博上有户数的谣言", "请补充热线"]
    db.c_draft.active = False
    with pytest.raises(Forbidden):
        releases.submit(db.session, db.c_draft, release)


def test_allowed_actions_for_buttons(db):
    release = joint_release(db)
    assert rules.allowed_actions(db.c_draft, release) == ["edit", "submit", "comment"]
    assert rules.allowed_actions(db.g_appr, release) == ["comment"]
    assert rules.allowed_actions(db.k_appr, release) == []


# --- audit -----------------------------------------------------------------------------

def test_every_action_is_audited_and_the_chain_verifies(db):
    release = joint_release(db)
    releases.add_comment(db.session, db.g_appr, release, "ok")
    releases.submit(db.session, db.c_draft, release)
    releases.request_changes(db.session, db.g_appr, release, "改热线")
    releases.edit(db.session, db.c_draft, release, TITLE, BODY + " ")
    releases.submit(db.session, db.c_draft, release)
    releases.approve(db.session, db.g_appr, release)
    releases.approve(db.session, db.c_appr, release)
    releases.schedule(db.session, db.c_pub, release)
    releases.unschedule(db.session, db.c_pub, release)
    releases.schedule(db.session, db.c_pub, release)
    releases.mark_published(db.session, release)
    releases.withdraw(db.session, db.c_draft, release, "撤回", "撤回")
    db.session.commit()
    actions = [e.action for e in db.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
    assert actions == ["incident.create", "incident.organisations"] + ["fact.set"] * len(FACTS) + [
        "release.create", "release.comment", "release.submit", "release.request_changes", "release.edit",
        "release.submit", "release.approve", "release.approve", "release.schedule", "release.unschedule",
        "release.schedule", "release.publish", "release.withdraw"]
    result = audit.verify(db.session)
    assert result.ok and result.entries == len(actions)


# --- facts -----------------------------------------------------------------------------

def test_facts_are_owned_and_keep_their_history(db):
    incident = releases.create_incident(db.session, db.c_draft, "停电", org_ids=[org(db, "grid")])
    set_fact(db.session, db.c_draft, incident, "affected_areas", "龙华区、美兰区")
    set_fact(db.session, db.c_draft, incident, "households", "约1.2万户", owner_org_id=org(db, "grid"))
    set_fact(db.session, db.c_draft, incident, "households", "13000")  # the grid owns it now: a dispute
    assert current_facts(db.session, incident)["households"].value == "12000"
    set_fact(db.session, db.g_draft, incident, "households", "13000")
    with pytest.raises(Forbidden):
        set_fact(db.session, db.c_pub, incident, "cause", "台风")  # no role for facts
    with pytest.raises(Invalid):
        set_fact(db.session, db.g_draft, incident, "colour", "red")
    with pytest.raises(Invalid):
        set_fact(db.session, db.g_draft, incident, "restoration_estimate", "尽快")
    facts = current_facts(db.session, incident)
    assert facts["affected_areas"].value == ["龙华区", "美兰区"]
    value, owner, updated_at = facts["households"]
    assert (value, owner) == ("13000", org(db, "grid")) and updated_at is not None
    assert [f.value for f in fact_history(db.session, incident, "households")] == ["12000", "13000"]


@pytest.mark.parametrize("text, values", [
    ("约1.2万户居民停电", [12000]), ("共12000户", [12000]), ("影响12,000 户", [12000]),
    ("3.5万余户用户", [35000]), ("已恢复8000户，仍有4000户", [8000, 4000]), ("1.5万用户", [15000]),
    ("拨打95598", []), ("7月25日15时", []),
])
def test_household_counts(text, values):
    assert [c.value for c in household_counts(text)] == values


def test_extract_from_a_realistic_release():
    stated = extract(TITLE + "\n" + BODY, ["龙华区", "美兰区", "秀英区"])
    assert [c.value for c in stated.households] == [12000, 8000]
    [restore] = stated.restoration  # not the 15时 of the outage, not the 20时 "截至"
    assert (restore.hour, restore.minute, restore.relative) == (22, 0, "today")
    assert stated.hotlines == ["95598"]
    assert stated.areas == ["龙华区", "美兰区"]


@pytest.mark.parametrize("text, expected", [
    ("预计7月26日18:00前恢复供电", (7, 26, 18, 0)), ("预计明天上午10点恢复送电", (None, None, 10, 0)),
    ("计划于26日18时30分前全部复电", (None, 26, 18, 30)), ("预计22:30，恢复供电", (None, None, 22, 30)),
    ("预计下午3点半恢复", (None, None, 15, 30)),
])
def test_restoration_times(text, expected):
    [clock] = extract(text).restoration
    assert (clock.month, clock.day, clock.hour, clock.minute) == expected


def test_hotlines():
    assert extract("请拨打95598或0898-12345，也可拨打12345热线").hotlines == ["95598", "0898-12345", "12345"]


def test_contradictions_against_the_fact_sheet():
    text = TITLE + BODY
    assert contradictions(text, FACTS) == []
    wrong = text.replace("约1.2万户", "约1.5万户").replace("22时", "23时").replace("、美兰区", "")
    found = {c.kind: c for c in contradictions(wrong.replace("95598", "96598"), FACTS)}
    assert found["household_count"].stated == "约1.5万户、约8000户"
    assert found["household_count"].expected == "12000"
    assert found["restoration_time"].expected == "7月25日22:00"
    assert found["area_missing"].expected == "美兰区"
    assert found["hotline"].stated == "96598"
    assert {c.source for c in found.values()} == {"fact sheet"}


def test_contradictions_against_the_other_sides_release():
    grid = OtherRelease(7, "海南电网公司", "龙华区、美兰区约1.3万户停电，预计今晚23时恢复供电。")
    found = contradictions("龙华区约1.2万户停电，预计今晚22时恢复供电。", {"affected_areas": ["龙华区", "美兰区"]}, [grid])
    by_source = {(c.kind, c.source) for c in found}
    assert by_source == {("area_missing", "fact sheet"), ("household_count", "release #7 of 海南电网公司"),
                         ("restoration_time", "release #7 of 海南电网公司"), ("area_missing", "release #7 of 海南电网公司")}


def test_a_hotline_is_checked_against_the_other_sides_release_too():
    grid = OtherRelease(7, "海南电网公司", "约1.2万户停电，如有疑问请拨打95598或0898-12345。")
    [found] = contradictions("约1.2万户停电，服务热线96598。", {}, [grid])
    assert (found.kind, found.stated, found.expected, found.release_id) == ("hotline", "96598", "95598、0898-12345", 7)
    assert contradictions("约1.2万户停电，请拨打0898-12345。", {}, [grid]) == []  # one in common agrees
    [problem] = pre_publication("通报", "约1.2万户停电，服务热线96598。", "weibo", {}, [grid], kind="correction")
    assert problem.message_key == "hotline" and problem.blocking  # the fact sheet has no hotline to settle it
    assert message(problem) == ("Hotline differs from release #7 of 海南电网公司: draft 96598, release #7 of 海南电网公司 "
                                "95598、0898-12345")



def test_a_hotline_written_with_or_without_its_hyphens_is_the_same_number():
    grid = OtherRelease(7, "海南电网公司", "约1.2万户停电，如有疑问请拨打0898-66123456或400-123-4567。")
    assert contradictions("约1.2万户停电，服务热线089866123456。", {}, [grid]) == []
    assert contradictions("约1.2万户停电，服务热线4001234567。", {"hotline": "400-123-4567"}, [grid]) == []
    [found] = contradictions("约1.2万户停电，服务热线089866123457。", {}, [grid])
    assert (found.kind, found.stated) == ("hotline", "089866123457")

# --- pre-publication checks ------------------------------------------------------------

def test_a_clean_release_passes():
    assert pre_publication(TITLE, BODY, "website", FACTS) == []


def test_checks_length_terms_and_missing_hotline(tmp_path):
    body = BODY.replace("如有疑问请拨打95598供电服务热线。", "") + "我们保证永不停电。事故责任正在调查。"
    found = {p.message_key: p for p in pre_publication(TITLE, body + "电" * 2000, "weibo", FACTS)}
    assert found["missing_fact"].detail == {"fact": "hotline"} and found["missing_fact"].blocking
    assert found["prohibited_term"].blocking and found["prohibited_term"].detail["term"] == "永不停电"
    assert not found["sensitive_term"].blocking
    assert found["too_long"].detail["limit"] == 2000 and found["too_long"].blocking
    assert message(found["missing_fact"]) == "The draft does not quote the fact sheet's hotline"
    assert message(found["too_long"]).startswith("Weibo text too long")
    assert pre_publication("标" * 65, BODY, "wechat", FACTS)[0].detail["part"] == "title"
    home = tmp_path / "terms.toml"
    home.write_text('[terms]\nprohibited = ["抢修"]\n', encoding="utf-8")
    found = pre_publication(TITLE, BODY, "website", FACTS, config=load_config(home))
    assert [p.detail["term"] for p in found] == ["抢修"]


def test_a_contradiction_with_a_stale_release_warns_when_the_fact_sheet_agrees():
    grid = OtherRelease(7, "海南电网公司", "约1.3万户停电")
    [problem] = pre_publication(TITLE, BODY, "website", FACTS, [grid])
    assert problem.message_key == "household_count" and not problem.blocking
    assert message(problem) == ("Household count differs from release #7 of 海南电网公司: draft 约1.2万户, "
                                "release #7 of 海南电网公司 约1.3万户")
    facts = {k: v for k, v in FACTS.items() if k != "households"}
    [problem] = pre_publication(TITLE, BODY, "website", facts, [grid])
    assert problem.blocking


def test_approval_is_refused_while_blocking_problems_exist(db):
    incident = incident_with_facts(db)
    release = releases.create_release(db.session, db.c_draft, incident, TITLE, BODY.replace("1.2万", "2万"),
                                      "website", [org(db, "grid")])
    releases.submit(db.session, db.c_draft, release)
    with pytest.raises(Blocked) as refused:
        releases.approve(db.session, db.c_appr, release)
    assert [p.message_key for p in refused.value.problems] == ["household_count"]
    assert valid_orgs(db, release) == set()


def test_the_other_sides_published_release_is_checked(db):
    release = published_release(db)  # the city's, with 1.2万户
    incident = releases.get_incident(db.session, release.incident_id)
    set_fact(db.session, db.g_draft, incident, "households", "15000")
    grid = releases.create_release(db.session, db.g_draft, incident, TITLE, BODY.replace("约1.2万户", "1.5万户"),
                                   "weibo", [])
    [problem] = releases.problems(db.session, grid)
    assert problem.detail["source"] == f"release #{release.id} of 海口市人民政府" and not problem.blocking
    withdrawal = releases.withdraw(db.session, db.c_draft, release, "撤回", "此前通报撤回")
    assert len(releases.problems(db.session, grid)) == 1  # a draft withdrawal: the original still counts
    releases.submit(db.session, db.c_draft, withdrawal)
    releases.approve(db.session, db.c_appr, withdrawal)  # a withdrawal need not restate the facts
    releases.approve(db.session, db.g_appr, withdrawal)
    releases.schedule(db.session, db.c_pub, withdrawal)
    releases.mark_published(db.session, withdrawal)
    assert releases.problems(db.session, grid) == []


# --- versions and diffs ----------------------------------------------------------------

def test_diff_of_two_versions_is_char_level(db):
    release = joint_release(db)
    releases.edit(db.session, db.c_draft, release, TITLE, BODY.replace("约1.2万户", "约1.3万户"))
    result = releases.diff(db.session, release, 1, 2)
    assert result.title == [("equal", TITLE)]
    changed = [s for s in result.body if s.op != "equal"]
    assert changed == [("delete", "2"), ("insert", "3")]
    assert "".join(s.text for s in result.body if s.op != "insert") == BODY
    with pytest.raises(NotFound):
        releases.diff(db.session, release, 1, 5)


def test_diff_text_over_lines():
    old, new = "第一行\n第二行：22时\n第三行\n", "第一行\n第二行：23时\n第三行\n新增\n"
    assert releases.diff_text(old, new) == [("equal", "第一行\n第二行：2"), ("delete", "2"), ("insert", "3"),
                                            ("equal", "时\n第三行\n"), ("insert", "新增\n")]


def test_rules_work_on_plain_values():
    user = SimpleNamespace(id=5, org_id=2, roles=["approver"], active=True)
    release = SimpleNamespace(state="in_review", kind="release", drafting_org_id=1, required_org_ids=[1, 2])
    rules.check("approve", user, release, approvals=[], versions=[SimpleNamespace(number=1, author_id=9)])
    held = [SimpleNamespace(org_id=2, version_number=1, cleared_at=None)]
    with pytest.raises(InvalidTransition):
        rules.check("approve", user, release, approvals=held)
    assert rules.fully_approved(release, held + [SimpleNamespace(org_id=1, version_number=1, cleared_at=None)])
