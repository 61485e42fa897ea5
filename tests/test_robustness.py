import math

import numpy as np
import pytest

from drscale.evaluate import NegativeSample, mean_contrastive_entropy
from drscale.robustness import adversarial_metrics, attack_targets, attacked_query_rows, strongest_negatives
from tests.test_evaluate import exhaustive_scores, make_scores


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
    assert attacked["mean_words_substituted"] == 3 and attacked["mean_rank_gain"] > 0
    assert attacked["attack_success_rate"] == 1.0


def test_ce_adv_and_attack_statistics_of_a_hand_built_case():
    """Two queries, 14 passages; query i scores a passage by its coordinate i (scale 1).

    q0's positive d0 scores 5; d1..d13 score 4, 3.5, ..., -2, so d_j ranks j + 1 in the full
    ranking: d9 (score 0) is rank 10, just inside the top 10, d10 rank 11, d12 rank 13. One draw
    of K = 4 negatives for q0: d9, d10, d12, d13; the attack (top_m = 3) lifts d9 to 4.5 (rank 2),
    d10 to 0, a tie with d9's clean score (ties go to the attacked passage: rank 10, a success),
    d12 to -0.6 (rank 12, a failure). Only q0 is attacked; q1 (positive d1 at 2, negatives
    d2..d5 at 1, 0, -1, -1) enters ce alone.
    """
    q0_scores = [5.0, 4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -1.5, -2.0]
    q1_scores = [0.0, 2.0, 1.0, 0.0, -1.0, -1.0, *[-3.0] * 8]
    docs = np.array([q0_scores, q1_scores], np.float32).T
    sample = NegativeSample(np.array([0, 1]), np.array([0, 1]), np.array([[[9, 10, 12, 13], [2, 3, 4, 5]]]))
    scores = exhaustive_scores(["q0", "q1"], np.eye(2, dtype=np.float32), [f"d{j}" for j in range(14)], docs, sample,
                               attacked_rows=[0])
    attacked = {(0, 9): 4.5, (0, 10): 0.0, (0, 12): -0.6}
    words = {(0, 9): 2, (0, 10): 1, (0, 12): 3}
    metrics = adversarial_metrics(scores, 3, attacked, words, scale=1.0)

    e = math.exp
    q0_clean = math.log(e(5) + e(0) + e(-0.5) + e(-1.5) + e(-2)) - 5
    q0_attacked = math.log(e(5) + e(4.5) + e(0) + e(-0.6) + e(-2)) - 5
    q1 = math.log(e(2) + e(1) + e(0) + 2 * e(-1)) - 2
    assert metrics["ce_adv_clean"] == pytest.approx(q0_clean, abs=1e-6)
    assert metrics["ce_adv_attacked"] == pytest.approx(q0_attacked, abs=1e-6)
    assert metrics["ce_adv"] == pytest.approx((q0_clean + q1) / 2 + q0_attacked - q0_clean, abs=1e-6)
    # Ranks 10 -> 2, 11 -> 10 and 13 -> 12; d9 started inside the top 10, so it is no success.
    assert metrics["mean_rank_gain"] == pytest.approx((8 + 1 + 1) / 3)
    assert metrics["attack_success_rate"] == 0.5
    assert metrics["mean_words_substituted"] == 2.0 and metrics["attacked_pairs"] == 3.0

    inside = adversarial_metrics(scores, 1, {(0, 9): 4.5}, {(0, 9): 2}, scale=1.0)
    assert math.isnan(inside["attack_success_rate"])  # rank 10 is inside: nothing could enter


def test_rank_gain_hand_computed():
    # Query 0's cosines to 6 passages; its positive is passage 0, the attacked passage 5 (cosine 0.1,
    # rank 5 of 6: 0.9, 0.8, 0.7, 0.6 score higher). Raised to scale x 0.75 it passes 0.7 and 0.6: rank 3.
    from drscale.evaluate import NegativeSample, SplitScores

    cosines = np.array([[0.9, 0.8, 0.7, 0.6, 0.0, 0.1]], dtype=np.float32)
    sample = NegativeSample(np.array([0]), np.array([0]), np.array([[[5]]]))
    scores = SplitScores(np.array(["q"]), np.array([f"d{i}" for i in range(6)]), np.array([[0]], dtype=np.int32),
                         cosines[:, :1], sample, cosines[0, :1],
                         np.array([[[0.1]]], dtype=np.float32), np.array([0]), cosines)
    metrics = adversarial_metrics(scores, 1, {(0, 5): 2 * 0.75}, {(0, 5): 2}, scale=2.0)
    assert metrics["mean_rank_gain"] == 2 and metrics["attacked_pairs"] == 1
    assert np.isnan(metrics["attack_success_rate"])  # it started inside the top 10: no success is defined
