import numpy as np
import pytest

from drscale.evaluate import mean_contrastive_entropy, sample_negatives
from drscale.robustness import adversarial_metrics, attack_targets, attacked_query_rows, strongest_negatives
from tests.test_evaluate import make_embeddings


def test_attacked_queries_are_a_fixed_subset():
    rows = attacked_query_rows(100, 10, seed=0)
    assert len(rows) == 10 and np.array_equal(rows, attacked_query_rows(100, 10, seed=0))
    assert np.array_equal(attacked_query_rows(5, 10, seed=0), np.arange(5))


def test_targets_are_the_strongest_sampled_negatives_of_each_draw():
    emb, qrels = make_embeddings(n_docs=40, n_queries=4)
    sample = sample_negatives(emb, qrels, negatives=10, draws=3, seed=0)
    queries = np.array([0, 2])
    strongest = strongest_negatives(emb, sample, queries, top_m=2)
    for r in range(3):
        for i, q in enumerate(queries):
            scores = emb.doc_emb[sample.negative_rows[r, q]] @ emb.query_emb[q]
            assert set(strongest[r, i]) == set(sample.negative_rows[r, q][np.argsort(-scores)[:2]])
    targets = attack_targets(emb, sample, queries, top_m=2)
    assert {q for q, _ in targets} == {0, 2} and len(targets) == len(set(targets)) <= 3 * 2 * 2


def test_no_gain_leaves_ce_unchanged_and_gains_raise_it():
    emb, qrels = make_embeddings(n_docs=400, n_queries=4)  # sampled negatives mostly rank outside the top 10
    sample = sample_negatives(emb, qrels, negatives=10, draws=2, seed=0)
    queries = np.array([1, 3])
    targets = attack_targets(emb, sample, queries, top_m=2)
    clean = {(q, d): float(20 * emb.doc_emb[d] @ emb.query_emb[q]) for q, d in targets}
    words = {t: 0 for t in targets}
    unchanged = adversarial_metrics(emb, sample, queries, 2, clean, words, scale=20.0)
    ce = mean_contrastive_entropy(emb, sample, scale=20.0)
    assert unchanged["ce_adv_attacked"] == pytest.approx(unchanged["ce_adv_clean"], abs=1e-5)
    assert unchanged["ce_adv"] == pytest.approx(ce, abs=1e-5)
    assert unchanged["mean_rank_gain"] == 0
    boosted = {t: s + 30.0 for t, s in clean.items()}  # every attacked passage now beats the positive
    attacked = adversarial_metrics(emb, sample, queries, 2, boosted, {t: 3 for t in targets}, scale=20.0)
    assert attacked["ce_adv_attacked"] > attacked["ce_adv_clean"] + 1
    # The paired estimator: all queries' clean CE plus the attack's effect on the attacked ones.
    increase = attacked["ce_adv_attacked"] - attacked["ce_adv_clean"]
    assert attacked["ce_adv"] == pytest.approx(ce + increase)
    assert attacked["mean_words_substituted"] == 3 and attacked["mean_rank_gain"] > 0
    assert attacked["attack_success_rate"] == 1.0
