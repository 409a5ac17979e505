"""Downloader middlewares: the cookie and proxy pool, the block-page guard, and the
encoding of pages that declare none.

Cookies and proxies are secrets: they are read from the pool file named by the
``CRISISWATCH_POOL_FILE`` setting, put on requests, and never logged (requests carry
only the pool's index of the cookie they used).
"""

from __future__ import annotations

import itertools
import re
import tomllib
from pathlib import Path
from urllib.parse import urlparse

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import TextResponse
from scrapy.utils.defer import deferred_from_coro
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

from crawlers.blocks import COOKIE_EXPIRED, detect_block


# A page is taken to be in an encoding when it reads all but one byte of it, or bad bytes
# are at most this share of the characters beyond ASCII it reads (stray bytes, a cut).
MOST_BAD = 0.05
_BEYOND_ASCII = re.compile(r"[^\x00-\x7f\ufffd]")


class PoolFileError(ValueError):
    """A pool file that cannot be used; the message says what to fix."""


def read_pool(path: str | Path) -> tuple[dict[str, list[str]], list[str]]:
    """``{domain: [cookie header, ...]}`` and ``[proxy URL, ...]`` from a TOML pool file::

        proxies = ["http://user:password@10.0.0.1:3128"]
        [cookies]
        "weibo.cn" = ["SUB=...; SUBP=..."]
    """
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise PoolFileError(f"cookie and proxy pool {path}: {err}") from None
    cookies = raw.get("cookies", {})
    proxies = raw.get("proxies", [])
    if not isinstance(cookies, dict) or not all(isinstance(v, list) for v in cookies.values()):
        raise PoolFileError(f"{path}: [cookies] maps a domain to a list of Cookie header values")
    if not isinstance(proxies, list):
        raise PoolFileError(f"{path}: proxies is a list of proxy URLs")
    return {domain.lower(): [str(c) for c in values] for domain, values in cookies.items()}, [str(p) for p in proxies]


class CookieProxyPoolMiddleware:
    """Rotate the configured cookies (per domain, suffix match) and proxies over requests;
    a cookie that the site says has expired is retired for the rest of the crawl."""

    def __init__(self, cookies: dict[str, list[str]], proxies: list[str], stats):
        self.cookies = {domain: dict(enumerate(values)) for domain, values in cookies.items()}
        self.turns = {domain: itertools.count() for domain in cookies}
        self.proxies = itertools.cycle(proxies) if proxies else None
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        path = crawler.settings.get("CRISISWATCH_POOL_FILE")
        if not path or not Path(path).exists():
            raise NotConfigured  # no pool: nothing to do, and nothing worth a warning
        cookies, proxies = read_pool(path)
        return cls(cookies, proxies, crawler.stats)

    def _domain(self, url: str) -> str | None:
        host = (urlparse(url).hostname or "").lower()
        return next((d for d in self.cookies if host == d or host.endswith("." + d)), None)

    def process_request(self, request):
        if self.proxies is not None and "proxy" not in request.meta:
            request.meta["proxy"] = next(self.proxies)
        domain = self._domain(request.url)
        live = self.cookies.get(domain) if domain else None
        if live:
            index = sorted(live)[next(self.turns[domain]) % len(live)]
            request.headers["Cookie"] = live[index]
            request.meta["pool_cookie"] = (domain, index)
            # the pooled cookie is the whole session: Scrapy's cookie jar would replace it
            request.meta["dont_merge_cookies"] = True

    def retire(self, request) -> int:
        """Drop the cookie this request used; how many are left for its domain."""
        domain, index = request.meta.get("pool_cookie", (None, None))
        if domain is None:
            return 0
        self.cookies[domain].pop(index, None)
        self.stats.inc_value("crisiswatch/cookies_retired")
        return len(self.cookies[domain])


