"""How text becomes index terms, identically for every backend.

Chinese runs are indexed as overlapping character pairs (a run of one character as
itself), other words as lower-cased words. A query word then matches wherever its
characters occur in that order, as a phrase of its pairs: recall is that of a substring
search, which word segmentation alone does not give (a segmenter may cut 医院 out of
one post and not of another). Queries are still read word by word with the project's
segmenter, so 武汉疫情 means 武汉 and 疫情, not the one string.
"""

from __future__ import annotations

import re
import unicodedata

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"([{CJK}]+)|([^\W_{CJK}]+)")
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")
MAX_WORD_CHARS = 64


def normalise(text: str) -> str:
    """Full-width letters and digits as ASCII, lower case: the same for posts and queries."""
    if _FULL_WIDTH.search(text):  # NFKC is slow; most posts have nothing for it to do
        text = unicodedata.normalize("NFKC", text)
    return text.lower()


def index_tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for cjk, word in _RUNS.findall(normalise(text)):
        if len(cjk) > 1:
            tokens.extend(map(str.__add__, cjk, cjk[1:]))  # overlapping pairs
        else:
            tokens.append(cjk or word[:MAX_WORD_CHARS])
    return tokens


def is_single_cjk(text: str) -> bool:
    return len(text) == 1 and bool(re.match(rf"[{CJK}]", text))
