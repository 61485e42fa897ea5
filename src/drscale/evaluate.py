"""Metrics of one (model, collection, role): contrastive entropy and the standard ranking metrics.

They are computed from :class:`SplitScores`, the few scores that the streaming pass over the
corpus (:func:`drscale.encode.score_collection`) keeps: each query's top ``TOP_K`` passages and
the cosines of its positives and sampled negatives. No corpus vectors are stored.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

TOP_K = 100  # ranked passages kept per query: Recall@100 reads all of them, nDCG@10 and MRR@10 the first 10


@dataclass(frozen=True)
class NegativeSample:
    """For each draw, query and positive: the positive's row and K negative rows of the corpus.

    Drawn from the corpus ids and qrels alone, so every model of a collection sees the same
    negatives (Fang et al.'s protocol).
    """

    query_rows: np.ndarray  # [P] row of the query of each (q, d+) pair
    positive_rows: np.ndarray  # [P] row of d+ in the corpus
    negative_rows: np.ndarray  # [R, Q, K] negatives per draw and query (non-relevant to that query)


@dataclass(frozen=True)
class Role:
    """What is drawn for one evaluated role (test or validation) of a collection, whatever the model:
    its queries, their sampled negatives and the queries the attack targets."""

    query_ids: np.ndarray  # [Q] str, sorted
    sample: NegativeSample
    attacked_rows: np.ndarray  # [A] int64 query rows whose cosines to the whole corpus are kept

    def arrays(self, role: str) -> dict[str, np.ndarray]:
        return {f"{role}.query_ids": self.query_ids, f"{role}.attacked_rows": self.attacked_rows,
                **{f"{role}.{name}": getattr(self.sample, name) for name in NEGATIVE_SAMPLE_FIELDS}}


NEGATIVE_SAMPLE_FIELDS = ("query_rows", "positive_rows", "negative_rows")


@dataclass(frozen=True)
class SplitScores:
    """What the metrics of one role (test or validation) of a (model, collection) need: cosines only.

    Rows of ``query_ids`` are the role's queries; corpus rows are positions in the sorted corpus
    ids. ``attacked_scores`` are the cosines of the attacked queries (``attacked_rows``) to the
    whole corpus, from which a passage's rank under any score follows (empty where the collection
    is not attacked).
    """

    query_ids: np.ndarray  # [Q] str
    doc_ids: np.ndarray  # [N] str, the corpus rows
    top_rows: np.ndarray  # [Q, k] int32 corpus rows, best first
    top_scores: np.ndarray  # [Q, k] float32 cosines
    sample: NegativeSample
    positive_scores: np.ndarray  # [P] float32 cosine of each (q, d+) pair
    negative_scores: np.ndarray  # [R, Q, K] float32 cosines of sample.negative_rows
    attacked_rows: np.ndarray  # [A] int64
    attacked_scores: np.ndarray  # [A, N] float32

    MODEL_FIELDS = ("top_rows", "top_scores", "positive_scores", "negative_scores", "attacked_scores")

    @property
    def top_ids(self) -> np.ndarray:
        return self.doc_ids[self.top_rows]


def save_sample(path: Path, roles: dict[str, Role], doc_ids: list[str]) -> None:
    """One file per collection, with its corpus ids: every model of the grid reads the same draws."""
    arrays = {name: value for role, drawn in roles.items() for name, value in drawn.arrays(role).items()}
    np.savez(path, roles=np.array(list(roles)), doc_ids=np.array(doc_ids, dtype=str), **arrays)


def save_scores(path: Path, roles: dict[str, SplitScores]) -> None:
    """One file per (model, collection) for all its roles (one encoding pass serves them all), holding
    only what depends on the model; the rest is the collection's sample file."""
    arrays = {f"{role}.{name}": getattr(scores, name) for role, scores in roles.items()
              for name in SplitScores.MODEL_FIELDS}
    np.savez(path, roles=np.array(list(roles)), **arrays)


def _role_arrays(path: Path, role: str):
    f = np.load(path)
    roles = f["roles"].tolist()
    if role not in roles:
        f.close()
        raise KeyError(f"{path} holds the roles {roles}, not {role!r}")
    return f


def load_sample(path: Path, role: str) -> Role:
    with _role_arrays(path, role) as f:
        sample = NegativeSample(*(f[f"{role}.{name}"] for name in NEGATIVE_SAMPLE_FIELDS))
        return Role(f[f"{role}.query_ids"], sample, f[f"{role}.attacked_rows"])


def load_samples(path: Path) -> dict[str, Role]:
    """Every role of a collection's sample file."""
    with np.load(path) as f:
        roles = f["roles"].tolist()
    return {role: load_sample(path, role) for role in roles}


def load_scores(path: Path, sample_path: Path, role: str) -> SplitScores:
    """A role's scores: the model's (``path``, the encode rule's) with the collection's draws."""
    drawn = load_sample(sample_path, role)
    with np.load(sample_path) as f:
        doc_ids = f["doc_ids"]
    with _role_arrays(path, role) as f:
        return SplitScores(query_ids=drawn.query_ids, doc_ids=doc_ids, sample=drawn.sample,
                           attacked_rows=drawn.attacked_rows,
                           **{name: f[f"{role}.{name}"] for name in SplitScores.MODEL_FIELDS})


