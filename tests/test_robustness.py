import numpy as np
import pytest

from drscale.evaluate import mean_contrastive_entropy
from drscale.robustness import adversarial_metrics, attack_targets, attacked_query_rows, strongest_negatives
from tests.test_evaluate import make_scores


def test_attacked_queries_are_a_fixed_subset():
    rows = attacked_query_rows(100, 10, seed=0)
    assert len(rows) == 10 and np.array_equal(rows, attacked_query_rows(100, 10, seed=0))
    assert np.array_equal(attacked_query_rows(5, 10, seed=0), np.arange(5))


def test_targets_are_the_strongest_sampled_negatives_of_each_draw():
    scores, _ = make_scores(n_docs=40, n_queries=4, draws=3, attacked_rows=[0, 2])
    strongest = strongest_negatives(scores, scores.attacked_rows, top_m=2)
    for r in range(3):
        for i, q in enumerate(scores.attacked_rows):
            negatives = scores.sample.negative_rows[r, q]
            cosines = scores.attacked_scores[i][negatives]  # the query's cosines to the whole corpus
            assert set(strongest[r, i]) == set(negatives[np.argsort(-cosines)[:2]])
    targets = attack_targets(scores, top_m=2)
    assert {q for q, _ in targets} == {0, 2} and len(targets) == len(set(targets)) <= 3 * 2 * 2


def test_no_gain_leaves_ce_unchanged_and_gains_raise_it():
    # 400 passages: sampled negatives mostly rank outside the top 10.
    scores, _ = make_scores(n_docs=400, n_queries=4, attacked_rows=[1, 3])
    targets = attack_targets(scores, top_m=2)
    row = {int(q): i for i, q in enumerate(scores.attacked_rows)}
    clean = {(q, d): float(20 * scores.attacked_scores[row[q], d]) for q, d in targets}
    words = {t: 0 for t in targets}
    unchanged = adversarial_metrics(scores, 2, clean, words, scale=20.0)
    ce = mean_contrastive_entropy(scores, scale=20.0)
    assert unchanged["ce_adv_attacked"] == pytest.approx(unchanged["ce_adv_clean"], abs=1e-5)
    assert unchanged["ce_adv"] == pytest.approx(ce, abs=1e-5)
    assert unchanged["mean_rank_gain"] == 0
    boosted = {t: s + 30.0 for t, s in clean.items()}  # every attacked passage now beats the positive
    attacked = adversarial_metrics(scores, 2, boosted, {t: 3 for t in targets}, scale=20.0)
    assert attacked["ce_adv_attacked"] > attacked["ce_adv_clean"] + 1
    # The paired estimator: all queries' clean CE plus the attack's effect on the attacked ones.
    increase = attacked["ce_adv_attacked"] - attacked["ce_adv_clean"]
    assert attacked["ce_adv"] == pytest.approx(ce + increase)
    assert attacked["mean_words_substituted"] == 3 and attacked["mean_rank_gain"] > 0
    assert attacked["attack_success_rate"] == 1.0


def test_rank_gain_hand_computed():
    # Query 0's cosines to 6 passages; its positive is passage 0, the attacked passage 5 (cosine 0.1,
    # rank 5 of 6: 0.9, 0.8, 0.7, 0.6 score higher). Raised to scale x 0.75 it passes 0.7 and 0.6: rank 3.
    from drscale.evaluate import NegativeSample, SplitScores

    cosines = np.array([[0.9, 0.8, 0.7, 0.6, 0.0, 0.1]], dtype=np.float32)
    sample = NegativeSample(np.array([0]), np.array([0]), np.array([[[5]]]))
    scores = SplitScores(np.array(["q"]), np.array([["d0"]]), cosines[:, :1], sample, cosines[0, :1],
                         np.array([[[0.1]]], dtype=np.float32), np.array([0]), cosines)
    metrics = adversarial_metrics(scores, 1, {(0, 5): 2 * 0.75}, {(0, 5): 2}, scale=2.0)
    assert metrics["mean_rank_gain"] == 2 and metrics["attacked_pairs"] == 1
    assert np.isnan(metrics["attack_success_rate"])  # it started inside the top 10: no success is defined
