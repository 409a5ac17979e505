"""Block pages: what the platforms answer instead of content when they refuse a crawler.

They often come with status 200, so a crawl that did not look would store a captcha
page as a post, or find nothing and say nothing. Each rule names the job health it
means: ``blocked`` (access denied, account frozen, rate limited, captcha: wait and slow
down) or ``cookie expired`` (the platform wants a login: supply fresh cookies).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

BLOCKED = "blocked"
COOKIE_EXPIRED = "cookie expired"


@dataclass(frozen=True)
class Block:
    health: str  # BLOCKED or COOKIE_EXPIRED
    reason: str  # what the page said, for the operator


# (text on the page, what it means). Matched in the first 64 KB of the decoded body.
PAGE_RULES = (
    ("违反了新浪微博的安全检测规则", Block(BLOCKED, "weibo: access restricted, captcha required")),
    ("您的帐号存在异常", Block(BLOCKED, "weibo: account frozen")),
    ("帐号存在异常，目前无法进行登录", Block(BLOCKED, "weibo: account frozen")),
    ("抱歉，网络繁忙", Block(BLOCKED, "weibo: rate limited (network busy page)")),
    ("您的访问过于频繁", Block(BLOCKED, "sogou: too many requests, captcha required")),
    ("passport.weibo.com/visitor", Block(COOKIE_EXPIRED, "weibo: login or visitor cookie required")),
    ("passport.weibo.cn/signin", Block(COOKIE_EXPIRED, "weibo: login required")),
    ("完成验证后即可继续访问", Block(BLOCKED, "wechat: environment check (captcha)")),
)
# Redirect targets and URL paths that mean the same.
URL_RULES = (
    ("weixin.sogou.com/antispider", Block(BLOCKED, "sogou: anti-spider captcha")),
    ("passport.weibo.com", Block(COOKIE_EXPIRED, "weibo: login or visitor cookie required")),
    ("passport.weibo.cn", Block(COOKIE_EXPIRED, "weibo: login required")),
    ("login.sina.com.cn", Block(COOKIE_EXPIRED, "weibo: login required")),
    ("wappass.baidu.com", Block(BLOCKED, "baidu: security check (captcha)")),
)
STATUS_RULES = {
    403: Block(BLOCKED, "HTTP 403 forbidden"),
    418: Block(BLOCKED, "HTTP 418 (refused as a crawler)"),
    429: Block(BLOCKED, "HTTP 429 too many requests"),
    432: Block(BLOCKED, "HTTP 432 (weibo: refused as a crawler)"),
}
# Where m.weibo.cn's refusal {"ok": -100, "url": ...} sends a rate-limited client.
_CAPTCHA_URL_PARTS = ("captcha", "geetest", "scene=limit")


def detect_block(url: str, status: int, text: str | None) -> Block | None:
    """The block this response is, or None for an ordinary page."""
    if status in STATUS_RULES:
        return STATUS_RULES[status]
    for fragment, block in URL_RULES:
        if fragment in url:
            return block
    if not text:
        return None
    head = text[:65536]
    if head.lstrip().startswith(("{", "[")):  # JSON: page rules would match links inside the data
        return _json_refusal(text)
    for fragment, block in PAGE_RULES:
        if fragment in head:
            return block
    return None


def _json_refusal(text: str) -> Block | None:
    """m.weibo.cn answers {"ok": -100, "url": ...} when it refuses: the url is a login page
    when it wants a login, and a captcha (``captcha?scene=limit``, geetest) when it rate-limits."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("ok") != -100:
        return None
    url = str(data.get("url") or "")
    if any(part in url.lower() for part in _CAPTCHA_URL_PARTS):
        return Block(BLOCKED, f"weibo: rate limited, the API asks for a captcha ({url[:200]})")
    if any(fragment in url for fragment, block in URL_RULES if block.health == COOKIE_EXPIRED) or _is_login_path(url):
        return Block(COOKIE_EXPIRED, "weibo: the API wants a login")
    return Block(BLOCKED, f"weibo: the API refused the request ({url[:200] or 'no url given'})")


def _is_login_path(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return any(word in path for word in ("/login", "/signin"))
