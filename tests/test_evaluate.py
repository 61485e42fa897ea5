import math

import numpy as np
import pytest

from drscale.encode import Embeddings
from drscale.evaluate import (
    contrastive_entropy,
    evaluate_collection,
    mean_contrastive_entropy,
    sample_negatives,
)


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_contrastive_entropy_hand_computed():
    # s+ = 2, negatives 1 and 0: CE = log(e^2 + e^1 + e^0) - 2
    ce = contrastive_entropy(np.array([2.0]), np.array([[1.0, 0.0]]))
    assert ce[0] == pytest.approx(math.log(math.e**2 + math.e + 1) - 2)


def test_chance_level_is_log_k_plus_one():
    assert contrastive_entropy(np.zeros(3), np.zeros((3, 256))) == pytest.approx(np.full(3, math.log(257)))


def make_embeddings(n_docs=50, n_queries=5, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    docs = unit(rng.normal(size=(n_docs, dim)))
    queries = docs[:n_queries] + 0.01  # query i is closest to doc i
    emb = Embeddings(np.array([f"q{i}" for i in range(n_queries)]), unit(queries),
                     np.array([f"d{i:02d}" for i in range(n_docs)]), docs)
    qrels = {f"q{i}": {f"d{i:02d}": 1} for i in range(n_queries)}
    return emb, qrels


def test_negatives_exclude_judged_passages_and_do_not_depend_on_the_model():
    emb, qrels = make_embeddings()
    sample = sample_negatives(emb, qrels, negatives=20, draws=4, seed=1)
    assert sample.negative_rows.shape == (4, 5, 20)
    for qi in range(5):
        assert qi not in sample.negative_rows[:, qi]  # doc row qi is q_i's positive
        assert all(len(set(row)) == 20 for row in sample.negative_rows[:, qi])
    other_model = Embeddings(emb.query_ids, emb.query_emb[:, ::-1].copy(), emb.doc_ids, emb.doc_emb[:, ::-1].copy())
    again = sample_negatives(other_model, qrels, negatives=20, draws=4, seed=1)
    np.testing.assert_array_equal(sample.negative_rows, again.negative_rows)


def test_mean_contrastive_entropy_matches_a_direct_computation():
    emb, qrels = make_embeddings()
    sample = sample_negatives(emb, qrels, negatives=10, draws=2, seed=0)
    expected = []
    for r in range(2):
        for qi, di in zip(sample.query_rows, sample.positive_rows):
            scores = 20 * emb.doc_emb @ emb.query_emb[qi]
            logits = np.concatenate([[scores[di]], scores[sample.negative_rows[r, qi]]])
            expected.append(np.log(np.exp(logits).sum()) - scores[di])
    assert mean_contrastive_entropy(emb, sample, 20.0) == pytest.approx(np.mean(expected), abs=1e-5)  # float32 scores


def test_too_few_passages_is_a_clear_error():
    emb, qrels = make_embeddings(n_docs=10)
    with pytest.raises(ValueError, match="evaluation.negatives"):
        sample_negatives(emb, qrels, negatives=256, draws=1, seed=0)


def test_perfect_retrieval_scores_one():
    emb, qrels = make_embeddings()
    metrics = evaluate_collection(emb, qrels, scale=20.0, negatives=10, draws=2, seed=0)
    assert metrics["ndcg@10"] == pytest.approx(1.0) and metrics["mrr@10"] == pytest.approx(1.0)
    assert metrics["ce"] < math.log(11)


def test_ranking_metrics_of_a_hand_built_imperfect_ranking():
    """Four queries over 120 passages; query i scores a passage by its coordinate i.

    The relevant passages rank 1st, 3rd, 60th and 105th (outside the top 100), so by hand
    MRR@10 = (1 + 1/3 + 0 + 0) / 4 = 1/3, nDCG@10 = (1 + 1/log2(3 + 1) + 0 + 0) / 4 = 3/8 and
    Recall@100 = 3/4.
    """
    from drscale.evaluate import ranking_metrics

    n_docs, ranks = 120, {0: 1, 1: 3, 2: 60, 3: 105}
    docs = np.zeros((n_docs, 4), np.float32)
    qrels = {}
    for i, rank in ranks.items():
        others = [j for j in range(n_docs) if j != 10 + i]  # d10+i is q_i's relevant passage
        order = [*others[: rank - 1], 10 + i, *others[rank - 1:]]  # best first
        docs[order, i] = np.linspace(1.0, 0.0, n_docs)
        qrels[f"q{i}"] = {f"d{10 + i:03d}": 1}
    emb = Embeddings(np.array([f"q{i}" for i in ranks]), np.eye(4, dtype=np.float32),
                     np.array([f"d{j:03d}" for j in range(n_docs)]), docs)
    metrics = ranking_metrics(emb, qrels)  # BEIR rounds to 5 decimals
    assert metrics["mrr@10"] == pytest.approx(1 / 3, abs=1e-5)
    assert metrics["ndcg@10"] == pytest.approx(3 / 8, abs=1e-5)
    assert metrics["recall@100"] == pytest.approx(3 / 4, abs=1e-5)
