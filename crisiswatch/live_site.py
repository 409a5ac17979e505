"""The living demo's site on loopback: the scenario of the home's replay as the sources the
crawlers read, each post served once its offset is reached and dated when it appeared.

One address serves every source in the formats the spiders read:

* news: an RSS feed (``/news/feed.xml``) of the articles and the articles themselves;
* official releases: a feed (``/gov/feed.xml``) and pages of the releases the incident
  published through the workflow (the demo's players or a drill's teams);
* Weibo: the m.weibo.cn API, cards of posts and reposts (with the posts they repost) most
  recently active first (``/api/container/getIndex``), and their comments (``/comments/hotflow``);
* WeChat: a Sogou search page (``/weixin``) and the articles (``/s/<id>``);
* Tieba: a forum's thread list (``/f``), its threads with their floors (``/p/<tid>``).

A post is stored under the id ``platform_id`` gives (the scenario's ``stored_id`` but for a
Tieba thread, whose id is a number); times keep whole seconds, Tieba's floors whole minutes.
``crisiswatch/live_jobs.toml`` crawls them each minute.
"""

from __future__ import annotations

import html
import json
import sys
import threading
import zlib
from bisect import bisect_right
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from core.schema import CHINA_TZ
from desk import replay as replays
from desk.scenario import Post, Scenario

CARDS_PER_PAGE = 25
TIEBA_FORUM_ID = 1
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def platform_id(scenario: Scenario, post: Post) -> str:
    """The id a crawl of the site stores ``post`` under."""
    if post.platform == "tieba" and post.parent is None:
        return f"t{tieba_thread(scenario, post)}"
    if post.platform == "wechat":
        return f"{scenario.name}:{post.id}:1"  # the article's __biz:mid:idx
    return scenario.stored_id(post.id)


def tieba_thread(scenario: Scenario, post: Post) -> str:
    """A thread's number (Tieba's ids are numbers): its place in the scenario."""
    return str(7_000_000_000 + scenario.posts.index(post))


def weibo_time(at: datetime) -> str:
    """The API's full form, China time: ``Sat Jun 29 10:14:52 +0800 2019``."""
    at = at.astimezone(CHINA_TZ)
    return f"{_DAYS[at.weekday()]} {_MONTHS[at.month - 1]} {at:%d %H:%M:%S +0800 %Y}"


class Moment:
    """What the site shows at one request: the posts due and the releases published."""

    def __init__(self, site: LiveSite, posts: list[tuple[Post, datetime]], releases: list[dict]):
        self.site, self.posts, self.releases = site, posts, releases
        self.when = {post.id: at for post, at in posts}
        self.replies: dict[str, list[Post]] = {}
        for post, _ in posts:
            if post.parent:
                self.replies.setdefault(post.parent, []).append(post)

    def of(self, platform: str, top_only: bool = False) -> list[Post]:
        """The due posts of a platform (without comments where ``top_only``), newest first."""
        found = [post for post, _ in self.posts if post.platform == platform and not (top_only and post.kind == "comment")]
        return sorted(found, key=lambda post: self.when[post.id], reverse=True)

    def comments(self, post: Post) -> list[Post]:
        return [reply for reply in self.replies.get(post.id, []) if reply.kind == "comment"]

    def activity(self, post: Post) -> datetime:
        """When a post was last commented on (or posted)."""
        return max([self.when[post.id], *(self.when[c.id] for c in self.comments(post))])


