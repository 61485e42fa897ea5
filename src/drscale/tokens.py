"""Token-id caches: tokenize each (tokenizer, collection) once, for every model that shares the tokenizer.

Encoding is tokenizer-bound for the small models most of a scaling grid is made of (measured
3-60x on a GPU, about 2-4x on CPU for the default's models), and every model of a family shares
one tokenizer. So the ``tokenize`` rule writes ragged arrays of ids once, and ``encode`` only pads
length-sorted batches of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drscale.data import Collection, passage_text


@dataclass(frozen=True)
class TokenizedTexts:
    """Ragged token ids: text ``i`` is ``ids[offsets[i]:offsets[i + 1]]`` (special tokens included)."""

    ids: np.ndarray  # int32 [total tokens]
    offsets: np.ndarray  # int64 [n + 1]

    @classmethod
    def from_lists(cls, rows: list[list[int]]) -> TokenizedTexts:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        ids = np.fromiter((i for r in rows for i in r), dtype=np.int32, count=int(offsets[-1]))
        return cls(ids, offsets)

    @classmethod
    def concatenate(cls, parts: list[TokenizedTexts]) -> TokenizedTexts:
        """The texts of ``parts`` in order, as one ragged array."""
        if not parts:
            return cls.from_lists([])
        lengths = np.concatenate([part.lengths for part in parts])
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        return cls(np.concatenate([part.ids for part in parts]), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def slice(self, start: int, stop: int) -> TokenizedTexts:
        """Texts ``start:stop`` (a shard of a corpus), without copying the ids."""
        offsets = self.offsets[start : stop + 1]
        return TokenizedTexts(self.ids[offsets[0] : offsets[-1]], offsets - offsets[0])

    def padded_batches(self, batch_size: int):
        """Yield (rows, input_ids, attention_mask) in length-sorted batches (longest first)."""
        lengths = self.lengths
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = int(lengths[rows].max()) if len(rows) else 0
            input_ids = np.zeros((len(rows), width), dtype=np.int64)
            attention_mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                n = lengths[row]
                input_ids[i, :n] = self.row(row)
                attention_mask[i, :n] = 1
            yield rows, input_ids, attention_mask


@dataclass(frozen=True)
class CollectionTokens:
    """A collection's evaluated queries (every role's) and whole corpus as token ids, rows in sorted-id order."""

    query_ids: np.ndarray
    queries: TokenizedTexts
    doc_ids: np.ndarray
    docs: TokenizedTexts

    def save(self, path: Path) -> None:
        np.savez(path, query_ids=self.query_ids, query_tokens=self.queries.ids, query_offsets=self.queries.offsets,
                 doc_ids=self.doc_ids, doc_tokens=self.docs.ids, doc_offsets=self.docs.offsets)

    @classmethod
    def load(cls, path: Path) -> CollectionTokens:
        with np.load(path) as f:
            return cls(f["query_ids"], TokenizedTexts(f["query_tokens"], f["query_offsets"]),
                       f["doc_ids"], TokenizedTexts(f["doc_tokens"], f["doc_offsets"]))


def cut_to_token_budget(tokenizer, texts: list[str], max_length: int) -> list[str]:
    """Each text cut after its first ``max_length`` words when that provably keeps its truncated ids.

    Tokenizing a 200-word passage only to keep 64 tokens wastes most of the work. A cut at a space
    keeps the tokens of the kept words (pre-tokenizers split at white space), so when the cut
    text still fills ``max_length`` tokens the dropped words could not have reached them;
    otherwise the full text is kept. Truncated token ids are therefore unchanged.
    """
    cut = [" ".join(text.split(" ", max_length)[:max_length]) for text in texts]
    lengths = tokenizer(cut, truncation=True, max_length=max_length, return_length=True)["length"]
    return [c if c == t or n >= max_length else t for t, c, n in zip(texts, cut, lengths)]


def tokenize_texts(tokenizer, texts: list[str], max_length: int, chunk: int = 8192) -> TokenizedTexts:
    """Tokenize with the model's own tokenizer and truncation, as sentence-transformers would.

    ``chunk`` texts at a time: the fast tokenizer's encodings and Python id lists take ~410 B per
    token, 238 GB for MS MARCO in one call; per chunk they are freed once the chunk's ids are int32
    arrays (4 B per token). Peak RSS with 1M synthetic passages of 64 tokens: 1.6 GB, against about
    26 GB in one call (extrapolated from 2.9 and 8.1 GB at 100k and 300k; docs/design.md,
    "Resource model"). Each text is tokenized on its own, so the ids do not depend on ``chunk``.
    """
    parts = []
    for start in range(0, len(texts), chunk):
        kept = cut_to_token_budget(tokenizer, texts[start : start + chunk], max_length)
        encoded = tokenizer(kept, truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]
        parts.append(TokenizedTexts.from_lists(encoded))
    return TokenizedTexts.concatenate(parts)


def tokenize_collection(tokenizer, collection: Collection, query_length: int, passage_length: int) -> CollectionTokens:
    doc_ids = sorted(collection.corpus)
    query_ids = sorted(collection.queries)
    return CollectionTokens(
        np.array(query_ids), tokenize_texts(tokenizer, [collection.queries[q] for q in query_ids], query_length),
        np.array(doc_ids),
        tokenize_texts(tokenizer, [passage_text(collection.corpus[d]) for d in doc_ids], passage_length),
    )
