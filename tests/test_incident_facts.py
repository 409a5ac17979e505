"""Who sets an incident's facts: only its organisations (its owner and those named on
it); a different value from another of them is a dispute shown on the fact sheet, never
a silent overwrite or a silent refusal. On a real SQLite database and through the app."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from desk import releases
from desk.facts import current_facts, disputes, name_organisations, set_fact
from desk.rules import Forbidden, Invalid
from desk.tables import AuditEntry, Fact, FactProposal
from tests.test_releases_ui import CITY, GRID, app, client_of, org_ids, post_form, refusals  # noqa: F401
from tests.test_workflow import BODY, TITLE, db, org  # noqa: F401 (fixture)


def test_an_uninvolved_organisation_cannot_claim_a_fact_first(db):
    incident = releases.create_incident(db.session, db.c_draft, "7·25 海口停电", org_ids=[org(db, "grid")])
    with pytest.raises(Forbidden, match="incident's organisations"):
        set_fact(db.session, db.k_draft, incident, "households", "15000")  # the county is not on it
    with pytest.raises(Invalid):  # nor can it be made a fact's owner
        set_fact(db.session, db.c_draft, incident, "households", "12000", owner_org_id=org(db, "county"))
    set_fact(db.session, db.c_draft, incident, "households", "12000")
    assert current_facts(db.session, incident)["households"][:2] == ("12000", org(db, "city"))
    release = releases.create_release(db.session, db.c_draft, incident, TITLE, BODY, "website", [])
    assert releases.problems(db.session, release) == []  # the owner's correct release is not blocked


def test_a_fact_claimed_by_an_uninvolved_organisation_before_the_rule_is_taken_back(db):
    """A database from before the rule may hold a fact owned by an organisation not on the
    incident (the claim the rule stops): the incident's organisations set it again, it
    does not turn their values into mere proposals and block their releases."""
    incident = releases.create_incident(db.session, db.c_draft, "7·25 海口停电")
    db.session.add(Fact(incident_id=incident.id, key="households", value="15000", owner_org_id=org(db, "county"),
                        updated_by=db.k_draft.id))
    db.session.flush()
    assert isinstance(set_fact(db.session, db.c_draft, incident, "households", "12000"), Fact)
    assert current_facts(db.session, incident)["households"][:2] == ("12000", org(db, "city"))
    assert disputes(db.session, incident) == {}
    release = releases.create_release(db.session, db.c_draft, incident, TITLE, BODY, "website", [])
    assert releases.problems(db.session, release) == []


def test_only_the_owner_names_organisations_and_a_named_one_may_then_set_facts(db):
    incident = releases.create_incident(db.session, db.c_draft, "停电")
    with pytest.raises(Forbidden):
        name_organisations(db.session, db.g_draft, incident, [org(db, "grid")])
    with pytest.raises(Forbidden):
        set_fact(db.session, db.g_draft, incident, "cause", "台风")
    assert name_organisations(db.session, db.c_draft, incident, [org(db, "grid"), org(db, "grid")]) == [org(db, "grid")]
    assert name_organisations(db.session, db.c_draft, incident, [org(db, "grid")]) == []  # named once
    set_fact(db.session, db.g_draft, incident, "cause", "台风")
    assert current_facts(db.session, incident)["cause"].owner_org_id == org(db, "grid")


def test_a_different_value_from_another_organisation_is_a_visible_dispute(db):
    incident = releases.create_incident(db.session, db.c_draft, "停电", org_ids=[org(db, "grid")])
    set_fact(db.session, db.g_draft, incident, "households", "约1.2万户")  # the grid's fact
    proposal = set_fact(db.session, db.c_draft, incident, "households", "15000")
    assert isinstance(proposal, FactProposal)
    assert current_facts(db.session, incident)["households"].value == "12000"  # the owner's value stands
    [(org_id, value, _)] = disputes(db.session, incident)["households"]
    assert (org_id, value) == (org(db, "city"), "15000")
    db.session.commit()
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "fact.dispute")).scalar_one()
    assert entry.detail == {"key": "households", "value": "15000", "current": "12000",
                            "owner_org_id": org(db, "grid")}
    set_fact(db.session, db.g_draft, incident, "households", "15000")  # the owner takes it: settled
    assert disputes(db.session, incident) == {}
    set_fact(db.session, db.c_draft, incident, "households", "15000")  # agreeing is no dispute
    assert disputes(db.session, incident) == {}


def test_the_fact_sheet_refuses_outsiders_and_shows_a_dispute(app):
    ids = org_ids(app)
    owner = client_of(app, "grid_drafter")
    made = post_form(owner, "/incidents/", "/incidents/", title="7月25日琼山区停电", query="停电", orgs=[str(ids[CITY])])
    incident = made.headers["Location"].rsplit("/", 1)[1]
    page_url, facts_url = f"/incidents/{incident}", f"/incidents/{incident}/facts"
    outsider = client_of(app, "other_drafter")  # of 三亚, not on this incident
    assert post_form(outsider, page_url, facts_url, key="households", value="15000").status_code == 403
    assert [(a, action, target, d["attempted"]) for a, action, target, d in refusals(app)] == [
        ("other_drafter", "workflow.refused", f"incident:{incident}", "set_fact")]
    assert "15000" not in owner.get(page_url).get_data(as_text=True)
    post_form(owner, page_url, facts_url, key="households", value="12000")
    city = client_of(app, "city_approver")
    told = post_form(city, page_url, facts_url, follow=True, key="households", value="13000").get_data(as_text=True)
    assert "停电户数由海口供电局负责：您的数值已作为争议记录在事实表上" in told
    sheet = owner.get(page_url).get_data(as_text=True).split('id="fact-sheet"')[1].split("</section>")[0]
    assert "12000" in sheet and "有争议" in sheet and f"{CITY} 认为：13000" in sheet
    assert f"处理单位：{CITY}、{GRID}</p>" in sheet  # the incident's organisations, 三亚 not among them
    english = owner.get(page_url + "?lang=en").get_data(as_text=True)
    assert f"Organisations handling it: {CITY}, {GRID}</p>" in english and "：" not in english.split("<body")[1]
