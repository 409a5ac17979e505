"""The UI in Chinese (the default) and English: its strings, the labels of tag values and
the errors of ``desk`` and ``indexes``, from the gettext catalogs under ``translations/``.

The language comes from ``?lang=zh|en``, remembered in a cookie, else Chinese. Strings
are plain ``str`` (never Markup): whatever is formatted into them is escaped by Jinja
like any other value. A message id is the key the templates use (``_('key', name=value)``);
its text takes ``str.format`` placeholders (``{name}``, flagged python-brace-format).

To add a string: add its msgid to ``translations/messages.pot`` and the msgid with its
text to ``translations/zh_CN/LC_MESSAGES/messages.po`` and ``translations/en/...``, then
``make install`` compiles the ``.mo`` files (``pybabel compile -d review_ui/translations``).
``tests/test_messages.py`` fails while a msgid lacks a Chinese text or a file lacks it.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from babel import support
from flask import g, has_request_context, request, url_for

from core.schema import KINDS, PLATFORMS
from desk import limits
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


# QueryError messages are English; these patterns give them in Chinese.
_ERRORS_ZH: list[tuple[re.Pattern, str]] = [
    (re.compile(r"the query is longer than (\d+) characters"), "查询词超过 {0} 个字，请缩短。"),
    (re.compile(r"unknown platform '([^']*)'"), "未知平台“{0}”，可选：微博、微信公众号、贴吧、新闻网站、官方发布。"),
    (re.compile(r"^unknown (?P<filter>polarity|sentiment|emotion|topic) '(?P<value>[^']*)'; use one of (?P<labels>.*)"),
     "未知的{filter}“{value}”，可选：{labels}。"),
    (re.compile(r"unknown sort '([^']*)'"), "未知排序方式“{0}”，可选：相关度、最新、互动最多。"),
    (re.compile(r"unknown interval '([^']*)'"), "未知的时间粒度“{0}”，可选：按日（day）、按小时（hour）。"),
    (re.compile(r"^page must be between 1 and (\d+)"), "页码必须在 1 到 {0} 之间。"),
    (re.compile(r"^per_page must be between 1 and (\d+)"), "每页条数必须在 1 到 {0} 之间。"),
    (re.compile(r"start of the time range is after its end"), "开始日期晚于结束日期，请调整时间范围。"),
    (re.compile(r"no searchable word"), "查询词中没有可搜索的字词（只有标点或符号）。"),
    (re.compile(r"^(.*) is not a date"), "{0} 不是有效日期，请写成 2024-07-31 或 2024-07-31T18:00。"),
    (re.compile(r"^(\S+) is out of range: dates go from (\S+) to (\S+)"), "{0} 超出可查询的日期范围（{1} 至 {2}）。"),
    (re.compile(r"^(\w+) must be a whole number"), "参数 {0} 必须是整数。"),
    (re.compile(r"^too many values for (\w+)"), "参数 {0} 的取值过多。"),
    (re.compile(r"^a value of (\w+) is too long"), "参数 {0} 的取值过长。"),
    (re.compile(r"^too many or too long values for (\w+)"), "筛选条件 {0} 的取值过多或过长（最多 20 个，每个不超过 64 个字符）。"),
    (re.compile(r"quotation mark \(\"\) is not closed"), "双引号没有成对，请补上另一个双引号。"),
    (re.compile(r"^OR needs a word on each side"), "OR 的两边都需要有关键词。"),
    (re.compile(r"^NOT cannot be combined with OR"), "NOT 不能与 OR 连用；请把要排除的词单独写出。"),
    (re.compile(r"^the query ends with OR or NOT"), "查询以 OR 或 NOT 结尾，请在后面补上它所指的词。"),
    (re.compile(r"^brackets are not supported"), "不支持括号；请用 OR 和 NOT 组合关键词。"),
    (re.compile(r"^the query has more than (\d+) words"), "查询词超过 {0} 个，请减少。"),
    (re.compile(r"^results by relevance go (\d+) deep"), "按相关度排序最多只能查看前 {0} 条结果；如需继续翻页，请改为按最新排序。"),
    (re.compile(r"^a page cursor goes with the newest or engagement sort"), "翻页位置（after）只能与“最新”或“互动最多”排序一起使用。"),
    (re.compile(r"^after is not a valid page cursor"), "翻页位置（after）无效，请回到第一页重新翻页。"),
    (re.compile(r"^rumor probabilities are between 0 and 1"), "谣言概率必须在 0 到 1 之间。"),
    (re.compile(r"^(\w+) must be a percentage from 0 to 100"), "参数 {0} 是百分数，须在 0 到 100 之间，如 60。"),
    (re.compile(r"^(\w+) must be a number"), "参数 {0} 必须是 0 到 1 之间的数，如 0.5。"),
    (re.compile(r"^verified must be yes or no"), "参数 verified 只能是 yes（已认证）或 no（未认证）。"),
]

# Workflow refusals (``desk`` raises them in English). A named group is a
# code shown by its Chinese name: action (do_*), state (state_*), role, fact (fact_*), or
# a query's own error.
_WORKFLOW_ZH: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^only a drafter creates a release"), "只有起草人可以新建发布稿。"),
    (re.compile(r"^only analysts, drafters and approvers handle incidents"), "只有舆情分析员、起草人和审核人可以处理事件。"),
    (re.compile(r"^only the system publishes"), "发布由系统在排期时间到达时自动完成。"),
    (re.compile(r"^(?P<action>\w+) needs the (?P<role>\w+) role"), "“{action}”需要{role}角色。"),
    (re.compile(r"^only the drafting organisation may (?P<action>\w+)"), "只有起草单位可以{action}。"),
    (re.compile(r"^only a required organisation may (?P<action>\w+)"), "只有需要会签的单位可以{action}。"),
    (re.compile(r"^your organisation has already approved this text"), "本单位已经批准过这一文本。"),
    (re.compile(r"^no one approves their own edit"), "不能批准自己修改过的文本，请由本单位其他审核人批准。"),
    (re.compile(r"^the text has changed since you read it: version (\d+) is current"),
     "您阅读之后文本已被修改，当前为版本 {0}：请阅读新文本后再批准。"),
    (re.compile(r"^requesting changes needs a comment"), "退回修改时请写明修改意见。"),
    (re.compile(r"^a release cannot be scheduled in the past"), "排期时间不能早于现在。"),
    (re.compile(r"^cannot (?P<action>\w+) a release in state published"), "稿件已发布，不能{action}；如需改正，请发布更正或撤回。"),
    (re.compile(r"^cannot (?P<action>\w+) a release in state (?P<state>\w+)"), "状态为“{state}”的稿件不能{action}。"),
    (re.compile(r"^a withdrawal cannot itself be corrected or withdrawn"), "撤回声明本身不能再更正或撤回。"),
    (re.compile(r"^unknown organisations"), "所选单位不存在，请刷新页面后重新选择。"),
    (re.compile(r"^a joint release needs a government and an enterprise organisation"),
     "联合发布需要至少一个政府机关和一个企业共同会签。"),
    (re.compile(r"^this account is disabled"), "该账号已停用，请联系管理员。"),
    (re.compile(r"^unknown fact (?P<fact>\S+)"), "未知的事实项“{fact}”。"),
    (re.compile(r"^only the incident's organisations set its facts"), "只有事件的处理单位（开启事件的单位和列出的单位）可以填写事实表。"),
    (re.compile(r"^only the organisation that opened an incident names its organisations"), "只有开启事件的单位可以添加处理单位。"),
    (re.compile(r"^the owner of a fact is one of the incident's organisations"), "事实项的负责单位必须是事件的处理单位之一。"),
    (re.compile(r"^the owner of a fact is set when it is first recorded"), "事实项的负责单位在首次填写时确定，不能更改。"),
    (re.compile(r"^unknown organisation (\d+)"), "单位 {0} 不存在。"),
    (re.compile(r"^affected areas need at least one area"), "停电区域至少要填写一个地区。"),
    (re.compile(r"^households needs a number"), "停电户数需要一个数字，如 12000 或 约1.2万。"),
    (re.compile(r"^the restoration estimate needs a time"), "预计恢复时间需要写明时间，如 7月26日18:00。"),
    (re.compile(r"^(?P<fact>\w+) needs a value"), "请填写{fact}。"),
    (re.compile(r"^an incident needs a title"), "请填写事件名称。"),
    (re.compile(r"^the incident's search query: (?P<query>.*)"), "事件的舆情检索式有误：{query}"),
    (re.compile(r"^a comment needs text"), "请填写意见内容。"),
    (re.compile(r"^some channels have this release already"), "已有渠道收到此稿件，不能取消排期；发布完成后可发布更正或撤回。"),
    (re.compile(r"^a channel is being sent this release right now"), "此稿件正在发往某个渠道，请一分钟后再查看。"),
    (re.compile(r"^unknown channel (\S+)"), "未知的发布渠道“{0}”。"),
    (re.compile(r"^a release needs a title and a body"), "稿件需要标题和正文。"),
    (re.compile(r"^the (?P<field>.+?) has at most (\d+) characters \(it has (\d+)\)"), "{field}最多 {1} 个字（现有 {2} 个），请缩短。"),
    (re.compile(r"^the (?P<field>.+?) contains a NUL character"), "{field}含有空字符（NUL），请删除后再提交。"),
    (re.compile(r"^a release is scheduled at most a year ahead"), "排期时间最多在一年之后。"),
    (re.compile(r"^no organisation of this release has a publishing channel in (.*): add them"),
     "本稿件的各单位都没有配置发布渠道，请先在 {0} 中添加。"),
    (re.compile(r"^only a publisher of the drafting organisation or an admin retries a delivery"),
     "只有起草单位的发布人或管理员可以重新发送。"),
    (re.compile(r"^delivery (\d+) is not a failed delivery"), "第 {0} 号投递没有失败，无需重新发送。"),
]


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
    if kind in ("places", "place"):  # administrative codes: the gazetteer's (Chinese) names
        return places.gazetteer().name(str(value))
    if kind in ("topics", "topic"):
        names = services().topic_labels.get(value)
        return (names[0] if current_lang() == "zh" else names[1]) if names else str(value)
    key = f"label_{kind}_{value}"
    text = gettext(key)
    return str(value) if text == key else text


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


def error_message(message: str) -> str:
    """A ``QueryError`` message or a workflow refusal in the current language."""
    if current_lang() == "en":
        return message
    for pattern, zh in _WORKFLOW_ZH + _ERRORS_ZH:  # a refusal may quote a query error
        match = pattern.search(message)
        if match:
            return zh.format(*match.groups(), **{kind: _zh_name(kind, code) for kind, code in match.groupdict().items()})
    return message


def _zh_name(kind: str, code: str) -> str:
    """The Chinese name of a workflow code in a refusal (approve -> 批准, households -> 停电户数)."""
    if kind == "role":
        return catalog("zh").gettext(f"label_role_{code}")
    if kind == "query":
        return error_message(code)
    if kind == "field":
        return limits.zh_name(code)
    if kind == "value":
        return code
    if kind == "filter":
        return catalog("zh").gettext("facet_topics" if code == "topic" else f"facet_{code}")
    if kind == "labels":  # a tagger's labels as 中文（code）: the code is what a filter takes
        names = {**{c: catalog("zh").gettext(f"label_{k}_{c}") for k in ("polarity", "sentiment", "emotion") for c in VALUES[k]},
                 **{c: n[0] for c, n in services().topic_labels.items()}}
        return "、".join(f"{names.get(c, c)}（{c}）" for c in code.split(", "))
    prefix = {"action": "do_", "state": "state_", "fact": "fact_"}[kind]
    text = catalog("zh").gettext(prefix + code)
    return code if text == prefix + code else text


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
    )
