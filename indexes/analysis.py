"""How text becomes index terms, identically for every backend.

Chinese runs are indexed as overlapping character pairs (a run of one character as
itself), other words as lower-cased words. A query word then matches wherever its
characters occur in that order, as a phrase of its pairs: recall is that of a substring
search, which word segmentation alone does not give (a segmenter may cut 医院 out of
one post and not of another). Queries are still read word by word with the project's
segmenter, so 武汉疫情 means 武汉 and 疫情, not the one string.

A batch of posts is tokenised at once with numpy, as one array of code points: the index
stage's hot loop, where a regular expression per post cost as much as Tantivy's indexing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

# Unified ideographs, extension A, compatibility ideographs, and the supplementary planes'
# extensions B to H with their compatibility supplement (𠮷, 𪚥: in names and places).
CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF))
MAX_WORD_CHARS = 64  # a longer run of letters and digits is indexed by its beginning
_CJK, _WORD = 1, 2  # kinds of code point; 0: any other
_SEPARATOR = "\x00"  # between the texts of a batch; an index term never holds it
# Full-width letters and digits (ＫＮ９５) as ASCII: a table lookup per character, not NFKC,
# which is slow and would also rewrite characters that posts and queries mean as written.
# Full-width punctuation needs no mapping: it separates terms as ASCII punctuation does.
_FULL_WIDTH_RANGES = ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
_FULL_WIDTH_OFFSET = 0xFEE0
_FULL_WIDTH = {code: code - _FULL_WIDTH_OFFSET for low, high in _FULL_WIDTH_RANGES for code in range(low, high + 1)}
_HAS_FULL_WIDTH = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _FULL_WIDTH_RANGES) + "]")


@functools.cache
def _kinds() -> np.ndarray:
    """The kind of every code point: CJK, another letter or digit (``str.isalnum``), or other."""
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    # every letter or digit replaced by "a" in one C loop (str.isalnum per character: 5 times slower)
    marked = re.sub(r"[^\W_]", "a", every).encode("utf-32-le", "surrogatepass")
    kinds = (np.frombuffer(marked, dtype=np.uint32) == ord("a")).astype(np.uint8) * _WORD
    for low, high in CJK_RANGES:
        kinds[low : high + 1] = _CJK
    return kinds


def normalise(text: str) -> str:
    """Full-width letters and digits as ASCII, lower case: the same for posts and queries."""
    if _HAS_FULL_WIDTH.search(text):  # rare: the translation costs more than the search
        text = text.translate(_FULL_WIDTH)
    return text.lower()


def index_texts(texts: Sequence[str]) -> list[str]:
    """The index terms of each text, in text order, separated by single spaces.

    The terms start where: two CJK characters follow each other (the pair); a CJK
    character stands alone (itself); a run of other letters and digits begins (its first
    MAX_WORD_CHARS, lower-cased). Each term is copied out, followed by a space unless it
    is the last of its text, with one gather over the batch.
    """
    if not texts:
        return []
    joined = _SEPARATOR.join(texts)
    if joined.count(_SEPARATOR) != len(texts) - 1:  # a text holds NUL: it separates terms like a space
        joined = _SEPARATOR.join(text.replace(_SEPARATOR, " ") for text in texts)
    # normalise() in bulk: lower() maps full-width capitals to full-width small letters
    codes = np.frombuffer(joined.lower().encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    for low, high in _FULL_WIDTH_RANGES:
        codes[(codes >= low) & (codes <= high)] -= _FULL_WIDTH_OFFSET
    kinds = _kinds()[codes]
    cjk, word = kinds == _CJK, kinds == _WORD
    cjk_before, cjk_after = np.zeros_like(cjk), np.zeros_like(cjk)
    cjk_before[1:], cjk_after[:-1] = cjk[:-1], cjk[1:]
    word_before, word_after = np.zeros_like(word), np.zeros_like(word)
    word_before[1:], word_after[:-1] = word[:-1], word[1:]

    length = np.zeros(len(codes), dtype=np.int64)
    length[cjk & cjk_after] = 2
    length[cjk & ~cjk_before & ~cjk_after] = 1
    word_starts = np.flatnonzero(word & ~word_before)
    word_ends = np.flatnonzero(word & ~word_after) + 1
    length[word_starts] = np.minimum(word_ends - word_starts, MAX_WORD_CHARS)
    separators = codes == 0
    length[separators] = 1  # copied out too, so that the batch splits back into its texts

    starts = np.flatnonzero(length)
    if not len(starts):  # one text, without a term
        return [""]
    lengths = length[starts]
    is_separator = separators[starts]
    space = np.ones(len(starts), dtype=bool)  # a space after the term
    space[-1] = False
    space[:-1] = ~is_separator[1:]
    space &= ~is_separator
    emitted = lengths + space
    offsets = np.arange(emitted.sum()) - np.repeat(np.cumsum(emitted) - emitted, emitted)
    sources = np.minimum(np.repeat(starts, emitted) + offsets, len(codes) - 1)
    out = np.where(offsets < np.repeat(lengths, emitted), codes[sources], ord(" ")).astype(np.uint32)
    return out.tobytes().decode("utf-32-le", "surrogatepass").split(_SEPARATOR)


def index_tokens(text: str) -> list[str]:
    terms = index_texts([text])[0]
    return terms.split(" ") if terms else []


def is_single_cjk(text: str) -> bool:
    return len(text) == 1 and any(low <= ord(text) <= high for low, high in CJK_RANGES)
