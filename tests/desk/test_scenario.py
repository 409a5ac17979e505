"""Scenarios (desk.scenario): the loader, its errors with their places, and the shipped
typhoon's own consistency and places."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import timedelta

import jieba
import pytest

from desk.facts import household_counts
from desk.scenario import INJECT_KINDS, ScenarioError, load, parse_offset
from desk.tables import FACT_KEYS
from desk.vocabulary import ORG_KINDS
from nlp.places import Gazetteer, gazetteer

GOOD = """\
[scenario]
name = "tiny"
title = "小停电"
query = "停电"
length = "2h"

[[organisation]]
key = "grid"
name = "滨海供电局"
kind = "enterprise"

[[place]]
name = "滨海市"
code = "460500"

[[post]]
id = "w1"
at = "10m"
platform = "weibo"
author = "甲"
text = "滨海市停电了"
likes = 3

[[post]]
id = "w2"
at = "1h05m30s"
platform = "weibo"
kind = "repost"
parent = "w1"
author = "乙"
text = "转发微博"

[[release]]
id = "g1"
at = "1h30m"
by = "grid"
title = "通报"
text = "正在抢修"
answers = ["w1"]

[[fact]]
at = "20m"
by = "grid"
key = "affected_areas"
value = ["海港区"]

[[inject]]
id = "i1"
at = "2h"
kind = "new_fault"
to = "grid"
text = "又一条线路跳闸"
"""


def write(tmp_path, text: str):
    path = tmp_path / "tiny.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_is_read_with_its_times_as_offsets(tmp_path):
    found = load(write(tmp_path, GOOD))
    assert (found.name, found.title, found.length) == ("tiny", "小停电", timedelta(hours=2))
    first, repost = found.posts
    assert (first.at, first.kind, first.likes, repost.at, repost.parent) == (
        timedelta(minutes=10), "post", 3, timedelta(hours=1, minutes=5, seconds=30), "w1")
    assert found.releases[0].answers == ("w1",) and found.facts[0].value == ("海港区",)
    assert found.injects[0].kind == "new_fault" and found.organisation("grid").name == "滨海供电局"
    assert found.stored_id("w2") == "tiny-w2"


@pytest.mark.parametrize("text", ["2x", "", "h", "1h-5m", "5"])
def test_an_offset_is_hours_minutes_and_seconds(text):
    with pytest.raises(ValueError, match="is not an offset such as 2h15m"):
        parse_offset(text)


# (replace this, with that) in GOOD; the error's line and words
ERRORS = [
    (("likes = 3", "likes = 3\nlikes = 4"), "at line 23", "not TOML"),
    (('likes = 3', 'like = 3'), ":16: ", "[[post]] #1 (id 'w1'): unknown field 'like'"),
    (('likes = 3', 'likes = "3"'), ":16: ", "'likes' must be int, not str"),
    (('at = "10m"', 'at = "10x"'), ":16: ", "at: '10x' is not an offset"),
    (('at = "10m"', 'at = "99999999999999999999h"'), ":16: ", "at: '99999999999999999999h' is not an offset"),
    (('at = "1h05m30s"', 'at = "3h"'), ":24: ", "[[post]] #2 (id 'w2'): at 3:00:00 is after the scenario's end"),
    (('parent = "w1"', 'parent = "w9"'), ":24: ", "parent 'w9' is no post before it in the file"),
    (('at = "10m"', 'at = "1h10m"'), ":24: ", "parent 'w1' must be an earlier post of the same platform"),
    (('kind = "repost"\n', ''), ":24: ", "a repost or a comment has a parent, and only they do"),
    (('platform = "weibo"\nauthor = "甲"', 'platform = "gov"\nauthor = "甲"'), ":16: ",
     "platform 'gov' is not one of"),
    (('id = "w2"', 'id = "w1"'), ":24: ", "id 'w1' is used twice"),
    (('answers = ["w1"]', 'answers = ["w7"]'), ":33: ", "[[release]] #1 (id 'g1'): answers 'w7', which is no post"),
    (('by = "grid"\ntitle', 'by = "city"\ntitle'), ":33: ", "'city' is no [[organisation]] key (known: grid)"),
    (('key = "affected_areas"', 'key = "mood"'), ":41: ", "[[fact]] #1: key 'mood' is not one of"),
    (('value = ["海港区"]', 'value = "海港区"'), ":41: ", "a list of names for affected_areas"),
    (('key = "affected_areas"\nvalue = ["海港区"]', 'key = "households"\nvalue = "很多"'), ":41: ",
     "[[fact]] #1: value: households needs a number"),
    (('kind = "new_fault"', 'kind = "earthquake"'), ":47: ", "[[inject]] #1 (id 'i1'): kind 'earthquake'"),
    (('text = "又一条线路跳闸"\n', ''), ":47: ", "'text' is missing"),
    (('kind = "enterprise"', 'kind = "ngo"'), ":7: ", "[[organisation]] #1: kind 'ngo' is not one of"),
    (('code = "460500"', 'code = "460100"'), ":12: ", "code 460100 is already 海口市"),
    (('code = "460500"', 'code = "990500"'), ":12: ", "code 990500 is under no real province"),
    (('length = "2h"', 'length = "2h"\nowner = "x"'), ":1: ", "[scenario]: unknown field 'owner'"),
    (('[[inject]]', '[[injects]]'), ":47: ", "injects: unknown table"),
    (('id = "i1"', 'id = "w2"'), ":47: ", "[[inject]] #1 (id 'w2'): id 'w2' is used twice"),
    (('[[inject]]', '[[first_draft]]\nid = "g1"\nat = "1h"\nby = "grid"\ntitle = "初稿"\ntext = "约5万户停电"\n\n[[inject]]'),
     ":47: ", "[[first_draft]] #1 (id 'g1'): id 'g1' is used twice"),
]


@pytest.mark.parametrize("change, line, words", ERRORS, ids=[words for _, _, words in ERRORS])
def test_each_error_names_the_file_the_line_and_the_entry(tmp_path, change, line, words):
    text = GOOD.replace(*change)
    assert text != GOOD
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as raised:
        load(path)
    message = str(raised.value)
    assert message.startswith(str(path)) and words in message, message
    assert line in message, message


def test_a_file_without_its_scenario_table_says_what_is_missing(tmp_path):
    with pytest.raises(ScenarioError, match=r"tiny.toml: \[scenario\]: missing: name, title and query"):
        load(write(tmp_path, GOOD.split("[[organisation]]")[1].join(["[[organisation]]", ""])))


def test_a_file_not_in_utf_8_says_so(tmp_path):
    path = tmp_path / "gbk.toml"
    path.write_bytes(GOOD.encode("gbk"))
    with pytest.raises(ScenarioError, match=r"gbk.toml: not UTF-8"):
        load(path)


# --- the shipped scenario --------------------------------------------------------------

TYPHOON = load("binhai_typhoon")


def test_the_shipped_typhoon_is_a_day_of_several_hundred_posts_on_four_platforms():
    posts = {post.id: post for post in TYPHOON.posts}
    assert TYPHOON.length == timedelta(hours=24) and len(posts) >= 300
    assert {post.platform for post in TYPHOON.posts} == {"weibo", "wechat", "tieba", "news"}
    for post in TYPHOON.posts:
        assert timedelta(0) <= post.at <= TYPHOON.length
        if post.parent is not None:  # its parent exists and comes earlier, on its platform
            parent = posts[post.parent]
            assert parent.at < post.at and parent.platform == post.platform
    hours = Counter(int(post.at / timedelta(hours=1)) for post in TYPHOON.posts)
    assert max(hours.values()) >= 4 * min(hours[h] for h in range(24))  # bursts, not an even trickle
    assert len({post.author for post in TYPHOON.posts}) >= 300


def test_the_shipped_typhoon_has_both_sides_facts_that_change_and_injects_of_each_kind():
    assert {org.kind for org in TYPHOON.organisations} == set(ORG_KINDS)
    assert {release.by for release in TYPHOON.releases} == {org.key for org in TYPHOON.organisations}
    assert all(fact.key in FACT_KEYS and fact.at <= TYPHOON.length for fact in TYPHOON.facts)
    households = [int(fact.value) for fact in TYPHOON.facts if fact.key == "households"]
    assert len(households) >= 4 and max(households) > households[0] and households[-1] < households[0]
    estimates = {fact.value for fact in TYPHOON.facts if fact.key == "restoration_estimate"}
    assert len(estimates) >= 2  # the estimate moves: the sides' first texts disagree with the later one
    assert {inject.kind for inject in TYPHOON.injects} == set(INJECT_KINDS)
    assert [fact.at for fact in TYPHOON.facts] == sorted(fact.at for fact in TYPHOON.facts)


def test_the_sides_first_drafts_disagree_on_the_households_cut_before_either_publishes():
    """desk.replay plays them and the checks catch them (tests/desk/test_replay.py)."""
    assert {draft.by for draft in TYPHOON.drafts} == {org.key for org in TYPHOON.organisations}
    figures = {draft.by: household_counts(draft.text)[0].value for draft in TYPHOON.drafts}
    assert len(set(figures.values())) == len(figures)
    for draft in TYPHOON.drafts:
        assert draft.at < min(release.at for release in TYPHOON.releases if release.by == draft.by)


def test_the_rumor_spreads_in_one_repost_tree_and_an_official_release_answers_it():
    posts = {post.id: post for post in TYPHOON.posts}
    [answer] = [release for release in TYPHOON.releases if release.answers]
    [root_id] = answer.answers
    assert "全城停电三天" in posts[root_id].text and posts[root_id].at < answer.at

    def root_of(post):
        while post.parent is not None:
            post = posts[post.parent]
        return post.id

    reposts = [post for post in TYPHOON.posts if post.kind == "repost"]
    assert len(reposts) >= 30 and {root_of(post) for post in reposts} == {root_id}
    depth = max(len(list(_ancestors(post, posts))) for post in reposts)
    assert depth >= 3  # reposts of reposts, not a flat fan
    copies = [post for post in TYPHOON.posts if post.kind == "post" and "全城停电三天" in post.text]
    assert len(copies) >= 5  # pasted on again: a near-duplicate cluster as well as a tree


def _ancestors(post, posts):
    while post.parent is not None:
        post = posts[post.parent]
        yield post


@pytest.fixture(scope="module")
def scenario_gazetteer(tmp_path_factory):
    """The gazetteer of a home the typhoon is seeded in (its places file, as the demo writes it)."""
    path = tmp_path_factory.mktemp("places") / "places.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("adcode", "name"), *((p.code, p.name) for p in TYPHOON.places)])
    return Gazetteer(local=path)


def test_the_typhoons_places_resolve_to_its_fictional_districts_not_to_real_ones(scenario_gazetteer):
    own = {place.code for place in TYPHOON.places}
    province = {code[:2] + "0000" for code in own}
    found = Counter()
    for post in TYPHOON.posts:
        codes, _ = scenario_gazetteer.find(jieba.lcut(post.text))
        assert set(codes) <= own | province, (post.id, post.text, codes)
        found.update(codes)
    districts = {place.code for place in TYPHOON.places if place.name.endswith("区")}
    assert districts <= set(found) and len(districts) == 5
    assert all(gazetteer().name(code) for code in province)  # a real province: the map colours it


def test_a_fictional_district_with_a_real_name_is_resolved_by_its_city(scenario_gazetteer):
    assert scenario_gazetteer.find(jieba.lcut("滨海市东湖区停电了"))[0] == ["460000", "460500", "460502"]
    assert scenario_gazetteer.find(jieba.lcut("南昌市东湖区停电了"))[0] == ["360000", "360100", "360102"]
    assert scenario_gazetteer.find(jieba.lcut("东湖区停电了"))[0] == []  # which 东湖区: left out, not guessed
    assert gazetteer().find(jieba.lcut("滨海市东湖区停电了"))[0] == []  # a home without the scenario


def test_a_places_file_saved_by_excel_is_read_and_its_bad_rows_are_left_out_with_a_warning(tmp_path, caplog):
    path = tmp_path / "places.csv"  # Excel's "CSV UTF-8" starts with a byte order mark
    path.write_text("\ufeffadcode,name\n460500,滨海市\n460502\n46050x,坏区\n,\n460503,  \n", encoding="utf-8")
    with caplog.at_level("WARNING", logger="nlp.places"):
        own = Gazetteer(local=path)
    assert own.name("460500") == "滨海市" and own.find(jieba.lcut("滨海市停电了"))[0] == ["460000", "460500"]
    assert {"460502", "46050x", "460503"}.isdisjoint(own.places)
    assert [record.getMessage() for record in caplog.records if record.name == "nlp.places"] == [
        f"{path}:{line}: a place needs a code of six digits and a name; the row is left out" for line in (3, 4, 5, 6)]
