"""Text features for the classifiers: words and word pairs, plus character 1-3-grams,
then the words of the post's earliest replies in a block of their own.

Features are hashed (no vocabulary), so they are stateless: the pipeline computes them
once per batch and every classifier reads the same matrix. A post enters as its list of
tokens from ``core.segment.cut``, the words of its spaCy Doc, and its replies as token
lists too (a post with none has an empty reply block). The analyzers are module-level so
that trained models pickle and load. ``VERSION`` names this layout: a model trained on
another layout must be retrained.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from core import segment

VERSION = "words-chars-replies-1"
N_FEATURES = 2**20
N_REPLY_FEATURES = 2**18


def word_features(tokens: list[str]) -> list[str]:
    words = segment.words(tokens)
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def joined(tokens: list[str]) -> str:
    return "".join(tokens)


def reply_words(replies: list[list[str]]) -> list[str]:
    return [word for tokens in replies for word in segment.words(tokens)]


_WORDS = HashingVectorizer(analyzer=word_features, n_features=N_FEATURES, alternate_sign=False, norm=None)
_CHARS = HashingVectorizer(
    analyzer="char", preprocessor=joined, ngram_range=(1, 3), n_features=N_FEATURES, alternate_sign=False, norm=None
)


_REPLIES = HashingVectorizer(analyzer=reply_words, n_features=N_REPLY_FEATURES, alternate_sign=False, norm=None)
REPLY_COLUMNS = slice(2 * N_FEATURES, 2 * N_FEATURES + N_REPLY_FEATURES)


def featurize(token_lists: list[list[str]], replies: list[list[list[str]]] | None = None) -> sp.csr_matrix:
    """Hashed counts of words, word pairs and character n-grams, then of reply words, one row per post."""
    replies = replies if replies is not None else [[] for _ in token_lists]
    blocks = [_WORDS.transform(token_lists), _CHARS.transform(token_lists), _REPLIES.transform(replies)]
    return sp.hstack(blocks, format="csr")


def has_replies(features: sp.csr_matrix) -> np.ndarray:
    """For each row, whether its reply block holds anything."""
    return features[:, REPLY_COLUMNS].getnnz(axis=1) > 0


def classifier(c: float = 4.0) -> Pipeline:
    """TF-IDF weighting of the hashed counts, then class-balanced logistic regression."""
    return Pipeline(
        [
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
            # saga converges in seconds on 2 million hashed columns where lbfgs takes minutes
            ("classify", LogisticRegression(C=c, solver="saga", max_iter=100, tol=1e-3, class_weight="balanced",
                                           random_state=0)),
        ]
    )


class ReplyAwareClassifier:
    """A post's earliest replies say much about a rumor (谣言, 假的, 求证 ...), but a new
    post has none yet: one model reads the text and the replies, a second the text alone,
    and each post is judged by the one that fits what it has."""

    def __init__(self, with_replies: Pipeline, text_only: Pipeline):
        self.with_replies = with_replies
        self.text_only = text_only
        self.classes_ = with_replies.classes_

    @staticmethod
    def text_block(features: sp.csr_matrix) -> sp.csr_matrix:
        return features[:, : REPLY_COLUMNS.start]

    def predict_proba(self, features: sp.csr_matrix) -> np.ndarray:
        out = self.text_only.predict_proba(self.text_block(features))
        rows = np.flatnonzero(has_replies(features))
        if len(rows):
            out[rows] = self.with_replies.predict_proba(features[rows])
        return out

    def predict(self, features: sp.csr_matrix) -> np.ndarray:
        return self.classes_[self.predict_proba(features).argmax(axis=1)]
