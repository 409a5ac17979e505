"""Weibo: keyword search and user timelines through the m.weibo.cn JSON API, and keyword
search through the s.weibo.com result pages.

``-a mode=api`` (the default) searches each keyword with ``api/container/getIndex``
(card pages), reads ``-a users=UID[,UID]`` timelines the same way, fetches long texts
from ``statuses/extend`` and comments from ``comments/hotflow``. A repost is stored with
its original (``parent_id``), a comment with its post. ``start_urls`` may be getIndex
URLs (card pages) or ``statuses/show`` URLs (one post).

``-a mode=html`` searches s.weibo.com by time window, since that search stops at about
50 pages: from the job's checkpoint (or ``-a since=YYYY-MM-DD-H``, or
``WEIBO_SEARCH_LOOKBACK_HOURS`` back) up to ``-a until=YYYY-MM-DD-H`` (default: this
hour, China time), in windows of ``WEIBO_SEARCH_WINDOW_HOURS``. A window whose results
reach ``WEIBO_SEARCH_MAX_PAGES`` pages is split in two, down to one hour. Windows are
crawled one after another and each finished window advances the checkpoint, so a killed
job resumes from the last finished one.

Checkpoints: ("weibo-api", keyword or "user:UID") is the newest post time seen, and a
later run stops paging at a page with nothing newer; it is saved only once the long
texts and comment pages that the key's card pages asked for are answered, so a job
killed before then reads those posts again. ("weibo-search", keyword) is the end of the
last finished window.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlparse

import scrapy
from parsel import Selector
from scrapy.spidermiddlewares.httperror import HttpError
from w3lib.html import remove_tags, replace_entities
from w3lib.url import add_or_replace_parameter

from core.schema import CHINA_TZ
from crawlers.spiders.base import Awaited, SourceSpider, SpiderArgumentError, split_arg

HOUR = timedelta(hours=1)
# <img alt=[怒] ...>: the emoticons, kept as their text; quoted or not, as Weibo writes them
EMOTICON = re.compile(r"<img[^>]*?\balt=[\"']?(\[[^\]\"'<>]{1,12}\])[^>]*>", re.I)
LINE_BREAK = re.compile(r"<br\s*/?>", re.I)
# The older s.weibo.com and weibo.com pages send their HTML inside <script>FM.view({...})</script>
VIEW_SCRIPT = re.compile(r"(?:FM|pageletM)\.view\((\{.*?\})\)\s*;?\s*</script>", re.S)
# the "展开全文" link of a result cut short (its whole text needs the page's script)
UNFOLD = re.compile(r"<a[^>]*action-type=\"fl_unfold\".*?</a>", re.S)
RELATIVE_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours"}
COUNT_UNITS = {"万": 10_000, "亿": 100_000_000}


def html_text(html: str | None) -> str:
    """Post text from Weibo's HTML: tags out, emoticons as [name], <br> as new lines."""
    html = LINE_BREAK.sub("\n", EMOTICON.sub(r"\1", html or ""))
    return replace_entities(remove_tags(html)).strip()


def weibo_time(text: str | None, now: datetime | None = None) -> str | None:
    """A Weibo time as ISO text: the API's full form ("Sat Jun 29 10:14:52 +0800 2019")
    or the short China-time forms of the newer API and the pages ("刚刚", "5分钟前",
    "今天 12:00", "昨天 12:00", "06-29", "2019-06-29", "06月29日 10:14")."""
    text = (text or "").strip()
    now = now or datetime.now(CHINA_TZ)
    try:
        return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y").isoformat()
    except ValueError:
        pass
    if text == "刚刚":
        moment = now
    elif match := re.fullmatch(r"(\d+)\s*(秒|分钟|小时)前", text):
        moment = now - timedelta(**{RELATIVE_UNITS[match[2]]: int(match[1])})
    elif match := re.fullmatch(r"(今天|昨天)\s*(\d{1,2}):(\d{2})", text):
        day = now - timedelta(days=1 if match[1] == "昨天" else 0)
        moment = day.replace(hour=int(match[2]), minute=int(match[3]), second=0)
    elif match := re.fullmatch(r"(?:(\d{4})[-年])?(\d{1,2})[-月](\d{1,2})日?(?:\s+(\d{1,2}):(\d{2}))?", text):
        year = int(match[1] or now.year)
        moment = datetime(year, int(match[2]), int(match[3]), int(match[4] or 0), int(match[5] or 0), tzinfo=CHINA_TZ)
        if not match[1] and moment > now:  # no year: the latest such day, which may be last year's
            moment = moment.replace(year=year - 1)
    else:
        return None
    return moment.replace(microsecond=0).isoformat()


