"""Index terms: the batch tokenizer against a plain per-character reading of the rules, and
terms of rare characters found through each backend."""

import random

from core.schema import make_post
from core.store import Store
from indexes.analysis import CJK_RANGES, MAX_WORD_CHARS, index_texts, index_tokens, normalise
from indexes.indexer import index_pending
from indexes.query import SearchQuery
from indexes.results import search


def reference_terms(text: str) -> list[str]:
    """The rules of indexes.analysis, one character at a time."""
    text = normalise(text)

    def cjk(i):
        return 0 <= i < len(text) and any(low <= ord(text[i]) <= high for low, high in CJK_RANGES)

    def word(i):
        return 0 <= i < len(text) and text[i].isalnum() and not cjk(i)

    terms = []
    for i in range(len(text)):
        if cjk(i) and cjk(i + 1):
            terms.append(text[i : i + 2])
        elif cjk(i) and not cjk(i - 1):
            terms.append(text[i])
        elif word(i) and not word(i - 1):
            end = i
            while word(end):
                end += 1
            terms.append(text[i : min(end, i + MAX_WORD_CHARS)])
    return terms


def test_terms_follow_the_rules_on_awkward_text():
    rnd = random.Random(7)
    alphabet = "停电了抢修 abcZ9ＫＱ９ｋ_\n\t\x00🙂İß\U00020000\ud800，。-#@<>" + "".join(map(chr, range(0x3400, 0x3408)))
    texts = ["", "x" * 200 + "停", "Ｗｅｉｂｏ停电ＡＢＣ", "a\x00b", "停\x00电"]
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 60))) for _ in range(3000)]
    assert [t.split(" ") if t else [] for t in index_texts(texts)] == [reference_terms(t) for t in texts]
    assert index_texts([]) == []


def test_terms_of_a_post():
    assert index_tokens("国家电网：停电了，ＡＢＣ抢修9点完成") == [
        "国家", "家电", "电网", "停电", "电了", "abc", "抢修", "9", "点完", "完成"]
    assert index_tokens("停") == ["停"] and index_tokens("！") == [] and index_tokens("") == []


def test_extension_b_characters_are_indexed_and_found_as_characters(tmp_path, make_index):
    assert index_tokens("𠮷野家停电") == ["𠮷野", "野家", "家停", "停电"]  # not a "word" 𠮷 beside the pairs
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.upsert_posts([make_post(platform="weibo", platform_id=pid, text=text) for pid, text in
                        (("b1", "𠮷野家门口停电了"), ("b2", "野家停电"), ("b3", "𠮷𠮷停电"))])
    assert index_pending(store, make_index()) == 3
    for text, expected in (("𠮷", ["b1", "b3"]), ('"𠮷野家"', ["b1"]), ('"𠮷𠮷"', ["b3"]), ("野家", ["b1", "b2"])):
        page = search(store, make_index(), SearchQuery(text=text))
        assert sorted(hit.post["platform_id"] for hit in page.hits) == expected, text
