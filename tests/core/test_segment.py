import csv
import gzip
import itertools

import jieba

from core import segment
from tests.conftest import DATA, need


def test_power_sector_words_stay_whole():
    assert segment.query_terms("台区负荷过高，今晚实施有序用电") == ["台区", "负荷", "过高", "今晚", "实施", "有序用电"]
    assert segment.query_terms("国家电网抢修") == ["国家电网", "抢修"]


def test_punctuation_and_blanks_are_not_terms():
    assert segment.query_terms("！！ 。。 ?? ~~") == []


def test_a_lone_surrogate_is_segmented_as_a_replacement_character():
    assert segment.cut("停电\ud83d了") == ["停电", "\ufffd", "了"]  # half an emoji, from a JSON escape


def test_rjieba_gives_jieba_tokens_on_real_posts(tmp_path):
    """The fast engine segments as jieba does (same dictionary, same words).

    Known difference, about 0.3 % of posts: rjieba keeps ASCII runs with symbols whole
    ("2019-nCoV") where jieba splits them.
    """
    files = sorted(need(DATA / "weibo_covid_2020").glob("*.csv.gz"))[::10]
    texts = []
    for path in files:  # 300 posts from every tenth day
        with gzip.open(path, "rt", encoding="gb18030", errors="replace") as handle:
            texts += [row[-1] for row in itertools.islice(csv.reader(handle), 1, 301) if row]
    reference = jieba.Tokenizer()
    reference.tmp_dir = str(tmp_path)
    for word, freq, tag in segment._user_words():
        reference.add_word(word, freq, tag)
    assert segment.engine_name() == "rjieba"
    different = [t for t in texts if segment.cut(t) != reference.lcut(t)]
    assert len(different) <= len(texts) * 0.01, different[:3]
