"""Encode a collection once per model; every metric of that (model, collection) reads the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drscale.tokens import CollectionTokens, TokenizedTexts

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

    def of_queries(self, query_ids: list[str]) -> Embeddings:
        """The rows of ``query_ids`` (one role's queries; the file holds every role's), in that order."""
        row = {q: i for i, q in enumerate(self.query_ids.tolist())}
        rows = np.array([row[q] for q in query_ids], dtype=np.int64)
        return Embeddings(self.query_ids[rows], self.query_emb[rows], self.doc_ids, self.doc_emb)


def encode_tokens(model: SentenceTransformer, tokens: TokenizedTexts, batch_size: int,
                  bf16: bool = True) -> np.ndarray:
    """L2-normalised float32 embeddings of cached token ids, rows in ``tokens`` order.

    Length-sorted batches padded only to their longest row, inference mode, and on a GPU pinned
    host memory with asynchronous copies and (``bf16``, where supported) bf16 autocast. Gives the
    embeddings of ``model.encode(...)`` on the same texts (to float tolerance) without tokenizing
    again. Like ``encode``, it puts the model in eval mode (no dropout).
    """
    import torch

    model.eval()
    device = model.device
    on_gpu = device.type == "cuda"
    bf16 = bf16 and on_gpu and torch.cuda.is_bf16_supported()
    out = None
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for rows, input_ids, attention_mask in tokens.padded_batches(batch_size):
            features = {}
            for key, array in (("input_ids", input_ids), ("attention_mask", attention_mask)):
                tensor = torch.from_numpy(array)
                features[key] = tensor.pin_memory().to(device, non_blocking=True) if on_gpu else tensor
            embedding = torch.nn.functional.normalize(model(features)["sentence_embedding"].float(), dim=-1)
            if out is None:
                out = np.empty((len(tokens), embedding.shape[1]), dtype=np.float32)
            out[rows] = embedding.cpu().numpy()
    return out if out is not None else np.empty((0, 0), dtype=np.float32)


def encode_collection(model: SentenceTransformer, tokens: CollectionTokens, batch_size: int) -> Embeddings:
    """Encode a collection's test queries and whole corpus from its token cache.

    Scores are ``scale * cosine``, the score function MultipleNegativesRankingLoss trains.
    """
    return Embeddings(tokens.query_ids, encode_tokens(model, tokens.queries, batch_size),
                      tokens.doc_ids, encode_tokens(model, tokens.docs, batch_size))
