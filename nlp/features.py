"""Text features for the classifiers: words and word pairs, plus character 1-3-grams.

Features are hashed (no vocabulary), so they are stateless: the pipeline computes them
once per batch and every classifier reads the same matrix. A post enters as its list of
tokens from ``core.segment.cut``, the words of its spaCy Doc. The analyzers are
module-level so that trained models pickle and load.
"""

from __future__ import annotations

import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from core import segment

N_FEATURES = 2**20


def word_features(tokens: list[str]) -> list[str]:
    words = segment.words(tokens)
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def joined(tokens: list[str]) -> str:
    return "".join(tokens)


_WORDS = HashingVectorizer(analyzer=word_features, n_features=N_FEATURES, alternate_sign=False, norm=None)
_CHARS = HashingVectorizer(
    analyzer="char", preprocessor=joined, ngram_range=(1, 3), n_features=N_FEATURES, alternate_sign=False, norm=None
)


def featurize(token_lists: list[list[str]]) -> sp.csr_matrix:
    """Hashed counts of words, word pairs and character n-grams, one row per post."""
    return sp.hstack([_WORDS.transform(token_lists), _CHARS.transform(token_lists)], format="csr")


def classifier(c: float = 4.0) -> Pipeline:
    """TF-IDF weighting of the hashed counts, then class-balanced logistic regression."""
    return Pipeline(
        [
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
            # saga converges in seconds on 2 million hashed columns where lbfgs takes minutes
            ("classify", LogisticRegression(C=c, solver="saga", max_iter=50, tol=1e-3, class_weight="balanced")),
        ]
    )
