"""The classifiers over the hashed features: TF-IDF weighting and logistic regression.

scikit-learn fits them (``TfidfTransformer``, then class-balanced ``LogisticRegression``);
what is kept and used is the arithmetic they do, folded into one matrix. A row of
sublinear term frequencies ``x`` is weighted by the columns' idf and scaled to unit
length, then multiplied by the coefficients, so its scores are
``(x @ (coef * idf)) / |x * idf| + intercept``: one sparse product per model instead of
copying and re-weighting the batch's matrix for every model, and no model ever slices
the batch's columns. The probabilities are those of the fitted scikit-learn model (a
test holds them to it).

The regression is fitted to convergence (lbfgs) on the columns the training rows use, a
tenth of the hashed ones: saga stopped at 100 passes had chosen its regularisation by
where it stopped, and fell below a plain character TF-IDF baseline on sentiment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from nlp.features import N_COLUMNS, REPLY_COLUMNS


class SeenColumns(TransformerMixin, BaseEstimator):
    """Keeps the columns that the training rows use: the rest could only get zero weight,
    and leaving them out makes lbfgs's every step ten times smaller. A column unseen in
    training is dropped before TF-IDF, as a vocabulary would drop an unknown word."""

    def fit(self, x, y=None):
        self.columns_ = np.unique(sp.csr_matrix(x).indices)
        return self

    def transform(self, x):
        return sp.csr_matrix(x)[:, self.columns_]


def fitted_pipeline(x: sp.csr_matrix, labels, c: float = 4.0) -> Pipeline:
    """TF-IDF weighting of the (already sublinear) term frequencies, then logistic regression."""
    pipeline = Pipeline(
        [
            ("seen", SeenColumns()),
            ("tfidf", TfidfTransformer()),
            # to its optimum: lbfgs stops at scikit-learn's default tolerance (1e-4) a few steps short
            ("classify", LogisticRegression(C=c, tol=1e-5, max_iter=1000, class_weight="balanced")),
        ]
    )
    return pipeline.fit(x, labels)


@dataclass
class LinearModel:
    classes_: np.ndarray
    weights: np.ndarray  # (columns, scores): the coefficients times each column's idf, float32
    idf_squared: np.ndarray  # (columns,): each column's idf squared, for the length of a weighted row
    intercept: np.ndarray  # (scores,)

    @classmethod
    def of(cls, pipeline: Pipeline, columns: int = N_COLUMNS) -> LinearModel:
        """The model of a fitted pipeline, over ``columns`` columns: the columns it did not
        see in training (those of the reply block, for a model of the text block) get no
        weight and no share of a row's length."""
        seen = pipeline.named_steps["seen"].columns_
        idf = pipeline.named_steps["tfidf"].idf_
        regression = pipeline.named_steps["classify"]
        weights = np.zeros((columns, len(regression.coef_)), dtype=np.float32)
        weights[seen] = (regression.coef_ * idf).T
        idf_squared = np.zeros(columns, dtype=np.float32)
        idf_squared[seen] = idf**2
        return cls(regression.classes_, weights, idf_squared, regression.intercept_.astype(np.float32))

    def predict_proba(self, features: sp.csr_matrix) -> np.ndarray:
        squares = features.data**2 * self.idf_squared[features.indices]  # of the TF-IDF row's entries
        lengths = np.sqrt(np.bincount(_row_of_each_entry(features), squares, minlength=features.shape[0]))
        lengths[lengths == 0] = 1  # a row without features scores its intercept
        # float64 from here: stored probabilities are rounded, and float32's 0.1 is 0.10000000149
        scores = (np.asarray(features @ self.weights) / lengths[:, None] + self.intercept).astype(np.float64)
        if scores.shape[1] == 1:  # two classes: one score, for the second
            second = expit(scores[:, 0])
            return np.column_stack([1 - second, second])
        return softmax(scores, axis=1)

    def predict(self, features: sp.csr_matrix) -> np.ndarray:
        return self.classes_[self.predict_proba(features).argmax(axis=1)]


def fit(x: sp.csr_matrix, labels, c: float = 4.0) -> LinearModel:
    return LinearModel.of(fitted_pipeline(x, labels, c))


def _row_of_each_entry(features: sp.csr_matrix) -> np.ndarray:
    return np.repeat(np.arange(features.shape[0]), np.diff(features.indptr))


def has_replies(features: sp.csr_matrix) -> np.ndarray:
    """For each row, whether its reply block holds anything."""
    rows = _row_of_each_entry(features)
    return np.bincount(rows[features.indices >= REPLY_COLUMNS.start], minlength=features.shape[0]) > 0


class ReplyAwareClassifier:
    """A post's earliest replies say much about a rumor (谣言, 假的, 求证 ...), but a new
    post has none yet: one model reads the text and the replies, a second the text alone,
    and each post is judged by the one that fits what it has."""

    def __init__(self, with_replies: LinearModel, text_only: LinearModel):
        self.with_replies = with_replies
        self.text_only = text_only
        self.classes_ = with_replies.classes_

    @classmethod
    def fit(cls, x: sp.csr_matrix, labels, c: float) -> ReplyAwareClassifier:
        """Each model is fitted on the rows it will judge: the text model on the rows
        without replies, the other on the rows with some (either on all rows where the
        data has none of its kind). Rows may be views of one post at several times."""
        labels = np.asarray(labels)
        answered = has_replies(x)
        replied = np.flatnonzero(answered) if answered.any() else np.arange(len(labels))
        alone = np.flatnonzero(~answered) if not answered.all() else np.arange(len(labels))
        text_block = x[alone][:, : REPLY_COLUMNS.start]
        return cls(fit(x[replied], labels[replied], c), LinearModel.of(fitted_pipeline(text_block, labels[alone], c)))

    def predict_proba(self, features: sp.csr_matrix) -> np.ndarray:
        out = self.text_only.predict_proba(features)  # it gives the reply block no weight
        rows = np.flatnonzero(has_replies(features))
        if len(rows):
            out[rows] = self.with_replies.predict_proba(features[rows])
        return out

    def predict(self, features: sp.csr_matrix) -> np.ndarray:
        return self.classes_[self.predict_proba(features).argmax(axis=1)]
