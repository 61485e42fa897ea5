"""Adversarial robustness of one (model, collection): which pairs to attack, and ce_adv from the attacks.

The attack itself lives in :mod:`drscale.attack`; this module decides what it is pointed at and
turns its cached results into metrics, reusing the clean evaluation's embeddings and negatives.
"""

from __future__ import annotations

import numpy as np

from drscale.encode import Embeddings
from drscale.evaluate import NegativeSample, contrastive_entropy, mean_contrastive_entropy, sampled_scores


def attacked_query_rows(n_queries: int, count: int, seed: int) -> np.ndarray:
    """A seeded subset of query rows (sorted), the same for every model of a collection."""
    order = np.random.default_rng([seed, 1]).permutation(n_queries)
    return np.sort(order[: min(count, n_queries)])


def restrict(sample: NegativeSample, query_rows: np.ndarray) -> NegativeSample:
    """The pairs of ``sample`` whose query is in ``query_rows``."""
    keep = np.isin(sample.query_rows, query_rows)
    return NegativeSample(sample.query_rows[keep], sample.positive_rows[keep], sample.negative_rows)


def strongest_negatives(emb: Embeddings, sample: NegativeSample, query_rows: np.ndarray, top_m: int) -> np.ndarray:
    """[R, Q, M] corpus rows: per draw, the ``top_m`` sampled negatives that score highest for each query.

    These are the passages most likely to overtake the positive, so the attack pushes them.
    """
    negatives = sample.negative_rows[:, query_rows]  # [R, Q, K]
    scores = np.einsum("qh,rqkh->rqk", emb.query_emb[query_rows], emb.doc_emb[negatives])
    best = np.argsort(-scores, axis=-1, kind="stable")[..., :top_m]
    return np.take_along_axis(negatives, best, axis=-1)


def attack_targets(emb: Embeddings, sample: NegativeSample, query_rows: np.ndarray,
                   top_m: int) -> list[tuple[int, int]]:
    """Distinct (query row, corpus row) pairs to attack, in a deterministic order."""
    strongest = strongest_negatives(emb, sample, query_rows, top_m)  # [R, Q, M]
    return sorted({(int(q), int(d)) for per_draw in strongest for q, row in zip(query_rows, per_draw) for d in row})


def adversarial_metrics(emb: Embeddings, sample: NegativeSample, query_rows: np.ndarray, top_m: int,
                        attacked_scores: dict[tuple[int, int], float], words_substituted: dict[tuple[int, int], int],
                        scale: float) -> dict[str, float]:
    """ce_adv and attack statistics of the attacked queries.

    Each draw's ``top_m`` strongest negatives of an attacked query are replaced by their attacked
    versions (scores ``attacked_scores``, already scaled); the other negatives, K, R and the seeds
    are those of the clean ``ce``. ``ce_adv_attacked`` is the CE of the attacked queries so
    perturbed and ``ce_adv_clean`` their clean CE. Attacking every test query costs too much, and a
    few queries' CE is dominated by how hard those queries happen to be, so ``ce_adv`` is the
    paired difference estimator of the CE all test queries would have under attack:
    ``ce`` (all queries) + (``ce_adv_attacked`` - ``ce_adv_clean``). It is unbiased for a uniformly
    drawn query subset and its noise is that of the attack's effect alone. The attack never lowers
    a score, so ``ce_adv >= ce``. Success: an attacked passage that started outside the top 10 of
    the full ranking enters it.
    """
    subset = restrict(sample, query_rows)
    positive, negative = sampled_scores(emb, subset, scale)
    adversarial = negative.copy()
    strongest = strongest_negatives(emb, sample, query_rows, top_m)  # [R, Q, M]
    column = {int(q): i for i, q in enumerate(query_rows)}
    for r in range(negative.shape[0]):
        for p, q in enumerate(subset.query_rows):
            rows = sample.negative_rows[r, q]
            for d in strongest[r, column[int(q)]]:
                adversarial[r, p, np.flatnonzero(rows == d)] = attacked_scores[(int(q), int(d))]
    ranks_before, ranks_after = [], []
    clean_scores = {}  # one full-corpus score vector per attacked query, not per attacked pair
    for (q, d), score_after in sorted(attacked_scores.items()):
        if q not in clean_scores:
            clean_scores[q] = scale * emb.doc_emb @ emb.query_emb[q]
        clean = clean_scores[q]
        ranks_before.append(1 + int(np.sum(clean > clean[d])))
        others = np.delete(clean, d)
        ranks_after.append(1 + int(np.sum(others > score_after)))
    ranks_before, ranks_after = np.array(ranks_before), np.array(ranks_after)
    outside = ranks_before > 10
    ce_attacked = float(contrastive_entropy(positive, adversarial).mean())
    ce_attacked_clean = float(contrastive_entropy(positive, negative).mean())
    return {
        "ce_adv": mean_contrastive_entropy(emb, sample, scale) + ce_attacked - ce_attacked_clean,
        "ce_adv_attacked": ce_attacked,
        "ce_adv_clean": ce_attacked_clean,
        "attack_success_rate": float(np.mean(ranks_after[outside] <= 10)) if outside.any() else float("nan"),
        "mean_rank_gain": float(np.mean(ranks_before - ranks_after)),
        "mean_words_substituted": float(np.mean(list(words_substituted.values()))),
        "attacked_pairs": float(len(attacked_scores)),
    }
