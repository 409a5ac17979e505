"""Domain adaptation (crisiswatch pretrain): a tiny encoder saved as the shared one is (the
encoder without its masked-LM head), a store of a few hundred outage posts, a short run that
lowers the held-out masked-LM loss and writes a folder load_encoder reads, the repository
refused as --out, and a run killed in a child process resumed from its checkpoint."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from core.schema import Post
from core.settings import REPO_ROOT
from crisiswatch import stages
from nlp.encoder import FILES, load_encoder
from nlp.pretrain import CHECKPOINT, MASK_ID, mask, pretrain
from tests.conftest import cli

torch = pytest.importorskip("torch", reason="the optional extra crisiswatch[transformers] is not installed")
transformers = pytest.importorskip("transformers")

PLACES = ["东湖区", "西湖区", "青山湖区", "新建区", "红谷滩"]
SAYINGS = ["又停电了，凭什么！", "停电三个小时了，空调不能用，热死了", "供电局说今晚恢复供电",
           "感谢抢修师傅，辛苦了", "听说明天全市停电？谣言吧", "电梯停了，老人下不了楼，好担心"]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A two-layer encoder with random weights and no masked-LM head, as the shared one is saved."""
    folder = tmp_path_factory.mktemp("tiny-encoder")
    characters = sorted(set("".join(PLACES + SAYINGS) + "0123456789号楼"))
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters]) + "\n",
                                      encoding="utf-8")
    config = transformers.BertConfig(vocab_size=5 + len(characters), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=130,
                                     type_vocab_size=1, pad_token_id=0)
    torch.manual_seed(0)
    transformers.BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    return folder


@pytest.fixture
def posts_home(home):
    """A home whose store holds 300 posts about outages in five districts."""
    store = stages.open_store(home)
    texts = [f"{PLACES[i % 5]}{i}号楼{SAYINGS[i % 6]}{SAYINGS[i // 6 % 6]}" for i in range(300)]
    store.upsert_posts([Post(platform="weibo", platform_id=str(i), text=text) for i, text in enumerate(texts)])
    store.close()
    return home


def test_masking_follows_the_readme():
    blocks = torch.randint(MASK_ID + 1, 60, (400, 128))
    blocks[:, ::16] = 3  # [SEP] between texts is never masked
    inputs, labels = mask(blocks, 60, torch.Generator().manual_seed(0))
    assert inputs.shape == (400, 130) and (inputs[:, 0] == 2).all() and (inputs[:, -1] == 3).all()
    chosen = labels != -100
    assert abs(chosen.float().sum() / (400 * 120) - 0.15) < 0.01
    assert not chosen[:, 1::16].any() and (labels[chosen] == torch.nn.functional.pad(blocks, (1, 1))[chosen]).all()
    as_mask = (inputs[chosen] == MASK_ID).float().mean()
    kept = (inputs[chosen] == labels[chosen]).float().mean()
    assert abs(as_mask - 0.8) < 0.02 and 0.08 < kept < 0.13  # 10 % kept, and a random draw is sometimes itself


def test_a_short_run_lowers_the_loss_and_writes_an_encoder_load_encoder_reads(posts_home, tiny_encoder, tmp_path):
    out, said = tmp_path / "adapted", []
    store = stages.open_store(posts_home)
    texts = list(store.all_texts())
    store.close()
    # the command's learning rate and warm-up suit the real encoder; a tiny random one learns in seconds with these
    result = pretrain(texts, tiny_encoder, out, 10.0, learning_rate=1e-2, warmup_steps=5, max_steps=40,
                      say=said.append)
    assert result["loss_head_fitted"] < result["loss_before"] - 0.1, said  # the fresh head fitted first
    assert result["loss_after"] < result["loss_head_fitted"] - 0.3, said
    assert result["held_out_blocks"] >= 5 and result["steps"] == 40
    assert result["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert any(line.startswith("step ") and "loss" in line for line in said)  # progress shown
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, CHECKPOINT])  # no partial file left
    assert (out / "vocab.txt").read_bytes() == (tiny_encoder / "vocab.txt").read_bytes()

    from safetensors import safe_open

    with safe_open(out / "model.safetensors", "pt") as written, \
            safe_open(tiny_encoder / "model.safetensors", "pt") as source:
        assert set(written.keys()) == set(source.keys())  # the encoder alone, as the source is: no head, no prefix
    adapted, original = load_encoder(out), load_encoder(tiny_encoder)
    assert not np.allclose(adapted.cls_vectors(["东湖区又停电了"]), original.cls_vectors(["东湖区又停电了"]))


def test_the_repository_and_the_source_folder_are_refused_as_out(posts_home, tiny_encoder):
    inside = REPO_ROOT / "adapted-encoder"
    result = cli("pretrain", "--from", str(tiny_encoder), "--out", str(inside), home=posts_home, check=False)
    assert result.exit_code == 1 and "inside the repository" in result.stderr and not inside.exists()
    result = cli("pretrain", "--from", str(tiny_encoder), "--out", str(tiny_encoder), home=posts_home, check=False)
    assert result.exit_code == 1 and "a folder of its own" in result.stderr


def test_a_killed_run_resumes_from_its_checkpoint(posts_home, tiny_encoder, tmp_path):
    out = tmp_path / "adapted"
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from core.store import Store; from nlp.pretrain import pretrain; "
         "from pathlib import Path; texts = list(Store(sys.argv[1]).all_texts()); "
         "pretrain(texts, Path(sys.argv[2]), Path(sys.argv[3]), 1.0, checkpoint_seconds=0.5)",
         posts_home.database_url, str(tiny_encoder), str(out)], cwd=REPO_ROOT, env=os.environ)
    try:
        deadline = time.monotonic() + 60
        while not (out / CHECKPOINT).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # a checkpoint or two later
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert not (out / "model.safetensors").exists()  # the final encoder is written only at the end
    killed_at = torch.load(out / CHECKPOINT, weights_only=True)["step"]
    assert killed_at > 0

    result = cli("pretrain", "--from", str(tiny_encoder), "--out", str(out), "--minutes", "0.1", home=posts_home)
    assert f"resuming from step {killed_at} " in result.stderr
    assert int(result.stdout.split(": ")[1].split(" steps")[0]) > killed_at
    load_encoder(out)
