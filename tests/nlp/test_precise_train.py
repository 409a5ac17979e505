"""Training the precise tier (nlp.precise_train) on a tiny encoder saved here: `train
sentiment|emotion --tier precise` makes the models `tag --precise` loads (the card giving
the held-out figures of the model, the linear model and their stack), a stacker is kept
where it beats both models and the model then predicts with it, and a training killed
with SIGKILL resumes from its checkpoint, its step count going on."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from crisiswatch import stages
from nlp.precise import PreciseModel, model_dir, problem
from nlp.precise_train import CHECKPOINT, LEARNING_RATE, fit_stacking, learning_rate, split, train_precise, training_dir
from tests.conftest import REPO, cli
from tests.nlp.test_precise import SENTIMENTS, add_posts, precise_rows, save_tiny

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = {"sentiment": {"anger": "愤怒气死了", "anxiety": "担心害怕", "positive": "谢谢师傅", "weak_negative": "又停电了"},
         "emotion": {"anger": "愤怒", "fear": "害怕", "gratitude": "谢谢", "sadness": "难过"}}
CHARACTERS = "".join(dict.fromkeys("龙华区停电了美兰区抢修恢复供电0123456789 " + "".join(
    "".join(words.values()) for words in WORDS.values())))


@pytest.fixture
def encoder(tmp_path):
    """A five-layer BERT with random weights in the shared encoder's layout: one layer frozen, four trained."""
    folder = tmp_path / "encoder"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *CHARACTERS]) + "\n",
                                      encoding="utf-8")
    config = transformers.BertConfig(vocab_size=5 + len(CHARACTERS), hidden_size=16, num_hidden_layers=5,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=130,
                                     type_vocab_size=1, pad_token_id=0)
    torch.manual_seed(0)
    transformers.BertModel(config, add_pooling_layer=False).half().save_pretrained(folder)
    return folder


def labelled(tmp_path, task: str, per_label: int):
    path = tmp_path / f"{task}.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(per_label):
            for label, words in WORDS[task].items():
                writer.writerow([f"龙华区{words}{i}" + "美兰区" * (i % 7), label])
    return path


def test_the_split_is_80_10_10_and_stratified():
    labels = ["a"] * 80 + ["b"] * 20
    train, validation, test = split(labels)
    assert (len(train), len(validation), len(test)) == (80, 10, 10)
    assert sorted([*train, *validation, *test]) == list(range(100))
    assert [labels[i] for i in test].count("b") == 2 and [labels[i] for i in validation].count("b") == 2


def test_the_rate_warms_up_then_decays_to_zero_at_the_last_step_or_the_time_budgets_end():
    assert learning_rate(0, 100, 10, 0.0) == pytest.approx(LEARNING_RATE / 10)
    assert learning_rate(50, 100, 10, 0.2) == pytest.approx(LEARNING_RATE / 2)  # the steps run out first
    assert learning_rate(50, 100, 10, 0.9) == pytest.approx(LEARNING_RATE / 10)  # the time runs out first
    assert learning_rate(50, 100, 10, 1.2) == 0.0


