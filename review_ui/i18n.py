"""UI strings in Chinese (the default) and English, and the labels of tag values.

The language comes from ``?lang=zh|en``, remembered in a cookie, else Chinese. Strings
are plain ``str`` (never Markup): whatever is formatted into them is escaped by Jinja
like any other value.
"""

from __future__ import annotations

import re

from flask import current_app, g, has_request_context, request, url_for

from nlp import places

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
        "search_help": "空格分隔的词须全部出现；\"…\" 精确短语；A OR B 任一即可；NOT 词 或 -词 排除。",
        "since": "开始日期",
        "until": "结束日期",
        "sort": "排序",
        "sort_relevance": "相关度",
        "sort_newest": "最新",
        "sort_engagement": "互动最多",
        "rumor_only": "只看疑似谣言",
        "more_filters": "更多筛选（平台、认证、情绪、话题、谣言概率）",
        "any": "不限",
        "rumor_min": "谣言概率不低于",
        "rumor_max": "谣言概率不高于",
        "apply": "应用",
        "clear_filters": "清除全部筛选",
        "facet_platform": "平台",
        "facet_verified": "作者认证",
        "facet_sentiment": "情绪",
        "facet_emotion": "细分情绪",
        "facet_topics": "话题",
        "facet_places": "地区",
        "facet_cluster": "重复文本",
        "facet_rumor": "谣言判断",
        "cluster_label": "近似重复 #{hash}",
        "active_filters": "当前筛选",
        "remove_filter": "移除此筛选",
        "histogram_day": "按日分布（北京时间）",
        "histogram_hour": "按小时分布（北京时间）",
        "interval_day": "按日",
        "interval_hour": "按小时",
        "results_count": "共 {total} 条结果",
        "no_results": "没有找到符合条件的帖子。可以减少关键词或放宽筛选条件。",
        "no_more": "没有更多结果了。",
        "prev": "上一页",
        "next": "下一页",
        "next_page": "下一页",
        "first_page": "回到第一页",
        "pager": "翻页",
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
        "field_emotion": "细分情绪",
        "field_organisations": "机构",
        "nav_search": "搜索",
        "stories": "正在发酵的话题",
        "stories_help": "最近一段时间里明显多于前一天的关键词，以及用这些词的帖子。点击关键词可查看这段时间的全部相关帖子。",
        "last_hours": "最近 {n} 小时",
        "stories_window": "时间范围：{since} 至 {until}（以最新一条帖子为止）",
        "story_meta": "{n} 条帖子 · 首次出现 {first} · 最近 {last} · 热度为前一天的 {burst} 倍",
        "no_stories": "这段时间没有明显新出现的话题。",
        "field_locations": "其他地点",
        "corrections": "人工校正",
        "corrections_help": "标签有误时请选择正确的值并保存；下次训练模型（crisiswatch train）时会学习这些校正。",
        "correct_rumor": "是否谣言",
        "correct_sentiment": "情感",
        "correct_emotion": "细分情绪",
        "correct_topics": "话题（可多选）",
        "topics_corrected": "话题已人工校正",
        "save_correction": "保存",
        "corrected_as": "已校正为：{value}",
        "field_topics": "话题",
        "field_places": "地区",
        "field_cluster": "重复文本",
        "field_model": "模型版本",
        "truncated": "正文过长，已截断。",
        "capture": "原始响应（证据）",
        "capture_help": "采集时保存的原始页面，原文删除后仍可举证；下载查看，不在本站打开。",
        "capture_download": "下载（{status}，{fetched}，SHA-256 {sha}…）",
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
        "search_help": "Words separated by spaces must all appear; \"…\" exact phrase; A OR B either one; NOT word or -word excludes.",
        "since": "From",
        "until": "To",
        "sort": "Sort",
        "sort_relevance": "Relevance",
        "sort_newest": "Newest",
        "sort_engagement": "Most engagement",
        "rumor_only": "Likely rumors only",
        "more_filters": "More filters (platform, verified, sentiment, emotion, topic, rumor probability)",
        "any": "Any",
        "rumor_min": "Rumor probability at least",
        "rumor_max": "Rumor probability at most",
        "apply": "Apply",
        "clear_filters": "Clear all filters",
        "facet_platform": "Platform",
        "facet_verified": "Verified author",
        "facet_sentiment": "Sentiment",
        "facet_emotion": "Emotion",
        "facet_topics": "Topic",
        "facet_places": "Place",
        "facet_cluster": "Repeated texts",
        "facet_rumor": "Rumor",
        "cluster_label": "Near-duplicates #{hash}",
        "active_filters": "Active filters",
        "remove_filter": "Remove this filter",
        "histogram_day": "Posts per day (China time)",
        "histogram_hour": "Posts per hour (China time)",
        "interval_day": "By day",
        "interval_hour": "By hour",
        "results_count": "{total} results",
        "no_results": "No posts match. Try fewer keywords or wider filters.",
        "no_more": "No more results.",
        "prev": "Previous",
        "next": "Next",
        "next_page": "Next page",
        "first_page": "First page",
        "pager": "Pages",
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
        "field_emotion": "Emotion",
        "field_organisations": "Organisations",
        "nav_search": "Search",
        "stories": "Emerging stories",
        "stories_help": "Words used far more in this window than in the day before, with the posts that use them. Click the words to search all such posts of the window.",
        "last_hours": "Last {n} hours",
        "stories_window": "Window: {since} to {until} (up to the newest post)",
        "story_meta": "{n} posts · first {first} · latest {last} · {burst} times the day before",
        "no_stories": "Nothing new stands out in this window.",
        "field_locations": "Other places",
        "corrections": "Corrections",
        "corrections_help": "If a tag is wrong, choose the right value and save; the next model training (crisiswatch train) learns from corrections.",
        "correct_rumor": "Rumor",
        "correct_sentiment": "Sentiment",
        "correct_emotion": "Emotion",
        "correct_topics": "Topics (any number)",
        "topics_corrected": "Topics corrected by an analyst",
        "save_correction": "Save",
        "corrected_as": "Corrected to: {value}",
        "field_topics": "Topics",
        "field_places": "Places",
        "field_cluster": "Repeated text",
        "field_model": "Model version",
        "truncated": "The text was too long and has been cut.",
        "capture": "Raw response (evidence)",
        "capture_help": "The page as captured, kept as evidence when the original is deleted; download it, it is not opened here.",
        "capture_download": "Download ({status}, {fetched}, SHA-256 {sha}…)",
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
    "verified": {
        "yes": ("已认证", "Verified"),
        "no": ("未认证", "Not verified"),
    },
    "emotion": {
        "fear": ("恐惧", "Fear"),
        "anger": ("愤怒", "Anger"),
        "sadness": ("悲伤", "Sadness"),
        "anxiety": ("焦虑", "Anxiety"),
        "disgust": ("厌恶", "Disgust"),
        "optimism": ("乐观", "Optimism"),
        "surprise": ("惊讶", "Surprise"),
        "gratitude": ("感激", "Gratitude"),
    },
    "rumor": {
        "likely": ("疑似谣言", "Likely rumor"),
        "unlikely": ("非谣言", "Unlikely rumor"),
        "rumor": ("谣言", "Rumor"),  # the rumor model's own classes, for corrections
        "non-rumor": ("非谣言", "Not a rumor"),
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
    (re.compile(r"unknown sort '([^']*)'"), "未知排序方式“{0}”，可选：相关度、最新、互动最多。"),
    (re.compile(r"unknown interval '([^']*)'"), "未知的时间粒度“{0}”，可选：按日（day）、按小时（hour）。"),
    (re.compile(r"^page must be between 1 and (\d+)"), "页码必须在 1 到 {0} 之间。"),
    (re.compile(r"^per_page must be between 1 and (\d+)"), "每页条数必须在 1 到 {0} 之间。"),
    (re.compile(r"start of the time range is after its end"), "开始日期晚于结束日期，请调整时间范围。"),
    (re.compile(r"no searchable word"), "查询词中没有可搜索的字词（只有标点或符号）。"),
    (re.compile(r"^(.*) is not a date"), "{0} 不是有效日期，请写成 2024-07-31 或 2024-07-31T18:00。"),
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
    (re.compile(r"^(\w+) must be a number"), "参数 {0} 必须是 0 到 1 之间的数，如 0.5。"),
    (re.compile(r"^verified must be yes or no"), "参数 verified 只能是 yes（已认证）或 no（未认证）。"),
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
    """Display name of a tag or facet value; unknown values as they are."""
    if value is None:
        return gettext("none")
    if kind == "cluster":  # a content hash: its first characters tell clusters apart
        return gettext("cluster_label", hash=str(value)[:6])
    if kind in ("places", "place"):  # administrative codes: the gazetteer's (Chinese) names
        return places.gazetteer().name(str(value))
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
        known_values=known_values,
    )
