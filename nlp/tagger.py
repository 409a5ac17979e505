"""The tag stage: tag every untagged post in the store, a batch per transaction."""

from __future__ import annotations

from spacy.language import Language

from core.schema import Tags
from core.store import Store
from nlp.datasets import REPLIES_PER_POST
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
                tags_of(doc).replies = replies.get(post_id, [])
                docs.append(doc)
            store.save_tags([_tags(post_id, doc, version)
                             for (post_id, _), doc in zip(rows, nlp.pipe(docs, batch_size=batch_size))])
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
