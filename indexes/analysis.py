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

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"([{CJK}]+)|([^\W_{CJK}]+)")
# Full-width ASCII forms (ＫＮ９５, ！) as ASCII: a table lookup per character, not NFKC,
# which is slow and would also rewrite characters that posts and queries mean as written.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
MAX_WORD_CHARS = 64


def normalise(text: str) -> str:
    """Full-width letters, digits and signs as ASCII, lower case: the same for posts and queries."""
    return text.translate(_FULL_WIDTH).lower()


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
