"""The tagging pipeline: ``spacy.blank("zh")`` with the project's segmenter and components.

Each component reads the Doc and sets extensions; ``nlp.pipe`` hands components whole
batches, so the classifiers predict a batch at a time. The extensions are the fields of
one ``PostTags`` object per Doc (``tags_of``), which the components fill directly: each
``doc._`` access makes an object and each attribute through it costs a microsecond,
thirty times a post. The components are:

* ``crisiswatch_classifiers`` -> ``doc._.rumor_prob``, ``doc._.sentiment`` and
  ``doc._.emotion`` with their ``_score``s, ``doc._.emotion_scores`` (every emotion's
  probability) and ``doc._.polarity`` with its score (``nlp.polarity``); the rumor model
  also reads ``doc._.replies`` (the texts of the post's earliest replies, set by the
  caller; empty for a new post)
* ``crisiswatch_topics``      -> ``doc._.topics`` ({label: score}): keyword rules, plus the
  topics learnt from analysts' corrections (``doc._.learnt_topics``, set by the classifiers)
* ``crisiswatch_places``      -> ``doc._.places`` (administrative codes), ``doc._.organisations``
* ``crisiswatch_entities``    -> adds the NER model's organisations and places to those, and
  ``doc._.locations``: place names the gazetteer has no code for (a village, 幸福小区).
  It runs on posts with an outage topic (``scope = "topical"``, the default) or on all.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import cached_property
from itertools import islice
from pathlib import Path

import numpy as np
import spacy
from spacy.language import Language
from spacy.tokens import Doc

from core import segment
from nlp import ner, places, topics
from nlp.features import featurize
from nlp.models import load_model
from nlp.polarity import polarities
from nlp.topic_model import load_topic_models

MAX_TAG_CHARS = 5_000  # long articles are tagged on their head; the store keeps all


@dataclass(slots=True)
class PostTags:
    """What the components find out about one post (``doc._.<field>`` reads and writes them)."""

    replies: list[str] | None = None  # the texts of its earliest replies, set by the caller
    rumor_prob: float | None = None
    sentiment: str | None = None
    sentiment_score: float | None = None
    emotion: str | None = None
    emotion_score: float | None = None
    emotion_scores: dict[str, float] | None = None
    polarity: str | None = None
    polarity_score: float | None = None
    learnt_topics: dict[str, float] | None = None
    topics: dict[str, float] | None = None
    places: list[str] | None = None
    organisations: list[str] | None = None
    locations: list[str] | None = None


_TAGS = "crisiswatch.tags"  # the PostTags' key in Doc.user_data


def tags_of(doc: Doc) -> PostTags:
    tags = doc.user_data.get(_TAGS)
    if tags is None:
        tags = doc.user_data[_TAGS] = PostTags()
    return tags


for _field in fields(PostTags):
    if not Doc.has_extension(_field.name):
        Doc.set_extension(_field.name, getter=lambda doc, name=_field.name: getattr(tags_of(doc), name),
                          setter=lambda doc, value, name=_field.name: setattr(tags_of(doc), name, value))


class Segmenter:
    """A spaCy tokenizer that uses ``core.segment``: the Doc's words are jieba's words.

    The Doc is made from the words' ids in the vocabulary's string store, kept in a dict:
    from strings, spaCy hashed every word's UTF-8 again, a third of making a Doc."""

    def __init__(self, vocab):
        self.vocab = vocab
        self._ids: dict[str, int] = {}

    def _id(self, word: str) -> int:
        """A word new to the dict: added to the string store, its id kept."""
        self._ids[word] = self.vocab.strings.add(word)
        return self._ids[word]

    def __call__(self, text: str) -> Doc:
        words = segment.cut(text[:MAX_TAG_CHARS])  # jieba gives no empty word
        ids = self._ids
        doc = Doc(self.vocab, words=[ids.get(w) or self._id(w) for w in words], spaces=[False] * len(words))
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
        self.topic_models = load_topic_models(Path(models_dir))  # learnt from corrections, if any
        self._rumor_column = list(self.rumor.classifier.classes_).index("rumor")

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs, batch_size: int = 256):
        for batch in _batches(docs, batch_size):
            tags = [tags_of(doc) for doc in batch]
            replies = [[segment.cut(r[:MAX_TAG_CHARS]) for r in t.replies or []] for t in tags]
            words = [words_of(d) for d in batch]
            inputs = _Inputs(featurize(words, replies), words)
            rumor = inputs.probabilities(self.rumor.classifier)[:, self._rumor_column]
            sentiments, sentiment_labels = inputs.rounded(self.sentiment.classifier)
            emotions, emotion_labels = inputs.rounded(self.emotion.classifier)
            polarity = polarities(sentiments, sentiment_labels, emotions, emotion_labels)
            sentiment = _best(sentiments, sentiment_labels)
            emotion = _best(emotions, emotion_labels)
            learnt = self.topic_models.scores(inputs.features) if self.topic_models else [{} for _ in batch]
            for i, (t, emotion_scores) in enumerate(zip(tags, emotions.tolist())):
                t.learnt_topics = learnt[i]
                t.rumor_prob = float(rumor[i])
                t.sentiment, t.sentiment_score = sentiment[i]
                t.emotion, t.emotion_score = emotion[i]
                t.emotion_scores = dict(zip(emotion_labels, emotion_scores))
                t.polarity, t.polarity_score = polarity[i]
            yield from batch


