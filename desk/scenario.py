"""A crisis on a relative timeline, read from a TOML file: the posts that appear on which
platform and when, the official releases of either side, the facts that change, and the
injects a drill director sends to the teams. ``desk/scenarios/`` holds the shipped ones;
``desk.replay`` plays one against the clock (the living demo, a drill).

Every time is an offset from the scenario's start, written ``"2h15m"``, ``"45m"``,
``"1h"`` or ``"30s"``; a scenario lasts ``length`` (default ``"24h"``). The file::

    [scenario]
    name = "binhai_typhoon"          # stable: stored posts are "<name>-<post id>"
    title = "..."                    # the incident's title
    query = "停电 OR 抢修"           # the search that finds the incident's posts
    length = "24h"

    [[organisation]]                 # the two sides; facts, releases and injects name their key
    key = "grid"
    name = "滨海供电局"
    kind = "enterprise"              # desk.vocabulary ORG_KINDS

    [[place]]                        # fictional places (6-digit codes under a real province,
    name = "滨海市"                  # none of them a real code): the gazetteer of a home that
    code = "460500"                  # the scenario is seeded in resolves them to themselves

    [[post]]
    id = "w001"                      # unique among posts, releases and drafts
    at = "0h05m"
    platform = "weibo"               # weibo, wechat, tieba or news
    kind = "post"                    # post (default), repost, comment or article
    parent = "w000"                  # a repost's or comment's parent: an earlier post of its platform
    author = "海边的小鱼"
    verified = false                 # optional; also title, reposts, comments, likes
    text = "..."

    [[release]]                      # an official release of one side, published at its time
    id = "g01"                       # through the workflow (drafted, approved, published by the
    at = "1h30m"                     # side's people), so its text passes the pre-publication
    by = "city"                      # checks against the fact sheet of then (desk.checks)
    title = "..."
    text = "..."
    answers = ["w040"]               # optional: the rumor posts it answers

    [[first_draft]]                  # a side's first text that the checks hold back (a figure that
    id = "d01"                       # contradicts the fact sheet or the other side): submitted
    at = "1h10m"                     # at its time and sent back by its approver, never published
    by = "grid"
    title = "..."
    text = "..."

    [[fact]]                         # a fact sheet value from that time on
    at = "1h"
    by = "grid"
    key = "households"               # desk.tables FACT_KEYS
    value = "32000"                  # text; a list of names for affected_areas

    [[inject]]                       # for a drill's teams: the director sends it (a demo: at its time)
    id = "i01"                       # unique among posts, releases, drafts and injects
    at = "3h"
    kind = "journalist_call"         # INJECT_KINDS
    to = "grid"
    text = "..."

Errors name the file, the line of the entry and the entry (``[[post]] #12 (id "w012")``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from core.schema import KINDS, PLATFORMS
from desk.errors import Invalid
from desk.facts import normalise
from desk.tables import FACT_KEYS
from desk.vocabulary import ORG_KINDS

SCENARIOS_DIR = Path(__file__).with_name("scenarios")
POST_PLATFORMS = tuple(p for p in PLATFORMS if p != "gov")  # gov: the releases
POST_KINDS = tuple(k for k in KINDS if k != "release")
REPLY_KINDS = ("repost", "comment")
INJECT_KINDS = ("journalist_call", "rumor_video", "new_fault")
_OFFSET = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message says where."""


@dataclass(frozen=True)
class Organisation:
    key: str
    name: str
    kind: str


@dataclass(frozen=True)
class Place:
    name: str
    code: str


@dataclass(frozen=True)
class Post:
    id: str
    at: timedelta
    platform: str
    author: str
    text: str
    kind: str = "post"
    parent: str | None = None
    title: str | None = None
    verified: bool = False
    reposts: int = 0
    comments: int = 0
    likes: int = 0


@dataclass(frozen=True)
class Release:
    id: str
    at: timedelta
    by: str
    title: str
    text: str
    answers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Draft:
    id: str
    at: timedelta
    by: str
    title: str
    text: str


@dataclass(frozen=True)
class FactChange:
    at: timedelta
    by: str
    key: str
    value: str | tuple[str, ...]


