"""Near-duplicate clusters: the batch-wise signatures and the store's bulk clustering give
exactly the clusters of a plain, post-by-post reading of the rules."""

import hashlib
import itertools
import random
import struct

from sqlalchemy import event

from core import near_duplicates
from core.schema import make_post
from core.store import Store
from crisiswatch import importer
from tests.conftest import DATA, need

MASK = (1 << 64) - 1


def plain_signature(text: str) -> list[int] | None:
    """MinHash of the text's 3-grams in plain Python integers, one text at a time."""
    folded = near_duplicates.fold(text)
    if len(folded) < near_duplicates.MIN_CHARS:
        return None
    codes = [ord(c) for c in folded]
    hashed = [mix((a << 42) ^ (b << 21) ^ c) for a, b, c in zip(codes, codes[1:], codes[2:])]
    return [min((((h * int(a)) + int(b)) & MASK) >> 32 for h in hashed)
            for a, b in zip(near_duplicates._A, near_duplicates._B)]


def mix(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK
    return value ^ (value >> 31)


def plain_band_keys(signature: list[int]) -> list[int]:
    rows = near_duplicates.ROWS
    return [int.from_bytes(hashlib.blake2b(bytes([band]) + struct.pack(f"<{rows}I", *signature[band * rows:][:rows]),
                                           digest_size=8).digest(), "little", signed=True)
            for band in range(near_duplicates.BANDS)]


def plain_clusters(posts: list[tuple[str, str]]) -> list[str | None]:
    """The cluster of each (content hash, text), read in order: none for a wordless repost,
    else the cluster of an earlier equal text, else the first by name of the earlier
    clusters that share a band key with it and are similar enough, else its own."""
    cluster_of: dict[str, str | None] = {}
    with_key: dict[int, list[tuple[str, list[int]]]] = {}
    for own, text in posts:
        if own in cluster_of:
            continue
        if near_duplicates.is_repost_marker(text):
            cluster_of[own] = None
            continue
        signature = plain_signature(text)
        cluster = None
        if signature:
            keys = plain_band_keys(signature)
            near = {name: other for key in keys for name, other in with_key.get(key, ())}
            similar = [name for name, other in near.items()
                       if sum(map(int.__eq__, signature, other)) / len(signature) >= near_duplicates.MIN_SIMILARITY]
            cluster = min(similar, default=None)
        if cluster is None:
            cluster = own
            for key in plain_band_keys(signature) if signature else ():
                with_key.setdefault(key, []).append((own, signature))
        cluster_of[own] = cluster
    return [cluster_of[own] for own, _ in posts]


def stored_clusters(store) -> tuple[list[tuple[str, str]], list[str]]:
    """(content hash, text) of every stored post in id order, and their clusters."""
    posts = [store.get_post(number) for number in range(1, store.counts()[0].stored + 1)]
    return [(p["content_hash"], p["text"]) for p in posts], [p["cluster"] for p in posts]


AWKWARD = [
    "",
    "转发微博",
    "短",
    "http://t.cn/A6abcd" + "停电" * 15,  # a link is folded away
    "@供电小助手 " + "全市停电三天请提前储水" * 3,
    "ǅ İstanbul straße ＡＢＣ" * 3,  # case folding that changes the length
    "a_b_c-d.e!f" * 5,
    "😷口罩" * 12,  # astral characters
    "第一行\n第二行\t第三行 " * 4,
    "x\x00y" * 20,  # NUL, which separates a batch's texts: this batch goes text by text
]


def test_batch_signatures_and_band_keys_are_those_of_one_text_at_a_time():
    texts = AWKWARD + [f"{text}{number}" for number, text in enumerate(AWKWARD)]
    for batch in (texts, texts[:-2], [t for t in texts if "\x00" not in t], [texts[3]], []):
        numbers, signatures = near_duplicates.signatures(batch)
        keys = near_duplicates.band_keys(signatures)
        expected = [(number, plain_signature(text)) for number, text in enumerate(batch) if plain_signature(text)]
        assert numbers.tolist() == [number for number, _ in expected]
        assert signatures.tolist() == [signature for _, signature in expected]
        assert keys.tolist() == [plain_band_keys(signature) for _, signature in expected]
        assert near_duplicates.from_bytes(near_duplicates.to_bytes(signatures)).tolist() == signatures.tolist()


RUMOR = "【紧急通知】今晚8点起全市大面积停电三天，请大家提前储水储粮，家里有老人孩子的注意安全，转发扩散！"
NOTICE = "供电公司通知：受台风影响，东湖区部分线路今晚抢修，预计明早六点前恢复供电，请市民做好准备。"


def hand_made() -> list[str]:
    """Near-duplicates of two texts and blends of them (similar to both), in five orders."""
    variants = [
        RUMOR, RUMOR + " @供电小助手 http://t.cn/A6abcd", RUMOR.replace("8点", "9点"), "　" + RUMOR.replace("，", ","),
        NOTICE, NOTICE.replace("六点", "七点") + "#停电#", NOTICE[:30] + RUMOR[:30], RUMOR[:35] + NOTICE[20:],
        RUMOR[:25] + NOTICE[25:], "转发微博", "转发微博", RUMOR,
    ]
    return [text for order in itertools.islice(itertools.permutations(variants), 0, 4000, 997) for text in order]


def test_the_store_clusters_as_the_plain_reading_does(store):
    texts = hand_made()
    for start in range(0, len(texts), 7):  # clusters made in the same batch and in earlier ones
        store.upsert_posts([make_post(platform="weibo", platform_id=f"h{start + n}", text=text)
                            for n, text in enumerate(texts[start:start + 7])])
    posts, clusters = stored_clusters(store)
    assert clusters == plain_clusters(posts)
    assert 1 < len(set(clusters)) < len({own for own, _ in posts})  # near-duplicates were grouped


def test_real_posts_are_clustered_as_the_plain_reading_does(tmp_path, monkeypatch):
    files = sorted(need(DATA / "weibo_covid_2020").glob("*.csv.gz"))
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setattr(importer, "BATCH", 700)  # clusters made in the same batch and in earlier ones
    importer.import_files(store, files, limit=3000)
    posts, clusters = stored_clusters(store)
    assert clusters == plain_clusters(posts)
    grouped = {}
    for (own, _), cluster in zip(posts, clusters):
        grouped.setdefault(cluster, set()).add(own)
    assert sum(len(texts) > 1 for texts in grouped.values()) > 100  # clusters of texts that differ
    store.close()


def test_a_batch_is_clustered_in_a_fixed_number_of_statements(store):
    """A whole batch's texts and band keys are looked up at once, not in a query per few
    hundred: 2,000 unrelated posts (24,000 band keys) take the statements that 20 take."""
    rng = random.Random(7)
    statements = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    counts = []
    for size in (20, 2000):
        statements.clear()
        store.upsert_posts([make_post(platform="weibo", platform_id=f"{size}-{n}",
                                      text="".join(rng.choice(RUMOR + NOTICE) for _ in range(40)))
                            for n in range(size)])
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 8
