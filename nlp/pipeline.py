"""The tagging pipeline: ``spacy.blank("zh")`` with the project's segmenter and components.

Each component reads the Doc and sets extensions; ``nlp.pipe`` hands components whole
batches, so the classifiers predict a batch at a time. The components are:

* ``crisiswatch_classifiers`` -> ``doc._.rumor_prob``, ``doc._.sentiment`` and
  ``doc._.emotion`` with their ``_score``s; the rumor model also reads ``doc._.replies``
  (the texts of the post's earliest replies, set by the caller; empty for a new post)
* ``crisiswatch_topics``      -> ``doc._.topics`` ({label: score})
* ``crisiswatch_places``      -> ``doc._.places`` (administrative codes), ``doc._.organisations``
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from core import segment
from nlp import places, topics
from nlp.features import featurize
from nlp.models import load_model

MAX_TAG_CHARS = 5_000  # long articles are tagged on their head; the store keeps all

for _name in ("rumor_prob", "sentiment", "sentiment_score", "emotion", "emotion_score", "topics",
              "places", "organisations", "replies"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


class Segmenter:
    """A spaCy tokenizer that uses ``core.segment``: the Doc's words are jieba's words."""

    def __init__(self, vocab):
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words = [w for w in segment.cut(text[:MAX_TAG_CHARS]) if w]
        doc = Doc(self.vocab, words=words, spaces=[False] * len(words))
        doc.user_data["words"] = words
        return doc


def words_of(doc: Doc) -> list[str]:
    """The Doc's words as strings: kept by the segmenter, since making a Token object per
    word to read its text cost a third of the pipeline's time."""
    words = doc.user_data.get("words")
    return words if words is not None else [t.text for t in doc]


@spacy.registry.tokenizers("crisiswatch.Segmenter.v1")
def create_segmenter():
    return lambda nlp: Segmenter(nlp.vocab)


def _batches(docs, size):
    docs = iter(docs)
    while batch := list(islice(docs, size)):
        yield batch


class ClassifierComponent:
    """Rumor, sentiment and emotion classifiers over one feature matrix computed per batch."""

    def __init__(self, models_dir: str):
        self.rumor = load_model(Path(models_dir), "rumor")
        self.sentiment = load_model(Path(models_dir), "sentiment")
        self.emotion = load_model(Path(models_dir), "emotion")
        self._rumor_column = list(self.rumor.classifier.classes_).index("rumor")

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs, batch_size: int = 256):
        for batch in _batches(docs, batch_size):
            replies = [[segment.cut(r[:MAX_TAG_CHARS]) for r in doc._.replies or []] for doc in batch]
            features = featurize([words_of(d) for d in batch], replies)
            rumor = self.rumor.classifier.predict_proba(features)[:, self._rumor_column]
            sentiment, sentiment_score = _best(self.sentiment.classifier, features)
            emotion, emotion_score = _best(self.emotion.classifier, features)
            for i, doc in enumerate(batch):
                doc._.rumor_prob = float(rumor[i])
                doc._.sentiment, doc._.sentiment_score = sentiment[i], sentiment_score[i]
                doc._.emotion, doc._.emotion_score = emotion[i], emotion_score[i]
                yield doc


def _best(classifier, features) -> tuple[list[str], list[float]]:
    """Each row's most likely class and its probability."""
    probabilities = classifier.predict_proba(features)
    best = probabilities.argmax(axis=1)
    labels = classifier.classes_
    return [str(labels[b]) for b in best], [float(probabilities[i, b]) for i, b in enumerate(best)]


class TopicsComponent:
    def __init__(self):
        self.taxonomy = topics.load_taxonomy()

    def __call__(self, doc: Doc) -> Doc:
        doc._.topics = topics.topic_scores("".join(words_of(doc)), self.taxonomy)  # doc.text rebuilds Tokens
        return doc


class PlacesComponent:
    def __init__(self):
        self.gazetteer = places.gazetteer()

    def __call__(self, doc: Doc) -> Doc:
        doc._.places, doc._.organisations = self.gazetteer.find(words_of(doc))
        return doc


@Language.factory("crisiswatch_classifiers", default_config={"models_dir": ""})
def make_classifiers(nlp, name, models_dir: str):
    return ClassifierComponent(models_dir)


@Language.factory("crisiswatch_topics")
def make_topics(nlp, name):
    return TopicsComponent()


@Language.factory("crisiswatch_places")
def make_places(nlp, name):
    return PlacesComponent()


def build_pipeline(models_dir: Path) -> Language:
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"@tokenizers": "crisiswatch.Segmenter.v1"}}})
    nlp.add_pipe("crisiswatch_classifiers", config={"models_dir": str(models_dir)})
    nlp.add_pipe("crisiswatch_topics")
    nlp.add_pipe("crisiswatch_places")
    return nlp


def model_version(nlp: Language) -> str:
    """One string naming every model the pipeline uses, stored with each post's tags."""
    c = nlp.get_pipe("crisiswatch_classifiers")
    return "|".join((c.rumor.version, c.sentiment.version, c.emotion.version, topics.VERSION, places.VERSION))
