"""Encode a collection once per model and score it in the same pass, shard by shard.

A corpus is encoded in shards of passages; each shard's vectors are scored against the queries
and dropped, so memory and disk do not grow with the corpus. What is kept is what the metrics
and the attack read (:class:`drscale.evaluate.SplitScores`): per query its top ``TOP_K``
passages merged across shards, the cosines of its positives and sampled negatives, and, for the
few attacked queries, their cosines to the whole corpus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from drscale.evaluate import TOP_K, Role, SplitScores
from drscale.tokens import CollectionTokens, TokenizedTexts

if TYPE_CHECKING:  # importing torch and sentence-transformers costs seconds; evaluate jobs never need them
    import torch
    from sentence_transformers import SentenceTransformer


def encode_tokens(model: SentenceTransformer, tokens: TokenizedTexts, batch_size: int,
                  bf16: bool = True, to_numpy: bool = True) -> np.ndarray | torch.Tensor:
    """L2-normalised float32 embeddings of cached token ids, rows in ``tokens`` order.

    Length-sorted batches padded only to their longest row, inference mode, and on a GPU pinned
    host memory with asynchronous copies and (``bf16``, where supported) bf16 autocast. Gives the
    embeddings of ``model.encode(...)`` on the same texts (to float tolerance) without tokenizing
    again. Like ``encode``, it puts the model in eval mode (no dropout). ``to_numpy=False``
    returns a tensor on the model's device.
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
                out = torch.empty((len(tokens), embedding.shape[1]), dtype=torch.float32, device=device)
            out[torch.from_numpy(rows).to(device)] = embedding
    if out is None:
        out = torch.empty((0, 0), dtype=torch.float32, device=device)
    return out.cpu().numpy() if to_numpy else out


class _RoleScorer:
    """Accumulates one role's :class:`SplitScores` over the shards of a corpus."""

    def __init__(self, role: Role, query_emb: torch.Tensor, n_docs: int, top_k: int, query_chunk: int):
        import torch

        self.role, self.query_emb, self.top_k, self.query_chunk = role, query_emb, top_k, query_chunk
        device = query_emb.device
        self.top_scores = torch.empty((len(query_emb), 0), device=device)
        self.top_rows = torch.empty((len(query_emb), 0), dtype=torch.int64, device=device)
        n_queries = len(role.query_ids)
        negatives = role.sample.negative_rows
        self.gathers = [  # (query row, corpus row) of each kept cosine, sorted by corpus row, and its output
            self._gather(role.sample.query_rows, role.sample.positive_rows),
            self._gather(np.broadcast_to(np.arange(n_queries)[None, :, None], negatives.shape).ravel(),
                         negatives.ravel()),
        ]
        self.attacked = [] if len(role.attacked_rows) else None

    @staticmethod
    def _gather(query_rows: np.ndarray, doc_rows: np.ndarray) -> tuple:
        order = np.argsort(doc_rows, kind="stable")
        return query_rows[order], doc_rows[order], order, np.empty(len(doc_rows), dtype=np.float32)

    def add_shard(self, start: int, docs: torch.Tensor, gather_chunk: int = 1 << 16) -> None:
        import torch

        top_scores, top_rows = [], []
        for begin in range(0, len(self.query_emb), self.query_chunk):
            chunk = slice(begin, begin + self.query_chunk)
            values, rows = torch.topk(self.query_emb[chunk] @ docs.T, k=min(self.top_k, len(docs)), dim=1)
            if start:  # merge with the best of the earlier shards
                values = torch.cat([self.top_scores[chunk], values], dim=1)
                rows = torch.cat([self.top_rows[chunk], rows + start], dim=1)
                values, best = torch.topk(values, k=min(self.top_k, values.shape[1]), dim=1)
                rows = torch.gather(rows, 1, best)
            top_scores.append(values)
            top_rows.append(rows)
        if top_scores:
            self.top_scores, self.top_rows = torch.cat(top_scores), torch.cat(top_rows)
        stop = start + len(docs)
        for query_rows, doc_rows, order, out in self.gathers:
            lo, hi = np.searchsorted(doc_rows, [start, stop])
            for a in range(lo, hi, gather_chunk):
                b = min(a + gather_chunk, hi)
                q = self.query_emb[torch.from_numpy(query_rows[a:b]).to(docs.device)]
                d = docs[torch.from_numpy(doc_rows[a:b] - start).to(docs.device)]
                out[order[a:b]] = (q * d).sum(-1).cpu().numpy()
        if self.attacked is not None:
            rows = torch.from_numpy(self.role.attacked_rows).to(docs.device)
            self.attacked.append((self.query_emb[rows] @ docs.T).cpu().numpy())

    def result(self, doc_ids: np.ndarray) -> SplitScores:
        role, (_, _, _, positive), (_, _, _, negative) = self.role, *self.gathers
        attacked = (np.concatenate(self.attacked, axis=1) if self.attacked is not None
                    else np.empty((0, len(doc_ids)), dtype=np.float32))
        return SplitScores(
            query_ids=np.array(role.query_ids, dtype=str), doc_ids=doc_ids,
            top_rows=self.top_rows.cpu().numpy().astype(np.int32),
            top_scores=self.top_scores.cpu().numpy(), sample=role.sample, positive_scores=positive,
            negative_scores=negative.reshape(role.sample.negative_rows.shape),
            attacked_rows=np.asarray(role.attacked_rows, dtype=np.int64), attacked_scores=attacked,
        )


def score_collection(model: SentenceTransformer, tokens: CollectionTokens, roles: dict[str, Role], batch_size: int,
                     shard_size: int, top_k: int = TOP_K, query_chunk: int = 256) -> dict[str, SplitScores]:
    """Encode a collection's queries once and its corpus shard by shard, keeping per role only the
    scores its metrics and attack need (scores are cosines; the metrics scale them).

    Search is exact (a matrix product and ``torch.topk`` per shard of ``shard_size`` passages, on
    the model's device), so the top ``top_k`` equals an exhaustive search up to ties.
    """
    import torch

    query_row = {q: i for i, q in enumerate(tokens.query_ids.tolist())}
    with torch.inference_mode():
        query_emb = encode_tokens(model, tokens.queries, batch_size, to_numpy=False)
        scorers = {}
        for name, role in roles.items():
            rows = torch.tensor([query_row[q] for q in role.query_ids.tolist()], dtype=torch.int64,
                                device=query_emb.device)
            scorers[name] = _RoleScorer(role, query_emb[rows], len(tokens.docs), top_k, query_chunk)
        for start in range(0, len(tokens.docs), shard_size):
            docs = encode_tokens(model, tokens.docs.slice(start, start + shard_size), batch_size, to_numpy=False)
            for scorer in scorers.values():
                scorer.add_shard(start, docs)
        return {name: scorer.result(tokens.doc_ids) for name, scorer in scorers.items()}
