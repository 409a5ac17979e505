"""What the product says of the precise tier: `status` (and --json, and /admin/status)
names each precise model or the command that trains it, and how many posts carry tags of
the current models; the dashboard says when precise tags are training or ready; the demo
fine-tunes them in the background only where the encoder and the data exist and the
models are not current."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from parsel import Selector

from crisiswatch import demo, stages
from nlp.datasets import TRAINING_FILES
from nlp.precise import CARD, PreciseTier, model_dir
from nlp.precise_train import training_dir
from review_ui import create_app
from tests.conftest import cli, csrf_token, html, logged_in_client

pytest.importorskip("transformers")
from tests.nlp.test_precise import EMOTIONS, SENTIMENTS, add_posts, save_tiny  # noqa: E402  (needs torch)

TRAINED_AT = "2026-12-05T01:30:00+00:00"  # 09:30 China time


def trained(home, tasks=("sentiment", "emotion"), encoder: str = "tiny") -> None:
    """Tiny precise models whose cards say when they were trained, how well, and from which encoder."""
    for task in tasks:
        labels, seed = (SENTIMENTS, 0) if task == "sentiment" else (EMOTIONS, 1)
        save_tiny(home.models_dir, task, labels, "anger", seed=seed)
        path = model_dir(home.models_dir, task) / CARD
        card = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps({**card, "encoder": encoder, "trained_at": TRAINED_AT,
                                    "held_out": {"macro_f1": 0.7 if task == "sentiment" else 0.72}}), encoding="utf-8")


def precise_status(home) -> tuple[dict, list[str], Selector, Selector]:
    """The precise tier's figures, the command's lines about it, and the status page in Chinese and English."""
    figures = json.loads(cli("status", "--json", home=home).stdout)["precise_tier"]
    lines = [line for line in cli("status", home=home).stdout.splitlines() if line.startswith("precise")]
    admin = logged_in_client(create_app(home), roles=("admin",))
    return (figures, lines, Selector(html(admin.get("/admin/status"))),
            Selector(html(admin.get("/admin/status?lang=en"))))


def test_status_names_each_precise_model_or_its_command_and_the_posts_tagged_by_the_current_ones(home):
    figures, lines, chinese, english = precise_status(home)
    assert figures["models"] == {task: {"trained": False, "training": False,
                                        "train": f"crisiswatch train {task} --tier precise"}
                                 for task in ("sentiment", "emotion")}
    assert (figures["tagged"], figures["left"], figures["state"]) == (None, None, None)
    assert lines[:2] == ["precise sentiment not trained: crisiswatch train sentiment --tier precise",
                         "precise emotion   not trained: crisiswatch train emotion --tier precise"]
    assert chinese.css('.precise-model[data-task="emotion"]::text').get() == \
        "精细层情绪模型：未训练（crisiswatch train emotion --tier precise）"
    assert not chinese.css(".precise-tags")
    training_dir(home.models_dir, "sentiment").mkdir(parents=True)  # a first sentiment model training
    _, _, chinese, english = precise_status(home)
    assert chinese.css('.precise-model[data-task="sentiment"]::text').get() == "精细层情感模型：训练中"
    assert english.css('.precise-model[data-task="sentiment"]::text').get() == "Precise sentiment model: training"
    training_dir(home.models_dir, "sentiment").rmdir()

    trained(home)
    store = stages.open_store(home)
    ids = add_posts(store, 5)
    store.save_precise_tags(PreciseTier.load(home.models_dir).tags(ids[:2], ["停电"] * 2))
    store.save_precise_tags([{**row, "model_version": "an older one"}
                             for row in PreciseTier.load(home.models_dir).tags(ids[2:3], ["停电"])])
    store.close()
    training_dir(home.models_dir, "emotion").mkdir()  # a training of a newer emotion model under way
    figures, lines, chinese, english = precise_status(home)
    assert figures["models"]["sentiment"] == {"trained": True, "training": False, "trained_at": TRAINED_AT,
                                              "held_out_macro_f1": 0.7}
    assert figures["models"]["emotion"]["training"] is True
    assert (figures["tagged"], figures["left"], figures["state"]) == (2, 3, "training")
    assert lines[:3] == [f"precise sentiment trained {TRAINED_AT}, held-out macro-F1 0.7",
                         f"precise emotion   trained {TRAINED_AT}, held-out macro-F1 0.72 "
                         "(training: its checkpoint is in the home)",
                         "precise tags: 2 posts by the current models, 3 left"]
    assert chinese.css('.precise-model[data-task="sentiment"]::text').get() == \
        "精细层情感模型：2026-12-05 09:30 训练，留出集宏平均 F1 0.7"
    assert chinese.css('.precise-model[data-task="emotion"]::text').get().endswith("0.72 （训练中）")
    assert chinese.css(".precise-tags::text").get() == "精细层标签：2 条帖子已由当前模型标注，尚余 3 条"
    assert english.css(".precise-tags::text").get() == "Precise tags: 2 posts by the current models, 3 left"
    assert english.css('.precise-model[data-task="sentiment"]::text').get() == \
        "Precise sentiment model: trained 2026-12-05 09:30, held-out macro-F1 0.7"


def test_the_dashboard_says_when_precise_tags_are_training_and_ready(home):
    store = stages.open_store(home)
    ids = add_posts(store, 3)
    store.close()
    cli("index", home=home)
    client = logged_in_client(create_app(home), roles=("drafter", "analyst"))
    token = csrf_token(html(client.get("/incidents/")))
    dashboard = client.post("/incidents/", data={"csrf_token": token, "title": "停电", "query": "停电"}
                            ).headers["Location"] + "/dashboard"

    def notice(lang: str = "zh") -> str | None:
        return Selector(html(client.get(f"{dashboard}?lang={lang}"))).css("#precise-notice::text").get()

    assert notice() is None  # no precise models, none training
    training_dir(home.models_dir, "sentiment").mkdir(parents=True)
    assert notice() == "精准标签：训练中"
    assert notice("en") == "Precise tags: training"
    trained(home)
    shutil.rmtree(training_dir(home.models_dir, "sentiment"))
    store = stages.open_store(home)
    store.save_precise_tags(PreciseTier.load(home.models_dir).tags(ids[:2], ["停电"] * 2))
    store.close()
    assert notice() == "精准标签：已就绪（2 条）"
    assert notice("en") == "Precise tags: ready (2 posts)"


def test_the_demo_trains_the_precise_tier_only_with_the_encoder_and_data_and_not_when_current(home, tmp_path):
    encoder, data = tmp_path / "encoder", tmp_path / "data"
    encoder.mkdir()
    for name in ("config.json", "model.safetensors", "vocab.txt"):
        (encoder / name).write_text("{}")  # deciding reads no weights
    for task in ("sentiment", "emotion"):
        (data / TRAINING_FILES[task]).parent.mkdir(parents=True, exist_ok=True)
        (data / TRAINING_FILES[task]).write_text("text,label\n")
    settings = dataclasses.replace(home, encoder=str(encoder), data_dir=data)

    assert demo.precise_to_train(settings) == ["sentiment", "emotion"]
    assert demo.precise_to_train(dataclasses.replace(settings, encoder="off")) == []
    (data / TRAINING_FILES["emotion"]).unlink()
    assert demo.precise_to_train(settings) == ["sentiment"]  # no data for emotion
    trained(settings, encoder=str(encoder.resolve()))
    assert demo.precise_to_train(settings) == []  # a restart does not train again
    trained(settings, tasks=("sentiment",), encoder="/another/encoder")
    assert demo.precise_to_train(settings) == ["sentiment"]  # fine-tuned from another encoder


@pytest.mark.parametrize("damage", ["card", "weights"])
def test_a_damaged_precise_model_is_said_and_the_fast_tier_goes_on(home, damage):
    """A card that is not JSON or weights cut short (a copy that failed): status names it, the
    dashboard and the fast tier work, tag --precise and the scheduler's child refuse in one
    line."""
    trained(home)
    store = stages.open_store(home)
    add_posts(store, 3)
    store.close()
    folder = model_dir(home.models_dir, "sentiment")
    if damage == "card":
        (folder / CARD).write_text("{not json", encoding="utf-8")
    else:
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:-100])
    figures, lines, chinese, _ = precise_status(home)
    assert not figures["models"]["sentiment"]["trained"] and "is damaged" in figures["models"]["sentiment"]["damaged"]
    assert lines[0].startswith("precise sentiment unusable: the precise sentiment model in") and figures["tagged"] is None
    refused = cli("tag", "--precise", home=home, check=False)
    assert refused.exit_code == 1 and "precise tier off: the precise sentiment model" in refused.stderr
    assert stages.tag_precise_in_child(home) is False
    assert cli("tag", home=home).exit_code == 0
    client = logged_in_client(create_app(home), roles=("drafter", "analyst"))
    token = csrf_token(html(client.get("/incidents/")))
    made = client.post("/incidents/", data={"csrf_token": token, "title": "停电", "query": "停电"})
    assert client.get(made.headers["Location"] + "/dashboard").status_code == 200
