"""The tagging pipeline: ``spacy.blank("zh")`` with the project's segmenter and components.

Each component reads the Doc and sets an extension; ``nlp.pipe`` hands components whole
batches, so the classifiers predict a batch at a time. The components are:

* ``crisiswatch_classifiers`` -> ``doc._.rumor_prob``, ``doc._.sentiment``, ``doc._.sentiment_score``
* ``crisiswatch_topics``      -> ``doc._.topics`` ({label: score})
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from core import segment
from nlp import topics
from nlp.features import featurize
from nlp.models import load_model

MAX_TAG_CHARS = 5_000  # long articles are tagged on their head; the store keeps all

for _name, _default in (("rumor_prob", None), ("sentiment", None), ("sentiment_score", None), ("topics", None)):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=_default)


class Segmenter:
    """A spaCy tokenizer that uses ``core.segment``: the Doc's words are jieba's words."""

    def __init__(self, vocab):
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words = [w for w in segment.cut(text[:MAX_TAG_CHARS]) if w]
        return Doc(self.vocab, words=words, spaces=[False] * len(words))


@spacy.registry.tokenizers("crisiswatch.Segmenter.v1")
def create_segmenter():
    return lambda nlp: Segmenter(nlp.vocab)


def _batches(docs, size):
    docs = iter(docs)
    while batch := list(islice(docs, size)):
        yield batch


class ClassifierComponent:
    """Rumor and sentiment classifiers over one feature matrix computed per batch."""

    def __init__(self, models_dir: str):
        self.rumor = load_model(Path(models_dir), "rumor")
        self.sentiment = load_model(Path(models_dir), "sentiment")
        self._rumor_column = list(self.rumor.classifier.classes_).index("rumor")

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs, batch_size: int = 256):
        for batch in _batches(docs, batch_size):
            features = featurize([[t.text for t in d] for d in batch])
            rumor = self.rumor.classifier.predict_proba(features)[:, self._rumor_column]
            sentiment = self.sentiment.classifier.predict_proba(features)
            best = sentiment.argmax(axis=1)
            labels = self.sentiment.classifier.classes_
            for i, doc in enumerate(batch):
                doc._.rumor_prob = float(rumor[i])
                doc._.sentiment = str(labels[best[i]])
                doc._.sentiment_score = float(sentiment[i, best[i]])
                yield doc


class TopicsComponent:
    def __init__(self):
        self.taxonomy = topics.load_taxonomy()

    def __call__(self, doc: Doc) -> Doc:
        doc._.topics = topics.topic_scores(doc.text, self.taxonomy)
        return doc


@Language.factory("crisiswatch_classifiers", default_config={"models_dir": ""})
def make_classifiers(nlp, name, models_dir: str):
    return ClassifierComponent(models_dir)


@Language.factory("crisiswatch_topics")
def make_topics(nlp, name):
    return TopicsComponent()


def build_pipeline(models_dir: Path) -> Language:
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"@tokenizers": "crisiswatch.Segmenter.v1"}}})
    nlp.add_pipe("crisiswatch_classifiers", config={"models_dir": str(models_dir)})
    nlp.add_pipe("crisiswatch_topics")
    return nlp


def model_version(nlp: Language) -> str:
    """One string naming every model the pipeline uses, stored with each post's tags."""
    classifiers = nlp.get_pipe("crisiswatch_classifiers")
    return f"{classifiers.rumor.version}|{classifiers.sentiment.version}|{topics.VERSION}"
