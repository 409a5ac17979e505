"""Domain adaptation: the encoder's masked-language modelling continued on the store's own posts.

The shared encoder learnt its Chinese from COVID-era posts; an outage crisis speaks otherwise.
This goes on as its README says it was pretrained: one token per lower-cased character, packed
blocks of 128 characters framed by ``[CLS]`` and ``[SEP]``, 15 % of the characters masked
(80 % ``[MASK]``, 10 % a random character, 10 % kept). The folder holds the encoder without
its masked-LM head, so a fresh head is fitted first on the frozen encoder, then learns along
with it; the head lives in the checkpoint only, and the folder written has the source's
layout (``config.json``, ``model.safetensors``, ``vocab.txt``), which
:func:`nlp.encoder.load_encoder` reads. Packing starts each text after a ``[SEP]``; the README
does not say how texts were joined, so this is the one guess.

``minutes`` is the training time of the output folder in all: a killed run, or one given more
minutes, goes on from the checkpoint in that folder (weights, head, optimizer state, step).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.settings import REPO_ROOT
from nlp.encoder import CLS, FILES, SEP, UNK, CharTokenizer, EncoderUnavailable

CHECKPOINT = "pretrain-checkpoint.pt"
BLOCK = 128
MASK_ID = 4  # the README's [MASK]; ids below 5 are special and never masked
MASK_RATE = 0.15
LEARNING_RATE = 1e-4  # lower than pretraining's 7e-4: the encoder is adapted, not taught anew
WARMUP_STEPS = 30  # Adam's first steps, on estimates of one batch or two, kept small
HELD_OUT = 64  # blocks at most, kept out of training to measure the loss on (a few seconds on 2 cores)
HEAD_BLOCKS, HEAD_STEPS, HEAD_BATCH = 256, 100, 1024
SEED = 19


def refuse_inside_repository(out: Path) -> None:
    """Weights never go into the repository."""
    if out.resolve().is_relative_to(REPO_ROOT):
        raise ValueError(f"{out} is inside the repository {REPO_ROOT}: write the encoder outside it")


def pack(tokenizer: CharTokenizer, texts: Iterable[str]) -> np.ndarray:
    """The texts' characters one after another, ``[SEP]`` after each text, cut into rows of 128
    (the last, shorter part is left out)."""
    ids = [id_ for text in texts for id_ in (*(tokenizer.ids.get(c, UNK) for c in text.lower()), SEP)]
    rows = len(ids) // BLOCK
    return np.asarray(ids[:rows * BLOCK], dtype=np.int64).reshape(rows, BLOCK)


def mask(blocks, vocab_size: int, generator):
    """Inputs and labels for one batch of blocks: ``[CLS] block [SEP]`` with 15 % of the
    characters masked 80/10/10; labels are -100 (ignored) except where masked."""
    import torch

    ids = torch.nn.functional.pad(torch.as_tensor(blocks), (1, 0), value=CLS)
    ids = torch.nn.functional.pad(ids, (0, 1), value=SEP)
    chosen = (torch.rand(ids.shape, generator=generator) < MASK_RATE) & (ids > MASK_ID)
    roll = torch.rand(ids.shape, generator=generator)
    randoms = torch.randint(MASK_ID + 1, vocab_size, ids.shape, generator=generator)
    inputs = torch.where(chosen & (roll < 0.8), MASK_ID, ids)
    inputs = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), randoms, inputs)
    return inputs, torch.where(chosen, ids, -100)


@lru_cache(maxsize=2)
def _order(epoch: int, rows: int) -> np.ndarray:
    return np.random.default_rng((SEED, epoch)).permutation(rows)


def batch_rows(step: int, batch_size: int, rows: int) -> np.ndarray:
    """The training rows of a step: each pass over the blocks in its own shuffled order, so that
    a resumed run reads on where the killed one stopped."""
    positions = range(step * batch_size, (step + 1) * batch_size)
    return np.array([_order(p // rows, rows)[p % rows] for p in positions])


def held_out_loss(model, blocks: np.ndarray, device, batch_size: int) -> float:
    """The masked-LM loss on the held-out blocks, always masked alike (per masked character)."""
    import torch

    generator = torch.Generator().manual_seed(SEED)
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(blocks), batch_size):
            inputs, labels = mask(blocks[start:start + batch_size], model.config.vocab_size, generator)
            n = int((labels != -100).sum())
            if n:
                total += float(model(input_ids=inputs.to(device), labels=labels.to(device)).loss) * n
                count += n
    model.train()
    return total / max(count, 1)


def fit_head(model, blocks: np.ndarray, device, batch_size: int) -> None:
    """Fit the fresh masked-LM head alone on the frozen encoder's states of a few blocks, read
    once: trained with the encoder from the start, a random head's gradients would shake the
    encoder while it learns (on the shared encoder and CED posts, held-out loss 9.2 to 3.8 in
    about a minute on 2 cores, where 20 steps of the whole network reach only 8.6 in a minute
    and a half)."""
    import torch

    generator = torch.Generator().manual_seed(SEED + 1)
    states, targets = [], []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(blocks), batch_size):
            inputs, labels = mask(blocks[start:start + batch_size], model.config.vocab_size, generator)
            chosen = (labels != -100).to(device)
            states.append(model.bert(input_ids=inputs.to(device)).last_hidden_state[chosen])
            targets.append(labels.to(device)[chosen])
    states, targets = torch.cat(states), torch.cat(targets)
    head = model.cls.predictions
    optimizer = torch.optim.AdamW([p for name, p in head.named_parameters() if name != "decoder.weight"], lr=1e-3)
    for _ in range(HEAD_STEPS):  # the character embeddings (the decoder's weights) stay as they are
        rows = torch.randint(len(states), (HEAD_BATCH,), generator=generator).to(device)
        torch.nn.functional.cross_entropy(head(states[rows]), targets[rows]).backward()
        optimizer.step()
        model.zero_grad(set_to_none=True)
    model.train()


def pretrain(texts: Iterable[str], source: Path, out: Path, minutes: float, *,
             learning_rate: float = LEARNING_RATE, warmup_steps: int = WARMUP_STEPS, batch_size: int | None = None,
             max_steps: int | None = None, checkpoint_seconds: float = 120,
             say: Callable[[str], None] = print) -> dict:
    """Continue the masked-language modelling of the encoder in ``source`` on ``texts`` for
    ``minutes`` (counted over every run into ``out``) or ``max_steps`` if sooner, checkpointing
    every ``checkpoint_seconds``;
    the adapted encoder is written to ``out``. Returns what the run did."""
    refuse_inside_repository(out)
    if out.resolve() == source.resolve():
        raise ValueError("--out is the encoder started from: write the adapted encoder to a folder of its own")
    tokenizer = CharTokenizer.from_file(source / "vocab.txt")
    if tokenizer.ids.get("[MASK]") != MASK_ID:
        raise EncoderUnavailable(f"the vocabulary of {source} does not have [MASK] at line {MASK_ID}")
    blocks = pack(tokenizer, dict.fromkeys(texts))  # each distinct text once
    if len(blocks) < 2:
        raise ValueError("the store's posts make fewer than two blocks of 128 characters: nothing to learn from")
    blocks = blocks[np.random.default_rng(SEED).permutation(len(blocks))]
    held = min(HELD_OUT, len(blocks) // 10) or 1
    held_blocks, train_blocks = blocks[:held], blocks[held:]

    import torch
    from transformers import BertConfig, BertForMaskedLM, BertModel

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    batch_size = batch_size or (256 if device.type == "cuda" else 32)
    model = BertForMaskedLM(BertConfig.from_pretrained(source, local_files_only=True))
    model.bert = BertModel.from_pretrained(source, add_pooling_layer=False, local_files_only=True).float()
    model.tie_weights()  # the head's output layer is the new encoder's character embeddings
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)

    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / CHECKPOINT
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state["source"] != str(source.resolve()):
            raise ValueError(f"{out} holds a run from {state['source']}: "
                             "start it from there, or write to another folder")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        say(f"resuming from step {state['step']} ({state['seconds'] / 60:.1f} of {minutes:g} minutes trained)")
    else:
        state = {"source": str(source.resolve()), "step": 0, "seconds": 0.0,
                 "loss_before": held_out_loss(model, held_blocks, device, batch_size)}
        fit_head(model, train_blocks[:HEAD_BLOCKS], device, batch_size)
        state["loss_head_fitted"] = held_out_loss(model, held_blocks, device, batch_size)
    say(f"{len(train_blocks)} blocks of {BLOCK} characters from the store's posts ({held} held out), "
        f"on {device.type}, batch {batch_size}; held-out masked-LM loss {state['loss_before']:.3f} with a fresh "
        f"head, {state['loss_head_fitted']:.3f} with the head fitted")

    def save() -> None:
        state.update(model=model.state_dict(), optimizer=optimizer.state_dict())
        partial = checkpoint.with_suffix(".partial")
        torch.save(state, partial)
        os.replace(partial, checkpoint)

    budget = minutes * 60
    step, trained = state["step"], state["seconds"]
    started = last_save = last_say = time.monotonic()
    losses: list[float] = []
    max_steps = max_steps or float("inf")
    while trained + (time.monotonic() - started) < budget and step < max_steps:
        done = max((trained + time.monotonic() - started) / budget, step / max_steps)
        for group in optimizer.param_groups:  # warm-up, then a linear decay over the budget
            group["lr"] = learning_rate * min(1.0, (step + 1) / warmup_steps) * (1 - done)
        generator = torch.Generator().manual_seed(SEED * 1_000_003 + step)
        inputs, labels = mask(train_blocks[batch_rows(step, batch_size, len(train_blocks))],
                              model.config.vocab_size, generator)
        loss = model(input_ids=inputs.to(device), labels=labels.to(device)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        step += 1
        losses.append(loss.item())
        now = time.monotonic()
        state.update(step=step, seconds=trained + now - started)
        if now - last_say >= 10 or step == 1:
            say(f"step {step}  loss {np.mean(losses[-50:]):.3f}  {state['seconds'] / 60:.1f}/{minutes:g} min")
            last_say = now
        if now - last_save >= checkpoint_seconds:
            save()
            last_save = now
    save()
    loss_after = held_out_loss(model, held_blocks, device, batch_size)
    say(f"step {step}: held-out masked-LM loss {state['loss_head_fitted']:.3f} -> {loss_after:.3f}")
    _write_encoder(model.bert, source, out)
    return {"steps": step, "minutes": round(state["seconds"] / 60, 2), "blocks": len(train_blocks),
            "held_out_blocks": held, "loss_before": state["loss_before"],
            "loss_head_fitted": state["loss_head_fitted"], "loss_after": loss_after,
            "device": device.type}


def _write_encoder(encoder, source: Path, out: Path) -> None:
    """Write the encoder (float32) and the source's vocabulary beside, then move each file
    into ``out`` by an atomic rename, the weights last: a killed run leaves no half file there."""
    with tempfile.TemporaryDirectory(dir=out, prefix=".writing-") as partial:
        encoder.save_pretrained(partial, safe_serialization=True)
        shutil.copyfile(source / "vocab.txt", Path(partial) / "vocab.txt")
        for name in sorted(FILES, key=lambda name: name == "model.safetensors"):
            os.replace(Path(partial) / name, out / name)
