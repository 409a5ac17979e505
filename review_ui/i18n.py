"""UI strings in Chinese (the default) and English, and the labels of tag values.

The language comes from ``?lang=zh|en``, remembered in a cookie, else Chinese. Strings
are plain ``str`` (never Markup): whatever is formatted into them is escaped by Jinja
like any other value.
"""

from __future__ import annotations

import re

from flask import current_app, g, has_request_context, request, url_for

from review_ui.params import args_with, link_args

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
COOKIE = "lang"

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "product": "舆情监测 · crisiswatch",
        "search": "搜索",
        "search_placeholder": "输入关键词，如：停电 恢复供电",
        "since": "开始日期",
        "until": "结束日期",
        "sort": "排序",
        "sort_relevance": "相关度",
        "sort_newest": "最新",
        "rumor_only": "只看疑似谣言",
        "more_filters": "更多筛选（平台、情绪、话题）",
        "apply": "应用",
        "clear_filters": "清除全部筛选",
        "facet_platform": "平台",
        "facet_sentiment": "情绪",
        "facet_topics": "话题",
        "facet_rumor": "谣言判断",
        "active_filters": "当前筛选",
        "remove_filter": "移除此筛选",
        "days": "按日分布（北京时间）",
        "results_count": "共 {total} 条结果",
        "no_results": "没有找到符合条件的帖子。可以减少关键词或放宽筛选条件。",
        "prev": "上一页",
        "next": "下一页",
        "page_of": "第 {page} / {pages} 页",
        "rumor_prob": "谣言概率 {pct}%",
        "untagged": "尚未标注",
        "details": "详情",
        "original": "原文链接",
        "query_error": "查询有误：{message}",
        "back_to_search": "返回搜索",
        "post": "帖子",
        "meta": "基本信息",
        "field_platform": "平台",
        "field_kind": "类型",
        "field_author": "作者",
        "verified": "已认证",
        "field_created": "发布时间",
        "field_stored": "入库时间",
        "field_counts": "转发 / 评论 / 点赞",
        "field_source": "来源",
        "field_platform_id": "平台内编号",
        "field_parent": "回复/转发自",
        "field_url": "原始链接",
        "url_not_link": "（非 http/https 链接，不可点击）",
        "tags": "标注",
        "field_rumor": "谣言概率",
        "field_sentiment": "情绪",
        "field_sentiment_score": "情绪置信度",
        "field_topics": "话题",
        "field_model": "模型版本",
        "truncated": "正文过长，已截断。",
        "replies": "回复与转发",
        "no_replies": "暂无回复或转发。",
        "not_found_title": "找不到页面",
        "not_found": "找不到该帖子或页面。它可能已被删除，或链接有误。",
        "error_title": "出错了",
        "bad_request": "请求无效。",
        "server_error": "服务器内部错误，请稍后重试；如果持续出现，请联系管理员。",
        "language": "English",
        "none": "—",
        "sep": "：",
        "time_note": "时间均为北京时间",
    },
    "en": {
        "product": "舆情监测 · crisiswatch",
        "search": "Search",
        "search_placeholder": "Keywords, e.g. 停电 恢复供电",
        "since": "From",
        "until": "To",
        "sort": "Sort",
        "sort_relevance": "Relevance",
        "sort_newest": "Newest",
        "rumor_only": "Likely rumors only",
        "more_filters": "More filters (platform, sentiment, topic)",
        "apply": "Apply",
        "clear_filters": "Clear all filters",
        "facet_platform": "Platform",
        "facet_sentiment": "Sentiment",
        "facet_topics": "Topic",
        "facet_rumor": "Rumor",
        "active_filters": "Active filters",
        "remove_filter": "Remove this filter",
        "days": "Posts per day (China time)",
        "results_count": "{total} results",
        "no_results": "No posts match. Try fewer keywords or wider filters.",
        "prev": "Previous",
        "next": "Next",
        "page_of": "Page {page} of {pages}",
        "rumor_prob": "Rumor {pct}%",
        "untagged": "Not tagged yet",
        "details": "Details",
        "original": "Original",
        "query_error": "The query cannot be run: {message}",
        "back_to_search": "Back to search",
        "post": "Post",
        "meta": "Details",
        "field_platform": "Platform",
        "field_kind": "Kind",
        "field_author": "Author",
        "verified": "verified",
        "field_created": "Posted",
        "field_stored": "Stored",
        "field_counts": "Reposts / comments / likes",
        "field_source": "Source",
        "field_platform_id": "Platform id",
        "field_parent": "Reply to / repost of",
        "field_url": "Original URL",
        "url_not_link": "(not an http/https link, not clickable)",
        "tags": "Tags",
        "field_rumor": "Rumor probability",
        "field_sentiment": "Sentiment",
        "field_sentiment_score": "Sentiment score",
        "field_topics": "Topics",
        "field_model": "Model version",
        "truncated": "The text was too long and has been cut.",
        "replies": "Replies and reposts",
        "no_replies": "No replies or reposts.",
        "not_found_title": "Not found",
        "not_found": "This post or page does not exist. It may have been removed, or the link is wrong.",
        "error_title": "Error",
        "bad_request": "The request is not valid.",
        "server_error": "Internal error; try again shortly, and tell the administrator if it persists.",
        "language": "中文",
        "none": "—",
        "sep": ": ",
        "time_note": "All times are China time (UTC+8)",
    },
}

