"""The transformers path end to end with a tiny random BERT built in a temporary folder."""

import json

import pytest
from click.testing import CliRunner

from crisiswatch.cli import main
from nlp.pipeline import build_pipeline, model_version

torch = pytest.importorskip("torch", reason="the optional extra crisiswatch[transformers] is not installed")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A two-layer BERT with random weights and a character vocabulary, saved as a download would be."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    chars = sorted(set("停电了恢复供电感谢抢修师傅辛苦愤怒凭什么又停担心害怕怎么办好开心今天明天小区全市"))
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n",
                                      encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), tokenize_chinese_chars=True)
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=160)
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def sentiment_file(tmp_path):
    rows = [("今天又停电了，凭什么", "anger"), ("停电了怎么办，好担心", "anxiety"),
            ("感谢抢修师傅，辛苦了", "positive"), ("小区停电了", "weak_negative")] * 10
    path = tmp_path / "sentiment.csv"
    path.write_text("text,label\n" + "\n".join(f"{t},{label}" for t, label in rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("quantize", [False, True])
def test_fine_tune_save_load_offline_and_tag(home, tiny_encoder, sentiment_file, quantize, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on the machines: nothing may come from a hub
    args = ["train", "sentiment", "--backend", "transformers", "--model-dir", str(tiny_encoder),
            "--data", str(sentiment_file), "--epochs", "1", "--home", str(home.home)]
    result = CliRunner().invoke(main, args + (["--quantize"] if quantize else []), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    card = json.loads((home.models_dir / "sentiment.json").read_text())
    assert card["backend"] == "transformers" and card["quantized"] is quantize and card["held_out"]["n"] == 8
    assert (home.models_dir / "sentiment-transformers" / "config.json").exists()

    nlp = build_pipeline(home.models_dir)
    assert "sentiment-transformers-" in model_version(nlp)
    doc = nlp("感谢抢修师傅，辛苦了")
    assert doc._.sentiment in {"anger", "anxiety", "positive", "weak_negative"} and 0 < doc._.sentiment_score <= 1
    evaluated = CliRunner().invoke(main, ["evaluate", "sentiment", "--data", str(sentiment_file), "--json",
                                          "--home", str(home.home)], catch_exceptions=False)
    assert json.loads(evaluated.stdout)["model"] == card["version"]


def test_transformers_backend_needs_an_encoder_on_disk(home, tmp_path, sentiment_file):
    result = CliRunner().invoke(main, ["train", "sentiment", "--backend", "transformers", "--model-dir", str(tmp_path),
                                       "--data", str(sentiment_file), "--home", str(home.home)])
    assert result.exit_code == 1 and "config.json is missing" in result.stderr
    result = CliRunner().invoke(main, ["train", "ner", "--backend", "transformers", "--model-dir", str(tmp_path),
                                       "--home", str(home.home)])
    assert result.exit_code == 1
