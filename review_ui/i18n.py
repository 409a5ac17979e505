"""The UI in Chinese (the default) and English: its strings, the labels of tag values and
the errors of ``desk`` and ``indexes``, from the gettext catalogs under ``translations/``.

The language comes from ``?lang=zh|en``, remembered in a cookie, else Chinese. Strings
are plain ``str`` (never Markup): whatever is formatted into them is escaped by Jinja
like any other value. A message id is the key the templates use (``_('key', name=value)``);
its text takes ``str.format`` placeholders (``{name}``, flagged python-brace-format).

To add a string, edit the three files by hand: its msgid (empty msgstr) in
``translations/messages.pot``, the msgid with its text in ``translations/zh_CN/LC_MESSAGES/
messages.po`` and ``translations/en/LC_MESSAGES/messages.po``, each entry after a
``#, python-brace-format`` line when a text has a placeholder; then ``make install``
compiles the ``.mo`` files. (``pybabel update`` would drop that flag: Babel derives it from
the msgid, which is a key here.) An error's entry is ``<family prefix><code>`` (see
``core.errors``). ``tests/review_ui/test_messages.py`` fails while a msgid lacks a Chinese text, a
file lacks it or a flag is missing.
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel import support
from flask import g, has_request_context, request, url_for

from core.errors import CodedError
from core.schema import KINDS, PLATFORMS
from desk import limits
from desk.checks import Problem
from desk.facts import FACT_SHEET
from desk.transmitters import Place
from desk.vocabulary import ORG_KINDS, ORG_LEVELS, ROLES
from nlp import places
from review_ui.params import args_with, link_args
from review_ui.services import services

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
COOKIE = "lang"

TRANSLATIONS = Path(__file__).with_name("translations")
LOCALES = {"zh": "zh_CN", "en": "en"}  # language -> its catalog under TRANSLATIONS

# The values of each labelled kind, in display order; their names are the catalogs'
# ``label_<kind>_<value>``. Topics come from the taxonomy.
VALUES: dict[str, tuple[str, ...]] = {
    "platform": PLATFORMS,
    "polarity": ("negative", "neutral", "positive"),
    "sentiment": ("positive", "weak_negative", "anger", "anxiety"),
    "verified": ("yes", "no"),
    "emotion": ("fear", "anger", "sadness", "disgust", "optimism", "surprise", "gratitude"),
    "rumor": ("likely", "unlikely", "rumor", "non-rumor"),  # rumor, non-rumor: the model's classes, for corrections
    "role": ROLES,
    "org_kind": ORG_KINDS,
    "org_level": ORG_LEVELS,
    "kind": KINDS,
}


@functools.cache
def catalog(lang: str) -> support.Translations:
    """The compiled catalog of ``lang``; English falls back to Chinese for a string it lacks."""
    mo = TRANSLATIONS / LOCALES[lang] / "LC_MESSAGES" / "messages.mo"
    po = mo.with_suffix(".po")
    if not mo.exists() or (po.exists() and po.stat().st_mtime > mo.stat().st_mtime):
        raise RuntimeError(f"{mo} is missing or older than its .po: run `make install` to compile the message catalogs")
    with mo.open("rb") as file:
        translations = support.Translations(file)
    if lang != DEFAULT_LANG:
        translations.add_fallback(catalog(DEFAULT_LANG))
    return translations


def current_lang() -> str:
    """The language of this request, else the default. A request refused before
    ``select_lang`` ran (the CSRF check runs first) still gets its language."""
    if has_request_context():
        if "lang" not in g:
            select_lang()
        return g.lang
    return DEFAULT_LANG


def select_lang() -> None:
    """Before each request: ``?lang=`` wins, then the cookie, then Chinese."""
    asked = request.args.get("lang")
    if asked in LANGS:
        g.lang = asked
    else:
        cookie = request.cookies.get(COOKIE)
        g.lang = cookie if cookie in LANGS else DEFAULT_LANG


def remember_lang(response):
    """After each request: keep an explicit ``?lang=`` choice in a cookie."""
    asked = request.args.get("lang")
    if asked in LANGS and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, httponly=True, samesite="Lax")
    response.vary.add("Cookie")
    return response


def gettext(key: str, **values) -> str:
    """The UI string ``key`` in the current language, formatted with ``values``."""
    text = catalog(current_lang()).gettext(key)
    return text.format(**values) if values else text


def label(kind: str, value) -> str:
    """Display name of a tag or facet value; unknown values as they are."""
    if value is None:
        return gettext("none")
    if kind == "cluster":
        return cluster_name(str(value))
    if kind in ("places", "place"):  # administrative codes: the gazetteer's (Chinese) names, the home's own too
        return places.gazetteer(services().settings.own_places).name(str(value))
    if kind in ("topics", "topic"):
        names = services().topic_labels.get(value)
        return (names[0] if current_lang() == "zh" else names[1]) if names else str(value)
    return _name(f"label_{kind}_{value}", value)


CLUSTER_NAME_CHARS = 30


def cluster_name(cluster: str) -> str:
    """A near-duplicate cluster named by its text: the first characters of its earliest
    post (the id is a hash no one can read); the hash's start where no post has it."""
    return cluster_names([cluster])[cluster]