def test_a_short_fine_tune_makes_the_models_tag_precise_loads(home, encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("CRISISWATCH_ENCODER", str(encoder))
    store = stages.open_store(home)
    posts = add_posts(store, 5)
    store.close()
    assert "precise tier off" in cli("tag", "--precise", home=home, check=False).stderr

    for task in ("sentiment", "emotion"):
        result = cli("train", task, "--tier", "precise", "--data", str(labelled(tmp_path, task, 40)), home=home)
        assert result.stdout.startswith(f"{task}: {task}-precise-encoder-")
        assert "(held out, 16 examples)" in result.stdout and "macro-F1" in result.stdout
        assert f"{task}: epoch 1 step 4 " in result.stderr and "validation macro-F1" in result.stderr
        card = json.loads((model_dir(home.models_dir, task) / "card.json").read_text(encoding="utf-8"))
        assert card["labels"] == sorted(WORDS[task]) and card["encoder"] == str(encoder)
        assert set(card["held_out"]) == {"accuracy", "macro_f1", "per_class", "n"}
        assert card["recipe"]["frozen_layers"] == 1 and card["steps"] == 4 * card["epochs"]
        assert not training_dir(home.models_dir, task).exists()
        stacking = card["stacking"]
        assert set(stacking["held_out"]) == {"precise", "linear", "stacked"}
        chosen = stacking["validation_macro_f1"]
        assert stacking["stacked"] == (chosen["stacked"] > max(chosen["precise"], chosen["linear"]))
        assert card["held_out"] == stacking["held_out"]["stacked" if stacking["stacked"] else "precise"]
        assert (model_dir(home.models_dir, task) / "stacking.joblib").exists() == stacking["stacked"]

    assert cli("tag", "--precise", home=home).stdout == "re-tagged 5 posts precisely\n"
    assert set(precise_rows(home)) == set(posts)
    assert "--tier precise fine-tunes the encoder" in cli("train", "rumor", "--tier", "precise", home=home,
                                                          check=False).stderr


def test_a_stack_that_beats_both_models_is_kept_and_the_model_then_predicts_with_it(tmp_path):
    """The words tell positive from weak_negative but not anger from anxiety; the precise
    model (its probabilities made here) the other way round: only their stack gets all four."""
    models = tmp_path / "models"
    save_tiny(models, "sentiment", SENTIMENTS, "anger")
    folder = model_dir(models, "sentiment")
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    alone = PreciseModel(folder)
    words = {"anger": "担心又愤怒", "anxiety": "担心又愤怒", "positive": "谢谢师傅", "weak_negative": "又停电了"}

    def rows(count: int, start: int) -> tuple[list[str], list[str]]:
        pairs = [(f"{text}{start + i}", label) for i in range(count) for label, text in words.items()]
        return [text for text, _ in pairs], [label for _, label in pairs]

    train, validation = rows(30, 0), rows(20, 100)
    noise = np.random.default_rng(0).uniform(size=len(validation[1]))
    precise = np.array([[0.8, 0.1, 0.05, 0.05] if label == "anger" else [0.1, 0.8, 0.05, 0.05] if label == "anxiety"
                        else [0.05, 0.05, 0.45 + u / 10, 0.55 - u / 10] for label, u in zip(validation[1], noise)])
    stacking, chosen = fit_stacking("sentiment", *train, validation, precise)
    assert chosen["stacked"] > 0.95 and chosen["precise"] < 0.85 and chosen["linear"] < 0.85

    stacking.save(folder)
    stacked = PreciseModel(folder)
    assert stacked.version.startswith("sentiment:") and stacked.version != alone.version
    texts = ["谢谢师傅7", "又停电了", "龙华区停电了美兰区"]
    probabilities = stacked.predict_proba(texts)
    assert np.allclose(probabilities, stacking.predict_proba(alone.encoder_proba(texts), texts))
    assert np.allclose(probabilities.sum(axis=1), 1) and stacked.labels == card["labels"]

    card["stacking"] = {"stacked": True, "features": "numpy-hash-1"}  # a linear model of an older crisiswatch
    (folder / "card.json").write_text(json.dumps(card), encoding="utf-8")
    assert "stacks a linear model trained on older features" in problem(models)


def test_a_killed_training_resumes_from_its_checkpoint(encoder, tmp_path):
    data, models = labelled(tmp_path, "sentiment", 200), tmp_path / "models"
    child = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from nlp.precise_train import train_precise

        def say(message):  # slowed, so that the parent sees a checkpoint long before the end
            print(message, flush=True)
            time.sleep(0.05)

        train_precise("sentiment", Path({str(encoder)!r}), None, Path({str(models)!r}), data_file=Path({str(data)!r}),
                      checkpoint_seconds=0, say=say)
    """)
    process = subprocess.Popen([sys.executable, "-c", child], cwd=REPO, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in process.stdout:
        if line.startswith("sentiment: checkpoint at step 12"):
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert (training_dir(models, "sentiment") / CHECKPOINT).exists()
    assert not model_dir(models, "sentiment").exists()  # nothing half made where tag --precise reads

    said: list[str] = []
    card = train_precise("sentiment", encoder, tmp_path, models, data_file=data, say=said.append)
    [resumed] = [message for message in said if "resuming" in message]
    step = int(resumed.split("step ")[1].split(" ")[0])
    assert resumed.startswith("sentiment: resuming from epoch 1, step ") and step >= 12
    assert card["steps"] > step and card["history"][0]["epoch"] == 1
    assert (model_dir(models, "sentiment") / "model.safetensors").exists()
    assert not training_dir(models, "sentiment").exists()
