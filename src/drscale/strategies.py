"""Training strategies: how a batch is built and which loss it feeds.

Each strategy is a small object with two methods, so the training entry point stays one
function and a new strategy is a new class here, not a copy of the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasets import Dataset
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss


@dataclass
class Standard:
    """In-batch negatives: every other passage of the batch is a negative for a query."""

    scale: float = 20.0

    def dataset(self, pairs: list[tuple[str, str]]) -> Dataset:
        return Dataset.from_dict({"query": [q for q, _ in pairs], "positive": [p for _, p in pairs]})

    def loss(self, model):
        return MultipleNegativesRankingLoss(model, scale=self.scale)


STRATEGIES = {"standard": Standard}


def make_strategy(name: str, **options):
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; valid strategies: {sorted(STRATEGIES)}")
    return STRATEGIES[name](**options)