# Labels of tag values: kind -> value -> (zh, en). Topics come from the taxonomy.
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "platform": {
        "weibo": ("微博", "Weibo"),
        "wechat": ("微信公众号", "WeChat"),
        "tieba": ("贴吧", "Tieba"),
        "news": ("新闻网站", "News"),
        "gov": ("官方发布", "Official releases"),
    },
    "sentiment": {
        "positive": ("正面", "Positive"),
        "weak_negative": ("轻度负面", "Mildly negative"),
        "anger": ("愤怒", "Anger"),
        "anxiety": ("焦虑", "Anxiety"),
    },
    "rumor": {
        "likely": ("疑似谣言", "Likely rumor"),
        "unlikely": ("非谣言", "Unlikely rumor"),
    },
    "kind": {
        "post": ("帖子", "Post"),
        "repost": ("转发", "Repost"),
        "comment": ("评论", "Comment"),
        "article": ("文章", "Article"),
        "release": ("官方发布", "Release"),
    },
}

# QueryError messages are English; these patterns give them in Chinese.
_ERRORS_ZH: list[tuple[re.Pattern, str]] = [
    (re.compile(r"the query is longer than (\d+) characters"), "查询词超过 {0} 个字，请缩短。"),
    (re.compile(r"unknown platform '([^']*)'"), "未知平台“{0}”，可选：微博、微信公众号、贴吧、新闻网站、官方发布。"),
    (re.compile(r"unknown sort '([^']*)'"), "未知排序方式“{0}”，可选：相关度、最新。"),
    (re.compile(r"^page must be between 1 and (\d+)"), "页码必须在 1 到 {0} 之间。"),
    (re.compile(r"^per_page must be between 1 and (\d+)"), "每页条数必须在 1 到 {0} 之间。"),
    (re.compile(r"start of the time range is after its end"), "开始日期晚于结束日期，请调整时间范围。"),
    (re.compile(r"no searchable word"), "查询词中没有可搜索的字词（只有标点或符号）。"),
    (re.compile(r"^(.*) is not a date"), "{0} 不是有效日期，请写成 2024-07-31 或 2024-07-31T18:00。"),
    (re.compile(r"^(\w+) must be a whole number"), "参数 {0} 必须是整数。"),
    (re.compile(r"^too many values for (\w+)"), "参数 {0} 的取值过多。"),
    (re.compile(r"^a value of (\w+) is too long"), "参数 {0} 的取值过长。"),
]


def current_lang() -> str:
    """The language of this request (set by ``select_lang``), else the default."""
    if has_request_context():
        return g.get("lang", DEFAULT_LANG)
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
    lang = current_lang()
    text = STRINGS[lang].get(key) or STRINGS[DEFAULT_LANG].get(key) or key
    return text.format(**values) if values else text


def label(kind: str, value) -> str:
    """Display name of a tag value (platform, sentiment, topics, rumor, kind); unknown values as they are."""
    if value is None:
        return gettext("none")
    if kind in ("topics", "topic"):
        names = current_app.extensions["crisiswatch"].topic_labels.get(value)
    else:
        names = LABELS.get(kind, {}).get(value)
    if not names:
        return str(value)
    return names[0] if current_lang() == "zh" else names[1]


def known_values(kind: str) -> list[str]:
    """Every value of a facet the UI knows about, in display order."""
    if kind in ("topics", "topic"):
        return list(current_app.extensions["crisiswatch"].topic_labels)
    return list(LABELS.get(kind, {}))


def error_message(message: str) -> str:
    """A ``QueryError`` message in the current language."""
    if current_lang() == "en":
        return message
    for pattern, zh in _ERRORS_ZH:
        match = pattern.search(message)
        if match:
            return zh.format(*match.groups())
    return message


def switch_lang_url() -> str:
    """This page in the other language (the search page when there is no endpoint, e.g. a 404)."""
    other = "en" if current_lang() == "zh" else "zh"
    if request.endpoint and request.endpoint != "static":
        return url_for(request.endpoint, **{**link_args(args_with(request.args, lang=other)), **(request.view_args or {})})
    return url_for("search.index", lang=other)


def init_app(app) -> None:
    app.before_request(select_lang)
    app.after_request(remember_lang)
    app.jinja_env.globals.update(
        _=gettext,
        label=label,
        current_lang=current_lang,
        html_lang=lambda: HTML_LANG[current_lang()],
        switch_lang_url=switch_lang_url,
    )
