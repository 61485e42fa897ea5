"""The architecture axis: a decoder-only (Qwen3) family through the same prepare / train / encode /
attack path as BERT, its tokenizer framing, last-token pooling and parameter counts by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from drscale.architectures import ARCHITECTURES, END_TOKEN
from drscale.attack import AttackConfig, _init_state, _SplicedIds, attack_pairs
from drscale.encode import encode_tokens
from drscale.models import ModelSpec, load_start_model, parameter_counts, prepare_model
from drscale.strategies import make_strategy
from drscale.synonyms import load_synonyms
from drscale.tokenizer import train_wordpiece
from drscale.tokens import tokenize_texts
from drscale.train import TokenizedOnce, TrainConfig, train
from tests.test_attack import make_pairs

QWEN3 = {"init": {"layers": 1, "hidden": 32, "heads": 4, "intermediate": 48}, "learning_rate": 3e-3,
         "architecture": "qwen3"}


@pytest.fixture(scope="module")
def triples():
    return make_pairs(n_per_topic=20)


@pytest.fixture(scope="module")
def wordpiece_dir(tmp_path_factory, triples):
    folder = tmp_path_factory.mktemp("wordpiece")
    train_wordpiece([t for _, q, d in triples for t in (q, d)], vocab_size=600, output=folder)
    return folder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, wordpiece_dir):
    folder = tmp_path_factory.mktemp("qwen3") / "prepared"
    prepare_model(ModelSpec.from_config("Q1-H32", QWEN3), folder, wordpiece_dir, max_positions=64)
    return folder


@pytest.fixture(scope="module")
def trained(prepared, triples, tmp_path_factory):
    """The decoder trained by the project's train() (standard strategy) on the attack tests' topics."""
    root = tmp_path_factory.mktemp("run")
    model = load_start_model(prepared, 0, 16, 32, pooling=ModelSpec.from_config("Q1-H32", QWEN3).pooling,
                             scratch=root / "init")
    config = TrainConfig(steps=60, batch_size=16, learning_rate=3e-3, warmup_ratio=0.1, weight_decay=0.0, seed=0,
                         checkpoint_every=1000, logging_steps=10)
    curve = train(model, make_strategy("standard"), [(q, d) for _, q, d in triples], config, root / "ckpt",
                  root / "model")
    model.eval()
    return model, curve


def test_spec_defaults_follow_the_architecture():
    bert = ModelSpec.from_config("b", {"init": {"layers": 1, "hidden": 8, "heads": 2}, "learning_rate": 1e-3})
    qwen3 = ModelSpec.from_config("q", QWEN3)
    assert (bert.architecture, bert.pooling, bert.tokenizer) == ("bert", "mean", "wordpiece")
    assert (qwen3.architecture, qwen3.pooling, qwen3.tokenizer) == ("qwen3", "lasttoken", "wordpiece-eos")
    hub = ModelSpec.from_config("e", {"hf": "Qwen/Qwen3-Embedding-0.6B", "architecture": "qwen3",
                                      "learning_rate": 1e-5})
    assert (hub.pooling, hub.tokenizer) == ("lasttoken", "e")
    with pytest.raises(ValueError, match="models.x: unknown architecture 'gpt'; use one of"):
        ModelSpec.from_config("x", {**QWEN3, "architecture": "gpt"})
    with pytest.raises(ValueError, match="models.q: an 'init' qwen3 model uses the 'wordpiece-eos' tokenizer"):
        ModelSpec.from_config("q", {**QWEN3, "tokenizer": "wordpiece"})


def test_schema_lists_every_architecture():
    schema = yaml.safe_load(Path("workflow/schemas/config.schema.yaml").read_text())
    entry = schema["properties"]["models"]["additionalProperties"]["properties"]
    assert entry["architecture"]["enum"] == list(ARCHITECTURES)
    assert {a.pooling for a in ARCHITECTURES.values()} <= set(entry["pooling"]["enum"])


def test_decoder_tokenizer_appends_the_end_token_and_keeps_the_vocabulary(prepared, wordpiece_dir):
    from transformers import AutoTokenizer

    wordpiece, decoder = AutoTokenizer.from_pretrained(wordpiece_dir), AutoTokenizer.from_pretrained(prepared)
    text = "The fast car drives on the old road"
    cls, sep = wordpiece.convert_tokens_to_ids(["[CLS]", END_TOKEN])
    bert_ids, ids = wordpiece(text)["input_ids"], decoder(text)["input_ids"]
    assert bert_ids[0] == cls and ids == bert_ids[1:] and ids[-1] == sep
    assert decoder(text, truncation=True, max_length=4)["input_ids"] == [*bert_ids[1:4], sep]  # the end survives
    assert len(decoder) == len(wordpiece) and decoder.padding_side == "right"
    assert json.loads((prepared / "config.json").read_text())["eos_token_id"] == sep


def test_parameters_of_a_decoder_shape_counted_by_hand(prepared):
    model = load_start_model(prepared, 0, 16, 32, pooling="lasttoken", scratch=prepared.parent / "init")
    vocab, hidden, heads, intermediate = len(model.tokenizer), 32, 4, 48
    per_layer = (
        4 * hidden * hidden  # q, k, v, o projections, no biases
        + 2 * (hidden // heads)  # q_norm and k_norm over one head
        + 3 * hidden * intermediate  # SwiGLU: gate, up, down
        + 2 * hidden  # RMSNorm before attention and before the MLP
    )
    non_embedding = 1 * per_layer + hidden  # one layer and the final RMSNorm
    assert parameter_counts(model) == {"total_params": non_embedding + vocab * hidden,
                                       "non_embedding_params": non_embedding}
    assert not hasattr(model[0].auto_model, "lm_head")  # AutoModel: no language-model head


def test_qwen3_0_6b_shape_has_its_published_non_embedding_size():
    # Qwen3-0.6B: 0.44B non-embedding parameters (model card). Tied embeddings: AutoModel has no
    # head, so the 151,936 x 1,024 table is counted once, as embedding.
    from transformers import Qwen3Config, Qwen3Model

    config = Qwen3Config(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                         num_attention_heads=16, num_key_value_heads=8, head_dim=128, tie_word_embeddings=True)
    with torch.device("meta"):
        counts = parameter_counts(Qwen3Model(config))
    per_layer = 1024 * 2048 + 2 * 1024 * 1024 + 2048 * 1024 + 2 * 128 + 3 * 1024 * 3072 + 2 * 1024
    assert counts["non_embedding_params"] == 28 * per_layer + 1024 == 440_467_456
    assert counts["total_params"] - counts["non_embedding_params"] == 151936 * 1024


def test_attention_is_causal(prepared):
    model = load_start_model(prepared, 0, 16, 32, pooling="lasttoken", scratch=prepared.parent / "causal")
    model.eval()
    ids = model.tokenizer(["fast car road", "fast car river"], return_tensors="pt")
    with torch.inference_mode():
        hidden = model[0].auto_model(**ids).last_hidden_state
    assert torch.allclose(hidden[0, :2], hidden[1, :2], atol=1e-6)  # earlier positions never see later ones
    assert not torch.allclose(hidden[0, -1], hidden[1, -1])


def test_a_decoder_trains_and_encodes_from_cached_ids(trained, triples):
    model, curve = trained
    assert curve.loss.iloc[-1] < 0.6 * curve.loss.iloc[0]
    texts = [d for _, _, d in triples[:40]]
    tokens = tokenize_texts(model.tokenizer, texts, 32)
    assert all(tokens.row(i)[-1] == model.tokenizer.eos_token_id for i in range(len(tokens)))
    cached = encode_tokens(model, tokens, batch_size=7)
    np.testing.assert_allclose(cached, model.encode_document(texts, normalize_embeddings=True), atol=1e-5)


def test_last_token_pooling_reads_the_end_token_under_either_padding(trained, triples):
    model, _ = trained
    texts = [d for _, _, d in triples[:12]]
    right = model.encode_document(texts, batch_size=12)
    single = np.concatenate([model.encode_document([t]) for t in texts])
    model.tokenizer.padding_side = "left"
    try:
        left = model.encode_document(texts, batch_size=12)
    finally:
        model.tokenizer.padding_side = "right"
    np.testing.assert_allclose(right, single, atol=1e-5)
    np.testing.assert_allclose(left, single, atol=1e-5)  # rotary positions: a shift changes nothing


@pytest.mark.parametrize("side", ["right", "left"])
def test_tokenized_once_pads_on_the_tokenizers_side(trained, triples, side):
    model, _ = trained
    passages = [d for _, _, d in triples]
    model.tokenizer.padding_side = side
    try:
        preprocess = TokenizedOnce(model, {"query": [], "document": passages})
        preprocess.preprocess = None  # a batch that missed the cache would fail here
        for start in range(0, 30, 10):
            batch = passages[start : start + 10][::-1]
            expected, cached = model.preprocess(batch, task="document"), preprocess(batch, task="document")
            assert expected["attention_mask"][:, 0 if side == "left" else -1].min() == 0  # padding present
            for key, value in expected.items():
                assert torch.equal(cached[key], value) if isinstance(value, torch.Tensor) else cached[key] == value
    finally:
        model.tokenizer.padding_side = "right"


ATTACK = AttackConfig(max_words=3, candidates_per_word=5, words_per_step=4, pairs_per_call=8)


def _non_relevant_pairs():
    triples = make_pairs(n_per_topic=1, seed=1)
    return [(f"q{i}", query, f"d{i}", triples[(i + 5) % len(triples)][2]) for i, (_, query, _) in enumerate(triples)]


def test_a_decoder_is_attacked_on_spliced_ids(trained):
    model, _ = trained
    synonyms, pairs = load_synonyms(None), _non_relevant_pairs()
    splicer = _SplicedIds.for_model(model)
    assert splicer is not None and splicer.prefix == [] and splicer.suffix == [model.tokenizer.eos_token_id]
    states = [_init_state(query, passage, 0, synonyms, ATTACK) for _, query, _, passage in pairs]
    splicer.attach(states)
    for state in states:
        assert state.token_ids is not None
        for position, words in list(state.candidates.items())[:2]:
            text = state.text_with(position, words[0])
            assert splicer.variant(state, position, words[0]) == model.tokenizer(
                text, truncation=True, max_length=splicer.max_length)["input_ids"]
    batched = attack_pairs(model, pairs, synonyms, ATTACK)
    unbatched = attack_pairs(model, pairs, synonyms, ATTACK, batched=False)
    assert min(r.score_after - r.score_before for r in batched) >= 0
    assert sum(r.words_substituted > 0 for r in batched) >= len(pairs) // 2
    for a, b in zip(batched, unbatched):
        assert (a.attacked, a.substitutions) == (b.attacked, b.substitutions)
        assert a.score_after == pytest.approx(b.score_after, abs=1e-4)


def _byte_level_decoder(folder, texts, end_token=True):
    """A random Qwen3 with a Qwen-style byte-level BPE (left padding, as hub decoders ship), saved
    as a plain transformers folder, with or without a post-processor that appends the end token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if end_token:
        bpe.post_processor = processors.TemplateProcessing(single="$A <|endoftext|>",
                                                           special_tokens=[("<|endoftext|>", 0)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                        padding_side="left")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    Qwen3Model(Qwen3Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=48, num_hidden_layers=1,
                           num_attention_heads=4, num_key_value_heads=4, head_dim=8, use_cache=False)
               ).save_pretrained(folder)
    return folder


