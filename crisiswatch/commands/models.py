"""Training and evaluating the tagging models."""

from __future__ import annotations

import json
from pathlib import Path

import click

from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, emit_json, fail, with_home


@click.command(context_settings=CONTEXT)
@click.argument("task", type=click.Choice(["rumor", "sentiment", "emotion", "ner", "topics", "all"]))
@click.option("--data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Train from this file instead of the task's file in the data folder.")
@click.option("--backend", type=click.Choice(["tfidf", "transformers"]), default="tfidf", show_default=True,
              help="tfidf: the default CPU models; transformers: fine-tune the encoder in --model-dir.")
@click.option("--model-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A Chinese encoder saved with save_pretrained (e.g. chinese-roberta-wwm-ext), for --backend transformers.")
@click.option("--epochs", default=2, show_default=True, help="Fine-tuning epochs (--backend transformers).")
@click.option("--quantize", is_flag=True, help="int8 dynamic quantization for CPU inference (--backend transformers).")
@click.option("--tier", type=click.Choice(["fast", "precise"]), default="fast", show_default=True,
              help="precise: fine-tune the encoder (CRISISWATCH_ENCODER) for sentiment or emotion; a killed "
                   "training goes on from its checkpoint in the home.")
@click.option("--minutes", default=18.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Training time of --tier precise in all, this run's and the killed ones' it resumes.")
@with_home
def train(settings: Settings, task, data, backend, model_dir, epochs, quantize, tier, minutes):
    """Train a tagging model from the shared data and print its held-out figures.

    \b
    rumor      CED Weibo posts with their earliest reposts (rumor / non-rumor)
    sentiment  osm2022 Weibo comments (positive / weak_negative / anger / anxiety)
    emotion    COVID-19 Weibo posts (seven emotions)
    ner        MSRA sentences, one character per line with BIO tags (places, organisations, persons)
    topics     the analysts' topic corrections alone (the keyword rules need no training)
    Analysts' corrections made in the UI are added to the training data.
    """
    from crisiswatch import stages
    from nlp import encoder
    from nlp.models import TASKS

    stages.open_store(settings).close()
    if task == "topics":
        try:
            card = stages.train_topics(settings, say=lambda m: click.echo(m))
        except ValueError as err:
            fail(str(err))
        click.echo(f"topics: {card['version']}  learnt: {', '.join(card['topics']) or 'none'}")
        return
    tasks = list(TASKS) if task == "all" else [task]
    if data and len(tasks) > 1:
        fail("--data names one file: train one task with it, e.g. `crisiswatch train rumor --data FILE`")

    def say(message: str) -> None:
        click.echo(message, err=True)

    try:
        if tier == "precise":
            if task not in ("sentiment", "emotion") or backend != "tfidf":
                fail("--tier precise fine-tunes the encoder for one task: "
                     "`crisiswatch train sentiment --tier precise` (or emotion)")
            cards = [stages.train_precise(settings, task, data_file=data, minutes=minutes, say=say)]
        elif backend == "transformers":
            if not model_dir or len(tasks) > 1:
                fail("--backend transformers trains one task from an encoder on disk: "
                     "`crisiswatch train sentiment --backend transformers --model-dir DIR`")
            cards = [stages.train_transformer(settings, tasks[0], model_dir, data_file=data, epochs=epochs,
                                              quantize=quantize, say=say)]
        else:
            cards = stages.train(settings, tasks, data_file=data, say=say)
    except ImportError as err:
        fail(f"the transformers backend needs the optional extra: pip install 'crisiswatch[transformers]' ({err})")
    except (FileNotFoundError, ValueError, encoder.EncoderUnavailable) as err:
        fail(str(err))
    for card in cards:
        click.echo(f"{card['task']}: {card['version']}  (held out, {card['held_out']['n']} examples)")
        _print_metrics(card["held_out"])
        if "held_out_first_hour" in card:
            click.echo("  with the replies of its first hour only:")
            _print_metrics(card["held_out_first_hour"])
        if "held_out_text_only" in card:
            click.echo("  without replies (a post no one has answered yet):")
            _print_metrics(card["held_out_text_only"])


@click.command(context_settings=CONTEXT)
@click.option("--from", "source", type=click.Path(file_okay=False, path_type=Path),
              help="The encoder to start from [default: CRISISWATCH_ENCODER].")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write the adapted encoder to (outside the repository); a run killed "
                   "or given more minutes goes on from the checkpoint kept there.")
