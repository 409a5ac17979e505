"""The checks a release passes before approval: contradictions, missing facts, sensitive
and prohibited terms, and each channel's length limits.

Each problem carries a message key and its details; ``message`` renders it in English,
the UI in the reader's language from its catalogs. The terms, limits and required facts
come from ``terms.toml`` beside this module, which a home's own ``terms.toml`` may override
table by table.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from desk.facts import FACT_SHEET, Contradiction, OtherRelease, contradictions, extract

SHIPPED = Path(__file__).with_name("terms.toml")
# the facts ``extract`` can find in a text, so the only ones a config may require
QUOTABLE = {"households": "households", "restoration_estimate": "restoration", "hotline": "hotlines",
            "affected_areas": "areas"}
# the fact each kind of contradiction is about
CONTRADICTED_FACT = {"household_count": "households", "restoration_time": "restoration_estimate",
                     "area_missing": "affected_areas", "hotline": "hotline"}

MESSAGES = {  # English, for the command line and the audit log; the UI's catalogs hold
    # both languages under ``problem_<key>`` (``review_ui.i18n.problem_message``)
    "household_count": "Household count differs from {source}: draft {stated}, {source} {expected}",
    "restoration_time": "Restoration time differs from {source}: draft {stated}, {source} {expected}",
    "area_missing": "The draft does not name an affected area in {source}: {expected}",
    "hotline": "Hotline differs from {source}: draft {stated}, {source} {expected}",
    "missing_fact": "The draft does not quote the fact sheet's {fact}",
    "prohibited_term": "Prohibited term: {term}",
    "sensitive_term": "Sensitive term, please confirm: {term}",
    "too_long": "{channel} {part} too long: {length} characters, limit {limit}",
}
NAMES = {  # the English words the messages fill in
    "households": "household count", "restoration_estimate": "restoration estimate", "hotline": "hotline",
    "affected_areas": "affected areas", "weibo": "Weibo", "wechat": "WeChat article", "website": "website notice",
    "press_conference": "press conference", "title": "title", "body": "body", "text": "text",
}


@dataclass(frozen=True)
class Config:
    prohibited: tuple[str, ...]
    sensitive: tuple[str, ...]
    limits: Mapping[str, Mapping[str, int]]  # channel -> part (title, body, text) -> characters
    required_facts: Mapping[str, tuple[str, ...]]  # release kind -> fact keys


@dataclass(frozen=True)
class Problem:
    kind: str  # contradiction, missing_fact, prohibited_term, sensitive_term, too_long
    message_key: str
    detail: dict
    blocking: bool


def load_config(path: str | Path | None = None) -> Config:
    """The shipped config, with the tables of ``path`` (when it exists) replacing its own."""
    data = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    if path is not None and Path(path).is_file():
        data.update(tomllib.loads(Path(path).read_text(encoding="utf-8")))
    required = {kind: tuple(keys) for kind, keys in data["required_facts"].items()}
    unknown = {key for keys in required.values() for key in keys} - QUOTABLE.keys()
    if unknown:
        raise ValueError(f"required_facts: cannot check {sorted(unknown)}; choose from {sorted(QUOTABLE)}")
    terms = data["terms"]
    return Config(tuple(terms.get("prohibited", ())), tuple(terms.get("sensitive", ())), data["limits"], required)


def pre_publication(title: str, body: str, channel: str, facts: Mapping[str, object],
                    other_releases: Iterable[OtherRelease] = (), config: Config | None = None,
                    kind: str = "release") -> list[Problem]:
    """Every problem of a text; ``facts`` maps fact keys to current values.

    A contradiction with the fact sheet blocks. One with another side's release blocks
    only when the fact sheet has no value for that fact: when it has one and the draft
    agrees with it, the other release is the stale one and the draft must not wait for it.
    """
    config = config or load_config()
    text = f"{title}\n{body}"
    required = config.required_facts.get(kind, ())
    # a missing area is a missing fact: only for the kinds that must name the areas
    problems = [_contradiction(c, facts) for c in contradictions(text, facts, other_releases)
                if c.kind != "area_missing" or "affected_areas" in required]
    stated = extract(text, facts.get("affected_areas") or [])
    for key in required:
        if key != "affected_areas" and facts.get(key) and not getattr(stated, QUOTABLE[key]):
            problems.append(Problem("missing_fact", "missing_fact", {"fact": key}, True))
    folded = text.casefold()
    for term in config.prohibited:
        if term.casefold() in folded:
            problems.append(Problem("prohibited_term", "prohibited_term", {"term": term}, True))
    for term in config.sensitive:
        if term.casefold() in folded:
            problems.append(Problem("sensitive_term", "sensitive_term", {"term": term}, False))
    parts = {"title": title, "body": body, "text": text}
    for part, limit in config.limits.get(channel, {}).items():
        if len(parts[part]) > limit:
            problems.append(Problem("too_long", "too_long",
                                    {"channel": channel, "part": part, "length": len(parts[part]), "limit": limit},
                                    True))
    return problems


def blocking(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.blocking]


def message(problem: Problem) -> str:
    """The problem in English."""
    detail = {key: NAMES.get(value, value) if key in ("fact", "channel", "part") else value
              for key, value in problem.detail.items()}
    if "source" in detail:
        detail["source"] = ("the fact sheet" if detail["source"] == FACT_SHEET
                            else f"release #{detail['release_id']} of {detail['org_name']}")
    return MESSAGES[problem.message_key].format(**detail)


def _contradiction(found: Contradiction, facts: Mapping[str, object]) -> Problem:
    blocks = found.source == FACT_SHEET or not facts.get(CONTRADICTED_FACT[found.kind])
    detail = {"stated": found.stated, "expected": found.expected, "source": found.source,
              "release_id": found.release_id, "org_name": found.org_name}
    return Problem("contradiction", found.kind, detail, blocks)
