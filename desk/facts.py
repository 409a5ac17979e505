"""An incident's fact sheet, what a release text states, and where the two disagree.

Only the incident's organisations - its owner (the organisation that opened it) and the
organisations named on it - set its facts. Each fact is owned by one of them (the first
to set it, or the one it names then); only the owner changes it, and every change is a
new row, so the history stays. Another organisation of the incident that sets a
different value does not overwrite it and is not silenced: its value is recorded as a
proposal, and the fact sheet shows the fact as disputed, with both values, until the
owner takes the proposed value or the proposer agrees with the owner's.

``extract`` reads the facts a text states with patterns written for outage notices:
household counts ("约1.2万户", "12,000 户", "3.5万余户"), restoration times
("预计今晚22时", "7月26日18:00前恢复供电"), hotlines ("95598", "0898-12345") and which of
the fact sheet's areas it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Iterable, Mapping, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store import naive_utc, utcnow
from desk import audit
from desk.limits import check_text
from desk.rules import Forbidden, Invalid, check_incident
from desk.tables import FACT_KEYS, Fact, FactProposal, Incident, IncidentOrganisation, Organisation, User


class FactValue(NamedTuple):
    value: object
    owner_org_id: int
    updated_at: datetime


class Dispute(NamedTuple):
    """Another organisation's value of a fact, different from the owner's."""

    org_id: int
    value: object
    proposed_at: datetime


def incident_org_ids(session: Session, incident: Incident) -> set[int]:
    """The incident's organisations: its owner's and those named on it."""
    owner = session.get(User, incident.created_by).org_id
    named = session.execute(select(IncidentOrganisation.org_id)
                            .where(IncidentOrganisation.incident_id == incident.id)).scalars()
    return {owner, *named}


def incidents_of(session: Session, org_id: int, now: datetime) -> list[Incident]:
    """The incidents started by ``now`` that are the organisation's as ``incident_org_ids``
    has it: opened by one of its users, or naming it."""
    opened_by = select(User.id).where(User.org_id == org_id)
    named = select(IncidentOrganisation.incident_id).where(IncidentOrganisation.org_id == org_id)
    return list(session.scalars(select(Incident).where(
        Incident.created_by.in_(opened_by) | Incident.id.in_(named),
        Incident.started_at <= naive_utc(now)).order_by(Incident.id)))


def name_organisations(session: Session, user, incident: Incident, org_ids: Iterable[int]) -> list[int]:
    """Name organisations on the incident (the owner's people do, when opening it or
    later); returns those newly named."""
    check_incident(user)
    if user.org_id != session.get(User, incident.created_by).org_id:
        raise Forbidden("names_orgs")
    known = incident_org_ids(session, incident)
    added = []
    for org_id in dict.fromkeys(org_ids):
        if session.get(Organisation, org_id) is None:
            raise Invalid("unknown_org", org=org_id)
        if org_id not in known:
            session.add(IncidentOrganisation(incident_id=incident.id, org_id=org_id))
            added.append(org_id)
    if added:
        session.flush()
        audit.record(session, user.username, "incident.organisations", f"incident:{incident.id}",
                     {"added": added}, org_id=user.org_id)
    return added


def set_fact(session: Session, user, incident: Incident, key: str, value,
             owner_org_id: int | None = None, at: datetime | None = None) -> Fact | FactProposal:
    """Record a new value of a fact. ``owner_org_id`` names the owner when the fact is
    first set (default: the user's organisation); later it must be left out or match.
    ``at``: when the value was stated, if not now (a scenario's facts are set at their times).
    A value from an organisation of the incident that does not own the fact is recorded
    as its proposal (a ``FactProposal``, shown as a dispute), not as the fact's value."""
    check_incident(user)
    involved = incident_org_ids(session, incident)
    if user.org_id not in involved:
        raise Forbidden("sets_facts")
    if key not in FACT_KEYS:
        raise Invalid("unknown_fact", fact=key)
    value = normalise(key, value)
    current = current_facts(session, incident).get(key)
    # a fact owned from outside the incident (claimed before only its organisations could)
    # is no one's: the first of them to set it again owns it
    if current is not None and current.owner_org_id in involved:
        if owner_org_id not in (None, current.owner_org_id):
            raise Invalid("owner_fixed")
        if current.owner_org_id != user.org_id:
            return _propose(session, user, incident, key, value, current, at)
        owner_org_id = current.owner_org_id
    elif owner_org_id is not None and owner_org_id not in involved:
        raise Invalid("owner_not_handling", org=owner_org_id)
    owner_org_id = owner_org_id or user.org_id
    row = Fact(incident_id=incident.id, key=key, value=value, owner_org_id=owner_org_id,
               updated_by=user.id, updated_at=naive_utc(at) or utcnow())
    session.add(row)
    audit.record(session, user.username, "fact.set", f"incident:{incident.id}",
                 {"key": key, "value": value, "previous": current.value if current else None,
                  "owner_org_id": owner_org_id}, org_id=user.org_id)
    return row


def _propose(session: Session, user, incident: Incident, key: str, value, current: FactValue,
             at: datetime | None = None) -> FactProposal:
    row = FactProposal(incident_id=incident.id, key=key, value=value, org_id=user.org_id, proposed_by=user.id,
                       proposed_at=naive_utc(at) or utcnow())
    session.add(row)
    session.flush()
    audit.record(session, user.username, "fact.dispute", f"incident:{incident.id}",
                 {"key": key, "value": value, "current": current.value, "owner_org_id": current.owner_org_id},
                 org_id=user.org_id)
    return row


def disputes(session: Session, incident: Incident) -> dict[str, list[Dispute]]:
    """For each disputed fact, the latest proposal of each other organisation whose value
    differs from the fact's current value, oldest first."""
    current = current_facts(session, incident)
    latest: dict[tuple[str, int], FactProposal] = {}
    for row in session.execute(select(FactProposal).where(FactProposal.incident_id == incident.id)
                               .order_by(FactProposal.id)).scalars():
        latest[(row.key, row.org_id)] = row
    found: dict[str, list[Dispute]] = {}
    for (key, org_id), row in latest.items():
        fact = current.get(key)
        if fact is not None and org_id != fact.owner_org_id and row.value != fact.value:
            found.setdefault(key, []).append(Dispute(org_id, row.value, row.proposed_at))
    return found


def current_facts(session: Session, incident: Incident) -> dict[str, FactValue]:
    """The latest value of each fact that has one."""
    current = {}
    for row in fact_history(session, incident):
        current[row.key] = FactValue(row.value, row.owner_org_id, row.updated_at)
    return current


def fact_history(session: Session, incident: Incident, key: str | None = None) -> list[Fact]:
    """Every recorded value, oldest first."""
    query = select(Fact).where(Fact.incident_id == incident.id).order_by(Fact.id)
    if key is not None:
        query = query.where(Fact.key == key)
    return list(session.execute(query).scalars())


def normalise(key: str, value):
    """A fact's value as it is kept (``Invalid`` says why it cannot be): a list of areas,
    households as a number, the others as written."""
    if key == "affected_areas":
        items = re.split(r"[、，,;；\s]+", value) if isinstance(value, str) else [str(item) for item in value]
        check_text("fact_value", "、".join(items))
        areas = [item.strip() for item in items if item.strip()]
        if not areas:
            raise Invalid("areas_empty")
        return areas
    value = check_text("fact_value", str(value)).strip()
    if not value:
        raise Invalid("fact_empty", fact=key)
    if key == "households":
        counts = household_counts(value, unit_required=False)
        if not counts:
            raise Invalid("households_number")
        return str(counts[0].value)
    if key == "restoration_estimate" and not clock_times(value):
        raise Invalid("restoration_time")
    return value


# --- what a text states ----------------------------------------------------------------

@dataclass(frozen=True)
class Count:
    """A household count as written: ``value`` within ``precision`` (the unit of its last
    significant digit), ``more`` for "余"/"多" (at least ``value``)."""

    value: int
    precision: int = 1
    more: bool = False
    text: str = ""

    def agrees(self, actual: int) -> bool:
        if self.more:
            return self.value <= actual < self.value + self.precision
        return abs(actual - self.value) * 2 <= self.precision if self.precision > 1 else actual == self.value


@dataclass(frozen=True)
class Clock:
    """A time of day, with the date when the text gives one."""

    hour: int
    minute: int
    month: int | None = None
    day: int | None = None
    relative: str | None = None  # "today" or "tomorrow" ("今晚", "明天")
    text: str = ""

    def agrees(self, other: Clock) -> bool:
        """Same time of day, and the same date as far as both give one."""
        if (self.hour, self.minute) != (other.hour, other.minute):
            return False
        if self.day is not None and other.day is not None:
            if self.day != other.day or (None not in (self.month, other.month) and self.month != other.month):
                return False
        return not (self.relative and other.relative and self.relative != other.relative)


@dataclass
class Stated:
    households: list[Count] = field(default_factory=list)
    restoration: list[Clock] = field(default_factory=list)
    hotlines: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)  # the known areas the text names


_COUNT = re.compile(r"(?P<approx>约|近|超过|逾)?\s*(?<![\d.])(?P<number>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*"
                    r"(?P<wan>万)?\s*(?P<more>余|多)?\s*(?P<unit>用?户)?")
_CLOCK = re.compile(
    r"(?<![\d.])(?:(?:\d{4}[-/年])?(?P<month>\d{1,2})[-/月](?P<day>\d{1,2})日?|(?P<dayonly>\d{1,2})日)?\s*"
    r"(?P<rel>今天|今日|今晚|今夜|明天|明日|明晚|明早)?\s*"
    r"(?P<part>凌晨|早上|上午|中午|下午|傍晚|晚上|夜间)?\s*"
    r"(?P<hour>\d{1,2})(?:[:：](?P<minute>\d{2})|\s*[时点](?:(?P<minute2>\d{1,2})分|(?P<half>半))?)")
_HOTLINE = re.compile(r"(?<!\d)(0\d{2,3}-?\d{7,8}|\d{3,4}-\d{5,8}|400-?\d{3}-?\d{4}|9[56]\d{3}|123\d{2})"
                      r"(?!\d|\.\d|[万余多]|\s*用?户)")
_CLAUSES = re.compile(r"[。；;！!？?\n，,]")
_RESTORE_WORDS = ("恢复", "复电", "送电", "来电")
_PM_PARTS = ("下午", "傍晚", "晚上", "今晚", "今夜", "明晚")
_TOMORROW = ("明天", "明日", "明晚", "明早")


def household_counts(text: str, unit_required: bool = True) -> list[Count]:
    counts = []
    for m in _COUNT.finditer(text):
        if unit_required and not m.group("unit"):
            continue
        digits = m.group("number").replace(",", "")
        if m.group("wan"):
            decimals = len(digits.partition(".")[2])
            value, precision = round(float(digits) * 10_000), 10_000 // 10 ** decimals
        elif "." in digits:
            continue  # "1.5户" is not a count
        else:
            value, precision = int(digits), 1
        if (m.group("approx") or m.group("more")) and precision == 1:
            precision = 10 ** (len(digits) - len(digits.rstrip("0")))  # "约8000": to the thousand
        counts.append(Count(value, max(precision, 1), bool(m.group("more")), m.group(0).strip()))
    return counts


def clock_times(text: str) -> list[Clock]:
    clocks = []
    for m in _CLOCK.finditer(text):
        hour = int(m.group("hour"))
        minute = 30 if m.group("half") else int(m.group("minute") or m.group("minute2") or 0)
        if (m.group("part") in _PM_PARTS or m.group("rel") in _PM_PARTS) and hour < 12:
            hour += 12
        if hour > 24 or minute > 59:
            continue
        relative = None
        if m.group("rel"):
            relative = "tomorrow" if m.group("rel") in _TOMORROW else "today"
        month = int(m.group("month")) if m.group("month") else None
        day = m.group("day") or m.group("dayonly")
        clocks.append(Clock(hour % 24, minute, month, int(day) if day else None, relative, m.group(0).strip()))
    return clocks


def restoration_times(text: str) -> list[Clock]:
    """The times in clauses about restoring power ("预计今晚22时前全部恢复供电"), or in a
    "预计" clause right before one; a time "截至" (as of) is not an estimate."""
    clauses = _CLAUSES.split(text)
    times = []
    for i, clause in enumerate(clauses):
        follows = i + 1 < len(clauses) and "预计" in clause and any(w in clauses[i + 1] for w in _RESTORE_WORDS)
        if any(w in clause for w in _RESTORE_WORDS) or follows:
            times += [c for c in clock_times(clause) if not re.search(r"(截至|截止)\s*$", clause[:clause.find(c.text)])]
    return times


def hotlines(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in _HOTLINE.finditer(text)))