def count(value) -> int:
    """A count as the API shows it: 12, "12", "1.2万", "100万+"."""
    if isinstance(value, int):
        return value
    match = re.match(r"\s*([\d.]+)\s*([万亿])?", str(value or ""))
    return int(float(match[1]) * COUNT_UNITS.get(match[2], 1)) if match else 0


def detail_url(mid) -> str:
    return f"https://m.weibo.cn/detail/{mid}"


def card_mblogs(cards):
    """The posts of a getIndex card list: card_type 9 holds one, 11 holds a group of cards."""
    for card in cards or []:
        if card.get("card_type") == 9 and card.get("mblog"):
            yield card["mblog"]
        elif card.get("card_type") == 11:
            yield from card_mblogs(card.get("card_group"))


def author_fields(user: dict | None) -> dict:
    user = user or {}
    return dict(author_id=str(user["id"]) if user.get("id") else None, author_name=user.get("screen_name"),
                author_verified=user.get("verified"))


def mblog_fields(mblog: dict) -> dict:
    original = mblog.get("retweeted_status")
    return dict(
        platform_id=str(mblog["id"]),
        kind="repost" if original else "post",
        parent_id=str(original["id"]) if original else None,
        text=html_text(mblog.get("text")),
        url=detail_url(mblog["id"]),
        **author_fields(mblog.get("user")),
        created_at=weibo_time(mblog.get("created_at")),
        reposts_count=count(mblog.get("reposts_count")),
        comments_count=count(mblog.get("comments_count")),
        likes_count=count(mblog.get("attitudes_count")),
    )


def comment_fields(comment: dict, parent_id: str, status_id: str) -> dict:
    return dict(
        platform_id=str(comment["id"]),
        kind="comment",
        parent_id=parent_id,
        text=html_text(comment.get("text")),
        url=detail_url(status_id),
        **author_fields(comment.get("user")),
        created_at=weibo_time(comment.get("created_at")),
        comments_count=count(comment.get("total_number")),
        likes_count=count(comment.get("like_count")),
    )


def search_selector(response) -> Selector:
    """The result HTML of an s.weibo.com page: the page itself and any FM.view HTML in it."""
    parts = [response.text]
    for match in VIEW_SCRIPT.finditer(response.text):
        try:
            parts.append(json.loads(match[1]).get("html") or "")
        except ValueError:
            continue
    return Selector(text="\n".join(parts))


def listed_pages(selector: Selector) -> int:
    """How many result pages the search says it has (the "第N页" list)."""
    numbers = re.findall(r"第(\d+)页", " ".join(selector.css(".W_pages ::text, .m-page ::text").getall()))
    return max(map(int, numbers), default=1)


def result_fields(item: Selector) -> dict:
    """One s.weibo.com result (``[action-type=feed_list_item]``, with a ``mid``)."""
    mid = item.attrib["mid"]
    content = item.css("[node-type=feed_list_content_full]") or item.css("[node-type=feed_list_content]")
    author = item.css("a[nick-name]")
    card = author.attrib.get("usercard") or author.attrib.get("href") or ""
    author_id = re.search(r"(?:id=|weibo\.com/(?:u/)?)(\d+)", card)
    when = item.css("[node-type=feed_list_item_date]")
    # "转发<em>12</em>", "评论 1.2万": the count after the label
    action = {name: count(re.sub(r"^\D*", "", "".join(item.css(f"[action-type=feed_list_{name}] ::text").getall())))
              for name in ("forward", "comment", "like")}
    return dict(
        platform_id=mid,
        kind="post",
        text=html_text(UNFOLD.sub("", content.get() or "")),
        url=detail_url(mid),
        author_id=author_id[1] if author_id else None,
        author_name=author.attrib.get("nick-name"),
        author_verified=bool(item.css("[class*=icon_approve], [class*=icon-vip]")),
        # the date attribute is epoch milliseconds; without it, read the link text ("今天 12:00")
        created_at=int(when.attrib["date"]) if when.attrib.get("date") else weibo_time("".join(when.css("::text").getall())),
        reposts_count=action["forward"],
        comments_count=action["comment"],
        likes_count=action["like"],
    )


def parse_hour(text: str) -> datetime:
    """An hour of China time as -a since/until give it: 2020-02-01-8."""
    try:
        return datetime.strptime(text, "%Y-%m-%d-%H").replace(tzinfo=CHINA_TZ)
    except ValueError:
        raise SpiderArgumentError(f"{text!r} is not an hour such as 2020-02-01-8 (year-month-day-hour, China time)") from None


def format_hour(moment: datetime) -> str:
    """The s.weibo.com timescope form: 2019-06-29-8."""
    return f"{moment:%Y-%m-%d}-{moment.hour}"


