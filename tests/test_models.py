import pytest
import torch
from transformers import BertConfig, BertModel

from drscale.models import ModelSpec, load_start_model, parameter_counts


def test_non_embedding_params_of_bert_base_shape():
    # BERT-base without its embeddings: Kaplan et al.'s ~85M non-embedding parameters.
    config = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=3072)
    with torch.device("meta"):
        counts = parameter_counts(BertModel(config))
    embeddings = (30522 + 512 + 2) * 768
    assert counts["total_params"] - counts["non_embedding_params"] == embeddings
    assert 85e6 < counts["non_embedding_params"] < 86e6


def test_spec_needs_exactly_one_source():
    assert ModelSpec.from_config("m", {"hf": "x/y", "learning_rate": 1e-4}).source == "hf"
    with pytest.raises(ValueError, match="models.m: give exactly one"):
        ModelSpec.from_config("m", {"hf": "x/y", "local": "/z", "learning_rate": 1e-4})


def test_hub_model_fails_clearly_offline(tmp_path, monkeypatch):
    from drscale.models import prepare_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = ModelSpec.from_config("bert-mini", {"hf": "google/bert_uncased_L-4_H-256_A-4", "learning_rate": 1e-4})
    with pytest.raises(ConnectionError, match="models.bert-mini: 'hf: google/bert_uncased_L-4_H-256_A-4'.*local"):
        prepare_model(spec, tmp_path / "m")


def test_missing_local_model_is_named(tmp_path):
    from drscale.models import prepare_model

    spec = ModelSpec.from_config("mine", {"local": str(tmp_path / "nope"), "learning_rate": 1e-4})
    with pytest.raises(FileNotFoundError, match="models.mine: local path"):
        prepare_model(spec, tmp_path / "m")


def test_seed_draws_the_initial_weights(tiny_model_dir, tmp_path):
    def first_weight(seed, name):
        model = load_start_model(tiny_model_dir, seed, 16, 32, scratch=tmp_path / name)
        return next(model.parameters()).detach().clone()

    assert torch.equal(first_weight(0, "a"), first_weight(0, "b"))
    assert not torch.equal(first_weight(0, "c"), first_weight(1, "d"))


def test_a_grid_point_that_cannot_fit_fails_with_the_model_named(tiny_model_dir, tmp_path):
    from drscale.models import check_fits_in_memory, training_memory_bytes

    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    small = training_memory_bytes(model, batch_size=8, query_length=16, passage_length=32)
    assert training_memory_bytes(model, batch_size=64, query_length=16, passage_length=32) > small
    assert check_fits_in_memory(model, "L1-H16", 8, 16, 32, available_bytes=10 * small) == small
    with pytest.raises(MemoryError, match="models.L1-H16: one training step needs .* lower training.batch_size"):
        check_fits_in_memory(model, "L1-H16", 8, 16, 32, available_bytes=small // 2)
