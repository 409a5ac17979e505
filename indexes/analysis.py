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
_WORD = rf"[^\W_{CJK}]"  # a letter or digit that is not a CJK character
MAX_WORD_CHARS = 64
# Every index token, in text order, in one pass: at each position, the pair of CJK
# characters that starts there; or a CJK character with no CJK neighbour; or, where a
# run of other letters and digits starts, its first MAX_WORD_CHARS. The lookahead lets
# the pairs overlap, and findall does the whole loop in C.
_TOKENS = re.compile(rf"(?=([{CJK}]{{2}}|(?<![{CJK}])[{CJK}](?![{CJK}])|(?<!{_WORD}){_WORD}{{1,{MAX_WORD_CHARS}}}))")
# Full-width letters and digits (ＫＮ９５) as ASCII: a table lookup per character, not NFKC,
# which is slow and would also rewrite characters that posts and queries mean as written.
# Full-width punctuation needs no mapping: it separates tokens as ASCII punctuation does.
_FULL_WIDTH = {code: code - 0xFEE0 for start, end in ((0xFF10, 0xFF1A), (0xFF21, 0xFF3B), (0xFF41, 0xFF5B))
               for code in range(start, end)}
_HAS_FULL_WIDTH = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


def normalise(text: str) -> str:
    """Full-width letters and digits as ASCII, lower case: the same for posts and queries."""
    if _HAS_FULL_WIDTH.search(text):  # rare: the translation costs more than the search
        text = text.translate(_FULL_WIDTH)
    return text.lower()


def index_tokens(text: str) -> list[str]:
    return _TOKENS.findall(normalise(text))


def is_single_cjk(text: str) -> bool:
    return len(text) == 1 and bool(re.match(rf"[{CJK}]", text))
