"""News sites and official release pages: feeds, list pages and articles.

A start URL may be any of the three. A feed (RSS or Atom) yields its entries; an HTML
page that links to several article-like pages on its own site is a list page and is
followed; any other HTML page is an article, whose title, time, source and body are
extracted with trafilatura. ``-a platform=gov`` marks official release pages.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from urllib.parse import urlparse

import feedparser
import trafilatura
from w3lib.html import remove_tags, replace_entities
from w3lib.url import canonicalize_url

from crawlers.spiders.base import SourceSpider, SpiderArgumentError

# Paths that look like an article: a dated or numbered page, not a section index.
ARTICLE_PATH = re.compile(r"(\d{4}[-/]?\d{2}[-/]?\d{2}|\d{5,}|/(article|detail|content|notice|news)s?/).*\.(s?html?|php)$|\d{6,}")
MIN_LIST_LINKS = 3
# An article page links to related articles too; what tells it from a list page is its
# own prose: paragraphs of at least 40 characters outside links, this much in all.
MIN_ARTICLE_CHARS = 200
# Ask htmldate for the time of day too, and for the original (not the updated) date.
DATE_PARAMS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


def canonical(url: str) -> str:
    """The URL used as a page's id: canonical form, no fragment, no tracking parameters."""
    url = canonicalize_url(url)
    return re.sub(r"([?&])utm_[a-z]+=[^&]*&?", r"\1", url).rstrip("?&")


def paragraph_chars(response) -> int:
    total = 0
    for paragraph in response.xpath("//p"):
        text = "".join(t.strip() for t in paragraph.xpath(".//text()[not(ancestor::a)]").getall())
        if len(text) >= 40:
            total += len(text)
    return total


def is_feed(response) -> bool:
    content_type = response.headers.get("Content-Type", b"").decode("latin-1").lower()
    if any(kind in content_type for kind in ("rss", "atom", "xml")) and "html" not in content_type:
        return True
    head = response.body[:512].lstrip().lower()
    return head.startswith(b"<?xml") and (b"<rss" in response.body[:2048].lower() or b"<feed" in response.body[:2048].lower())


def _web_address(url: str) -> bool:
    """Whether ``url`` is one Scrapy can fetch from a site (it would log a missing scheme
    or a bad IPv6 host as a start error, and the crawl would end as a mere "errors")."""
    try:
        parts = urlparse(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:  # that, or an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class NewsSpider(SourceSpider):
    name = "news"

    def __init__(self, start_urls="", platform: str = "news", **kwargs):
        super().__init__(start_urls=start_urls, **kwargs)
        if not self.start_urls:
            raise SpiderArgumentError(f"the {self.name} spider needs start URLs: -a start_urls=URL[,URL...]")
        for url in self.start_urls:
            if not _web_address(url):
                raise SpiderArgumentError(f"{url!r} is not a web address: a start URL is http:// or https:// and a host")
        self.platform = platform
        self.allowed_domains = sorted({urlparse(u).hostname for u in self.start_urls if urlparse(u).hostname})

    def parse(self, response):
        if is_feed(response):
            yield from self.parse_feed(response)
            return
        if not hasattr(response, "css"):
            return  # not text: nothing to read
        links = self.article_links(response)
        if len(links) >= MIN_LIST_LINKS and paragraph_chars(response) < MIN_ARTICLE_CHARS:
            for link in links:
                yield response.follow(link, callback=self.parse)
        else:
            yield from self.parse_article(response)

    def article_links(self, response) -> list[str]:
        own = urlparse(response.url).hostname
        found = []
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href.strip())
            parsed = urlparse(url)
            if parsed.scheme in ("http", "https") and parsed.hostname == own and ARTICLE_PATH.search(parsed.path):
                if url != response.url and url not in found:
                    found.append(url)
        return found

    def parse_feed(self, response):
        feed = feedparser.parse(response.body)
        for entry in feed.entries:
            content = entry.get("content", [{}])[0].get("value") or entry.get("summary") or ""
            link = entry.get("link")
            published = entry.get("published_parsed") or entry.get("updated_parsed")
            yield self.post(
                response,
                platform_id=entry.get("id") or (link and canonical(link)) or entry.get("title"),
                kind="article" if self.platform == "news" else "release",
                title=replace_entities(remove_tags(entry.get("title", ""))),
                text=replace_entities(remove_tags(content)),
                url=link,
                author_name=entry.get("author") or feed.feed.get("title"),
                created_at=_struct_time_to_iso(published),
            )

    def parse_article(self, response):
        extracted = trafilatura.bare_extraction(
            response.text, url=response.url, with_metadata=True, date_extraction_params=DATE_PARAMS
        )
        if extracted is None:
            self.logger.info("no article text found at %s", response.url)
            return
        data = extracted.as_dict() if hasattr(extracted, "as_dict") else extracted
        yield self.post(
            response,
            platform_id=canonical(response.url),
            kind="article" if self.platform == "news" else "release",
            title=data.get("title"),
            text=data.get("text"),
            url=response.url,
            author_name=site_name(response, data),
            created_at=plausible_date(data.get("date")),
        )


def site_name(response, extracted: dict) -> str:
    """The name of the site an article is on: its og:site_name (trafilatura's sitename,
    unless that is only the host it falls back to), else what the page's <title> adds
    after the article's title ("台风过境 东湖区停电 - 滨海新闻网"), else the host."""
    host = urlparse(response.url).hostname or ""
    named = (extracted.get("sitename") or "").strip()
    if named and named not in (host, urlparse(response.url).netloc):
        return named
    page_title = " ".join((response.css("title::text").get() or "").split())
    title = " ".join((extracted.get("title") or "").split())
    if title and page_title.startswith(title):
        rest = page_title[len(title):].strip(" -_|–—·:：")
        if 2 <= len(rest) <= 40:
            return rest
    return host


def plausible_date(value: str | None) -> str | None:
    """The extracted date, or None when it cannot be the page's: on a page without one,
    htmldate may take a year from the text ("1996年当选...", "2000医疗防护服") and give its
    first of January, which would reject the post or date it wrongly."""
    try:
        when = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if when is None or when.year < 2000 or (when.month, when.day, when.time()) == (1, 1, time()):
        return None
    if when.replace(tzinfo=when.tzinfo or timezone.utc) > datetime.now(timezone.utc) + timedelta(days=1):
        return None
    return value


def _struct_time_to_iso(value) -> str | None:
    """feedparser gives UTC struct_time; the post schema reads ISO text with its offset."""
    if not value:
        return None
    return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}+00:00".format(*value[:6])


class ReleasesSpider(NewsSpider):
    """Official release pages of government bodies and grid companies: their list pages,
    feeds and notices, stored as releases (platform ``gov``), so that analysts and press
    officers see what has already been said."""

    name = "releases"

    def __init__(self, start_urls="", platform: str = "gov", **kwargs):
        super().__init__(start_urls=start_urls, platform=platform, **kwargs)