def extract(text: str, known_areas: Iterable[str] = ()) -> Stated:
    return Stated(household_counts(text), restoration_times(text), hotlines(text),
                  [area for area in known_areas if area_named(area, text)])


def area_named(area: str, text: str) -> bool:
    """Named as given, or without its suffix ("龙华区" as "龙华")."""
    short = re.sub(r"(街道|社区|市|区|县|镇|乡|村)$", "", area)
    return area in text or (len(short) >= 2 and short in text)


# --- contradictions --------------------------------------------------------------------

@dataclass(frozen=True)
class OtherRelease:
    """Another side's release of the same incident, as the contradictions see it."""

    id: int
    org_name: str
    text: str


@dataclass(frozen=True)
class Contradiction:
    kind: str  # household_count, restoration_time, area_missing, hotline
    stated: str
    expected: str
    source: str  # "fact sheet" or "release #N of ORG"
    release_id: int | None = None  # the other release, for a source the UI can translate and link
    org_name: str = ""


FACT_SHEET = "fact sheet"


def contradictions(text: str, facts: Mapping[str, object], other_releases: Iterable[OtherRelease] = ()) -> list[Contradiction]:
    """Where ``text`` disagrees with the fact sheet (``facts``: key -> value) or with the
    other releases. A text may state several counts or times ("已恢复8000户，仍有4000户"),
    so it contradicts the fact sheet only when none of those it states agrees; against
    another release the first count of each (the headline figure) is compared, and the
    times, and the hotlines, agree when any two do."""
    areas = list(facts.get("affected_areas") or [])
    stated = extract(text, areas)
    found = _against(stated, text, facts, areas, FACT_SHEET)
    for other in other_releases:
        theirs = extract(other.text, areas)
        expected = {"households": theirs.households[0].text if theirs.households else None,
                    "restoration_estimate": theirs.restoration[0].text if theirs.restoration else None,
                    "hotline": _join(theirs.hotlines) or None}
        found += [replace(c, release_id=other.id, org_name=other.org_name)
                  for c in _against(stated, text, expected, theirs.areas,
                                    f"release #{other.id} of {other.org_name}", theirs)]
    return found


