"""Lexicon fallbacks, used only where no trained model exists, and marked as such.

They let the product run on a machine without the training data. They read the same
hashed features as the trained models (a cue word is one column of the word block), but
their scores are rough cue-word counts, not calibrated probabilities, and every tag they
make carries the version ``fallback-lexicon-*`` so analysts can tell.
"""

from __future__ import annotations

import numpy as np

from nlp.features import N_FEATURES, featurize


class _Lexicon:
    version = "fallback-lexicon-1"
    classes_: np.ndarray
    cues: dict[str, tuple[str, ...]]
    default: str

    def __init__(self):
        self._columns = {
            label: sorted({int(c) for word in words for c in featurize([[word]]).indices if c < N_FEATURES})
            for label, words in self.cues.items()
        }

    def predict_proba(self, features) -> np.ndarray:
        classes = list(self.classes_)
        hits = np.zeros((features.shape[0], len(classes)))
        for label, columns in self._columns.items():
            hits[:, classes.index(label)] = (features[:, columns] > 0).sum(axis=1).A1
        best = np.where(hits.max(axis=1) > 0, hits.argmax(axis=1), classes.index(self.default))
        strength = 1 - 0.5 ** (hits[np.arange(len(best)), best] + 1)
        out = np.repeat(((1 - strength) / (len(classes) - 1))[:, None], len(classes), axis=1)
        out[np.arange(len(best)), best] = strength
        return out


class RumorLexicon(_Lexicon):
    classes_ = np.array(["non-rumor", "rumor"])
    cues = {"rumor": ("网传", "听说", "据说", "内部消息", "紧急", "速转", "扩散", "千万", "震惊", "真相", "曝光")}
    default = "non-rumor"


class SentimentLexicon(_Lexicon):
    classes_ = np.array(["anger", "anxiety", "positive", "weak_negative"])
    cues = {
        "anger": ("愤怒", "气愤", "垃圾", "凭什么", "无耻", "骂", "滚", "混蛋", "恶心"),
        "anxiety": ("担心", "害怕", "焦虑", "怎么办", "着急", "恐慌", "急死", "慌"),
        "positive": ("感谢", "辛苦", "点赞", "加油", "致敬", "谢谢", "好样的", "暖心"),
    }
    default = "weak_negative"


class EmotionLexicon(_Lexicon):
    classes_ = np.array(["anger", "disgust", "fear", "gratitude", "optimism", "sadness", "surprise"])
    cues = {
        "anger": ("愤怒", "气愤", "凭什么", "无耻", "混蛋", "气死"),
        "disgust": ("恶心", "垃圾", "呵呵", "无语", "讨厌"),
        "fear": ("害怕", "恐慌", "担心", "可怕", "吓人", "怕"),
        "gratitude": ("感谢", "谢谢", "辛苦", "致敬", "感恩"),
        "optimism": ("加油", "相信", "希望", "会好的", "挺住"),
        "sadness": ("难过", "伤心", "心疼", "哭", "悲伤", "泪"),
        "surprise": ("竟然", "居然", "没想到", "震惊", "天哪"),
    }
    default = "optimism"


CLASSIFIERS = {"rumor": RumorLexicon, "sentiment": SentimentLexicon, "emotion": EmotionLexicon}
