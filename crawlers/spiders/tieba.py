"""Baidu Tieba: forum thread lists, thread pages with their floors, and the floor replies.

For each search term the spider reads the forum's thread list (``/f?kw=<term>``), its
first ``TIEBA_LIST_PAGES`` pages (the threads with the latest replies come first), and
follows their threads; start URLs may also be list pages or thread pages (``/p/<tid>``).
Each thread page (``/p/<tid>?pn=N``) gives its floors: floor 1 is the thread itself, a
post with the thread's title and id ``t<tid>``; the others are comments on it, with their
Baidu post ids. The floor replies (楼中楼) of a page come from ``/p/totalComment`` as JSON
and are comments on their floor, with their own ids (the same id space as floors).
Floors and replies without text (pictures or smileys only) are left out.

Pages of a thread are read one after another, each page then its replies, at most
``TIEBA_MAX_PAGES`` pages per thread and run. Incremental: after a page and its replies
the thread's checkpoint (source "tieba-thread", key the thread id) becomes that page, and
the next run starts there, where new floors appear.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from parsel import Selector
from scrapy import Request
from w3lib.html import remove_tags, replace_entities

from core.schema import CHINA_TZ
from crawlers.spiders.base import SourceSpider

THREAD = "tieba-thread"
THREAD_PATH = re.compile(r"/p/(\d+)")
FLOOR_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def text_of(fragment: str) -> str:
    """Plain text of a post's HTML: line breaks kept, images and links reduced to their text."""
    return replace_entities(remove_tags(re.sub(r"<br\s*/?>", "\n", fragment, flags=re.I)))


class TiebaSpider(SourceSpider):
    name = "tieba"
    platform = "tieba"
    base_url_settings = {"tieba_url": "TIEBA_URL"}
    # a thread's pages are bounded by TIEBA_MAX_PAGES, not by link depth
    custom_settings = {"DEPTH_LIMIT": 0}

    async def start(self):
        for url in self.start_urls:
            thread = THREAD_PATH.match(urlsplit(url).path)
            yield self.thread_request(thread.group(1)) if thread else Request(url, callback=self.parse_list,
                                                                              dont_filter=True)
        for term in self.searches:
            yield Request(f"{self.tieba_url}/f?" + urlencode({"kw": term, "ie": "utf-8"}), callback=self.parse_list)

    def parse_list(self, response):
        """Thread links of a forum page, then its next page. Tieba sends the list inside an
        HTML comment that its scripts unpack, so the comment marks are dropped before
        reading it."""
        page = Selector(text=response.text.replace("<!--", "").replace("-->", ""))
        for href in page.css("a.j_th_tit::attr(href)").getall():
            thread = THREAD_PATH.match(urlsplit(href).path)
            if thread:
                yield self.thread_request(thread.group(1))
        listed = response.meta.get("list_page", 1)
        following = page.css("a.next.pagination-item::attr(href)").get()
        if following and listed < self.settings.getint("TIEBA_LIST_PAGES", 3):
            yield Request(f"{self.tieba_url}/f?{urlsplit(following).query}", callback=self.parse_list,
                          meta={"list_page": listed + 1})

    def thread_request(self, tid: str) -> Request:
        """The thread's page where the last run stopped (the first page the first time)."""
        first = int(self.checkpoint(THREAD, tid) or 1)
        return self.page_request(tid, first, first)

    def page_request(self, tid: str, pn: int, start: int) -> Request:
        """Page ``pn`` of a thread whose reading began this run at page ``start``."""
        return Request(f"{self.tieba_url}/p/{tid}?pn={pn}", callback=self.parse_thread,
                       meta={"tid": tid, "pn": pn, "start": start})

    def parse_thread(self, response):
        tid, pn = response.meta["tid"], response.meta["pn"]
        title = (response.css(".core_title_txt::attr(title)").get()
                 or response.css("title::text").get("").split("_")[0]).strip()
        floors, forum_id = {}, None
        for floor in response.css("div.l_post[data-field]"):
            field = json.loads(floor.attrib["data-field"])
            content = field.get("content") or {}
            if not content.get("post_id"):
                continue  # an advertisement, not a floor
            forum_id = forum_id or content.get("forum_id")
            post = self.floor_post(response, floor, field, tid, title)
            floors[str(content["post_id"])] = post["platform_id"]
            if post["text"].strip():  # not a floor of pictures only
                yield post
        if not floors:
            return
        pages = [int(n) for n in response.css(".l_pager a::attr(href)").re(r"[?&]pn=(\d+)")]
        yield Request(f"{self.tieba_url}/p/totalComment?" + urlencode({"tid": tid, "fid": forum_id, "pn": pn}),
                      callback=self.parse_replies,
                      meta={"tid": tid, "pn": pn, "start": response.meta["start"], "floors": floors,
                            "last": max([pn, *pages])})

    def floor_post(self, response, floor, field: dict, tid: str, title: str):
        content, author = field["content"], field.get("author") or {}
        post_id, number = content["post_id"], int(content.get("post_no") or 0)
        when = content.get("date") or floor.css(".tail-info::text").re_first(FLOOR_TIME)
        opening = number == 1
        return self.post(
            response,
            platform_id=f"t{tid}" if opening else str(post_id),
            kind="post" if opening else "comment",
            title=title if opening else None,
            text=text_of(floor.css(".d_post_content").get("")),
            url=f"{self.tieba_url}/p/{tid}" if opening else f"{self.tieba_url}/p/{tid}?pid={post_id}#{post_id}",
            author_id=author.get("user_id"),
            author_name=author.get("user_name") or author.get("user_nickname"),
            created_at=datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=CHINA_TZ) if when else None,
            parent_id=None if opening else f"t{tid}",
            comments_count=content.get("comment_num"),
        )

    def parse_replies(self, response):
        meta = response.meta
        tid, pn, floors = meta["tid"], meta["pn"], meta["floors"]
        comments = (json.loads(response.text).get("data") or {}).get("comment_list") or {}
        for post_id, replies in comments.items():
            for reply in replies.get("comment_info") or []:
                text = text_of(reply.get("content") or "")
                if not text.strip():
                    continue  # a smiley, or nothing
                yield self.post(
                    response,
                    platform_id=str(reply["comment_id"]),
                    kind="comment",
                    text=text,
                    url=f"{self.tieba_url}/p/{tid}?pid={post_id}#{post_id}",
                    author_id=reply.get("user_id"),
                    author_name=reply.get("username"),
                    created_at=reply.get("now_time"),
                    parent_id=floors.get(str(post_id), str(post_id)),
                )
        yield self.advance(THREAD, tid, str(pn))
        if pn < meta["last"] and pn - meta["start"] + 1 < self.settings.getint("TIEBA_MAX_PAGES", 10):
            yield self.page_request(tid, pn + 1, meta["start"])