@dataclass(frozen=True)
class Inject:
    id: str
    at: timedelta
    kind: str
    to: str
    text: str


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    query: str
    length: timedelta
    organisations: tuple[Organisation, ...]
    places: tuple[Place, ...]
    posts: tuple[Post, ...]
    releases: tuple[Release, ...]
    facts: tuple[FactChange, ...]
    injects: tuple[Inject, ...]
    drafts: tuple[Draft, ...] = ()

    def organisation(self, key: str) -> Organisation:
        return next(org for org in self.organisations if org.key == key)

    def stored_id(self, entry_id: str) -> str:
        """The platform id a post or release is stored under: the same on every seeding."""
        return f"{self.name}-{entry_id}"


def parse_offset(text: str) -> timedelta:
    match = _OFFSET.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not an offset such as 2h15m, 45m or 30s")
    hours, minutes, seconds = (int(group or 0) for group in match.groups())
    try:
        return timedelta(hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:  # beyond timedelta's billion days
        raise ValueError(f"{text!r} is not an offset such as 2h15m, 45m or 30s") from None


def load(path: str | Path) -> Scenario:
    """Read and check a scenario file (``name`` alone: the shipped ``desk/scenarios/<name>.toml``)."""
    path = Path(path)
    if path.suffix != ".toml" and not path.exists():
        path = SCENARIOS_DIR / f"{path}.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{path}: not UTF-8: {err}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not TOML: {err}") from None
    return _Reader(path, text).scenario(raw)