class LiveSite:
    """The pages of a scenario as at each request, for the home's replay of it (nothing
    before it starts, nor of another scenario's replay). ``sessions``: the desk's sessions."""

    def __init__(self, scenario: Scenario, sessions):
        self.scenario, self.sessions = scenario, sessions
        self.by_time = sorted(scenario.posts, key=lambda post: post.at)
        self.offsets = [post.at for post in self.by_time]
        self.by_id = {post.id: post for post in scenario.posts}
        self.threads = {tieba_thread(scenario, post): post for post in scenario.posts
                        if post.platform == "tieba" and post.parent is None}

    def moment(self, now: datetime | None = None) -> Moment:
        from desk import releases
        from desk.states import ReleaseState
        from desk.tables import Organisation, Release

        now = now or datetime.now(timezone.utc)
        with self.sessions() as session:
            playing = replays.current(session)
            if playing is None or playing.scenario != self.scenario.name:
                return Moment(self, [], [])
            due = self.by_time[:bisect_right(self.offsets, playing.offset_at(now))]
            posts = [(post, playing.appeared_at(post.at).replace(microsecond=0)) for post in due]
            published = (session.query(Release, Organisation.name)
                         .join(Organisation, Organisation.id == Release.drafting_org_id)
                         .filter(Release.incident_id == playing.incident_id, Release.state == ReleaseState.PUBLISHED)
                         .order_by(Release.published_at.desc()).all())
            shown = []
            for release, org in published:
                version = releases.current_version(session, release)
                shown.append({"id": release.id, "title": version.title, "body": version.body, "by": org,
                              "at": release.published_at.replace(tzinfo=timezone.utc, microsecond=0)})
        return Moment(self, posts, shown)

    def page(self, path: str, query: dict, base: str, now: datetime | None = None) -> tuple[str, str] | None:
        """(content type, body) of a page, or None where there is none (yet); ``BadRequest``
        where its query cannot be read."""
        if path == "/robots.txt":
            return "text/plain; charset=utf-8", "User-agent: *\nDisallow:\n"
        moment = self.moment(now)
        if path in ("/", "/index.html"):
            return _HTML, _page(self.scenario.title, "".join(
                f'<p><a href="{href}">{name}</a></p>' for href, name in
                (("/news/feed.xml", "新闻"), ("/gov/feed.xml", "政务发布"), ("/f?kw=滨海", "贴吧"))))
        if path in ("/news/feed.xml", "/gov/feed.xml"):
            items = self.news_items(moment, base) if path.startswith("/news") else self.release_items(moment, base)
            return "application/rss+xml; charset=utf-8", _rss(self.scenario.title, base, items)
        if path.startswith("/news/") and path.endswith(".html"):
            post = self.due(moment, path[len("/news/"):-len(".html")], "news")
            return post and (_HTML, self.article(post, moment.when[post.id]))
        if path.startswith("/gov/") and path.endswith(".html"):
            release = next((r for r in moment.releases if str(r["id"]) == path[len("/gov/"):-len(".html")]), None)
            return release and (_HTML, _page(release["title"], f"<p>{html.escape(release['body'])}</p>"))
        if path == "/api/container/getIndex":
            return _JSON, self.weibo_cards(moment, _page_number(query))
        if path == "/comments/hotflow":
            post = self.due(moment, self.entry_of(query.get("id", "")), "weibo")
            return post and (_JSON, self.weibo_comments(moment, post))
        if path == "/weixin":
            return _HTML, self.wechat_search(moment)
        if path.startswith("/s/"):
            post = self.due(moment, path[len("/s/"):], "wechat")
            return post and (_HTML, self.wechat_article(post, moment.when[post.id]))
        if path == "/f":
            return _HTML, self.tieba_list(moment)
        if path == "/p/totalComment":
            return _JSON, json.dumps({"errno": 0, "data": {"comment_list": {}}})
        if path.startswith("/p/"):
            thread = self.threads.get(path[len("/p/"):])
            post = thread and self.due(moment, thread.id, "tieba")
            return post and (_HTML, self.tieba_thread(moment, post))
        return None

    def due(self, moment: Moment, entry_id: str | None, platform: str) -> Post | None:
        post = self.by_id.get(entry_id or "")
        return post if post is not None and post.platform == platform and post.id in moment.when else None

    def entry_of(self, stored: str) -> str:
        prefix = f"{self.scenario.name}-"
        return stored[len(prefix):] if stored.startswith(prefix) else ""

    # -- news and releases -------------------------------------------------------------

    def news_items(self, moment: Moment, base: str) -> list[dict]:
        return [{"title": post.title or post.text[:30], "link": f"{base}/news/{post.id}.html",
                 "guid": platform_id(self.scenario, post), "at": moment.when[post.id], "by": post.author,
                 "text": post.text} for post in moment.of("news")]

    def release_items(self, moment: Moment, base: str) -> list[dict]:
        return [{"title": r["title"], "link": f"{base}/gov/{r['id']}.html", "guid": f"{self.scenario.name}-release-{r['id']}",
                 "at": r["at"], "by": r["by"], "text": r["body"]} for r in moment.releases]

    def article(self, post: Post, at: datetime) -> str:
        return _page(post.title or post.text[:30], f"<p>{html.escape(post.text)}</p>",
                     f'<meta property="article:published_time" content="{at.isoformat()}">'
                     f'<meta name="author" content="{html.escape(post.author)}">')

    # -- Weibo ---------------------------------------------------------------------------

    def mblog(self, moment: Moment, post: Post) -> dict:
        comments = moment.comments(post)
        found = {"id": platform_id(self.scenario, post), "created_at": weibo_time(moment.when[post.id]),
                 "text": html.escape(post.text), "user": _user(post),
                 "reposts_count": post.reposts, "comments_count": max(post.comments, len(comments)),
                 "attitudes_count": post.likes}
        if post.kind == "repost":
            found["retweeted_status"] = self.mblog(moment, self.by_id[post.parent])
        return found

    def weibo_cards(self, moment: Moment, page: int) -> str:
        cards = sorted(moment.of("weibo", top_only=True), key=moment.activity, reverse=True)
        shown = cards[(page - 1) * CARDS_PER_PAGE:page * CARDS_PER_PAGE] if page > 0 else []
        return json.dumps({"ok": 1, "data": {"cards": [{"card_type": 9, "mblog": self.mblog(moment, post)}
                                                       for post in shown]}}, ensure_ascii=False)

    def weibo_comments(self, moment: Moment, post: Post) -> str:
        comments = [{"id": platform_id(self.scenario, c), "created_at": weibo_time(moment.when[c.id]),
                     "text": html.escape(c.text), "user": _user(c), "like_count": c.likes, "total_number": 0}
                    for c in sorted(moment.comments(post), key=lambda c: moment.when[c.id])]
        return json.dumps({"ok": 1, "data": {"data": comments, "max_id": 0, "max_id_type": 0}}, ensure_ascii=False)

    # -- WeChat --------------------------------------------------------------------------

    def wechat_search(self, moment: Moment) -> str:
        items = "".join(
            f'<li><div class="txt-box"><h3><a href="/s/{post.id}">{html.escape(post.title or post.text[:30])}</a></h3>'
            f'<p class="txt-info">{html.escape(post.text[:60])}</p>'
            f'<div class="s-p" t="{int(moment.when[post.id].timestamp())}"><a class="account">'
            f'{html.escape(post.author)}</a></div></div></li>' for post in moment.of("wechat"))
        return _page("搜狗微信搜索", f'<ul class="news-list">{items}</ul>')

    def wechat_article(self, post: Post, at: datetime) -> str:
        names = {"biz": self.scenario.name, "mid": post.id, "idx": "1", "ct": str(int(at.timestamp())),
                 "user_name": post.author}
        script = "".join(f"var {name} = {_script_string(value)};\n" for name, value in names.items())
        return _page(post.title or post.text[:30],
                     f'<h1 id="activity-name">{html.escape(post.title or post.text[:30])}</h1>'
                     f'<a id="js_name">{html.escape(post.author)}</a>'
                     f'<div id="js_content"><p>{html.escape(post.text)}</p></div><script>{script}</script>')

    # -- Tieba ---------------------------------------------------------------------------

    def tieba_list(self, moment: Moment) -> str:
        threads = sorted(moment.of("tieba", top_only=True), key=moment.activity, reverse=True)
        items = "".join(f'<li class="j_thread_list"><a class="j_th_tit" href="/p/{tieba_thread(self.scenario, post)}">'
                        f'{html.escape(_title(post))}</a></li>' for post in threads)
        return _page("滨海吧_百度贴吧", f'<ul id="thread_list">{items}</ul>')

    def tieba_thread(self, moment: Moment, post: Post) -> str:
        floors = [post, *sorted(moment.comments(post), key=lambda c: moment.when[c.id])]
        shown = []
        for number, floor in enumerate(floors, start=1):
            field = {"author": {"user_name": floor.author, "user_id": _uid(floor.author)},
                     "content": {"post_id": platform_id(self.scenario, floor),
                                 "post_no": number, "forum_id": TIEBA_FORUM_ID, "comment_num": 0,
                                 "date": f"{moment.when[floor.id].astimezone(CHINA_TZ):%Y-%m-%d %H:%M}"}}
            shown.append(f'<div class="l_post" data-field="{html.escape(json.dumps(field, ensure_ascii=False))}">'
                         f'<div class="d_post_content">{html.escape(floor.text)}</div></div>')
        title = html.escape(_title(post))
        return _page(f"{_title(post)}_滨海吧_百度贴吧",  # _page escapes it
                     f'<h3 class="core_title_txt" title="{title}">{title}</h3>{"".join(shown)}')


