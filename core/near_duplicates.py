"""Near-duplicate texts: the same rumor copied by many accounts, give or take a tag, a
link, a mention or a few words, grouped into one cluster with its count.

A similarity hash: the MinHash signature of a text's character 3-grams (after links,
mentions, blanks and punctuation are folded away) estimates how much two texts share
(their Jaccard similarity); its bands find the candidates by lookup (locality-sensitive
hashing), so a new post is compared with a handful of clusters, not with every post.

Chosen on the Weibo corpus (pairs of posts sharing their first 20 characters and at
least 90% of their text, against random pairs): SimHash over the same 3-grams found 15%
of such pairs within 3 bits (40% over single characters); this MinHash with 12 bands of
5 rows finds about 95%, with few candidates for unrelated texts.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

PERMUTATIONS = 60
ROWS = 5
BANDS = PERMUTATIONS // ROWS
MIN_SIMILARITY = 0.5  # estimated Jaccard similarity of the 3-gram sets
MIN_CHARS = 20  # shorter texts ("转发微博") are grouped by their exact text only

_NOISE = re.compile(r"https?://\S+|@[\w\-]{1,30}|(?:[^\w@]|_)+")
# One multiply-shift hash per permutation (odd multipliers; arithmetic wraps at 64 bits).
_seeds = np.random.default_rng(20240725)
_A = _seeds.integers(0, 1 << 63, PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _seeds.integers(0, 1 << 63, PERMUTATIONS, dtype=np.uint64)


def fold(text: str) -> str:
    return _NOISE.sub("", text).casefold()


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads each 3-gram's code over all 64 bits."""
    values = values + np.uint64(0x9E3779B97F4A7C15)
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def signatures(texts: list[str]) -> list[bytes | None]:
    """Each text's MinHash signature (PERMUTATIONS 32-bit values), or None for a text too
    short to compare this way. One vectorised pass over the whole batch."""
    grams, found = [], []
    for number, text in enumerate(texts):
        folded = fold(text)
        if len(folded) >= MIN_CHARS:
            codes = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
            grams.append((codes[:-2] << np.uint64(42)) ^ (codes[1:-1] << np.uint64(21)) ^ codes[2:])
            found.append(number)
    result: list[bytes | None] = [None] * len(texts)
    if not found:
        return result
    starts = np.cumsum([0] + [len(g) for g in grams[:-1]])
    hashed = _mix(np.concatenate(grams))
    with np.errstate(over="ignore"):
        permuted = ((hashed[:, None] * _A + _B) >> np.uint64(32)).astype(np.uint32)
    packed = np.minimum.reduceat(permuted, starts, axis=0).astype("<u4")
    for row, number in enumerate(found):
        result[number] = packed[row].tobytes()
    return result


def band_keys(sig: bytes) -> list[int]:
    """One signed 64-bit key per band: texts sharing a key are candidates."""
    size = 4 * ROWS
    return [int.from_bytes(hashlib.blake2b(bytes([band]) + sig[band * size:(band + 1) * size], digest_size=8).digest(),
                           "little", signed=True) for band in range(BANDS)]


def similarity(a: bytes, b: bytes) -> float:
    return float((np.frombuffer(a, "<u4") == np.frombuffer(b, "<u4")).mean())
