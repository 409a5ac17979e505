"""The precise tier's encoder: the character tokeniser held to the encoder README's rules
(on a vocabulary written here, and on the shared encoder's own where it is present), loading
a folder in the Hugging Face layout in float32 or int8, and the setting that names it."""

import shutil

import numpy as np
import pytest

from core.settings import REPO_ROOT, Settings
from nlp.encoder import CLS, PAD, SEP, UNK, CharTokenizer, EncoderUnavailable, load_encoder

SHARED = REPO_ROOT.parent / "shared" / "models" / "weibo-char-encoder"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="no shared encoder beside the checkout")
# one entry per line; the tab, the ideographic space, the line separator and the space (last) are
# entries as any character is
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
              "\t", "\u3000", "a", "b", "停", "电", "了", "！", "\u2028", " "]
LONG_POST = "停电了" * 100  # 300 characters


@pytest.fixture(scope="module")
def tiny_vocab(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    return path


def test_the_tokeniser_follows_the_readme_on_a_vocabulary_written_here(tiny_vocab):
    tokenizer = CharTokenizer.from_file(tiny_vocab)
    assert len(tokenizer) == len(TINY_VOCAB)  # the final newline ends the last line, it adds no entry
    assert tokenizer.encode("停电了！") == [CLS, 9, 10, 11, 12, SEP]
    assert tokenizer.encode("a b\t\u3000\u2028") == [CLS, 7, 14, 8, 5, 6, 13, SEP]  # nothing stripped nor split
    assert tokenizer.encode("AB") == tokenizer.encode("ab") == [CLS, 7, 8, SEP]  # lower-cased
    assert tokenizer.encode("停电😡了") == [CLS, 9, 10, UNK, 11, SEP]  # one character, one token
    assert tokenizer.encode("") == [CLS, SEP]
    long = tokenizer.encode(LONG_POST)
    assert len(long) == 130 and long[0] == CLS and long[-1] == SEP  # the first 128 characters
    assert long[1:-1] == [9, 10, 11] * 42 + [9, 10]


def test_a_vocabulary_without_the_special_tokens_at_their_lines_is_refused(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(["[UNK]", "[PAD]", "[CLS]", "[SEP]", "停"]) + "\n", encoding="utf-8")
    with pytest.raises(EncoderUnavailable, match=r"\[PAD\] at line 0, \[UNK\] at line 1"):
        CharTokenizer.from_file(path)


def test_batches_are_padded_to_their_longest_text_and_sorted_by_length_where_asked(tiny_vocab):
    tokenizer = CharTokenizer.from_file(tiny_vocab)
    texts = ["停电了停电了", "a", "停电", LONG_POST, "b"]
    [(rows, ids, mask)] = tokenizer.batches(texts, batch_size=8)
    assert rows == [0, 1, 2, 3, 4] and ids.shape == mask.shape == (5, 130)
    assert ids[1].tolist() == [CLS, 7, SEP] + [PAD] * 127 and mask[1].tolist() == [1, 1, 1] + [0] * 127

    sorted_batches = list(tokenizer.batches(texts, batch_size=2, sort_by_length=True))
    assert [rows for rows, _, _ in sorted_batches] == [[1, 4], [2, 0], [3]]
    assert [ids.shape for _, ids, _ in sorted_batches] == [(2, 3), (2, 8), (1, 130)]  # no more padding than needed
    rows, ids, mask = sorted_batches[1]
    assert ids[0].tolist() == tokenizer.encode("停电") + [PAD] * 4 and mask[0].sum() == 4
    assert ids[1].tolist() == tokenizer.encode(texts[0]) and mask[1].all()


@needs_shared
def test_the_tokeniser_follows_the_readme_on_the_shared_encoders_vocabulary():
    lines = (SHARED / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    tokenizer = CharTokenizer.from_file(SHARED / "vocab.txt")
    assert len(tokenizer) == len(lines) == 6313
    assert lines[7] == " " and tokenizer.encode(" ") == [CLS, 7, SEP]
    for line, entry in enumerate(lines[5:], start=5):  # each character is its own line's id
        if entry.lower() == entry:
            assert tokenizer.encode(entry) == [CLS, line, SEP], (line, entry)
    assert tokenizer.encode("ABC") == tokenizer.encode("abc") != [CLS, UNK, UNK, UNK, SEP]
    assert tokenizer.encode("停电😡") == [CLS, lines.index("停"), lines.index("电"), UNK, SEP]
    assert len(tokenizer.encode(LONG_POST)) == 130


def test_the_setting_names_the_encoder_folder_or_off(tmp_path, monkeypatch):
    monkeypatch.delenv("CRISISWATCH_ENCODER", raising=False)
    default = Settings.load(tmp_path).encoder_dir
    assert default == (SHARED.resolve() if SHARED.is_dir() else None)
    monkeypatch.setenv("CRISISWATCH_ENCODER", str(tmp_path))
    assert Settings.load(tmp_path).encoder_dir == tmp_path
    monkeypatch.setenv("CRISISWATCH_ENCODER", "off")
    assert Settings.load(tmp_path).encoder_dir is None
    monkeypatch.setenv("CRISISWATCH_ENCODER", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="CRISISWATCH_ENCODER .*nowhere.* is not a folder"):
        Settings.load(tmp_path)


# -- loading: the optional extra crisiswatch[transformers] ------------------------------


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory, tiny_vocab):
    """A two-layer BERT with random weights, saved in float16 as the shared encoder is."""
    torch = pytest.importorskip("torch", reason="the optional extra crisiswatch[transformers] is not installed")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny-encoder")
    config = transformers.BertConfig(vocab_size=len(TINY_VOCAB), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=130,
                                     type_vocab_size=1, pad_token_id=PAD)
    torch.manual_seed(0)
    transformers.BertModel(config, add_pooling_layer=False).half().save_pretrained(folder)
    shutil.copy(tiny_vocab, folder / "vocab.txt")
    return folder


def test_an_encoder_saved_in_the_hugging_face_layout_loads_in_float32(tiny_encoder):
    import torch

    encoder = load_encoder(tiny_encoder)
    assert {p.dtype for p in encoder.model.parameters()} == {torch.float32}
    [(rows, ids, mask)] = encoder.tokenizer.batches(["停电了", "a", LONG_POST], batch_size=3)
    with torch.inference_mode():
        out = encoder.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    assert out.last_hidden_state.shape == (3, 130, 32)

    texts = ["停电了！", "a", "停电", LONG_POST, "b b"]
    vectors = encoder.cls_vectors(texts, batch_size=2)  # sorted by length, given back in the texts' order
    assert vectors.shape == (5, 32)
    one_by_one = np.concatenate([encoder.cls_vectors([text]) for text in texts])
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)