def _against(stated: Stated, text: str, expected: Mapping[str, object], areas: list[str], source: str,
             theirs: Stated | None = None) -> list[Contradiction]:
    found = []
    households = expected.get("households")
    if households and stated.households:
        if theirs is None:
            actual = household_counts(str(households), unit_required=False)[:1]
            shown = stated.households
            agree = not actual or any(mine.agrees(actual[0].value) for mine in shown)
        else:  # two texts: their headline figures, the first count each states
            shown, other = stated.households[:1], theirs.households[0]
            agree = shown[0].agrees(other.value) or other.agrees(shown[0].value)
        if not agree:
            found.append(Contradiction("household_count", _join(c.text for c in shown), str(households), source))
    restoration = expected.get("restoration_estimate")
    if restoration and stated.restoration:
        their_times = theirs.restoration if theirs else clock_times(str(restoration))
        if not any(mine.agrees(t) for mine in stated.restoration for t in their_times):
            found.append(Contradiction("restoration_time", _join(c.text for c in stated.restoration),
                                       str(restoration), source))
    for area in areas:
        if not area_named(area, text):
            found.append(Contradiction("area_missing", "", area, source))
    hotline = expected.get("hotline")
    if hotline and stated.hotlines:
        expected_numbers = {_digits(number) for number in hotlines(str(hotline)) or [str(hotline)]}
        if not {_digits(number) for number in stated.hotlines} & expected_numbers:
            found.append(Contradiction("hotline", _join(stated.hotlines), str(hotline), source))
    return found


def _digits(number: str) -> str:
    """A phone number as its digits: 0898-66123456 and 089866123456 are one number."""
    return re.sub(r"\D", "", number)


def _join(items: Iterable[str]) -> str:
    return "、".join(items)