def test_a_local_decoder_without_an_end_token_fails_in_prepare_model(tmp_path, triples):
    texts = [t for _, q, d in triples for t in (q, d)]
    entry = {"architecture": "qwen3", "learning_rate": 1e-4}
    plain = ModelSpec.from_config("plain", {**entry, "local": str(_byte_level_decoder(tmp_path / "a", texts, False))})
    with pytest.raises(ValueError, match="models.plain: last-token pooling needs a tokenizer that appends its end"):
        prepare_model(plain, tmp_path / "prepared-a")
    framed = ModelSpec.from_config("framed", {**entry, "local": str(_byte_level_decoder(tmp_path / "b", texts))})
    prepare_model(framed, tmp_path / "prepared-b")
    assert (tmp_path / "prepared-b" / "drscale_spec.json").exists()


def test_a_byte_level_decoder_is_attacked_from_text(tmp_path, triples):
    """A byte-level BPE glues a word's leading space to it, so passages cannot be spliced from
    their words' ids: the attack scores candidates from text, with the unbatched attack's results."""
    folder = _byte_level_decoder(tmp_path, [t for _, q, d in triples for t in (q, d)])
    model = load_start_model(folder, 0, 16, 32, pooling="lasttoken")
    assert _SplicedIds.for_model(model) is None
    synonyms, pairs = load_synonyms(None), _non_relevant_pairs()[:4]
    batched = attack_pairs(model, pairs, synonyms, ATTACK)
    unbatched = attack_pairs(model, pairs, synonyms, ATTACK, batched=False)
    for a, b in zip(batched, unbatched):
        assert (a.attacked, a.substitutions) == (b.attacked, b.substitutions)
        assert a.score_after == pytest.approx(b.score_after, abs=1e-4)
        assert a.score_after >= a.score_before


