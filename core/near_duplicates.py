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

import functools
import hashlib
import re
from typing import Sequence

import numpy as np

PERMUTATIONS = 60
ROWS = 5
BANDS = PERMUTATIONS // ROWS
MIN_SIMILARITY = 0.5  # estimated Jaccard similarity of the 3-gram sets
MIN_CHARS = 20  # shorter texts ("转发微博") are grouped by their exact text only
# What a repost without words of its own shows, once folded (Weibo's "转发微博", its
# traditional spelling, "转发", "Repost", or nothing left of "//@someone:"): thousands of
# unrelated reposts share it, so such a post belongs to no cluster.
EMPTY_REPOST = "转发微博"  # what Weibo shows, and the store keeps, for a repost without words
REPOST_MARKERS = frozenset({EMPTY_REPOST, "轉發微博", "转发", "轉發", "repost", ""})

_NOISE = re.compile(r"https?://\S+|@[\w\-]{1,30}|(?:[^\w@]|_)+")
_SEPARATOR = "\x00"  # between the texts of a batch
_LINKS_AND_MENTIONS = re.compile(r"https?://[^\s\x00]+|@[\w\-]{1,30}")  # _NOISE's first two, stopping at a separator
_BAND_NUMBERS = [bytes([band]) for band in range(BANDS)]
# One multiply-shift hash per permutation (odd multipliers; arithmetic wraps at 64 bits).
_seeds = np.random.default_rng(20240725)
_A = _seeds.integers(0, 1 << 63, PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _seeds.integers(0, 1 << 63, PERMUTATIONS, dtype=np.uint64)


def fold(text: str) -> str:
    return _NOISE.sub("", text).casefold()


def is_repost_marker(text: str) -> bool:
    """Whether a text is only what a repost without words shows (see REPOST_MARKERS)."""
    return fold(text) in REPOST_MARKERS


@functools.cache
def _kept() -> np.ndarray:
    """Which code points ``fold`` keeps outside links and mentions: letters and digits
    (``\\w`` without the underscore) and "@"; and the separator of a batch's texts."""
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    marked = re.sub(r"[^\W_]", "a", every).encode("utf-32-le", "surrogatepass")  # one C loop, not 1.1M isalnum calls
    kept = np.frombuffer(marked, dtype=np.uint32) == ord("a")
    kept[ord("@")] = kept[ord(_SEPARATOR)] = True
    return kept


def _folded_codes(texts: Sequence[str]) -> np.ndarray:
    """The code points of every text folded as ``fold`` does, separated by NUL.

    ``fold`` in bulk: the links and mentions are cut with one regular expression over the
    joined texts (it cannot reach across a NUL), then the other noise is dropped by a
    table of code points, and the rest case-folded at once. A text that holds a NUL
    itself makes the batch go text by text.
    """
    joined = _SEPARATOR.join(texts)
    if joined.count(_SEPARATOR) != len(texts) - 1:
        return _codes(_SEPARATOR.join(map(fold, texts)))
    codes = _codes(_LINKS_AND_MENTIONS.sub("", joined))
    return _codes(_text(codes[_kept()[codes]]).casefold())


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _text(codes: np.ndarray) -> str:
    return codes.tobytes().decode("utf-32-le", "surrogatepass")


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads each 3-gram's code over all 64 bits."""
    values = values + np.uint64(0x9E3779B97F4A7C15)
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def signatures(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The MinHash signatures of a batch: the numbers of the texts long enough to compare
    this way, and their signatures (one row of PERMUTATIONS 32-bit values each).

    One vectorised pass: the 3-grams of all texts as one array (those that would span two
    texts masked out), and per permutation one pass over it with the minimum of each
    text's segment (a 2-D array of every 3-gram by every permutation was ten times slower:
    it does not fit in the cache).
    """
    empty = np.zeros(0, dtype=np.int64), np.zeros((0, PERMUTATIONS), dtype=np.uint32)
    if not texts:
        return empty
    codes = _folded_codes(texts)
    separator = codes == ord(_SEPARATOR)
    lengths = np.diff(np.flatnonzero(np.concatenate(([True], separator, [True])))) - 1
    long = np.flatnonzero(lengths >= MIN_CHARS)
    if not len(long):
        return empty
    is_long = np.zeros(len(texts), dtype=bool)
    is_long[long] = True
    inside = ~(separator[:-2] | separator[1:-1] | separator[2:])  # the 3-gram starting here is in one text
    inside &= is_long[np.cumsum(separator)[:-2]]
    wide = codes.astype(np.uint64)
    grams = (wide[:-2] << np.uint64(42)) ^ (wide[1:-1] << np.uint64(21)) ^ wide[2:]
    hashed = _mix(grams[inside])
    starts = np.concatenate(([0], np.cumsum(lengths[long] - 2)[:-1]))
    result = np.empty((len(long), PERMUTATIONS), dtype=np.uint32)
    permuted = np.empty_like(hashed)
    for number in range(PERMUTATIONS):  # arithmetic wraps at 64 bits
        np.multiply(hashed, _A[number], out=permuted)
        permuted += _B[number]
        permuted >>= np.uint64(32)
        result[:, number] = np.minimum.reduceat(permuted, starts)
    return long, result


def to_bytes(signatures: np.ndarray) -> list[bytes]:
    """Signatures as stored: each PERMUTATIONS little-endian 32-bit values."""
    stored, size = signatures.astype("<u4").tobytes(), 4 * PERMUTATIONS
    return [stored[start : start + size] for start in range(0, len(stored), size)]


def from_bytes(stored: Sequence[bytes]) -> np.ndarray:
    """Stored signatures as rows of a matrix."""
    return np.frombuffer(b"".join(stored), dtype="<u4").reshape(len(stored), PERMUTATIONS).astype(np.uint32)


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """One signed 64-bit key per band of each signature (a row of BANDS keys per row):
    texts sharing a key are candidates. A key is a BLAKE2 hash of the band's number and
    values, as stored by earlier versions."""
    size = 4 * ROWS
    digests = b"".join(hashlib.blake2b(_BAND_NUMBERS[band] + signature[start : start + size], digest_size=8).digest()
                       for signature in to_bytes(signatures) for band, start in enumerate(range(0, len(signature), size)))
    return np.frombuffer(digests, dtype="<i8").reshape(len(signatures), BANDS).astype(np.int64)


def similar(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each row of ``a`` is similar enough to the same row of ``b`` (their
    estimated Jaccard similarity: the share of equal values)."""
    return (a == b).mean(axis=-1) >= MIN_SIMILARITY