_HTML = "text/html; charset=utf-8"
_JSON = "application/json; charset=utf-8"


class BadRequest(ValueError):
    """A query the site cannot read: answered 400, with no traceback on the demo's console."""


def _page_number(query: dict) -> int:
    try:
        return int(query.get("page") or 1)
    except ValueError:
        raise BadRequest("page is not a whole number") from None


def _title(post: Post) -> str:
    return post.title or post.text[:30]


def _uid(author: str) -> str:
    """A stable number for an author's account."""
    return str(zlib.crc32(author.encode("utf-8")) + 1_000_000_000)


def _user(post: Post) -> dict:
    return {"id": _uid(post.author), "screen_name": post.author, "verified": post.verified}


def _script_string(value: str) -> str:
    """A JavaScript string of ``value`` in a page's script: no "</script>" of a scenario's text ends it."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


def _page(title: str, body: str, head: str = "") -> str:
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"{head}</head><body>{body}</body></html>")


def _rss(title: str, base: str, items: list[dict]) -> str:
    entries = "".join(
        f"<item><title>{html.escape(item['title'])}</title><link>{html.escape(item['link'])}</link>"
        f'<guid isPermaLink="false">{html.escape(item["guid"])}</guid><pubDate>{format_datetime(item["at"])}</pubDate>'
        f"<dc:creator>{html.escape(item['by'])}</dc:creator><description>{html.escape(item['text'])}</description></item>"
        for item in items)
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>{html.escape(title)}</title><link>{base}/</link><description>{html.escape(title)}"
            f"</description>{entries}</channel></rss>")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that drops its connection (a crawl stopped) is no fault of the site."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(site: LiveSite, host: str = "127.0.0.1", port: int = 0):
    """Serve ``site`` in a daemon thread; returns (server, base URL). Stop with ``server.shutdown()``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            parts = urlsplit(self.path)
            try:
                found = site.page(parts.path, dict(parse_qsl(parts.query)), f"http://{self.headers.get('Host') or url}")
            except BadRequest:
                self.send_error(400)
                return
            if found is None:
                self.send_error(404)
                return
            kind, text = found
            data = text.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # the console is the demo's
            pass

    server = _Server((host, port), Handler)
    url = f"http://{host}:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name="live-site", daemon=True).start()
    return server, url