class _Reader:
    def __init__(self, path: Path, text: str):
        self.path, self.lines = path, text.splitlines()
        self.headers: dict[str, list[int]] = {}  # each header's lines, found once: a file has hundreds of entries

    def fail(self, where: str, message: str, line: int | None = None):
        raise ScenarioError(f"{self.path}:{line}: {where}: {message}" if line else f"{self.path}: {where}: {message}")

    def _line(self, header: str, number: int = 1) -> int | None:
        """The line of the ``number``-th ``[header]`` or ``[[header]]`` in the file."""
        if header not in self.headers:
            pattern = re.compile(rf"\s*\[\[?\s*{re.escape(header)}\s*\]\]?\s*(#.*)?$")
            self.headers[header] = [i for i, line in enumerate(self.lines, start=1) if pattern.match(line)]
        found = self.headers[header]
        return found[number - 1] if len(found) >= number else None

    def entries(self, raw: dict, kind: str, fields: dict[str, tuple], required: set[str]):
        """Each ``[[kind]]`` entry as (where, line, checked dict): the fields known, of their types."""
        items = raw.get(kind, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            self.fail(kind, f"must be a list of [[{kind}]] tables", self._line(kind))
        for number, item in enumerate(items, start=1):
            line = self._line(kind, number)
            where = f"[[{kind}]] #{number}" + (f" (id {item['id']!r})" if isinstance(item.get("id"), str) else "")
            for name in item.keys() - fields.keys():
                self.fail(where, f"unknown field {name!r} (known: {', '.join(fields)})", line)
            for name in sorted(required - item.keys()):
                self.fail(where, f"{name!r} is missing", line)
            for name, value in item.items():
                if not isinstance(value, fields[name]) or isinstance(value, bool) != (bool in fields[name]):
                    types = " or ".join(t.__name__ for t in fields[name])
                    self.fail(where, f"{name!r} must be {types}, not {type(value).__name__}", line)
            checked = dict(item)
            if "at" in checked:
                try:
                    checked["at"] = parse_offset(checked["at"])
                except ValueError as err:
                    self.fail(where, f"at: {err}", line)
            yield where, line, checked

    def scenario(self, raw: dict) -> Scenario:
        known = {"scenario", "organisation", "place", "post", "release", "first_draft", "fact", "inject"}
        for name in raw.keys() - known:
            self.fail(name, f"unknown table (known: {', '.join(sorted(known))})", self._line(name))
        head = raw.get("scenario")
        if not isinstance(head, dict):
            self.fail("[scenario]", "missing: name, title and query")
        line = self._line("scenario")
        for name in head.keys() - {"name", "title", "query", "length"}:
            self.fail("[scenario]", f"unknown field {name!r}", line)
        for name in ("name", "title", "query"):
            if not isinstance(head.get(name), str) or not head[name].strip():
                self.fail("[scenario]", f"{name!r} must be a non-empty string", line)
        if not re.fullmatch(r"[a-z0-9_]+", head["name"]):
            self.fail("[scenario]", f"name {head['name']!r}: lower-case letters, digits and _ only", line)
        try:
            length = parse_offset(head.get("length", "24h"))
        except ValueError as err:
            self.fail("[scenario]", f"length: {err}", line)
        self.length = length

        organisations = self.organisations(raw)
        sides = {org.key for org in organisations}
        places = self.places(raw)
        posts = self.posts(raw)
        releases = self.releases(raw, sides, {post.id for post in posts})
        drafts = self.drafts(raw, sides, {entry.id for entry in (*posts, *releases)})
        facts = self.facts(raw, sides)
        injects = self.injects(raw, sides, {entry.id for entry in (*posts, *releases, *drafts)})
        return Scenario(head["name"], head["title"].strip(), head["query"].strip(), length, organisations, places,
                        posts, releases, facts, injects, drafts)

    def within(self, where: str, line: int | None, at: timedelta) -> None:
        if at > self.length:
            self.fail(where, f"at {at} is after the scenario's end ({self.length})", line)

    def organisations(self, raw: dict) -> tuple[Organisation, ...]:
        found: dict[str, Organisation] = {}
        for where, line, item in self.entries(raw, "organisation", {"key": (str,), "name": (str,), "kind": (str,)},
                                              {"key", "name", "kind"}):
            if item["kind"] not in ORG_KINDS:
                self.fail(where, f"kind {item['kind']!r} is not one of {', '.join(ORG_KINDS)}", line)
            if item["key"] in found:
                self.fail(where, f"key {item['key']!r} is used twice", line)
            found[item["key"]] = Organisation(**item)
        return tuple(found.values())

    def places(self, raw: dict) -> tuple[Place, ...]:
        from nlp.places import gazetteer

        real = gazetteer().places
        found: dict[str, Place] = {}
        for where, line, item in self.entries(raw, "place", {"name": (str,), "code": (str,)}, {"name", "code"}):
            code = item["code"]
            if not re.fullmatch(r"\d{6}", code) or code.endswith("0000"):
                self.fail(where, f"code {code!r}: six digits of a city or district, not of a province", line)
            if code in real or code in found:
                self.fail(where, f"code {code} is already {(real.get(code) or found[code]).name}", line)
            if code[:2] + "0000" not in real:
                self.fail(where, f"code {code} is under no real province ({code[:2]}0000)", line)
            found[code] = Place(item["name"], code)
        return tuple(found.values())

    def posts(self, raw: dict) -> tuple[Post, ...]:
        fields = {"id": (str,), "at": (str,), "platform": (str,), "kind": (str,), "parent": (str,),
                  "author": (str,), "verified": (bool,), "title": (str,), "text": (str,),
                  "reposts": (int,), "comments": (int,), "likes": (int,)}
        found: dict[str, Post] = {}
        for where, line, item in self.entries(raw, "post", fields, {"id", "at", "platform", "author", "text"}):
            self.within(where, line, item["at"])
            if item["id"] in found:
                self.fail(where, f"id {item['id']!r} is used twice", line)
            if item["platform"] not in POST_PLATFORMS:
                self.fail(where, f"platform {item['platform']!r} is not one of {', '.join(POST_PLATFORMS)}", line)
            kind = item.setdefault("kind", "post")
            if kind not in POST_KINDS:
                self.fail(where, f"kind {kind!r} is not one of {', '.join(POST_KINDS)}", line)
            if (kind in REPLY_KINDS) != ("parent" in item):
                self.fail(where, "a repost or a comment has a parent, and only they do", line)
            parent = found.get(item.get("parent"))
            if "parent" in item and parent is None:
                self.fail(where, f"parent {item['parent']!r} is no post before it in the file", line)
            if parent is not None and (parent.platform != item["platform"] or parent.at >= item["at"]):
                self.fail(where, f"parent {parent.id!r} must be an earlier post of the same platform", line)
            for name in ("reposts", "comments", "likes"):
                if item.get(name, 0) < 0:
                    self.fail(where, f"{name!r} must not be negative", line)
            found[item["id"]] = Post(**item)
        return tuple(found.values())

    def releases(self, raw: dict, sides: set[str], post_ids: set[str]) -> tuple[Release, ...]:
        fields = {"id": (str,), "at": (str,), "by": (str,), "title": (str,), "text": (str,), "answers": (list,)}
        found: dict[str, Release] = {}
        for where, line, item in self.entries(raw, "release", fields, {"id", "at", "by", "title", "text"}):
            self.within(where, line, item["at"])
            if item["id"] in found or item["id"] in post_ids:
                self.fail(where, f"id {item['id']!r} is used twice", line)
            self.side(where, line, item["by"], sides)
            answers = tuple(item.get("answers", ()))
            for post_id in answers:
                if not isinstance(post_id, str) or post_id not in post_ids:
                    self.fail(where, f"answers {post_id!r}, which is no post", line)
            found[item["id"]] = Release(**{**item, "answers": answers})
        return tuple(found.values())

    def drafts(self, raw: dict, sides: set[str], used: set[str]) -> tuple[Draft, ...]:
        fields = {"id": (str,), "at": (str,), "by": (str,), "title": (str,), "text": (str,)}
        found: dict[str, Draft] = {}
        for where, line, item in self.entries(raw, "first_draft", fields, set(fields)):
            self.within(where, line, item["at"])
            if item["id"] in found or item["id"] in used:
                self.fail(where, f"id {item['id']!r} is used twice", line)
            self.side(where, line, item["by"], sides)
            found[item["id"]] = Draft(**item)
        return tuple(found.values())

    def facts(self, raw: dict, sides: set[str]) -> tuple[FactChange, ...]:
        fields = {"at": (str,), "by": (str,), "key": (str,), "value": (str, list)}
        found = []
        for where, line, item in self.entries(raw, "fact", fields, {"at", "by", "key", "value"}):
            self.within(where, line, item["at"])
            self.side(where, line, item["by"], sides)
            if item["key"] not in FACT_KEYS:
                self.fail(where, f"key {item['key']!r} is not one of {', '.join(FACT_KEYS)}", line)
            value = item["value"]
            if isinstance(value, list) != (item["key"] == "affected_areas") or not all(
                    isinstance(v, str) for v in (value if isinstance(value, list) else [value])):
                self.fail(where, "value: a list of names for affected_areas, a string for any other key", line)
            try:
                normalise(item["key"], value)  # as the fact sheet will take it when the scenario is seeded
            except Invalid as err:
                self.fail(where, f"value: {err}", line)
            found.append(FactChange(**{**item, "value": tuple(value) if isinstance(value, list) else value}))
        return tuple(sorted(found, key=lambda fact: fact.at))

    def injects(self, raw: dict, sides: set[str], used: set[str]) -> tuple[Inject, ...]:
        fields = {"id": (str,), "at": (str,), "kind": (str,), "to": (str,), "text": (str,)}
        found: dict[str, Inject] = {}
        for where, line, item in self.entries(raw, "inject", fields, set(fields)):
            self.within(where, line, item["at"])
            self.side(where, line, item["to"], sides)
            if item["kind"] not in INJECT_KINDS:
                self.fail(where, f"kind {item['kind']!r} is not one of {', '.join(INJECT_KINDS)}", line)
            if item["id"] in found or item["id"] in used:
                self.fail(where, f"id {item['id']!r} is used twice", line)
            found[item["id"]] = Inject(**item)
        return tuple(found.values())

    def side(self, where: str, line: int | None, key: str, sides: set[str]) -> None:
        if key not in sides:
            self.fail(where, f"{key!r} is no [[organisation]] key (known: {', '.join(sorted(sides)) or 'none'})", line)