class WeiboSpider(SourceSpider):
    name = "weibo"
    platform = "weibo"
    base_url_settings = {"api_url": "WEIBO_API_URL", "search_url": "WEIBO_SEARCH_URL"}
    # Paging is bounded by the WEIBO_* page settings; a depth limit would cut timelines short.
    custom_settings = {"DEPTH_LIMIT": 0}

    def __init__(self, users="", mode: str = "api", since: str = "", until: str = "", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("api", "html"):
            raise SpiderArgumentError(f"-a mode is api or html, not {mode!r}")
        self.users = split_arg(users)
        self.mode = mode
        self.awaited = Awaited()  # long texts and comment pages -> the keys whose cards asked for them
        self.held: dict[str, str] = {}  # key -> its checkpoint, saved once what it awaits is answered
        self.since = parse_hour(since) if since else None
        self.until = parse_hour(until) if until else None
        if not (self.start_urls or self.keywords or self.users):
            raise SpiderArgumentError("the weibo spider needs -a keywords=..., -a users=UID[,UID] or -a start_urls=...")

    async def start(self):
        for url in self.start_urls:
            if urlparse(url).path.endswith("/statuses/show"):
                yield scrapy.Request(url, callback=self.parse_status)
            else:
                yield scrapy.Request(url, callback=self.parse_cards, cb_kwargs={"key": None, "page": 1})
        for uid in self.users:
            # The timeline is the profile's "weibo" tab, container 107603<uid>. Asking the
            # profile for it does not pay: for visitors it links the passport.weibo.cn login
            # page, which the block guard takes for a login wall.
            query = urlencode({"type": "uid", "value": uid, "containerid": f"107603{uid}", "page": 1})
            yield scrapy.Request(f"{self.api_url}/api/container/getIndex?{query}", callback=self.parse_cards,
                                 cb_kwargs={"key": f"user:{uid}", "page": 1})
        for search in self.searches:
            if self.mode == "html":
                if first := self.first_window(search):
                    yield first
            else:
                query = urlencode({"containerid": f"100103type=1&q={search}", "page_type": "searchall", "page": 1})
                yield scrapy.Request(f"{self.api_url}/api/container/getIndex?{query}", callback=self.parse_cards,
                                     cb_kwargs={"key": search, "page": 1})

    # -- m.weibo.cn API ---------------------------------------------------------------

    def parse_cards(self, response, key, page, newest=None):
        """A page of cards; the next page while it holds posts newer than the checkpoint of
        ``key``, which is advanced to the newest post time once the last page is read."""
        mblogs = list(card_mblogs((json.loads(response.text).get("data") or {}).get("cards")))
        for mblog in mblogs:
            yield from self.mblog_items(response, mblog, key)
        saved = self.checkpoint("weibo-api", key) if key else None
        saved = datetime.fromisoformat(saved) if saved else None
        times = [datetime.fromisoformat(t) for t in (weibo_time(m.get("created_at")) for m in mblogs) if t]
        newest = max(times + ([newest] if newest else []), default=None)
        fresh = bool(mblogs) and (saved is None or any(t > saved for t in times))
        if fresh and page < self.settings.getint("WEIBO_MAX_PAGES", 50):
            yield scrapy.Request(add_or_replace_parameter(response.url, "page", str(page + 1)), callback=self.parse_cards,
                                 cb_kwargs={"key": key, "page": page + 1, "newest": newest})
        elif key and newest and (saved is None or newest > saved):
            self.held[key] = newest.isoformat()
            yield from self.settle(key)

    def ask(self, keys: set[str], url: str, callback, **cb_kwargs):
        """A request for more of what a card page showed; the checkpoints of ``keys`` await it."""
        if self.awaited.ask(url, keys):
            yield scrapy.Request(url, callback=callback, errback=self.unanswered, cb_kwargs=cb_kwargs,
                                 meta={"asked": url})

    def answered(self, keys: set[str]):
        for key in keys:
            yield from self.settle(key)

    def settle(self, key: str):
        if key in self.held and not self.awaited.holds(key):
            yield self.advance("weibo-api", key, self.held.pop(key))

    def unanswered(self, failure):
        """A long text or comment page that is gone (404, 410): the post is kept with the
        start of its text that its card showed. Any other failure (a block page, a timeout,
        a server error after the retries) holds its keys' checkpoints for this crawl, so
        the next one asks again."""
        url = failure.request.meta["asked"]
        if failure.check(HttpError) and failure.value.response.status in (404, 410):
            if "fields" in failure.request.cb_kwargs:
                yield self.post(failure.request.cb_kwargs["card_page"], **failure.request.cb_kwargs["fields"])
            yield from self.answered(self.awaited.answered(url))
        else:
            self.awaited.fail(url)

    def closed(self, reason):
        if self.held:
            self.logger.warning("checkpoints of %s not saved (a long text or comment page was not read); "
                                "the next run reads their pages again", ", ".join(sorted(self.held)))

    def parse_status(self, response):
        """statuses/show: one post (with its original when it is a repost)."""
        yield from self.mblog_items(response, json.loads(response.text)["data"], None)

    def mblog_items(self, response, mblog, key: str | None):
        """A post, its original if it is a repost, and the requests for its long text and comments."""
        if mblog.get("retweeted_status"):
            yield from self.mblog_items(response, mblog["retweeted_status"], key)
        fields = mblog_fields(mblog)
        keys = {key} if key else set()
        if mblog.get("isLongText"):
            yield from self.ask(keys, f"{self.api_url}/statuses/extend?id={fields['platform_id']}",
                                self.parse_long_text, fields=fields, card_page=response)
        else:
            yield self.post(response, **fields)
        if fields["comments_count"] > 0:
            mid = fields["platform_id"]
            yield from self.ask(keys, f"{self.api_url}/comments/hotflow?id={mid}&mid={mid}&max_id_type=0",
                                self.parse_comments, status_id=mid, page=1)

    def parse_long_text(self, response, fields, card_page):
        """statuses/extend: the whole text of a post whose card held only its start."""
        data = json.loads(response.text).get("data") or {}
        text = html_text(data.get("longTextContent")) or fields["text"]
        yield self.post(response, **{**fields, "text": text})
        yield from self.answered(self.awaited.answered(response.meta["asked"]))

    def parse_comments(self, response, status_id, page):
        """comments/hotflow: a page of comments (each with its first replies); ``max_id`` pages on.
        The next page is asked for before this one counts as answered, for the same keys."""
        asked = response.meta["asked"]
        data = json.loads(response.text).get("data") or {}
        if data.get("max_id") and page < self.settings.getint("WEIBO_COMMENT_PAGES", 3):
            url = (f"{self.api_url}/comments/hotflow?id={status_id}&mid={status_id}"
                   f"&max_id={data['max_id']}&max_id_type={data.get('max_id_type', 0)}")
            yield from self.ask(self.awaited.keys_of(asked), url, self.parse_comments, status_id=status_id,
                                page=page + 1)
        for comment in data.get("data") or []:
            yield self.post(response, **comment_fields(comment, status_id, status_id))
            for reply in comment.get("comments") or []:
                yield self.post(response, **comment_fields(reply, str(comment["id"]), status_id))
        yield from self.answered(self.awaited.answered(asked))

    # -- s.weibo.com search by time window -----------------------------------------------

    def first_window(self, keyword) -> scrapy.Request | None:
        """The first page of the first window still to search for ``keyword``."""
        until = self.until or datetime.now(CHINA_TZ).replace(minute=0, second=0, microsecond=0)
        saved = self.checkpoint("weibo-search", keyword)
        lookback = self.settings.getint("WEIBO_SEARCH_LOOKBACK_HOURS", 24) * HOUR
        start = parse_hour(saved) if saved else (self.since or until - lookback)
        size = self.settings.getint("WEIBO_SEARCH_WINDOW_HOURS", 6) * HOUR
        windows = []
        while start < until:
            windows.append((start, min(start + size, until)))
            start += size
        return self.search_page(keyword, windows, 1) if windows else None

    def search_page(self, keyword, windows, page):
        """Page ``page`` of the first of ``windows``; the rest follow once it is done."""
        start, end = windows[0]
        query = urlencode({"q": keyword, "typeall": 1, "suball": 1,
                           "timescope": f"custom:{format_hour(start)}:{format_hour(end)}", "page": page})
        return scrapy.Request(f"{self.search_url}/weibo?{query}", callback=self.parse_search,
                              cb_kwargs={"keyword": keyword, "windows": windows, "page": page})

    def parse_search(self, response, keyword, windows, page):
        start, end = windows[0]
        selector = search_selector(response)
        pages = listed_pages(selector)
        cap = self.settings.getint("WEIBO_SEARCH_MAX_PAGES", 50)
        if page == 1 and pages >= cap:
            if end - start > HOUR:
                middle = start + (end - start) // HOUR // 2 * HOUR
                yield self.search_page(keyword, [(start, middle), (middle, end), *windows[1:]], 1)
                return
            self.logger.warning("%s: the hour from %s has %d pages or more; only those are read", keyword, start, cap)
        for item in selector.css("[action-type=feed_list_item][mid]"):
            yield self.post(response, **result_fields(item))
        if page < min(pages, cap):
            yield self.search_page(keyword, windows, page + 1)
            return
        yield self.advance("weibo-search", keyword, format_hour(end))
        if windows[1:]:
            yield self.search_page(keyword, windows[1:], 1)
