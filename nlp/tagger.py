"""The tag stage: tag every untagged post in the store, a batch per transaction; then
find again the places and organisations of posts tagged without the current NER model."""

from __future__ import annotations

from spacy.language import Language

from core.near_duplicates import EMPTY_REPOST
from core.schema import Tags
from core.store import Store
from nlp.datasets import REPLIES_PER_POST
from nlp import places
from nlp.pipeline import collector_spared, model_version, tags_of


def tag_pending(store: Store, nlp: Language, batch_size: int = 1000, progress=None, limit: int | None = None) -> int:
    """Tag untagged posts until none are left (or ``limit`` are done); returns how many."""
    version = model_version(nlp)
    done, after = 0, 0
    with collector_spared():
        while limit is None or done < limit:
            rows = store.posts_to_tag(after, batch_size if limit is None else min(batch_size, limit - done))
            if not rows:
                break
            replies = store.reply_texts([post_id for post_id, _ in rows], REPLIES_PER_POST)
            docs = []
            for post_id, text in rows:
                doc = nlp.make_doc(text)
                tags_of(doc).replies = [_as_trained(reply) for reply in replies.get(post_id, [])]
                docs.append(doc)
            store.save_tags([_tags(post_id, doc, version)
                             for (post_id, _), doc in zip(rows, nlp.pipe(docs, batch_size=batch_size))])
            after = rows[-1][0]
            done += len(rows)
            if progress is not None:
                progress.update(len(rows))
    return done


def _as_trained(reply: str) -> str:
    """A reply as the rumor model was trained on it: CED gives a wordless repost as "",
    which the store keeps as Weibo shows it ("转发微博")."""
    return "" if reply == EMPTY_REPOST else reply


def places_version(nlp: Language) -> str | None:
    """How a model version ends when the post's places and organisations were found with
    this pipeline's gazetteer and NER model; None without an NER model (nothing to redo)."""
    entities = nlp.get_pipe("crisiswatch_entities").entities
    return f"|{places.VERSION}|{entities.version}" if entities else None


def retag_places(store: Store, nlp: Language, batch_size: int = 1000, progress=None, limit: int | None = None) -> int:
    """Find again the places, organisations and locations of posts tagged without this
    pipeline's NER model (before it was trained, or with an older one); returns how many.

    Only the gazetteer and the NER model run: the other tags, and the versions of their
    models in the post's model version, stay. Each batch is one transaction, and a post
    is selected by its model version, so a run stopped anywhere resumes where it was."""
    version_end = places_version(nlp)
    if version_end is None:
        return 0
    gazetteer, entities = nlp.get_pipe("crisiswatch_places"), nlp.get_pipe("crisiswatch_entities")
    done, after = 0, 0
    with collector_spared():
        while limit is None or done < limit:
            rows = store.posts_to_retag(version_end, after, batch_size if limit is None else min(batch_size, limit - done))
            if not rows:
                break
            docs = []
            for _, text, topics, _ in rows:
                doc = nlp.make_doc(text)
                tags_of(doc).topics = dict.fromkeys(topics, 1.0)  # NER reads only whether a post has topics
                docs.append(gazetteer(doc))
            found = []
            for (post_id, _, _, version), doc in zip(rows, entities.pipe(docs, batch_size=batch_size)):
                t = tags_of(doc)
                found.append((post_id, t.places, t.organisations, t.locations, version.rsplit("|", 2)[0] + version_end))
            store.save_places(found)
            after = rows[-1][0]
            done += len(rows)
            if progress is not None:
                progress.update(len(rows))
    return done


def _tags(post_id: int, doc, version: str) -> Tags:
    t = tags_of(doc)
    return Tags(
        post_id=post_id, rumor_prob=t.rumor_prob, sentiment=t.sentiment, sentiment_score=t.sentiment_score,
        emotion=t.emotion, emotion_score=t.emotion_score, emotion_scores=t.emotion_scores,
        polarity=t.polarity, polarity_score=t.polarity_score, topics=sorted(t.topics), topic_scores=t.topics,
        places=t.places, organisations=t.organisations, locations=t.locations, model_version=version,
    )