@click.option("--minutes", default=30.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Training time of the --out folder in all, this run's and earlier ones'.")
@with_home
def pretrain(settings: Settings, source, out, minutes):
    """Adapt the encoder to the store's own posts: continue its masked-language modelling
    on them (on a GPU where torch sees one), then use it with CRISISWATCH_ENCODER=OUT."""
    from crisiswatch import stages
    from nlp import encoder

    source = source or settings.encoder_dir
    reason = encoder.problem(source)
    if reason:
        fail(reason)
    store = stages.open_store(settings)
    try:
        texts = list(store.all_texts())
    finally:
        store.close()
    from nlp.pretrain import pretrain as run

    try:
        result = run(texts, source, out, minutes, say=lambda message: click.echo(message, err=True))
    except ImportError as err:
        fail(f"pretraining needs the optional extra: pip install 'crisiswatch[transformers]' ({err})")
    except (encoder.EncoderUnavailable, ValueError) as err:
        fail(str(err))
    click.echo(f"{out}: {result['steps']} steps in {result['minutes']:g} minutes, held-out masked-LM loss "
               f"{result['loss_head_fitted']:.3f} -> {result['loss_after']:.3f}")


def _print_metrics(result: dict) -> None:
    click.echo(f"    accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}   n {result['n']}")
    for label, row in result["per_class"].items():
        click.echo(f"    {label:14} P {row['precision']:.3f}  R {row['recall']:.3f}  F1 {row['f1']:.3f}  n {row['support']}")


@click.command(context_settings=CONTEXT)
@click.argument("task", type=click.Choice(["rumor", "sentiment", "emotion", "ner"]))
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A labelled file in the format of the task's training file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: accuracy, macro_f1, per_class, n.")
@click.option("--hours", type=click.FloatRange(min=0),
              help="rumor: judge each post with only the replies of its first HOURS (e.g. 1), "
                   "then with every reply (all_replies in the JSON).")
@click.option("--tier", type=click.Choice(["fast", "precise"]),
              help="The tier to measure [default: the one the product uses: precise for sentiment and "
                   "emotion where the home has the precise models, else fast].")
@with_home
def evaluate(settings: Settings, task, data, as_json, hours, tier):
    """Measure the model a task uses now on a labelled file (e.g. held-out data)."""
    from nlp import encoder
    from nlp.evaluate import evaluate_task
    from nlp.models import ModelOutdated

    try:
        result = evaluate_task(task, settings.models_dir, data, hours, tier)
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError, OSError) as err:
        fail(f"{data} is not in the format of the {task} training file ({err})")
    except (ModelOutdated, ValueError) as err:
        fail(str(err))
    except encoder.EncoderUnavailable as err:
        reason = encoder.problem(settings.encoder_dir)
        fail(f"precise tier off: {err}" + (f"; training it needs an encoder: {reason}" if reason else ""))
    except ImportError as err:
        fail(f"the precise tier needs the optional extra: pip install 'crisiswatch[transformers]' ({err})")
    if as_json:
        emit_json(result)
        return
    note = "  (lexicon FALLBACK: no trained model)" if result["fallback"] else ""
    tier_note = " (precise tier)" if result["tier"] == "precise" else ""
    click.echo(f"{task}: {result['model']}{tier_note} on {data}{note}")
    if hours is not None:
        click.echo(f"  with the replies of each post's first {hours:g} h only:")
    _print_metrics(result)
    if hours is not None:
        click.echo("  with every reply:")
        _print_metrics(result["all_replies"])
