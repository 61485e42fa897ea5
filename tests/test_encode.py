import numpy as np
import pytest

from drscale.data import load_collection, passage_text
from drscale.encode import encode_collection
from drscale.grid import tokenizer_of, tokenizers
from drscale.models import load_start_model
from drscale.tokens import CollectionTokens, TokenizedTexts, tokenize_collection


@pytest.fixture(scope="module")
def model(tiny_model_dir, tmp_path_factory):
    return load_start_model(tiny_model_dir, seed=0, query_length=16, document_length=32,
                            scratch=tmp_path_factory.mktemp("init"))


def test_ragged_ids_round_trip_and_batches_are_length_sorted():
    tokens = TokenizedTexts.from_lists([[1, 2, 3], [4], [5, 6]])
    assert tokens.row(0).tolist() == [1, 2, 3] and tokens.row(2).tolist() == [5, 6]
    batches = list(tokens.padded_batches(batch_size=2))
    rows, ids, mask = batches[0]
    assert rows.tolist() == [0, 2] and ids.tolist() == [[1, 2, 3], [5, 6, 0]] and mask.sum() == 5


def test_encoding_from_cached_ids_equals_encoding_from_text(model, tiny_collection, tmp_path):
    collection = load_collection(tiny_collection, "test")
    tokens = tokenize_collection(model.tokenizer, collection, query_length=16, passage_length=32)
    tokens.save(tmp_path / "tokens.npz")
    model.train()  # as a model is during training (the adversarial strategies attack it): no dropout here
    emb = encode_collection(model, CollectionTokens.load(tmp_path / "tokens.npz"), batch_size=7)
    docs = model.encode_document([passage_text(collection.corpus[d]) for d in emb.doc_ids],
                                 normalize_embeddings=True, convert_to_numpy=True)
    queries = model.encode_query([collection.queries[q] for q in emb.query_ids],
                                 normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(emb.doc_emb, docs, atol=1e-5)
    np.testing.assert_allclose(emb.query_emb, queries, atol=1e-5)


def test_models_that_name_one_tokenizer_share_one_cache():
    config = {"models": {
        "a": {"init": {"layers": 1, "hidden": 8, "heads": 2}, "learning_rate": 1e-3},
        "b": {"init": {"layers": 2, "hidden": 8, "heads": 2}, "learning_rate": 1e-3},
        "mini": {"hf": "google/bert_uncased_L-2_H-128_A-2", "learning_rate": 1e-4, "tokenizer": "bert-uncased"},
        "small": {"hf": "google/bert_uncased_L-4_H-256_A-4", "learning_rate": 1e-4, "tokenizer": "bert-uncased"},
        "other": {"local": "/x", "learning_rate": 1e-4},
    }}
    assert tokenizers(config) == {"wordpiece": None, "bert-uncased": "mini", "other": "other"}
    assert tokenizer_of(config, "small") == "bert-uncased"


def test_cutting_texts_before_tokenizing_keeps_the_truncated_ids(model, tiny_collection):
    from drscale.tokens import cut_to_token_budget

    long_texts = [passage_text(d) + " " + "extra words appended here " * 40 for d in
                  load_collection(tiny_collection, "test").corpus.values()]
    texts = [*long_texts, "a short passage", "x" * 500 + " y"]
    for limit in (8, 16, 32):
        kept = cut_to_token_budget(model.tokenizer, texts, limit)
        assert sum(len(k) < len(t) for k, t in zip(kept, texts)) >= len(long_texts) - 1
        full = model.tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
        assert model.tokenizer(kept, truncation=True, max_length=limit)["input_ids"] == full