def corpus_ids(folder: Path) -> list[str]:
    """The sorted passage ids of a BEIR folder (the row order of every corpus array), without the texts."""
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        return sorted({json.loads(line)["_id"] for line in f if line.strip()})


def read_qrels(folder: Path, split: str) -> dict[str, dict[str, int]]:
    """``qrels/{split}.tsv`` of a BEIR folder as BEIR's loader reads it, without loading the corpus."""
    path = folder / "qrels" / f"{split}.tsv"
    if not path.exists():
        raise FileNotFoundError(f"{folder} has no qrels/{split}.tsv; available: "
                                f"{sorted(p.stem for p in (folder / 'qrels').glob('*.tsv'))}")
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL)
        next(reader)
        for query_id, doc_id, score in reader:
            qrels.setdefault(query_id, {})[doc_id] = int(score)
    return qrels


def sample_negatives(query_ids: list[str], doc_ids: list[str], qrels: dict[str, dict[str, int]], negatives: int,
                     draws: int, seed: int) -> NegativeSample:
    """Draw ``negatives`` passages uniformly from each query's non-judged passages, ``draws`` times."""
    doc_row = {d: i for i, d in enumerate(doc_ids)}
    n_docs = len(doc_row)
    query_rows, positive_rows, relevant = [], [], []
    for qi, qid in enumerate(query_ids):
        judged = qrels.get(qid, {})
        rows = {doc_row[d] for d, rel in judged.items() if rel > 0 and d in doc_row}
        relevant.append({doc_row[d] for d in judged if d in doc_row})  # judged non-relevant are excluded too
        for row in sorted(rows):
            query_rows.append(qi)
            positive_rows.append(row)
    if n_docs - max(map(len, relevant), default=0) < negatives:
        raise ValueError(f"the corpus has {n_docs} passages, too few to draw {negatives} negatives per query; "
                         "set the collection's 'negatives' (collections.<name>.negatives) or lower "
                         "'evaluation.negatives' in the config")
    out = np.empty((draws, len(relevant), negatives), dtype=np.int64)
    for r in range(draws):
        rng = np.random.default_rng([seed, r])
        for qi, excluded in enumerate(relevant):
            picked = rng.choice(n_docs, size=negatives + len(excluded), replace=False)
            out[r, qi] = [row for row in picked if row not in excluded][:negatives]
    return NegativeSample(np.array(query_rows, dtype=np.int64), np.array(positive_rows, dtype=np.int64), out)


def contrastive_entropy(positive_scores: np.ndarray, negative_scores: np.ndarray) -> np.ndarray:
    """CE = -log softmax of the positive among itself and its negatives, per pair.

    ``positive_scores`` [..., P] and ``negative_scores`` [..., P, K] are already-scaled scores.
    """
    positive_scores = np.broadcast_to(positive_scores, negative_scores.shape[:-1])
    logits = np.concatenate([positive_scores[..., None], negative_scores], axis=-1)
    return logsumexp(logits, axis=-1) - positive_scores


def sampled_scores(scores: SplitScores, scale: float, query_rows: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Scaled scores of each pair's positive [P] and its negatives [R, P, K] (the pairs of
    ``query_rows`` only, when given)."""
    keep = slice(None) if query_rows is None else np.isin(scores.sample.query_rows, query_rows)
    pair_queries = scores.sample.query_rows[keep]
    positive = scale * scores.positive_scores[keep]
    negative = scale * scores.negative_scores[:, pair_queries]
    return positive, negative


def mean_contrastive_entropy(scores: SplitScores, scale: float) -> float:
    return float(contrastive_entropy(*sampled_scores(scores, scale)).mean())


def ranking_metrics(scores: SplitScores, qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """nDCG@10, MRR@10 and Recall@100 with BEIR's evaluator (pytrec_eval underneath) on the top ``TOP_K``."""
    from beir.retrieval.evaluation import EvaluateRetrieval

    results = {qid: dict(zip(ids.tolist(), values.tolist()))
               for qid, ids, values in zip(scores.query_ids.tolist(), scores.top_ids, scores.top_scores)}
    ndcg, _map, recall, _precision = EvaluateRetrieval.evaluate(qrels, results, k_values=[10, 100])
    mrr = EvaluateRetrieval.evaluate_custom(qrels, results, k_values=[10], metric="mrr")
    return {"ndcg@10": ndcg["NDCG@10"], "mrr@10": mrr["MRR@10"], "recall@100": recall["Recall@100"]}


def evaluate_split(scores: SplitScores, qrels: dict[str, dict[str, int]], scale: float) -> dict[str, float]:
    """All clean metrics of one (model, collection, role): ``ce`` plus the ranking metrics."""
    return {"ce": mean_contrastive_entropy(scores, scale), **ranking_metrics(scores, qrels)}
