"""Text features for the classifiers: words and word pairs, plus character 1-3-grams,
then the words of the post's earliest replies in a block of their own.

Features are hashed (no vocabulary), so they are stateless: the pipeline computes them
once per batch and every classifier (``nlp.linear``) reads the same matrix. A post enters as its list of
tokens from ``core.segment.cut``, the words of its spaCy Doc, and its replies as token
lists too (a post with none has an empty reply block).

The hashing is done for a whole batch at once with numpy: the characters of the batch
become one array of code points, and every word, word pair and character n-gram is a
polynomial hash over a slice of it (prefix sums, so each hash costs a few array
operations, not a Python call). scikit-learn's HashingVectorizer did the same work with a
Python call per feature, more than half of the pipeline's time. ``VERSION`` names this
layout: a model trained on another layout must be retrained.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from core import segment

VERSION = "numpy-hash-2"
N_FEATURES = 2**20  # columns of the word block, and of the character block
N_REPLY_FEATURES = 2**18
CHAR_NGRAMS = (1, 2, 3)
REPLY_COLUMNS = slice(2 * N_FEATURES, 2 * N_FEATURES + N_REPLY_FEATURES)
N_COLUMNS = REPLY_COLUMNS.stop

_BASE = np.uint64(0x100000001B3)  # odd, so it has an inverse modulo 2**64
_INVERSE = np.uint64(pow(int(_BASE), -1, 2**64))
_KINDS = {"word": 1, "pair": 2, **{f"char{n}": 2 + n for n in CHAR_NGRAMS}}  # keeps the kinds' hashes apart


def _powers(base: np.uint64, n: int) -> np.ndarray:
    """base**0 .. base**(n-1) modulo 2**64 (numpy's uint64 products wrap around)."""
    out = np.full(n, base, dtype=np.uint64)
    out[:1] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(out, dtype=np.uint64)


class _Codes:
    """The characters of many strings laid end to end, with prefix sums that give the
    polynomial hash of any slice in constant time."""

    def __init__(self, strings: list[str]):
        joined = "".join(strings)
        self.codes = codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
        self.lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        self.ends = np.cumsum(self.lengths)
        with np.errstate(over="ignore"):
            self._prefix = np.concatenate(([np.uint64(0)], np.cumsum(codes * _powers(_BASE, len(codes)),
                                                                     dtype=np.uint64)))
        self._inverse = _powers(_INVERSE, len(codes) + 1)

    def hashes(self, starts: np.ndarray, ends: np.ndarray, kind: str) -> np.ndarray:
        """A well-mixed 64-bit hash of each slice ``[start, end)``, different per ``kind``."""
        with np.errstate(over="ignore"):
            h = (self._prefix[ends] - self._prefix[starts]) * self._inverse[starts]
            return _mix(h + np.uint64(_KINDS[kind]) * np.uint64(0x9E3779B97F4A7C15))


def _mix(h: np.ndarray) -> np.ndarray:
    """The finaliser of MurmurHash3 (64-bit): every input bit moves every output bit."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint64(33))
        h = h * np.uint64(0xFF51AFD7ED558CCD)
        h = h ^ (h >> np.uint64(33))
        h = h * np.uint64(0xC4CEB9FE1A85EC53)
        return h ^ (h >> np.uint64(33))


def _columns(h: np.ndarray, n: int, offset: int) -> np.ndarray:
    return (h & np.uint64(n - 1)).astype(np.int64) + offset


@lru_cache(maxsize=1)
def _wordlike_bmp() -> np.ndarray:
    """For each code point of the Basic Multilingual Plane, whether ``segment.words``
    counts a token holding it as a word (a letter, digit, underscore or CJK character)."""
    return np.fromiter((bool(segment.WORDLIKE.match(chr(c))) for c in range(0x10000)), dtype=bool, count=0x10000)


def _wordlike(codes: np.ndarray) -> np.ndarray:
    flags = _wordlike_bmp()[np.minimum(codes, 0xFFFF)]
    for i in np.flatnonzero(codes > 0xFFFF):  # emoji and rare characters: few
        flags[i] = bool(segment.WORDLIKE.match(chr(int(codes[i]))))
    return flags


def _lowered(tokens: list[str]) -> tuple[str, list[str]]:
    """A post's text lower-cased, and its tokens with the same boundaries in it."""
    text = "".join(tokens)
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered, tokens
    tokens = [t.lower() for t in tokens]  # a character whose lower case is longer (İ)
    return "".join(tokens), tokens


class _Posts:
    """The lower-cased texts of a batch as one array of code points (``_Codes``), and
    where each token lies in it: a word's hash is its slice's, with no string per word."""

    def __init__(self, token_lists: list[list[str]]):
        lowered = [_lowered(tokens) for tokens in token_lists]
        self.codes = _Codes([text for text, _ in lowered])
        tokens = [t for _, ts in lowered for t in ts if t]  # an empty token has no slice (jieba gives none)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        self.token_ends = np.cumsum(lengths)
        self.token_starts = self.token_ends - lengths
        self.token_rows = np.repeat(np.arange(len(token_lists)), [len(ts) - ts.count("") for _, ts in lowered])

    def word_entries(self, pairs: bool, n: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns) of each word of each row (the tokens ``segment.words`` keeps),
        and of each pair of neighbouring words."""
        if not len(self.token_starts):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        # a token is a word if any of its characters is word-like (tokens are never empty here)
        kept = np.logical_or.reduceat(_wordlike(self.codes.codes), self.token_starts)
        starts, ends, rows = self.token_starts[kept], self.token_ends[kept], self.token_rows[kept]
        h = self.codes.hashes(starts, ends, "word")
        all_rows, all_cols = [rows], [_columns(h, n, offset)]
        if pairs and len(rows) > 1:
            same_post = rows[1:] == rows[:-1]
            with np.errstate(over="ignore"):
                pair = _mix(h[:-1][same_post] * np.uint64(31) + h[1:][same_post] + np.uint64(_KINDS["pair"]))
            all_rows.append(rows[1:][same_post])
            all_cols.append(_columns(pair, n, offset))
        return np.concatenate(all_rows), np.concatenate(all_cols)

    def char_entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns) of each character n-gram of each text."""
        codes = self.codes
        row_of = np.repeat(np.arange(len(codes.lengths)), codes.lengths)
        end_of = np.repeat(codes.ends, codes.lengths)
        positions = np.arange(len(codes.codes))
        all_rows, all_cols = [], []
        for n in CHAR_NGRAMS:
            inside = positions + n <= end_of  # n-grams never run from one text into the next
            starts = positions[inside]
            all_rows.append(row_of[inside])
            all_cols.append(_columns(codes.hashes(starts, starts + n, f"char{n}"), N_FEATURES, N_FEATURES))
        return np.concatenate(all_rows), np.concatenate(all_cols)


def _sublinear_counts(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> sp.csr_matrix:
    """The CSR matrix of how often each (row, column) occurs, as ``1 + log(count)``:
    one sort of the entries' keys (scipy's COO conversion and duplicate summing took
    three times as long)."""
    keys = np.sort(rows * N_COLUMNS + cols)
    first = np.ones(len(keys), dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=len(keys)).astype(np.float32)
    keys = keys[starts]
    key_rows = keys // N_COLUMNS
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(key_rows, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((1 + np.log(counts), keys - key_rows * N_COLUMNS, indptr), shape=(n_rows, N_COLUMNS))


def featurize(token_lists: list[list[str]], replies: list[list[list[str]]] | None = None) -> sp.csr_matrix:
    """Hashed words, word pairs and character n-grams, then reply words, one row per post:
    each feature's count ``n`` as ``1 + log(n)`` (sublinear term frequency), in float32."""
    posts = _Posts(token_lists)
    reply_tokens = _Posts([[t for tokens in post for t in tokens] for post in replies or []])
    rows, cols = zip(
        posts.word_entries(True, N_FEATURES, 0),
        posts.char_entries(),
        reply_tokens.word_entries(False, N_REPLY_FEATURES, REPLY_COLUMNS.start),
    )
    return _sublinear_counts(np.concatenate(rows), np.concatenate(cols), len(token_lists))
