"""Encode a collection once per model; every metric of that (model, collection) reads the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drscale.data import Collection, passage_text

if TYPE_CHECKING:  # importing sentence-transformers costs seconds; evaluate jobs never need it
    from sentence_transformers import SentenceTransformer


@dataclass(frozen=True)
class Embeddings:
    """L2-normalised query and passage vectors with their ids (rows align with the id arrays)."""

    query_ids: np.ndarray
    query_emb: np.ndarray
    doc_ids: np.ndarray
    doc_emb: np.ndarray

    def save(self, path: Path) -> None:
        np.savez(path, query_ids=self.query_ids, query_emb=self.query_emb, doc_ids=self.doc_ids, doc_emb=self.doc_emb)

    @classmethod
    def load(cls, path: Path) -> Embeddings:
        with np.load(path) as f:
            return cls(f["query_ids"], f["query_emb"], f["doc_ids"], f["doc_emb"])


def encode_collection(model: SentenceTransformer, collection: Collection, batch_size: int) -> Embeddings:
    """Encode the split's queries and the whole corpus, L2-normalised, in float32.

    Scores are ``scale * cosine``, the score function MultipleNegativesRankingLoss trains.
    """
    import torch

    doc_ids = sorted(collection.corpus)
    query_ids = sorted(collection.queries)
    with torch.inference_mode():
        doc_emb = model.encode_document([passage_text(collection.corpus[d]) for d in doc_ids], batch_size=batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True)
        query_emb = model.encode_query([collection.queries[q] for q in query_ids], batch_size=batch_size,
                                       normalize_embeddings=True, convert_to_numpy=True)
    return Embeddings(np.array(query_ids), query_emb.astype(np.float32), np.array(doc_ids), doc_emb.astype(np.float32))