def test_int8_gives_close_outputs(tiny_encoder):
    import torch

    texts = ["停电了！", "a", "停电", LONG_POST, "b b"]
    exact = load_encoder(tiny_encoder).cls_vectors(texts)
    quantized = load_encoder(tiny_encoder, quantize=True)
    assert isinstance(quantized.model.encoder.layer[0].attention.self.query, torch.ao.nn.quantized.dynamic.Linear)
    close = quantized.cls_vectors(texts)
    cosine = (exact * close).sum(axis=1) / np.linalg.norm(exact, axis=1) / np.linalg.norm(close, axis=1)
    assert cosine.min() > 0.99


def test_a_folder_missing_a_file_or_no_folder_gives_one_clear_message(tiny_encoder, tmp_path):
    broken = tmp_path / "encoder"
    shutil.copytree(tiny_encoder, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(EncoderUnavailable, match=f"^the encoder folder {broken} lacks model.safetensors$"):
        load_encoder(broken)
    with pytest.raises(EncoderUnavailable, match="^no encoder: set CRISISWATCH_ENCODER$"):
        load_encoder(None)
    (broken / "vocab.txt").write_text("\n".join(TINY_VOCAB[:-1]), encoding="utf-8")
    shutil.copy(tiny_encoder / "model.safetensors", broken)
    with pytest.raises(EncoderUnavailable, match="14 entries in vocab.txt but config.json says 15"):
        load_encoder(broken)


@needs_shared
def test_the_shared_encoder_loads_and_encodes_three_posts():
    pytest.importorskip("torch", reason="the optional extra crisiswatch[transformers] is not installed")
    encoder = load_encoder(SHARED, quantize=True)
    posts = ["东湖区又停电了，凭什么！", "感谢抢修师傅，辛苦了", "听说明天全市停电三天？"]
    vectors = encoder.cls_vectors(posts)
    assert vectors.shape == (3, 384) and np.isfinite(vectors).all()
    assert np.linalg.norm(vectors[0] - vectors[1]) > 0.1  # different posts, different vectors
