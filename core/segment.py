"""Chinese word segmentation, the same for tagging and for reading queries.

jieba's dictionary and algorithm with a power-sector user dictionary. ``rjieba`` (a Rust
port of jieba) gives the same tokens many times faster; the pure-Python ``jieba`` is the
fallback where rjieba cannot be imported. jieba keeps its prefix-dictionary cache in the
folder given to ``configure`` (the home's cache), never in /tmp.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from core.schema import without_surrogates

USER_DICT = Path(__file__).with_name("data") / "power_dict.txt"

# A token worth indexing holds at least one letter, digit or CJK character.
WORDLIKE = re.compile(r"[\w\u3400-\u9fff]")

_cache_dir: Path | None = None


def configure(cache_dir: Path) -> None:
    """Where the fallback jieba keeps its dictionary cache."""
    global _cache_dir
    _cache_dir = Path(cache_dir)


def _user_words():
    for line in USER_DICT.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts:
            yield parts[0], int(parts[1]) if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None


@lru_cache(maxsize=1)
def _engine():
    """(name, segmenter) with the user dictionary loaded."""
    try:
        import rjieba
    except ImportError:
        rjieba = None
    if rjieba is not None:
        seg = rjieba.Jieba()
        for word, freq, tag in _user_words():
            seg.add_word(word, freq, tag)
        return "rjieba", seg
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    seg = jieba.Tokenizer()
    if _cache_dir is not None:
        _cache_dir.mkdir(parents=True, exist_ok=True)
        seg.tmp_dir = str(_cache_dir)
    for word, freq, tag in _user_words():
        seg.add_word(word, freq, tag)
    return "jieba", seg


def engine_name() -> str:
    return _engine()[0]


def cut(text: str) -> list[str]:
    """Words in jieba's precise mode, blanks included (as jieba returns them)."""
    name, seg = _engine()
    if name != "rjieba":
        return seg.lcut(without_surrogates(text))  # both give a new list
    try:
        return seg.cut(text)
    except UnicodeEncodeError:  # a lone surrogate (half an emoji), which Rust strings cannot hold
        return seg.cut(without_surrogates(text))


def words(tokens: list[str]) -> list[str]:
    """Lower-cased tokens that carry meaning: no blanks, no punctuation."""
    # isalnum() answers for most tokens at C speed; the pattern only sees the others
    return [t.lower() for t in tokens if t.isalnum() or WORDLIKE.search(t)]


def query_terms(text: str) -> list[str]:
    """The words of a query, each of which a matching post must contain."""
    return words(cut(text))
