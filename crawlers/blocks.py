"""Block pages: what the platforms answer instead of content when they refuse a crawler.

They often come with status 200, so a crawl that did not look would store a captcha
page as a post, or find nothing and say nothing. Each rule names the job health it
means: ``blocked`` (access denied, account frozen, rate limited, captcha: wait and slow
down) or ``cookie expired`` (the platform wants a login: supply fresh cookies).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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
}


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
    """m.weibo.cn answers {"ok": -100, "url": "https://passport..."} when it wants a login."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("ok") == -100:
        return Block(COOKIE_EXPIRED, "weibo: the API wants a login")
    return None