def cluster_names(clusters) -> dict[str, str]:
    """The names of these clusters (see ``cluster_name``), each looked up once per request,
    and those not named yet in one query: a page that lists clusters (the search page's
    facet and chips) names them all first, instead of a query per cluster."""
    names = g.setdefault("cluster_names", {}) if has_request_context() else {}
    missing = [cluster for cluster in dict.fromkeys(clusters) if cluster not in names]
    if missing:
        texts = services().store.cluster_texts(missing)
        for cluster in missing:
            text = " ".join((texts.get(cluster) or "").split())
            names[cluster] = (text[:CLUSTER_NAME_CHARS] + ("…" if len(text) > CLUSTER_NAME_CHARS else "")
                              if text else gettext("cluster_label", hash=cluster[:6]))
    return names


def known_values(kind: str) -> list[str]:
    """Every value of a facet the UI knows about, in display order."""
    if kind in ("topics", "topic"):
        return list(services().topic_labels)
    return list(VALUES.get(kind, ()))


def error_message(err: CodedError) -> str:
    """An error of ``desk`` or ``indexes`` in the reader's language: its catalog entry,
    filled with its values; a value that is itself an error is rendered the same way, and
    one that is a code (an action, a state, a role...) also comes by its name as
    ``<key>_name``. An error the catalogs lack keeps its English."""
    values = {}
    for key, value in err.values.items():
        values[key] = error_message(value) if isinstance(value, CodedError) else value
        if key in _NAMED:
            values[f"{key}_name"] = _NAMED[key](value)
    text = catalog(current_lang()).gettext(err.catalog_id)
    return str(err) if text == err.catalog_id else text.format(**values)


def problem_message(problem: Problem) -> str:
    """A pre-publication check's problem in the reader's language (``desk.checks``)."""
    detail = dict(problem.detail)
    # the problems' own words (as before the catalogs: "household count", "website notice"), not the page's labels
    names = {"fact": "problem_fact_{}", "channel": "problem_channel_{}", "part": "problem_part_{}"}
    for key, form in names.items():
        if key in detail:
            detail[key] = _name(form.format(detail[key]), detail[key])
    if "source" in detail:
        detail["source"] = (gettext("problem_source_fact_sheet") if detail["source"] == FACT_SHEET else
                            gettext("problem_source_release", org=detail["org_name"], id=detail["release_id"]))
    whole = problem.message_key == "too_long" and problem.detail.get("part") == "text"  # the post has no part name
    return gettext(f"problem_{problem.message_key}{'_text' if whole else ''}", **detail)


def _name(key: str, code) -> str:
    """The catalog's text of ``key``, else ``code`` as it is."""
    text = gettext(key)
    return str(code) if text == key else text


def duration(seconds: float, *, exact: bool = False) -> str:
    """A duration in whole minutes as people read it: 15 分钟, 12 小时, 5 小时 40 分钟, 1 天;
    ``exact``, to the second (a rule's window of 75 s: 1 分钟 15 秒)."""
    minutes, rest = divmod(round(abs(seconds)), 60) if exact else (round(abs(seconds) / 60), 0)
    parts = {"duration_days": minutes // 1440, "duration_hours": minutes // 60 % 24, "duration_minutes": minutes % 60,
             "duration_seconds": rest}
    text = " ".join(gettext(key, n=n) for key, n in parts.items() if n) or gettext("duration_minutes", n=0)
    return f"-{text}" if seconds < 0 and minutes else text


def _place(place: Place) -> str:
    """Where in the channels file a mistake is (``desk.transmitters.Place``)."""
    text = str(place.path)
    for part, number, name in (("org", place.org, place.org_name), ("channel", place.channel, place.channel_name)):
        if number is not None:
            text = gettext(f"channels_place_{part}", place=text, number=number)
        if name is not None:
            text = gettext("channels_place_name", place=text, name=name)
    return text


# the values of errors that are codes (or a place): key -> its name in the reader's language
_NAMED = {
    "action": lambda code: _name(f"do_{code}", code),
    "state": lambda code: _name(f"state_{code}", _name(f"alert_state_{code}", code)),  # a release's, else an alert's
    "step": lambda code: _name(f"alert_step_{code}", code),
    "fact": lambda code: _name(f"fact_{code}", code),
    "role": lambda code: label("role", code),
    "field": lambda code: limits.FIELDS[code][0 if current_lang() == "zh" else 1],
    "filter": lambda code: gettext("facet_topics" if code == "topic" else f"facet_{code}"),
    # a tagger's labels as name (code): the code is what a filter takes
    "labels": lambda codes: "、".join(f"{label(kind, code)}（{code}）" for kind, code in _label_kinds(codes.split(", "))),
    "where": _place,
}


def _label_kinds(codes):
    """Each label code with the kind it names (topics come from the taxonomy)."""
    kinds = {code: kind for kind in ("polarity", "sentiment", "emotion") for code in VALUES[kind]}
    return [(kinds.get(code, "topics"), code) for code in codes]


def switch_lang_url() -> str:
    """This page in the other language (the search page when there is no endpoint, e.g. a 404)."""
    other = "en" if current_lang() == "zh" else "zh"
    if request.url_rule and "GET" in request.url_rule.methods and request.endpoint != "static":  # a link is a GET
        return url_for(request.endpoint, **{**link_args(args_with(request.args, lang=other)), **(request.view_args or {})})
    return url_for("search.index", lang=other)


def init_app(app) -> None:
    for lang in LANGS:  # a catalog not compiled stops the app here, not at its first page
        catalog(lang)
    app.before_request(select_lang)
    app.after_request(remember_lang)
    app.jinja_env.globals.update(
        _=gettext,
        label=label,
        current_lang=current_lang,
        html_lang=lambda: HTML_LANG[current_lang()],
        switch_lang_url=switch_lang_url,
        known_values=known_values,
        duration=duration,
    )