@pytest.mark.e2e
def test_both_architectures_run_end_to_end_and_are_fitted_apart(tmp_path):
    import pandas as pd

    from tests.test_workflow import snakemake, write_config

    bert = {"init": {"layers": 1, "hidden": 16, "heads": 2, "intermediate": 64}, "learning_rate": 1e-2}
    decoder = {**bert, "init": {**bert["init"], "intermediate": 52}, "architecture": "qwen3"}
    config = write_config(
        tmp_path / "config.yaml", strategies=["standard"], strategy_points={}, data_sizes=[400],
        models={"L1-H16": bert, "L1-H32": {**bert, "init": {**bert["init"], "hidden": 32, "intermediate": 128}},
                "qwen3-L1-H16": decoder,
                "qwen3-L1-H32": {**decoder, "init": {**decoder["init"], "hidden": 32, "intermediate": 100}}},
        training={"steps": 20, "batch_size": 16, "checkpoint_every": 10, "max_query_length": 24,
                  "max_passage_length": 48})
    result = snakemake(tmp_path, "--cores", "2", config=config, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    metrics = pd.read_csv(tmp_path / "results" / "metrics.tsv", sep="\t")
    sizes = metrics.drop_duplicates("model").set_index("model")
    assert sizes["architecture"].to_dict() == {"L1-H16": "bert", "L1-H32": "bert", "qwen3-L1-H16": "qwen3",
                                               "qwen3-L1-H32": "qwen3"}
    assert sizes.loc["L1-H16", "non_embedding_params"] == sizes.loc["qwen3-L1-H16", "non_embedding_params"] == 3584
    families = pd.read_csv(tmp_path / "results" / "families.tsv", sep="\t")
    assert families.groupby("architecture").size().to_dict() == {"bert": 2, "qwen3": 2}
    fits = pd.read_csv(tmp_path / "results" / "fits.tsv", sep="\t")
    assert set(fits["architecture"]) == {"bert", "qwen3"}
    assert (tmp_path / "results" / "report.html").stat().st_size > 0