class BlockPageMiddleware:
    """Recognise block pages, count them, and stop asking a site that keeps refusing.

    A block is not stored as a post and not retried at once: the request is dropped, the
    crawl's health is recorded in its stats (``crisiswatch/health``), and after
    ``CRISISWATCH_BLOCK_LIMIT`` blocks the spider closes, so that the scheduler backs the
    job off instead of hammering the site."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.limit = crawler.settings.getint("CRISISWATCH_BLOCK_LIMIT", 3)
        self.blocks = 0

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response):
        spider = self.crawler.spider
        text = response.text if hasattr(response, "text") else None
        block = detect_block(response.url, response.status, text)
        if block is None:
            return response
        stats = self.crawler.stats
        if block.health == COOKIE_EXPIRED and self._pool() is not None and self._pool().retire(request):
            spider.logger.warning("%s at %s; trying the next cookie", block.reason, response.url)
            return request.replace(dont_filter=True, meta={k: v for k, v in request.meta.items() if k != "pool_cookie"})
        self.blocks += 1
        stats.inc_value(f"crisiswatch/blocked/{block.health}")
        stats.set_value("crisiswatch/health", block.health)
        stats.set_value("crisiswatch/block_reason", block.reason)
        spider.logger.warning("block page (%s) at %s", block.reason, response.url)
        if self.blocks >= self.limit:
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=block.health.replace(" ", "_")))
        raise IgnoreRequest(f"block page: {block.reason}")

    def _pool(self) -> CookieProxyPoolMiddleware | None:
        for middleware in self.crawler.engine.downloader.middleware.middlewares:
            if isinstance(middleware, CookieProxyPoolMiddleware):
                return middleware
        return None


def sniff_encoding(body: bytes) -> str | None:
    """UTF-8 or GB18030 for a page that declares no encoding: the one that reads it with
    fewer bad bytes (UTF-8 on a tie: GB18030 reads most UTF-8 text without an error, as
    the wrong characters), if it reads it with few; else None (Scrapy's own guess)."""
    bad, read = {}, {}
    for encoding in ("utf-8", "gb18030"):
        text = body.decode(encoding, "replace")
        bad[encoding], read[encoding] = text.count("\ufffd"), len(_BEYOND_ASCII.findall(text))
    best = min(bad, key=bad.get)
    return best if bad[best] <= max(1, MOST_BAD * read[best]) else None


class DeclaredEncodingMiddleware:
    """Give a text page that declares no encoding (no charset in its Content-Type, no BOM,
    no <meta charset> or XML declaration) UTF-8 or GB18030 when one of them reads it.

    Scrapy reads such a page as ASCII as soon as it is not entirely valid UTF-8: one bad
    byte turned a whole Chinese article into replacement characters."""

    def process_response(self, request, response):
        if not isinstance(response, TextResponse) or self._declared(response):
            return response
        encoding = sniff_encoding(response.body)
        return response.replace(encoding=encoding) if encoding else response

    @staticmethod
    def _declared(response: TextResponse) -> bool:
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        return bool(http_content_type_encoding(content_type) or read_bom(response.body)[0]
                    or html_body_declared_encoding(response.body))


class RetryBackoffMiddleware:
    """Back off a site that fails: each failure that Scrapy's RetryMiddleware will retry
    (a timeout, a refused connection, a 5xx or 429) doubles the delay between requests to
    that site, from ``CRISISWATCH_BACKOFF_START`` seconds up to AutoThrottle's maximum;
    AutoThrottle brings it down again as the site answers."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.start = crawler.settings.getfloat("CRISISWATCH_BACKOFF_START", 1.0)
        self.most = crawler.settings.getfloat("AUTOTHROTTLE_MAX_DELAY", 60.0)
        self.codes = {int(code) for code in crawler.settings.getlist("RETRY_HTTP_CODES")}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response):
        if response.status in self.codes:
            self._slow_down(request)
        return response

    def process_exception(self, request, exception):
        self._slow_down(request)

    def _slow_down(self, request) -> None:
        slot = self.crawler.engine.downloader.slots.get(request.meta.get("download_slot"))
        if slot is not None:
            slot.delay = min(max(slot.delay * 2, self.start), self.most)
            self.crawler.stats.inc_value("crisiswatch/backoffs")
