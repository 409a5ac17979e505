"""WeChat public-account articles, found through Sogou's WeChat search.

For each search term the spider reads Sogou's article search (``/weixin?type=2``), page
after page up to ``WECHAT_MAX_PAGES``, and follows each result to its mp.weixin.qq.com
article, which becomes a post of kind "article". Start URLs may also be search pages or
article pages.

Incremental: the checkpoint of a search term (source "wechat-search") is the newest
result time it has seen. A later run skips results at or before it and stops paging at
a page with nothing newer. Sogou ranks by relevance, not time, so an older article that
only enters the results later is missed: the price of not re-reading every page.
The checkpoint is saved only once every new article of the term has been read, so a run
that was blocked or killed half-way reads them again.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

from scrapy import Request
from w3lib.html import remove_tags, remove_tags_with_content, replace_entities
from w3lib.url import canonicalize_url

from crawlers.spiders.base import Awaited, SourceSpider

SEARCH = "wechat-search"
ARTICLE_HOST = "mp.weixin.qq.com"
# A JS variable of the article page: ``var biz = "" || "MzA4ODUzNjAxOA==";``
JS_VAR = r'var\s+{}\s*=\s*([^;\n]*)'
BLOCK_END = re.compile(r"<br\s*/?>|</(p|div|section|h\d|li|blockquote|tr)>", re.I)


def js_var(text: str, name: str) -> str | None:
    """The first non-empty string literal assigned to a page's JS variable."""
    match = re.search(JS_VAR.format(re.escape(name)), text)
    if not match:
        return None
    values = [v for v in re.findall(r'"([^"]*)"', match.group(1)) if v.strip()]
    return html.unescape(values[0]) if values else None


def text_of(fragment: str) -> str:
    """Plain text of an HTML fragment: scripts and styles dropped, blocks on their own lines."""
    fragment = remove_tags_with_content(fragment, which_ones=("script", "style"))
    return replace_entities(remove_tags(BLOCK_END.sub("\n", fragment)))


def query_param(url: str, name: str) -> str | None:
    return next(iter(parse_qs(urlsplit(url).query).get(name, [])), None)


class WechatSpider(SourceSpider):
    name = "wechat"
    platform = "wechat"
    base_url_settings = {"sogou_url": "SOGOU_WEIXIN_URL", "article_url": "WECHAT_ARTICLE_URL"}
    # paging is bounded by WECHAT_MAX_PAGES, not by link depth
    custom_settings = {"DEPTH_LIMIT": 0}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.newest: dict[str, int] = {}  # search term -> newest result time seen
        self.paging: set[str] = set()  # search terms whose pages are still being read
        self.awaited = Awaited()  # article links -> the search terms waiting for them

    async def start(self):
        for url in self.start_urls:
            if urlsplit(url).path.rstrip("/").endswith("/weixin"):
                yield self.search_request(query_param(url, "query") or "", url)
            else:
                yield Request(url, callback=self.parse_article, dont_filter=True)
        for term in self.searches:
            yield self.search_request(term, f"{self.sogou_url}/weixin?" + urlencode(
                {"type": 2, "query": term, "page": 1, "ie": "utf8"}))

    def search_request(self, term: str, url: str) -> Request:
        self.paging.add(term)
        return Request(url, callback=self.parse_search, errback=self.search_failed, meta={"term": term},
                       dont_filter=True)

    def parse_search(self, response):
        term = response.meta["term"]
        since = int(self.checkpoint(SEARCH, term) or 0)
        fresh = 0
        for result in response.css("ul.news-list > li"):
            link = result.css("h3 a::attr(href)").get()
            stamp = re.search(r"timeConvert\('(\d+)'\)", result.get())
            posted = int(stamp.group(1)) if stamp else int(result.css("div.s-p::attr(t)").get("0"))
            if link and posted > since:
                fresh += 1
                self.newest[term] = max(self.newest.get(term, 0), posted)
                yield from self.article_request(self.article_link(response, link), term)
        next_url = response.urljoin(response.css("#sogou_next::attr(href)").get(""))
        page, next_page = (int(query_param(url, "page") or 1) for url in (response.url, next_url))
        if fresh and page < next_page <= self.settings.getint("WECHAT_MAX_PAGES", 10):
            yield self.search_request(term, next_url)
        else:
            self.paging.discard(term)
            yield from self.settle(term)

    def article_link(self, response, href: str) -> str:
        """Article links on the article base URL; Sogou's own /link?url= redirects on Sogou's."""
        url = response.urljoin(href.strip())
        parts = urlsplit(url)
        if parts.hostname == ARTICLE_HOST:
            return self.article_url + url[len(f"{parts.scheme}://{parts.netloc}"):]
        return url

    def article_request(self, url: str, term: str):
        """Ask for an article once per crawl, however many search terms found it."""
        if self.awaited.ask(url, {term}):
            yield Request(url, callback=self.parse_article, errback=self.article_failed, meta={"link": url})

    def parse_article(self, response):
        terms = self.awaited.answered(response.meta.get("link", ""))
        yield from self.article(response)
        for term in terms:
            yield from self.settle(term)

    def article(self, response):
        content = response.css("#js_content").get()
        if content is None:
            if "链接已过期" in response.text:
                self.crawler.stats.inc_value("crisiswatch/expired")
            else:
                self.logger.info("no article at %s", response.url)
            return
        page = response.text
        biz, mid, idx = (query_param(js_var(page, "msg_link") or "", key) for key in ("__biz", "mid", "idx"))
        if not (biz and mid and idx):
            biz, mid, idx = js_var(page, "biz"), js_var(page, "mid"), js_var(page, "idx")
        link = js_var(page, "msg_link") or response.css('meta[property="og:url"]::attr(content)').get() or response.url
        ct = js_var(page, "ct")
        yield self.post(
            response,
            platform_id=f"{biz}:{mid}:{idx}" if biz and mid and idx else canonicalize_url(link),
            kind="article",
            title=" ".join(response.css("#activity-name ::text").getall()).strip()
            or response.css('meta[property="og:title"]::attr(content)').get() or js_var(page, "msg_title"),
            text=text_of(content),
            url=link,
            author_id=js_var(page, "user_name"),
            author_name=" ".join(response.css("#js_name ::text").getall()).strip() or js_var(page, "nickname"),
            created_at=int(ct) if ct and ct.isdigit() else js_var(page, "publish_time"),
        )

    def article_failed(self, failure):
        self.awaited.fail(failure.request.meta.get("link", ""))

    def search_failed(self, failure):
        term = failure.request.meta["term"]
        self.paging.discard(term)
        self.awaited.failed.add(term)

    def settle(self, term: str):
        """Save a search term's checkpoint once its pages and all their new articles are read."""
        if term in self.paging or term not in self.newest or self.awaited.holds(term):
            return
        yield self.advance(SEARCH, term, str(self.newest.pop(term)))