@dataclass
class _Inputs:
    """A batch as the models read it: hashed features (TF-IDF models), or texts (a fine-tuned encoder)."""

    features: object
    words: list[list[str]]

    @cached_property
    def texts(self) -> list[str]:
        return ["".join(w) for w in self.words]

    def probabilities(self, classifier):
        if getattr(classifier, "reads_text", False):
            return classifier.predict_proba_texts(self.texts)
        return classifier.predict_proba(self.features)

    def rounded(self, classifier) -> tuple[np.ndarray, list[str]]:
        """Each row's probability per class, rounded as stored, and the classes."""
        return self.probabilities(classifier).round(4), [str(label) for label in classifier.classes_]


def _best(probabilities: np.ndarray, labels: list[str]) -> list[tuple[str, float]]:
    """The most likely class of each row and its probability."""
    best = probabilities.argmax(axis=1)
    return list(zip(np.array(labels)[best].tolist(), probabilities[np.arange(len(best)), best].tolist()))


class TopicsComponent:
    def __init__(self):
        self.taxonomy = topics.load_taxonomy()
        self.any_keyword = topics.keyword_pattern(self.taxonomy)

    def __call__(self, doc: Doc) -> Doc:
        text = "".join(words_of(doc))  # doc.text rebuilds Tokens
        scores = topics.topic_scores(text, self.taxonomy) if self.any_keyword.search(text) else {}
        tags = tags_of(doc)
        for label, score in (tags.learnt_topics or {}).items():
            scores[label] = max(scores.get(label, 0.0), score)
        tags.topics = scores
        return doc


class PlacesComponent:
    def __init__(self, local_places: str = ""):
        self.gazetteer = places.gazetteer(Path(local_places) if local_places else None)

    def __call__(self, doc: Doc) -> Doc:
        tags = tags_of(doc)
        tags.places, tags.organisations = self.gazetteer.find(words_of(doc))
        return doc


class EntitiesComponent:
    """The NER model, for the names the gazetteer misses (absent model: nothing added)."""

    def __init__(self, models_dir: str, scope: str, local_places: str = ""):
        self.entities = ner.load_entities(Path(models_dir))
        self.gazetteer = places.gazetteer(Path(local_places) if local_places else None)
        self.scope = scope

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs, batch_size: int = 256):
        for batch in _batches(docs, batch_size):
            tags = [tags_of(doc) for doc in batch]
            for t in tags:
                t.locations = []
            chosen = [i for i, t in enumerate(tags) if self.entities is not None and (self.scope == "all" or t.topics)]
            found = self.entities.find(["".join(words_of(batch[i])) for i in chosen]) if chosen else []
            for i, names in zip(chosen, found):
                self._add(tags[i], names)
            yield from batch

    def _add(self, tags: PostTags, names: list[tuple[str, str]]) -> None:
        for name, kind in names:
            if kind == "ORG" and name not in tags.organisations:
                tags.organisations.append(name)
            elif kind == "LOC":
                codes = self.gazetteer.codes_of(name)
                if codes:
                    tags.places.extend(c for c in codes if c not in tags.places)
                elif name not in tags.locations:
                    tags.locations.append(name)


@Language.factory("crisiswatch_classifiers", default_config={"models_dir": ""})
def make_classifiers(nlp, name, models_dir: str):
    return ClassifierComponent(models_dir)


@Language.factory("crisiswatch_topics")
def make_topics(nlp, name):
    return TopicsComponent()


@Language.factory("crisiswatch_places", default_config={"local_places": ""})
def make_places(nlp, name, local_places: str):
    return PlacesComponent(local_places)


@Language.factory("crisiswatch_entities", default_config={"models_dir": "", "scope": "topical", "local_places": ""})
def make_entities(nlp, name, models_dir: str, scope: str, local_places: str):
    if scope not in ("topical", "all"):
        raise ValueError(f"crisiswatch_entities scope must be 'topical' or 'all', not {scope!r}")
    return EntitiesComponent(models_dir, scope, local_places)


def build_pipeline(models_dir: Path, ner_scope: str = "topical", local_places: Path | None = None) -> Language:
    """``local_places``: a file of the home's own places, added to the gazetteer's."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"@tokenizers": "crisiswatch.Segmenter.v1"}}})
    # The components read the words, never a token's lexical attributes (like_num, shape ...):
    # computing those for each word new to the vocabulary was half the cost of making a Doc.
    nlp.vocab.lex_attr_getters = {}
    nlp.add_pipe("crisiswatch_classifiers", config={"models_dir": str(models_dir)})
    nlp.add_pipe("crisiswatch_topics")
    local = str(local_places) if local_places else ""
    nlp.add_pipe("crisiswatch_places", config={"local_places": local})
    nlp.add_pipe("crisiswatch_entities",
                 config={"models_dir": str(models_dir), "scope": ner_scope, "local_places": local})
    return nlp


@contextmanager
def collector_spared():
    """Around a long tagging run: the pipeline is hundreds of thousands of objects, and
    every full collection of the garbage collector walked them all (12 % of the tagging
    time; 4 % when frozen). Unfrozen afterwards, so that a pipeline dropped later is freed."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def model_version(nlp: Language) -> str:
    """One string naming every model the pipeline uses, stored with each post's tags."""
    c = nlp.get_pipe("crisiswatch_classifiers")
    entities = nlp.get_pipe("crisiswatch_entities").entities
    learnt = f"+{c.topic_models.version}" if c.topic_models else ""
    return "|".join((c.rumor.version, c.sentiment.version, c.emotion.version, topics.VERSION + learnt, places.VERSION,
                     entities.version if entities else "ner-none"))
