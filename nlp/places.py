"""Places and organisations in a post, places normalised to administrative codes.

The gazetteer is the table of China's administrative divisions shipped with the ``cpca``
package (its ``adcodes.csv``: 3,500 provinces, cities and districts with 12-digit codes);
only that file is read, not the package's pandas-based matcher, which is too slow for a
crisis feed. Names are looked up among the post's words (jieba knows place names), one,
two or three words at a time, longest first: a dictionary lookup per word, where an
Aho-Corasick pass over the characters cost 20 microseconds a post.

* Provinces and cities match by full name (湖北省, 武汉市) and short name (湖北, 武汉);
  districts and counties by full name only (武昌区, 忠县), since many of their short
  names are everyday words (和平, 城关, 新华).
* A name that several places share (朝阳区 in Beijing and in Changchun) is resolved by
  another place named in the same post; without one it is left out rather than guessed.
* A district is placed only in a city the post names: one that names another city
  (滨海市 东湖区, where 滨海市 is not in the gazetteer) leaves the district out rather than
  placing it in the one city the gazetteer has a 东湖区 in (南昌). Without a city named, a
  district name that only one place has stands.
* A home may add places of its own (``gazetteer(local)``, a file of the same columns): the
  demo's scenario names its fictional 滨海市 and districts under a real province, and there
  滨海市东湖区 is its own 东湖区, while 东湖区 alone, now a name two places share, is left out.
* A place is tagged with the codes of every level above it (武昌区 -> 420000, 420100,
  420106), so filtering by a province finds posts that name only one of its districts.

Organisations are the national bodies of ``data/organisations.toml`` and, after a place
name, the local ones its suffixes describe (武汉 + 供电公司, 江夏区 + 应急管理局).
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import accumulate
from pathlib import Path

log = logging.getLogger(__name__)

VERSION = "places-cpca-1"
ORGANISATIONS_FILE = Path(__file__).with_name("data") / "organisations.toml"
_PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")
_CITY_SUFFIXES = ("地区", "市", "盟")
_PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


@dataclass(frozen=True)
class Place:
    code: str  # six digits: 42 (province) 01 (city) 06 (district)
    name: str

    @property
    def level(self) -> str:
        if self.code.endswith("0000"):
            return "province"
        return "city" if self.code.endswith("00") else "district"

    def lineage(self) -> list[str]:
        """The codes of this place and of every level above it, province first."""
        codes = [self.code[:2] + "0000", self.code[:4] + "00", self.code]
        return list(dict.fromkeys(codes[: {"province": 1, "city": 2, "district": 3}[self.level]]))


def gazetteer_file() -> Path:
    spec = importlib.util.find_spec("cpca")
    if spec is None or spec.origin is None:
        raise RuntimeError("the gazetteer package cpca is not installed; run `pip install cpca`")
    return Path(spec.origin).parent / "resources" / "adcodes.csv"


def _short(name: str, suffixes: tuple[str, ...]) -> str | None:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


class Gazetteer:
    def __init__(self, path: Path | None = None, local: Path | None = None):
        """``local``: a home's own places (same columns, ``adcode,name``), such as a
        scenario's fictional city and districts under a real province (see desk.scenario)."""
        self.places: dict[str, Place] = {}
        names: dict[str, set[str]] = {}
        for source in [path or gazetteer_file(), *([local] if local else [])]:
            with open(source, encoding="utf-8-sig", newline="") as handle:  # -sig: as Excel saves it
                rows = csv.DictReader(handle)
                for row in rows:
                    code, name = (row.get("adcode") or "")[:6], (row.get("name") or "").strip()
                    if not (code.isascii() and code.isdigit() and len(code) == 6 and name):
                        log.warning("%s:%d: a place needs a code of six digits and a name; the row is left out",
                                    source, rows.line_num)
                        continue
                    place = Place(code, name)
                    if place.name in _PLACEHOLDERS:
                        continue
                    self.places[place.code] = place
                    names.setdefault(place.name, set()).add(place.code)
                    suffixes = {"province": _PROVINCE_SUFFIXES, "city": _CITY_SUFFIXES}.get(place.level)
                    short = _short(place.name, suffixes) if suffixes else None
                    if short:
                        names.setdefault(short, set()).add(place.code)
        self._names = {name: tuple(sorted(codes)) for name, codes in names.items()}
        self._prefixes = {name[:end] for name in self._names for end in range(1, len(name) + 1)}
        self._organisations = _load_organisations()
        # municipalities have no city row: a lineage holds the codes the gazetteer has
        self._lineages = {code: tuple(c for c in place.lineage() if c in self.places) for code, place in self.places.items()}

    def name(self, code: str) -> str:
        place = self.places.get(code)
        return place.name if place else code

    def _mentions(self, words: list[str]) -> list[tuple[int, str, tuple[str, ...]]]:
        """(end offset, name, candidate codes) of each place name among the words."""
        prefixes, names = self._prefixes, self._names
        # most words start no name and are short: a set lookup each, in one comprehension
        candidates = [i for i, word in enumerate(words) if word in prefixes or len(word) >= 4]
        if not candidates:
            return []
        offsets = list(accumulate(map(len, words), initial=0))
        mentions, after = [], 0  # the words before ``after`` belong to a name already found
        for i in candidates:
            if i < after:
                continue
            if words[i] not in prefixes:  # jieba may join two names into one word: 吉林长春
                mentions.extend(self._mentions_inside(words[i], offsets[i]))
                continue
            for span in (3, 2, 1):
                name = "".join(words[i:i + span])
                if name in names:
                    mentions.append((offsets[i] + len(name), name, names[name]))
                    after = i + span
                    break
        return mentions

    def _mentions_inside(self, word: str, offset: int) -> list[tuple[int, str, tuple[str, ...]]]:
        """Names within one long word, the longest from each character on: every prefix of
        a name is in ``_prefixes``, so the walk from a character stops where none goes on."""
        found, start = [], 0
        while start < len(word) - 1:
            longest, end = None, start + 1
            while end <= len(word) and word[start:end] in self._prefixes:
                if end - start >= 2 and word[start:end] in self._names:
                    longest = end
                end += 1
            if longest is None:
                start += 1
                continue
            found.append((offset + longest, word[start:longest], self._names[word[start:longest]]))
            start = longest
        return found

    def codes_of(self, name: str) -> list[str]:
        """The codes (with lineage) of one place name found elsewhere (by NER), if it names one place."""
        candidates = self._names.get(name)
        chosen = self._resolve(candidates, set()) if candidates else None
        return list(self._lineages[chosen]) if chosen else []

    def find(self, words: list[str]) -> tuple[list[str], list[str]]:
        """(place codes with their lineages, organisation names) named in a segmented text."""
        text = "".join(words)
        mentions = self._mentions(words)
        named = {code for _, _, codes in mentions if len(codes) == 1 for code in codes}
        context = {prefix for code in named for prefix in (code[:2], code[:4])}
        cities = {code[:4] for code in named if self.places[code].level == "city"}
        other_city = bool(cities) or self._unknown_city(words)
        codes: list[str] = []
        organisations: list[str] = []
        for end, name, candidates in mentions:
            chosen = self._resolve(candidates, context)
            if chosen is None:
                continue
            if other_city and self.places[chosen].level == "district" and chosen[:4] not in cities:
                continue  # 滨海市东湖区: a district of another city, not 南昌's 东湖区
            codes.extend(self._lineages[chosen])
            suffix = self._organisations.suffix_after(text, end)
            if suffix:
                organisations.append(name + suffix)
        organisations.extend(self._organisations.national_in(text))
        return list(dict.fromkeys(codes)), list(dict.fromkeys(organisations))

    def _unknown_city(self, words: list[str]) -> bool:
        """Whether the post names a city the gazetteer does not know (a fictional 滨海市,
        or one renamed): jieba splits such a name into its words and a word 市."""
        if "市" not in words:
            return False
        return any(word == "市" and i and len(words[i - 1]) >= 2 and words[i - 1] not in self._names
                   and all("\u4e00" <= char <= "\u9fff" for char in words[i - 1])
                   for i, word in enumerate(words))

    @staticmethod
    def _resolve(candidates: tuple[str, ...], context: set[str]) -> str | None:
        """One place for a shared name: the one in a city, else a province, named
        elsewhere in the post; else the one city or province among districts; else none."""
        if len(candidates) == 1:
            return candidates[0]
        for matches in ([c for c in candidates if c[:4] in context],
                        [c for c in candidates if c[:2] in context],
                        [c for c in candidates if c.endswith("00")]):
            if len(matches) == 1:
                return matches[0]
        return None


@dataclass(frozen=True)
class Organisations:
    national: tuple[str, ...]
    local_suffixes: tuple[str, ...]

    @cached_property
    def _suffix(self) -> re.Pattern:
        return re.compile("|".join(re.escape(s) for s in sorted(self.local_suffixes, key=len, reverse=True)))

    def national_in(self, text: str) -> list[str]:
        return [name for name in self.national if name in text]

    def suffix_after(self, text: str, start: int) -> str | None:
        """The longest local suffix that follows ``start``, if one does."""
        found = self._suffix.match(text, start)
        return found.group() if found else None


def _load_organisations(path: Path = ORGANISATIONS_FILE) -> Organisations:
    with open(path, "rb") as handle:
        raw = tomllib.load(handle)
    return Organisations(tuple(raw["national"]), tuple(raw["local_suffixes"]))


@lru_cache(maxsize=4)
def gazetteer(local: Path | None = None) -> Gazetteer:
    """The gazetteer, with a home's own places where ``local`` names their file."""
    return Gazetteer(local=local)
