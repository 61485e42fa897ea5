import numpy as np
import pytest

from drscale.data import load_collection, passage_text
from drscale.encode import encode_tokens, score_collection
from drscale.evaluate import Role, evaluate_split, sample_negatives
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
    cache = CollectionTokens.load(tmp_path / "tokens.npz")
    docs = model.encode_document([passage_text(collection.corpus[d]) for d in cache.doc_ids],
                                 normalize_embeddings=True, convert_to_numpy=True)
    queries = model.encode_query([collection.queries[q] for q in cache.query_ids],
                                 normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(encode_tokens(model, cache.docs, batch_size=7), docs, atol=1e-5)
    np.testing.assert_allclose(encode_tokens(model, cache.queries, batch_size=7), queries, atol=1e-5)


def test_a_shard_is_its_rows_of_the_cache():
    tokens = TokenizedTexts.from_lists([[1, 2, 3], [4], [5, 6], [7, 8, 9, 10]])
    shard = tokens.slice(1, 3)
    assert len(shard) == 2 and shard.row(0).tolist() == [4] and shard.row(1).tolist() == [5, 6]
    assert len(tokens.slice(3, 10)) == 1 and len(tokens.slice(4, 8)) == 0


@pytest.mark.parametrize("shard_size", [1000, 37, 5])
def test_streaming_scores_equal_an_exhaustive_search(model, tiny_collection, shard_size):
    """The old path (the whole corpus encoded, then one query x corpus matrix) against the sharded pass:
    ranking metrics equal, CE within 1e-5, same top passages (ties aside)."""
    from tests.test_evaluate import exhaustive_scores

    collection = load_collection(tiny_collection, "test")
    # 64 tokens reach each templated passage's own case number: cut at 32, many passages are the
    # same text and their exact ties may be ordered either way by the two searches.
    tokens = tokenize_collection(model.tokenizer, collection, query_length=16, passage_length=64)
    query_ids, doc_ids = tokens.query_ids.tolist(), tokens.doc_ids.tolist()
    sample = sample_negatives(query_ids, doc_ids, collection.qrels, negatives=64, draws=3, seed=0)
    attacked = np.array([0, 5, 7])
    streamed = score_collection(model, tokens, {"test": Role(tokens.query_ids, sample, attacked)}, batch_size=16,
                                shard_size=shard_size)["test"]
    query_emb, doc_emb = encode_tokens(model, tokens.queries, 16), encode_tokens(model, tokens.docs, 16)
    reference = exhaustive_scores(query_ids, query_emb, doc_ids, doc_emb, sample, attacked)
    ours, old = evaluate_split(streamed, collection.qrels, 20.0), evaluate_split(reference, collection.qrels, 20.0)
    assert ours["ce"] == pytest.approx(old["ce"], abs=1e-5)
    assert {k: ours[k] for k in ("ndcg@10", "mrr@10", "recall@100")} == {
        k: old[k] for k in ("ndcg@10", "mrr@10", "recall@100")}
    np.testing.assert_allclose(streamed.top_scores, reference.top_scores, atol=1e-6)
    # The kept passages are a top 100 (an untrained encoder ties many templated passages).
    kept = np.take_along_axis(query_emb @ doc_emb.T, streamed.top_rows, axis=1)
    np.testing.assert_allclose(kept, streamed.top_scores, atol=1e-6)
    for name in ("positive_scores", "negative_scores", "attacked_scores"):
        np.testing.assert_allclose(getattr(streamed, name), getattr(reference, name), atol=1e-6)


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


def test_tokenizing_in_chunks_gives_the_ids_of_one_call(model, tiny_collection):
    """tokenize_texts bounds its memory by tokenizing `chunk` texts at a time; the ids do not
    depend on the chunk (one call and chunks of 1, 3 and 7 texts give the same arrays)."""
    from drscale.tokens import tokenize_texts

    texts = [passage_text(d) for d in load_collection(tiny_collection, "test").corpus.values()]
    whole = model.tokenizer(texts, truncation=True, max_length=32)["input_ids"]
    for chunk in (1, 3, 7, len(texts) + 1):
        tokens = tokenize_texts(model.tokenizer, texts, 32, chunk=chunk)
        assert tokens.ids.dtype == np.int32 and tokens.offsets.dtype == np.int64
        assert [tokens.row(i).tolist() for i in range(len(tokens))] == whole
    assert len(tokenize_texts(model.tokenizer, [], 32)) == 0
