"""Adversarial robustness of one (model, collection): which pairs to attack, and ce_adv from the attacks.

The attack itself lives in :mod:`drscale.attack`; this module decides what it is pointed at and
turns its cached results into metrics, reusing the clean evaluation's scores and negatives.
"""

from __future__ import annotations

import numpy as np

from drscale.evaluate import SplitScores, contrastive_entropy, mean_contrastive_entropy, sampled_scores


def attacked_query_rows(n_queries: int, count: int, seed: int) -> np.ndarray:
    """A seeded subset of query rows (sorted), the same for every model of a collection."""
    order = np.random.default_rng([seed, 1]).permutation(n_queries)
    return np.sort(order[: min(count, n_queries)])


def strongest_negatives(scores: SplitScores, query_rows: np.ndarray, top_m: int) -> np.ndarray:
    """[R, Q, M] corpus rows: per draw, the ``top_m`` sampled negatives that score highest for each query.

    These are the passages most likely to overtake the positive, so the attack pushes them.
    """
    negatives = scores.sample.negative_rows[:, query_rows]  # [R, Q, K]
    best = np.argsort(-scores.negative_scores[:, query_rows], axis=-1, kind="stable")[..., :top_m]
    return np.take_along_axis(negatives, best, axis=-1)


def attack_targets(scores: SplitScores, top_m: int) -> list[tuple[int, int]]:
    """Distinct (query row, corpus row) pairs to attack, in a deterministic order: the ``top_m``
    strongest sampled negatives of each attacked query (``scores.attacked_rows``) and draw."""
    query_rows = scores.attacked_rows
    strongest = strongest_negatives(scores, query_rows, top_m)  # [R, Q, M]
    return sorted({(int(q), int(d)) for per_draw in strongest for q, row in zip(query_rows, per_draw) for d in row})


def adversarial_metrics(scores: SplitScores, top_m: int, attacked_scores: dict[tuple[int, int], float],
                        words_substituted: dict[tuple[int, int], int], scale: float) -> dict[str, float]:
    """ce_adv and attack statistics of the attacked queries (``scores.attacked_rows``).

    Each draw's ``top_m`` strongest negatives of an attacked query are replaced by their attacked
    versions (scores ``attacked_scores``, already scaled); the other negatives, K, R and the seeds
    are those of the clean ``ce``. ``ce_adv_attacked`` is the CE of the attacked queries so
    perturbed and ``ce_adv_clean`` their clean CE. Attacking every test query costs too much, and a
    few queries' CE is dominated by how hard those queries happen to be, so ``ce_adv`` is the
    paired difference estimator of the CE all test queries would have under attack:
    ``ce`` (all queries) + (``ce_adv_attacked`` - ``ce_adv_clean``). It is unbiased for a uniformly
    drawn query subset and its noise is that of the attack's effect alone. The attack never lowers
    a score, so ``ce_adv >= ce``. Success: an attacked passage that started outside the top 10 of
    the full ranking enters it (ranks from the attacked queries' cosines to the whole corpus).
    """
    query_rows = scores.attacked_rows
    positive, negative = sampled_scores(scores, scale, query_rows)
    pair_queries = scores.sample.query_rows[np.isin(scores.sample.query_rows, query_rows)]
    adversarial = negative.copy()
    strongest = strongest_negatives(scores, query_rows, top_m)  # [R, Q, M]
    column = {int(q): i for i, q in enumerate(query_rows)}
    for r in range(negative.shape[0]):
        for p, q in enumerate(pair_queries):
            rows = scores.sample.negative_rows[r, q]
            for d in strongest[r, column[int(q)]]:
                adversarial[r, p, np.flatnonzero(rows == d)] = attacked_scores[(int(q), int(d))]
    ranks_before, ranks_after = [], []
    for (q, d), score_after in sorted(attacked_scores.items()):
        clean = scale * scores.attacked_scores[column[q]]
        ranks_before.append(1 + int(np.sum(clean > clean[d])))
        others = np.delete(clean, d)
        ranks_after.append(1 + int(np.sum(others > score_after)))
    ranks_before, ranks_after = np.array(ranks_before), np.array(ranks_after)
    outside = ranks_before > 10
    ce_attacked = float(contrastive_entropy(positive, adversarial).mean())
    ce_attacked_clean = float(contrastive_entropy(positive, negative).mean())
    return {
        "ce_adv": mean_contrastive_entropy(scores, scale) + ce_attacked - ce_attacked_clean,
        "ce_adv_attacked": ce_attacked,
        "ce_adv_clean": ce_attacked_clean,
        "attack_success_rate": float(np.mean(ranks_after[outside] <= 10)) if outside.any() else float("nan"),
        "mean_rank_gain": float(np.mean(ranks_before - ranks_after)),
        "mean_words_substituted": float(np.mean(list(words_substituted.values()))),
        "attacked_pairs": float(len(attacked_scores)),
    }
