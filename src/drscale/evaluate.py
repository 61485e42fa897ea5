"""Metrics of one (model, collection): contrastive entropy and the standard ranking metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from drscale.encode import Embeddings


@dataclass(frozen=True)
class NegativeSample:
    """For each draw, query and positive: the positive's row and K negative rows of the corpus.

    Drawn from the corpus ids and qrels alone, so every model of a collection sees the same
    negatives (Fang et al.'s protocol).
    """

    query_rows: np.ndarray  # [P] row of the query of each (q, d+) pair
    positive_rows: np.ndarray  # [P] row of d+ in the corpus
    negative_rows: np.ndarray  # [R, Q, K] negatives per draw and query (non-relevant to that query)


def sample_negatives(emb: Embeddings, qrels: dict[str, dict[str, int]], negatives: int, draws: int,
                     seed: int) -> NegativeSample:
    """Draw ``negatives`` passages uniformly from each query's non-relevant passages, ``draws`` times."""
    doc_row = {d: i for i, d in enumerate(emb.doc_ids.tolist())}
    n_docs = len(doc_row)
    query_rows, positive_rows, relevant = [], [], []
    for qi, qid in enumerate(emb.query_ids.tolist()):
        judged = qrels.get(qid, {})
        rows = {doc_row[d] for d, rel in judged.items() if rel > 0 and d in doc_row}
        relevant.append({doc_row[d] for d in judged if d in doc_row})  # judged non-relevant are excluded too
        for row in sorted(rows):
            query_rows.append(qi)
            positive_rows.append(row)
    if n_docs - max(map(len, relevant), default=0) < negatives:
        raise ValueError(f"the corpus has {n_docs} passages, too few to draw {negatives} negatives per query; "
                         "lower 'evaluation.negatives' in the config")
    out = np.empty((draws, len(relevant), negatives), dtype=np.int64)
    for r in range(draws):
        rng = np.random.default_rng([seed, r])
        for qi, excluded in enumerate(relevant):
            picked = rng.choice(n_docs, size=negatives + len(excluded), replace=False)
            out[r, qi] = [row for row in picked if row not in excluded][:negatives]
    return NegativeSample(np.array(query_rows), np.array(positive_rows), out)


def contrastive_entropy(positive_scores: np.ndarray, negative_scores: np.ndarray) -> np.ndarray:
    """CE = -log softmax of the positive among itself and its negatives, per pair.

    ``positive_scores`` [..., P] and ``negative_scores`` [..., P, K] are already-scaled scores.
    """
    positive_scores = np.broadcast_to(positive_scores, negative_scores.shape[:-1])
    logits = np.concatenate([positive_scores[..., None], negative_scores], axis=-1)
    return logsumexp(logits, axis=-1) - positive_scores


def sampled_scores(emb: Embeddings, sample: NegativeSample, scale: float,
                   chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Scaled scores of each pair's positive [P] and its negatives [R, P, K].

    Gathers only the sampled rows (never a query x corpus matrix), in chunks of pairs, so that
    memory stays bounded on MS MARCO-sized corpora.
    """
    q = emb.query_emb[sample.query_rows]
    positive = scale * np.einsum("ph,ph->p", q, emb.doc_emb[sample.positive_rows])
    draws, _, k = sample.negative_rows.shape
    negative = np.empty((draws, len(q), k), dtype=np.float32)
    for r in range(draws):
        rows = sample.negative_rows[r, sample.query_rows]
        for start in range(0, len(q), chunk):
            stop = start + chunk
            negative[r, start:stop] = scale * np.einsum("ph,pkh->pk", q[start:stop], emb.doc_emb[rows[start:stop]])
    return positive, negative


def mean_contrastive_entropy(emb: Embeddings, sample: NegativeSample, scale: float) -> float:
    positive, negative = sampled_scores(emb, sample, scale)
    return float(contrastive_entropy(positive, negative).mean())


def exact_search(emb: Embeddings, top_k: int) -> dict[str, dict[str, float]]:
    """Full retrieval by cosine over the whole corpus, as BEIR's result dictionaries."""
    import torch

    doc_emb, doc_ids, results = torch.from_numpy(emb.doc_emb), emb.doc_ids.tolist(), {}
    query_ids = emb.query_ids.tolist()
    for start in range(0, len(query_ids), 256):
        scores = torch.from_numpy(emb.query_emb[start:start + 256]) @ doc_emb.T
        values, rows = torch.topk(scores, k=min(top_k, scores.shape[1]), dim=1)
        for i, qid in enumerate(query_ids[start:start + 256]):
            results[qid] = {doc_ids[r]: float(v) for r, v in zip(rows[i].tolist(), values[i].tolist())}
    return results


def ranking_metrics(emb: Embeddings, qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """nDCG@10, MRR@10 and Recall@100 with BEIR's evaluator (pytrec_eval underneath)."""
    from beir.retrieval.evaluation import EvaluateRetrieval

    results = exact_search(emb, top_k=100)
    ndcg, _map, recall, _precision = EvaluateRetrieval.evaluate(qrels, results, k_values=[10, 100])
    mrr = EvaluateRetrieval.evaluate_custom(qrels, results, k_values=[10], metric="mrr")
    return {"ndcg@10": ndcg["NDCG@10"], "mrr@10": mrr["MRR@10"], "recall@100": recall["Recall@100"]}


def evaluate_collection(emb: Embeddings, qrels: dict[str, dict[str, int]], scale: float, negatives: int,
                        draws: int, seed: int) -> dict[str, float]:
    """All clean metrics of one (model, collection): ``ce`` plus the ranking metrics."""
    sample = sample_negatives(emb, qrels, negatives, draws, seed)
    return {"ce": mean_contrastive_entropy(emb, sample, scale), **ranking_metrics(emb, qrels)}
