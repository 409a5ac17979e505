"""Bounds on what the workflow accepts and computes: the version diff stays fast on long
and repetitive texts, every text field has a server-side limit and refuses NUL, and the
schedule form checks who may schedule before it reads its time (real SQLite, real app)."""

from __future__ import annotations

import random
import time

import pytest

from desk import releases
from desk.facts import set_fact
from desk.limits import FIELDS
from desk.releases import DIFF_PAIRS_MAX, Segment, diff_text
from desk.rules import Invalid
from tests.desk.samples import BODY, TITLE, joint_release


def cpu_seconds(work):
    start = time.process_time()
    result = work()
    return result, time.process_time() - start


def sides(segments: list[Segment]) -> tuple[str, str]:
    """The old and the new text, put back together from a diff."""
    return ("".join(s.text for s in segments if s.op != "insert"), "".join(s.text for s in segments if s.op != "delete"))


def test_one_changed_character_in_a_long_repetitive_text_is_found_at_once():
    old = "停" * 4000
    new = old[:2000] + "电" + old[2001:]
    segments, spent = cpu_seconds(lambda: diff_text(old, new))
    assert segments == [Segment("equal", "停" * 2000), Segment("delete", "停"), Segment("insert", "电"),
                        Segment("equal", "停" * 1999)]
    assert spent < 0.3  # 2.8 s before the diff was bounded


def test_a_block_too_costly_to_compare_by_character_is_shown_whole_and_fast():
    rng = random.Random(7)
    old, new = ("".join(rng.choice("停电") for _ in range(2500)) for _ in range(2))
    assert 2500 * 2500 // 2 > DIFF_PAIRS_MAX  # about this many equal pairs: past the bound
    segments, spent = cpu_seconds(lambda: diff_text(old, new))
    assert sides(segments) == (old, new)
    assert [s.op for s in segments if s.op != "equal"] == ["delete", "insert"]  # one block, not a character soup
    assert spent < 0.3


def test_many_short_matches_in_a_long_line_stay_within_the_bound():
    """Few equal pairs but thousands of short matches: difflib looks at nearly all the
    pairs once per match (48 s for 20,000 characters with every 7th changed)."""
    rng = random.Random(3)
    alphabet = [chr(0x4E00 + n) for n in range(3000)]
    old = "".join(rng.choice(alphabet) for _ in range(20_000))
    new = "".join(char if n % 3 else "改" for n, char in enumerate(old))
    segments, spent = cpu_seconds(lambda: diff_text(old, new))
    assert sides(segments) == (old, new)
    assert spent < 0.5  # 44 s before the pairs were counted over every step


def test_changes_in_a_long_body_are_found_line_by_line_then_by_character():
    lines = [f"第{n}段：受台风影响，部分线路停电，约{n}户。\n" for n in range(2000)]
    changed = list(lines)
    changed[10] = changed[10].replace("台风", "暴雨")
    changed[1500] = changed[1500].replace("约1500户", "约1600户")
    segments, spent = cpu_seconds(lambda: diff_text("".join(lines), "".join(changed)))
    assert sides(segments) == ("".join(lines), "".join(changed))
    assert [(s.op, s.text) for s in segments if s.op != "equal"] == [
        ("delete", "台风"), ("insert", "暴雨"), ("delete", "5"), ("insert", "6")]
    assert spent < 0.3


@pytest.mark.parametrize("field", ["title", "body", "comment", "fact_value", "incident_title", "rumor_clusters"])
def test_every_text_field_is_bounded_and_refuses_nul(db, field):
    limit = FIELDS[field][2]
    incident = releases.create_incident(db.session, db.c_draft, "停电")
    release = joint_release(db, incident=incident)

    def save(text):
        if field == "title":
            releases.edit(db.session, db.c_draft, release, text, BODY)
        elif field == "body":
            releases.edit(db.session, db.c_draft, release, TITLE, text)
        elif field == "comment":
            releases.add_comment(db.session, db.c_draft, release, text)
        elif field == "fact_value":
            set_fact(db.session, db.c_draft, incident, "cause", text)
        elif field == "rumor_clusters":  # the release form's ids, one by comma: 2 MB of them were stored
            releases.create_release(db.session, db.c_draft, incident, TITLE, BODY, "weibo", [], rumor_clusters=[text])
        else:
            releases.create_incident(db.session, db.c_draft, text)

    save("停" * limit)  # at the limit: accepted
    with pytest.raises(Invalid, match=f"at most {limit} characters"):
        save("停" * (limit + 1))
    with pytest.raises(Invalid, match="NUL"):
        save("停电\x00通报")
