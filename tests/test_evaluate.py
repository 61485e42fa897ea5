import math

import numpy as np
import pytest

from drscale.evaluate import (
    NegativeSample,
    Role,
    SplitScores,
    contrastive_entropy,
    corpus_ids,
    evaluate_split,
    load_samples,
    load_scores,
    mean_contrastive_entropy,
    read_qrels,
    sample_negatives,
    save_sample,
    save_scores,
)


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def exhaustive_scores(query_ids, query_emb, doc_ids, doc_emb, sample, attacked_rows=(), top_k=100) -> SplitScores:
    """The reference: every query against the whole corpus in one matrix (what a streaming pass must match)."""
    full = query_emb @ doc_emb.T
    order = np.argsort(-full, axis=1, kind="stable")[:, :top_k]
    attacked_rows = np.asarray(attacked_rows, dtype=np.int64)
    return SplitScores(
        query_ids=np.array(query_ids), doc_ids=np.array(doc_ids), top_rows=order.astype(np.int32),
        top_scores=np.take_along_axis(full, order, axis=1), sample=sample,
        positive_scores=full[sample.query_rows, sample.positive_rows],
        negative_scores=np.take_along_axis(full[None], sample.negative_rows, axis=-1),
        attacked_rows=attacked_rows, attacked_scores=full[attacked_rows],
    )


def make_scores(n_docs=50, n_queries=5, dim=8, seed=0, negatives=10, draws=2, attacked_rows=()):
    """Query i is closest to passage i, its only positive."""
    rng = np.random.default_rng(seed)
    docs = unit(rng.normal(size=(n_docs, dim)))
    queries = unit(docs[:n_queries] + 0.01)
    query_ids, doc_ids = [f"q{i}" for i in range(n_queries)], [f"d{i:03d}" for i in range(n_docs)]
    qrels = {f"q{i}": {f"d{i:03d}": 1} for i in range(n_queries)}
    sample = sample_negatives(query_ids, doc_ids, qrels, negatives, draws, seed=0)
    return exhaustive_scores(query_ids, queries, doc_ids, docs, sample, attacked_rows), qrels


def test_contrastive_entropy_hand_computed():
    # s+ = 2, negatives 1 and 0: CE = log(e^2 + e^1 + e^0) - 2
    ce = contrastive_entropy(np.array([2.0]), np.array([[1.0, 0.0]]))
    assert ce[0] == pytest.approx(math.log(math.e**2 + math.e + 1) - 2)


def test_chance_level_is_log_k_plus_one():
    assert contrastive_entropy(np.zeros(3), np.zeros((3, 256))) == pytest.approx(np.full(3, math.log(257)))


def test_negatives_exclude_judged_passages_and_depend_only_on_ids_and_qrels():
    query_ids, doc_ids = [f"q{i}" for i in range(5)], [f"d{i:02d}" for i in range(50)]
    qrels = {f"q{i}": {f"d{i:02d}": 1, f"d{i + 10:02d}": 0} for i in range(5)}
    sample = sample_negatives(query_ids, doc_ids, qrels, negatives=20, draws=4, seed=1)
    assert sample.negative_rows.shape == (4, 5, 20)
    assert sample.query_rows.tolist() == [0, 1, 2, 3, 4] and sample.positive_rows.tolist() == [0, 1, 2, 3, 4]
    for qi in range(5):
        assert qi not in sample.negative_rows[:, qi] and qi + 10 not in sample.negative_rows[:, qi]
        assert all(len(set(row)) == 20 for row in sample.negative_rows[:, qi])
    again = sample_negatives(query_ids, doc_ids, qrels, negatives=20, draws=4, seed=1)
    np.testing.assert_array_equal(sample.negative_rows, again.negative_rows)


def test_mean_contrastive_entropy_hand_computed():
    # One query, positive cosine 0.5, one draw of two negatives with cosines 0.25 and 0; scale 4:
    # CE = log(e^2 + e^1 + e^0) - 2.
    sample = NegativeSample(np.array([0]), np.array([0]), np.array([[[1, 2]]]))
    scores = SplitScores(np.array(["q"]), np.array(["d0", "d1", "d2"]), np.array([[0]], dtype=np.int32),
                         np.array([[0.5]], dtype=np.float32), sample,
                         np.array([0.5], dtype=np.float32), np.array([[[0.25, 0.0]]], dtype=np.float32),
                         np.empty(0, dtype=np.int64), np.empty((0, 3), dtype=np.float32))
    assert mean_contrastive_entropy(scores, 4.0) == pytest.approx(math.log(math.e**2 + math.e + 1) - 2, abs=1e-6)


def test_too_few_passages_is_a_clear_error_naming_the_keys():
    with pytest.raises(ValueError, match=r"collections.<name>.negatives.*evaluation.negatives"):
        sample_negatives(["q"], [f"d{i}" for i in range(10)], {"q": {"d0": 1}}, negatives=256, draws=1, seed=0)


def test_perfect_retrieval_scores_one():
    scores, qrels = make_scores()
    metrics = evaluate_split(scores, qrels, scale=20.0)
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
    query_ids, doc_ids = [f"q{i}" for i in ranks], [f"d{j:03d}" for j in range(n_docs)]
    sample = sample_negatives(query_ids, doc_ids, qrels, negatives=2, draws=1, seed=0)
    scores = exhaustive_scores(query_ids, np.eye(4, dtype=np.float32), doc_ids, docs, sample)
    metrics = ranking_metrics(scores, qrels)  # BEIR rounds to 5 decimals
    assert metrics["mrr@10"] == pytest.approx(1 / 3, abs=1e-5)
    assert metrics["ndcg@10"] == pytest.approx(3 / 8, abs=1e-5)
    assert metrics["recall@100"] == pytest.approx(3 / 4, abs=1e-5)


def test_scores_and_samples_round_trip_per_role(tmp_path):
    test, _ = make_scores(attacked_rows=[1, 3])
    validation, _ = make_scores(n_queries=3, seed=1)
    roles = {"test": test, "validation": validation}
    save_sample(tmp_path / "sample.npz", {r: Role(s.query_ids, s.sample, s.attacked_rows) for r, s in roles.items()},
                test.doc_ids.tolist())
    save_scores(tmp_path / "scores.npz", roles)
    assert list(load_samples(tmp_path / "sample.npz")) == ["test", "validation"]
    back = load_scores(tmp_path / "scores.npz", tmp_path / "sample.npz", "test")
    for name in ("query_ids", "doc_ids", "attacked_rows", *SplitScores.MODEL_FIELDS):
        np.testing.assert_array_equal(getattr(back, name), getattr(test, name))
    np.testing.assert_array_equal(back.sample.negative_rows, test.sample.negative_rows)
    assert load_scores(tmp_path / "scores.npz", tmp_path / "sample.npz", "validation").query_ids.tolist() == [
        "q0", "q1", "q2"]
    save_scores(tmp_path / "test_only.npz", {"test": test})
    with pytest.raises(KeyError, match="validation"):
        load_scores(tmp_path / "test_only.npz", tmp_path / "sample.npz", "validation")


def test_qrels_are_read_as_beir_reads_them(tiny_collection):
    from drscale.data import load_collection

    assert read_qrels(tiny_collection, "test") == load_collection(tiny_collection, "test").qrels
    assert corpus_ids(tiny_collection) == sorted(load_collection(tiny_collection, "test").corpus)
    with pytest.raises(FileNotFoundError, match="available"):
        read_qrels(tiny_collection, "nosuchsplit")
