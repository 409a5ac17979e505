"""The states of a release and of a delivery: named once (desk/states.py), stored as the
values they always had, and changed only through the one table of desk/rules.py."""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from desk import rules
from desk.rules import InvalidTransition
from desk.states import DeliveryStatus, ReleaseState
from desk.tables import Delivery, Incident, Organisation, Release, User, WorkflowBase

REPO = Path(__file__).resolve().parents[2]
WORDS = {state.value for state in ReleaseState} | {status.value for status in DeliveryStatus}
# a word of another vocabulary that a state shares, told by what it is compared with
OTHER_VOCABULARIES = {"summary.status": "a crawl run's status (crawlers.run): ok, errors, failed, ..."}


def test_the_states_keep_the_values_the_database_and_the_pages_hold():
    assert [state.value for state in ReleaseState] == ["draft", "in_review", "approved", "scheduled", "published"]
    assert [status.value for status in DeliveryStatus] == ["pending", "sending", "held", "delivered", "failed",
                                                           "cancelled"]
    assert ReleaseState.IN_REVIEW == "in_review" and f"{DeliveryStatus.HELD:9}|" == "held     |"


def test_a_state_is_stored_as_its_value_and_read_back_as_the_enum(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    WorkflowBase.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        org = Organisation(name="海口供电局", kind="enterprise", level="branch")
        session.add(org)
        session.flush()
        user = User(username="u", display_name="u", password_hash="-", org_id=org.id, roles=["drafter"])
        session.add(user)
        session.flush()
        incident = Incident(title="停电", created_by=user.id)
        session.add(incident)
        session.flush()
        release = Release(incident_id=incident.id, drafting_org_id=org.id, required_org_ids=[org.id],
                          channel="weibo", created_by=user.id)
        session.add(release)
        session.flush()
        session.add(Delivery(release_id=release.id, org_id=org.id, channel="site", due_at=datetime(2024, 7, 25)))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM releases")).scalar() == "draft"
        assert conn.execute(text("SELECT status FROM outbox")).scalar() == "pending"
        conn.execute(text("UPDATE releases SET state = 'in_review'"))  # as an older release of the product wrote it
        conn.commit()
    with Session(engine) as session:
        assert session.get(Release, 1).state is ReleaseState.IN_REVIEW
        assert session.get(Delivery, 1).status is DeliveryStatus.PENDING
    engine.dispose()


def test_the_table_of_a_releases_steps_is_the_workflow():
    s = ReleaseState
    edges = {(start, step.to) for step in rules.ACTIONS.values() if step.to for start in step.states}
    assert edges == {(s.DRAFT, s.IN_REVIEW), (s.IN_REVIEW, s.APPROVED), (s.IN_REVIEW, s.DRAFT),
                     (s.APPROVED, s.IN_REVIEW), (s.APPROVED, s.SCHEDULED), (s.SCHEDULED, s.APPROVED),
                     (s.SCHEDULED, s.PUBLISHED)}


@pytest.mark.parametrize("action", [action for action, step in rules.ACTIONS.items() if step.to])
def test_a_transition_sets_the_state_its_step_leads_to_or_refuses(action):
    step = rules.ACTIONS[action]
    for state in ReleaseState:
        release = SimpleNamespace(state=state, kind="release")
        if state in step.states:
            assert rules.transition(release, action) is state and release.state is step.to
        else:
            with pytest.raises(InvalidTransition):
                rules.transition(release, action)
            assert release.state is state


@pytest.mark.parametrize("step", list(rules.DELIVERY_STEPS))
def test_a_delivery_step_moves_only_the_statuses_it_starts_from(step):
    sources, target = rules.DELIVERY_STEPS[step]
    for status in DeliveryStatus:
        delivery = SimpleNamespace(status=status)
        assert rules.move_delivery(delivery, step) is (status in sources)
        assert delivery.status is (target if status in sources else status)
    assert DeliveryStatus.DELIVERED not in sources  # a delivered release is never taken back


def state_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """The string constants in ``tree`` that spell a release state or a delivery status,
    except in a comparison with ``OTHER_VOCABULARIES``."""
    other = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(ast.unparse(operand) in OTHER_VOCABULARIES for operand in operands):
                other |= {id(part) for operand in operands for part in ast.walk(operand)}
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and node.value in WORDS and id(node) not in other)


def test_the_scan_finds_a_state_written_as_a_string():
    code = 'if delivery.status in ("held", "pending"):\n    release.state = "draft"\nif summary.status == "failed": pass'
    assert state_literals(ast.parse(code)) == [(1, "held"), (1, "pending"), (2, "draft")]


def scanned() -> list[Path]:
    """The code that handles states: desk (but its migrations, frozen history that spells
    the values it wrote), the review UI and the command line."""
    paths = [*(REPO / "desk").rglob("*.py"), *(REPO / "review_ui").rglob("*.py"), *(REPO / "crisiswatch").rglob("*.py")]
    return [path for path in paths if (REPO / "desk" / "migrations") not in path.parents]


def test_no_state_is_written_as_a_string_outside_the_states_module():
    sources = scanned()
    assert REPO / "desk" / "outbox.py" in sources and REPO / "review_ui" / "releases.py" in sources
    found = [f"{path.relative_to(REPO)}:{line}: {word!r}"
             for path in sources if path != REPO / "desk" / "states.py"
             for line, word in state_literals(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []
