"""Hard negatives for the ``hard_negative`` and ``denoising`` strategies (docs/design.md, section 5).

Mining: BM25 (``bm25s``) over the in-domain *training* corpus, i.e. the passages of the training
split (test and dev passages are never shown to a model in training). For each training query the
``depth`` best-scoring passages that are not one of its positives become its ranked candidates.
Positives are excluded by text, so a duplicate of a positive under another id is excluded too.
A query that matches fewer than ``depth`` passages at all (score 0) is topped up with passages
drawn at random from the rest, seeded by the query text, so the same query gets the same
candidates at every data size D (nested subsets stay nested).

Denoising (RocketQA-style, Qu et al. 2021): a candidate whose teacher score is within ``margin``
of the positive's, or above it, is a likely false negative (an unjudged relevant passage) and is
dropped. The teacher is whatever produced the scores in the rows: BM25 itself (the scores mining
stores) or a dense model (:func:`dense_teacher_scores`, e.g. the ``standard`` run of the same grid
point). Rows are plain dicts, one JSON line each, aligned with the training pairs file::

    {"query": ..., "positive": ..., "positive_score": s+, "negatives": [...], "negative_scores": [...]}
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "dense_teacher_scores",
    "denoise_negatives",
    "mine_bm25_negatives",
    "read_jsonl",
    "with_teacher_scores",
    "write_jsonl",
]


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(rows: Iterable[dict], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _bm25_tokens(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    # scikit-learn's word pattern and English stop words, no stemmer (no extra dependency).
    return bm25s.tokenize(list(texts), stopwords="en", return_ids=False, show_progress=False)


def _text_seed(text: str) -> int:
    """A stable (cross-process, unlike ``hash``) 64-bit seed from a text."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def mine_bm25_negatives(
    pairs: Sequence[tuple[str, str]],
    corpus: Sequence[str],
    depth: int,
    seed: int = 0,
    positives: dict[str, Iterable[str]] | None = None,
) -> list[dict]:
    """One row per ``(query, positive)`` pair, in order, with ``depth`` ranked BM25 negatives.

    ``corpus`` is the passage pool to mine from (duplicates are removed); ``positives`` maps a
    query text to all its positive passages (default: those in ``pairs``); every one of them is
    excluded. Scores are BM25 scores (the ``bm25`` denoising teacher); top-up passages (see the
    module docstring) score 0 and come after every matching passage. Ties keep corpus order.
    """
    import bm25s

    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    # Positives join the pool so that they are scored on the same index as their negatives.
    pool = list(dict.fromkeys([*corpus, *(p for _, p in pairs)]))
    row_of = {text: i for i, text in enumerate(pool)}
    excluded: dict[str, set[str]] = defaultdict(set)
    for query, positive in pairs:
        excluded[query].add(positive)
    for query, texts in (positives or {}).items():
        if query in excluded:
            excluded[query].update(texts)
    most_excluded = max((len(v) for v in excluded.values()), default=0)
    if len(pool) - most_excluded < depth:
        raise ValueError(f"the mining corpus has {len(pool)} passages, too few for {depth} negatives per "
                         "query; lower 'mining.depth' in the config")

    retriever = bm25s.BM25()
    retriever.index(_bm25_tokens(pool), show_progress=False)
    vocab = retriever.vocab_dict
    query_texts = list(dict.fromkeys(q for q, _ in pairs))
    mined: dict[str, tuple[list[int], list[float], dict[str, float]]] = {}
    for query, tokens in zip(query_texts, _bm25_tokens(query_texts)):
        known = [t for t in tokens if t in vocab]
        scores = retriever.get_scores(known) if known else np.zeros(len(pool), dtype=np.float32)
        banned = np.zeros(len(pool), dtype=bool)
        banned[[row_of[p] for p in excluded[query] if p in row_of]] = True
        order = np.argsort(-scores, kind="stable")
        ranked = [int(i) for i in order[: depth + int(banned.sum())] if scores[i] > 0 and not banned[i]][:depth]
        if len(ranked) < depth:
            rest = np.flatnonzero((scores <= 0) & ~banned)
            rng = np.random.default_rng([seed, _text_seed(query)])
            ranked += rng.choice(rest, size=depth - len(ranked), replace=False).tolist()
        positive_scores = {p: float(scores[row_of[p]]) for p in excluded[query] if p in row_of}
        mined[query] = (ranked, [float(scores[i]) for i in ranked], positive_scores)

    rows = []
    for query, positive in pairs:
        ranked, negative_scores, positive_scores = mined[query]
        rows.append({"query": query, "positive": positive, "positive_score": positive_scores[positive],
                     "negatives": [pool[i] for i in ranked], "negative_scores": negative_scores})
    return rows


def with_teacher_scores(rows: Sequence[dict], positive_scores: Sequence[float],
                        negative_scores: Sequence[Sequence[float]]) -> list[dict]:
    """Copies of ``rows`` scored by a teacher instead: each row keeps as many of its (ranked)
    negatives as the teacher scored, i.e. its first ``len(negative_scores[i])``."""
    out = []
    for row, pos, negs in zip(rows, positive_scores, negative_scores, strict=True):
        if len(negs) > len(row["negatives"]):
            raise ValueError("the teacher scored more negatives than the row has: scores and rows do not align")
        out.append({**row, "negatives": row["negatives"][: len(negs)], "positive_score": float(pos),
                    "negative_scores": [float(s) for s in negs]})
    return out


def dense_teacher_scores(model, rows: Sequence[dict], scale: float = 20.0,
                         batch_size: int = 256) -> tuple[list[float], list[list[float]]]:
    """Scores ``scale * cos`` of every row's positive and negatives under a bi-encoder teacher.

    Each distinct passage is encoded once. Returns (positive scores, negative scores per row).
    """
    import torch

    queries = list(dict.fromkeys(r["query"] for r in rows))
    passages = list(dict.fromkeys(p for r in rows for p in [r["positive"], *r["negatives"]]))
    kwargs = dict(batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False)
    with torch.inference_mode():
        q_emb = model.encode_query(queries, **kwargs).float().cpu()
        d_emb = model.encode_document(passages, **kwargs).float().cpu()
    q_row = {q: i for i, q in enumerate(queries)}
    d_row = {d: i for i, d in enumerate(passages)}
    positive_scores, negative_scores = [], []
    for r in rows:
        q = q_emb[q_row[r["query"]]]
        docs = d_emb[[d_row[p] for p in [r["positive"], *r["negatives"]]]]
        scores = (scale * docs @ q).tolist()
        positive_scores.append(scores[0])
        negative_scores.append(scores[1:])
    return positive_scores, negative_scores


def denoise_negatives(rows: Sequence[dict], margin: float) -> list[dict]:
    """Drop every negative whose score is >= the positive's minus ``margin`` (likely false negatives).

    Keeps the order (and scores) of the surviving negatives and records ``dropped`` per row. A
    row may end with no negatives at all; the strategy decides how to fill it.
    """
    if margin < 0:
        raise ValueError(f"the denoising margin must be >= 0, got {margin}")
    out = []
    for row in rows:
        threshold = row["positive_score"] - margin
        keep = [i for i, s in enumerate(row["negative_scores"]) if s < threshold]
        out.append({**row, "negatives": [row["negatives"][i] for i in keep],
                    "negative_scores": [row["negative_scores"][i] for i in keep],
                    "dropped": len(row["negatives"]) - len(keep)})
    return out
