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
from tests.desk.samples import BODY, TITLE, org


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
