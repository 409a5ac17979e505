"""Fine-tuning the precise tier on a few CPU cores (``crisiswatch train sentiment|emotion --tier precise``).

The recipe, chosen to finish in under 20 minutes per task on 2 cores:

- a ``BertForSequenceClassification`` from the encoder, its head on ``[CLS]``;
- the embeddings and all but the top ``TRAINED_LAYERS`` layers frozen: their outputs are
  computed once per run (float16) and the top layers, pooler and head trained on them;
- the first ``MAX_CHARACTERS`` characters of a post (most posts are shorter), in batches of
  posts of about the same length, each padded to its longest only, taken in a new order
  every epoch;
- cross-entropy with class weights (inverse frequency)^0.5, as the encoder README's probe;
- at most ``MAX_EPOCHS`` epochs, stopped early when the validation macro-F1 has not risen
  for ``PATIENCE`` epochs, or when the time budget is spent; the best epoch's weights are
  kept. The learning rate warms up, then decays linearly to zero at the end of the last
  epoch or of the time budget, whichever comes first: on busy cores the budget is what
  ends training, and a rate that has not decayed by then leaves a worse model.

Then the fast tier's linear model is fitted on the same training rows (``nlp.train``'s own
fitting) and the two models' probabilities are mixed (``nlp.precise.mix``), the precise
model's share chosen for the best macro-F1 on the validation rows. (A logistic regression
on both models' log-probabilities did worse than either model alone: both are already
weighted for the small classes, and it learnt the classes' frequencies back.) The mix is
kept (``nlp.precise.Stacking``) only where its cross-validated macro-F1 on the validation
rows beats both models' own; the card gives the held-out figures of each and of the mix.

The task's file is split 80/10/10 (stratified, seed 42): training (plus the analysts'
corrections), validation (early stopping) and held-out figures (of the int8 model
``tag --precise`` uses). A checkpoint in ``<models>/precise-<task>.training/`` is replaced
atomically every ``checkpoint_seconds``, so a killed training resumes where it was; the
finished model replaces the previous one only once it is complete and measured.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from nlp.datasets import TRAINING_FILES, Labelled, read_labelled_csv
from nlp.encoder import CharTokenizer, load_encoder
from nlp.features import VERSION as FEATURES
from nlp.precise import STACKING, TASKS, PreciseModel, Stacking, mix, model_dir, save_model
from nlp.train import SEED, _fit, featurize_data, metrics

TRAINED_LAYERS = 4
MAX_CHARACTERS = 96
BATCH_SIZE = 32
LEARNING_RATE = 1e-4
WARMUP = 0.1  # of the first epoch's steps
MAX_EPOCHS = 6
PATIENCE = 2  # epochs without a better validation macro-F1 before stopping
WEIGHT_POWER = 0.5
CHECKPOINT = "checkpoint.pt"
SHARES = tuple(i / 10 for i in range(11))  # the precise model's shares in the mix tried


def training_dir(models_dir: Path, task: str) -> Path:
    return models_dir / f"precise-{task}.training"


def split(labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows for training, validation and held-out figures: 80/10/10, stratified, seed 42."""
    rows = np.arange(len(labels))
    train, rest = train_test_split(rows, test_size=0.2, random_state=SEED, stratify=labels)
    validation, test = train_test_split(rest, test_size=0.5, random_state=SEED, stratify=[labels[i] for i in rest])
    return train, validation, test


def class_weights(labels: list[str], classes: list[str]) -> np.ndarray:
    counts = np.array([labels.count(label) for label in classes], dtype=np.float64)
    weights = (counts.sum() / np.maximum(counts, 1)) ** WEIGHT_POWER
    return weights / weights.mean()


def batches_by_length(tokenizer: CharTokenizer, texts: list[str]) -> list[np.ndarray]:
    """Rows of ``texts`` in batches of about equal length: sorted by length, then cut."""
    lengths = np.array([min(len(text), MAX_CHARACTERS) for text in texts])
    order = np.argsort(lengths, kind="stable")
    return [order[start:start + BATCH_SIZE] for start in range(0, len(order), BATCH_SIZE)]


def learning_rate(step: int, steps: int, warmup: int, time_spent: float) -> float:
    """The rate at ``step`` of at most ``steps``: a linear warm-up over ``warmup`` steps, then
    a linear decay to zero at the last step or when the time (``time_spent``, the fraction
    used of the training's time) runs out, whichever is nearer."""
    return LEARNING_RATE * min(1.0, (step + 1) / warmup) * max(0.0, 1 - max(step / steps, time_spent))


