"""The tag stage: tag every untagged post in the store, a batch per transaction."""

from __future__ import annotations

from spacy.language import Language

from core.schema import Tags
from core.store import Store
from nlp.pipeline import model_version


def tag_pending(store: Store, nlp: Language, batch_size: int = 1000, progress=None, limit: int | None = None) -> int:
    """Tag untagged posts until none are left (or ``limit`` are done); returns how many."""
    version = model_version(nlp)
    done, after = 0, 0
    while limit is None or done < limit:
        rows = store.posts_to_tag(after, batch_size if limit is None else min(batch_size, limit - done))
        if not rows:
            break
        docs = nlp.pipe((text for _, text in rows), batch_size=batch_size)
        store.save_tags(
            [
                Tags(
                    post_id=post_id,
                    rumor_prob=doc._.rumor_prob,
                    sentiment=doc._.sentiment,
                    sentiment_score=doc._.sentiment_score,
                    topics=sorted(doc._.topics),
                    model_version=version,
                )
                for (post_id, _), doc in zip(rows, docs)
            ]
        )
        after = rows[-1][0]
        done += len(rows)
        if progress is not None:
            progress.update(len(rows))
    return done