def best_share(precise: np.ndarray, linear: np.ndarray, truth: np.ndarray, classes: np.ndarray) -> float:
    """The precise model's share in the mix that gives ``truth`` its best macro-F1."""
    return max(SHARES, key=lambda share: f1_score(truth, classes[mix(precise, linear, share).argmax(axis=1)],
                                                  average="macro"))


def fit_stacking(task: str, texts: list[str], labels: list[str], validation: tuple[list[str], list[str]],
                 precise: np.ndarray) -> tuple[Stacking | None, dict]:
    """The linear model fitted on the training rows and the mix's share chosen on the
    validation rows (``precise``: the precise model's probabilities of them), and the
    validation macro-F1 of each model alone and of the mix (cross-validated: each fold mixed
    with the share chosen on the others). No stacking (None) where the validation rows have
    too few of a class."""
    linear = _fit(task, featurize_data(Labelled(texts, labels)), labels)
    validation_texts, truth = validation[0], np.asarray(validation[1])
    classes = np.asarray(linear.classes_)
    linear_proba = linear.predict_proba(featurize_data(Labelled(validation_texts, [])))
    figures = {name: metrics(list(truth), list(classes[proba.argmax(axis=1)]))["macro_f1"]
               for name, proba in (("precise", precise), ("linear", linear_proba))}
    folds = min(5, min(int((truth == label).sum()) for label in classes) // 2)
    if folds < 2:
        return None, figures
    crossed = np.empty(len(truth), dtype=object)
    for fitted, rows in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(precise, truth):
        share = best_share(precise[fitted], linear_proba[fitted], truth[fitted], classes)
        crossed[rows] = classes[mix(precise[rows], linear_proba[rows], share).argmax(axis=1)]
    figures["stacked"] = metrics(list(truth), list(crossed))["macro_f1"]
    return Stacking(linear, best_share(precise, linear_proba, truth, classes)), figures


def stack(task: str, folder: Path, texts: list[str], labels: list[str], validation: tuple[list[str], list[str]],
          held_out: tuple[list[str], list[str]], say: Callable[[str], None] = print) -> dict:
    """Fit the stacking of the precise model in ``folder`` (int8, as ``tag --precise`` reads
    it), keep it there where it beats both models, and return the card's ``held_out`` (of
    the model as it now predicts) and ``stacking`` (the figures of each model and the mix)."""
    (folder / STACKING).unlink(missing_ok=True)
    tested = PreciseModel(folder)
    say(f"{task}: fitting the linear model on the training rows, the mix on the validation rows")
    stacking, chosen = fit_stacking(task, texts, labels, validation, tested.encoder_proba(validation[0]))
    figures = {"precise": tested.encoder_proba(held_out[0])}
    if stacking is not None:
        figures["linear"] = stacking.linear_proba(held_out[0])
        figures["stacked"] = mix(figures["precise"], figures["linear"], stacking.share)
    figures = {name: metrics(held_out[1], [tested.labels[i] for i in proba.argmax(axis=1)])
               for name, proba in figures.items()}
    stacked = "stacked" in chosen and chosen["stacked"] > max(chosen["precise"], chosen["linear"])
    if stacked:
        stacking.save(folder)
    say(f"{task}: validation macro-F1 " + ", ".join(f"{name} {f1}" for name, f1 in chosen.items())
        + (f"; stacked, the precise model's share {stacking.share:g}" if stacked else "; not stacked"))
    method = ("the weighted geometric mean of this model's probabilities and those of the fast tier's linear model "
              "fitted on the training rows, the precise model's share chosen on the validation rows")
    return {"held_out": figures["stacked" if stacked else "precise"],
            "stacking": {"stacked": stacked, "features": FEATURES, "method": method,
                         "share": stacking.share if stacking else None, "validation_macro_f1": chosen,
                         "held_out": figures}}


class Top:
    """The trained part of the classifier: the top layers, pooler and head, read from the
    frozen lower layers' cached outputs (the rest of the model is only run once)."""

    def __init__(self, model, frozen: int):
        import torch

        self.model, self.frozen = model, frozen
        self.modules = torch.nn.ModuleList([*model.bert.encoder.layer[frozen:], model.bert.pooler, model.classifier])
        for parameter in model.parameters():
            parameter.requires_grad = False
        for parameter in self.modules.parameters():
            parameter.requires_grad = True

    def lower(self, ids, mask):
        """The frozen part's output: embeddings and the lower layers."""
        hidden = self.model.bert.embeddings(input_ids=ids)
        extended = self.model.bert.get_extended_attention_mask(mask, mask.shape)
        for layer in self.model.bert.encoder.layer[:self.frozen]:
            hidden = layer(hidden, attention_mask=extended)[0]
        return hidden

    def logits(self, hidden, mask):
        extended = self.model.bert.get_extended_attention_mask(mask, mask.shape)
        for layer in self.model.bert.encoder.layer[self.frozen:]:
            hidden = layer(hidden, attention_mask=extended)[0]
        return self.model.classifier(self.model.dropout(self.model.bert.pooler(hidden)))


def train_precise(task: str, encoder_dir: Path, data_dir: Path, models_dir: Path, data_file: Path | None = None,
                  corrections: Labelled | None = None, minutes: float = 18.0, *, checkpoint_seconds: float = 60,
                  say: Callable[[str], None] = print) -> dict:
    """Fine-tune the encoder in ``encoder_dir`` for ``task`` within ``minutes`` (counted over
    every run resumed from the same checkpoint), save it where ``tag --precise`` reads it and
    return its card (``held_out``: accuracy, macro-F1 and per-class figures)."""
    import torch
    from transformers import BertForSequenceClassification

    if task not in TASKS:
        raise ValueError(f"the precise tier has {' and '.join(TASKS)} models, not {task}")
    path = Path(data_file) if data_file else Path(data_dir) / TRAINING_FILES[task]
    if not path.exists():
        raise FileNotFoundError(f"no training data for {task}: {path} is missing (set CRISISWATCH_DATA or --data)")
    started = time.monotonic()
    encoder = load_encoder(encoder_dir)  # checks the folder and its vocabulary
    data = read_labelled_csv(path)
    train_rows, validation_rows, test_rows = split(data.labels)
    texts = [data.texts[i] for i in train_rows] + (corrections.texts if corrections else [])
    labels = [data.labels[i] for i in train_rows] + (corrections.labels if corrections else [])
    classes = sorted(set(labels))
    validation = ([data.texts[i] for i in validation_rows], [data.labels[i] for i in validation_rows])
    digest = hashlib.sha1(path.read_bytes() + "\n".join(texts).encode()).hexdigest()[:8]

    torch.manual_seed(SEED)
    model = BertForSequenceClassification.from_pretrained(
        encoder_dir, local_files_only=True, num_labels=len(classes), id2label=dict(enumerate(classes)),
        label2id={label: i for i, label in enumerate(classes)}).float()
    frozen = max(0, model.config.num_hidden_layers - TRAINED_LAYERS)
    top = Top(model, frozen)
    optimizer = torch.optim.AdamW(top.modules.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    loss_of = torch.nn.CrossEntropyLoss(weight=torch.tensor(class_weights(labels, classes), dtype=torch.float32))

    folder = training_dir(models_dir, task)
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / CHECKPOINT
    run = {"encoder": str(Path(encoder_dir).resolve()), "data": digest, "classes": classes}
    state = torch.load(checkpoint, weights_only=True) if checkpoint.exists() else None
    if state is not None and state["run"] != run:
        say(f"{task}: the checkpoint in {folder} is of another encoder or data: starting afresh")
        state = None
    if state is None:
        state = {"run": run, "epoch": 0, "batch": 0, "step": 0, "seconds": 0.0, "best_f1": -1.0, "best": None,
                 "best_epoch": 0, "stale": 0, "stopped": False, "history": [], "training_from": None}
    else:
        top.modules.load_state_dict(state["top"])
        optimizer.load_state_dict(state["optimizer"])
        say(f"{task}: resuming from epoch {state['epoch'] + 1}, step {state['step']} "
            f"({state['seconds'] / 60:.1f} of {minutes:g} minutes spent)")
    already = state["seconds"]

    def spent() -> float:
        return already + time.monotonic() - started

    def save() -> None:
        state.update(top=top.modules.state_dict(), optimizer=optimizer.state_dict(), seconds=spent())
        partial = checkpoint.with_suffix(".partial")
        torch.save(state, partial)
        os.replace(partial, checkpoint)

    def cache(rows_texts: list[str]) -> list[tuple]:
        """Per batch of about equal length: its rows, the frozen part's output (float16) and mask."""
        out = []
        with torch.inference_mode():
            for rows in batches_by_length(encoder.tokenizer, rows_texts):
                ids, mask = encoder.tokenizer.pad([encoder.tokenizer.encode(rows_texts[i][:MAX_CHARACTERS])
                                                   for i in rows])
                ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
                out.append((rows, top.lower(ids, mask).half(), mask))
        return out

    def validation_f1() -> float:
        model.eval()
        predicted = np.empty(len(validation[0]), dtype=object)
        with torch.inference_mode():
            for rows, hidden, mask in validation_batches:
                predicted[rows] = [classes[i] for i in top.logits(hidden.float(), mask).argmax(-1).tolist()]
        model.train()
        return metrics(validation[1], list(predicted))["macro_f1"]

    if not state["stopped"]:
        model.eval()
        training_batches, validation_batches = cache(texts), cache(validation[0])
        targets = torch.tensor([classes.index(label) for label in labels])
        per_epoch = len(training_batches)
        say(f"{task}: {len(texts)} texts to train on ({len(validation[0])} to validate, {len(test_rows)} held out), "
            f"{frozen} of {model.config.num_hidden_layers} layers frozen and cached in {spent():.0f} s; "
            f"{per_epoch} batches an epoch, at most {MAX_EPOCHS} epochs in {minutes:g} minutes")
        model.train()
        total, warmup = MAX_EPOCHS * per_epoch, max(1, int(WARMUP * per_epoch))
        if state.get("training_from") is None:
            state["training_from"] = spent()  # the schedule's time runs from here to the budget's end
        training_time = max(1.0, minutes * 60 - state["training_from"])
        last_save = last_say = time.monotonic()
        losses: list[float] = []
        while not state["stopped"]:
            order = np.random.default_rng(SEED + state["epoch"]).permutation(per_epoch)
            while state["batch"] < per_epoch and spent() < minutes * 60:
                rows, hidden, mask = training_batches[order[state["batch"]]]
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(state["step"], total, warmup,
                                                (spent() - state["training_from"]) / training_time)
                loss = loss_of(top.logits(hidden.float(), mask), targets[rows])
                loss.backward()
                torch.nn.utils.clip_grad_norm_(top.modules.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
                losses.append(loss.item())
                state["batch"] += 1
                state["step"] += 1
                now = time.monotonic()
                if now - last_say >= 10:
                    say(f"{task}: epoch {state['epoch'] + 1}  step {state['step']}  loss {np.mean(losses[-50:]):.3f}  "
                        f"{spent() / 60:.1f}/{minutes:g} min")
                    last_say = now
                if now - last_save >= checkpoint_seconds:
                    save()
                    say(f"{task}: checkpoint at step {state['step']}")
                    last_save = now
            f1 = validation_f1()
            state["history"].append({"epoch": state["epoch"] + 1, "step": state["step"], "validation_macro_f1": f1})
            out_of_time = state["batch"] < per_epoch
            if f1 > state["best_f1"]:
                state.update(best_f1=f1, best={name: value.clone() for name, value in top.modules.state_dict().items()}, best_epoch=state["epoch"] + 1, stale=0)
            else:
                state["stale"] += 1
            say(f"{task}: epoch {state['epoch'] + 1} {'(cut short by the time budget) ' if out_of_time else ''}"
                f"step {state['step']}  loss {np.mean(losses[-per_epoch:] or [0]):.3f}  validation macro-F1 {f1:.4f}")
            state.update(epoch=state["epoch"] + 1, batch=0)
            state["stopped"] = out_of_time or state["stale"] >= PATIENCE or state["epoch"] >= MAX_EPOCHS
            save()

    top.modules.load_state_dict(state["best"])
    model.eval()
    staging = folder / "model"
    card = {
        "version": f"{task}-precise-{Path(encoder_dir).name}-{digest}",
        "backend": "precise",
        "encoder": str(Path(encoder_dir).resolve()),
        "data": str(path),
        "corrections": len(corrections.texts) if corrections else 0,
        "split": "80/10/10 stratified, seed 42: training (with the corrections), validation, held out",
        "recipe": {"trained_layers": TRAINED_LAYERS, "frozen_layers": frozen, "max_characters": MAX_CHARACTERS,
                   "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE, "max_epochs": MAX_EPOCHS,
                   "patience": PATIENCE, "class_weights": f"(inverse frequency)^{WEIGHT_POWER}",
                   "schedule": "warm-up, linear decay to the last epoch's or the time budget's end",
                   "minutes_budget": minutes},
        "epochs": state["epoch"], "best_epoch": state["best_epoch"], "steps": state["step"],
        "validation_macro_f1": state["best_f1"], "history": state["history"],
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    saved = save_model(staging, task, model, Path(encoder_dir) / "vocab.txt", card)
    card.update(stack(task, saved, texts, labels, validation,
                      ([data.texts[i] for i in test_rows], [data.labels[i] for i in test_rows]), say))
    card["minutes"] = round(spent() / 60, 2)
    say(f"{task}: held-out accuracy {card['held_out']['accuracy']}, macro-F1 {card['held_out']['macro_f1']}")
    saved = save_model(staging, task, model, Path(encoder_dir) / "vocab.txt", card)
    final = model_dir(models_dir, task)
    if final.exists():
        os.replace(final, folder / "previous")
    os.replace(saved, final)
    shutil.rmtree(folder)
    return {**card, "task": task}
