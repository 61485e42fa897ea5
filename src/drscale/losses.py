"""The losses of training strategies, as sentence-transformers losses: the joint objective
``L = (1 - w_t) L_eff + w_t L_rob`` with its per-step log, the robustness loss L_rob, and the
fixed weight of single-weight strategies (the Pareto controllers are in :mod:`drscale.pareto`).

- effectiveness loss L_eff: in-batch contrastive loss (``MultipleNegativesRankingLoss``), with
  mined negatives as extra columns for ``hard_negative`` and ``denoising``;
- :class:`RobustRankingLoss` L_rob: synonym-perturbed queries ranked against the clean batch plus
  the batch's hardest negatives attacked by :func:`drscale.attack.attack_pairs` (see its docstring
  for the cost-bounding choices);
- weight controllers: :class:`FixedWeight` (``adversarial``), :class:`drscale.pareto.ParetoController`
  (``pareto``), :class:`drscale.pareto.MGDAController` (``pareto_mgda``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drscale.attack import AttackConfig, attack_pairs
from drscale.models import text_length
from drscale.pareto import MGDAController, ParetoController, ProbeController, shared_gradient
from drscale.perturb import perturb_query, truncate_words

__all__ = ["FixedWeight", "JointObjective", "NonFiniteLossError", "RobustRankingLoss"]

QUERY_COLUMN = "query"
POSITIVE_COLUMN = "positive"
ROW_COLUMN = "label"  # the collator hands a "label" column to the loss as a tensor: the row index
# The Pareto rule takes log(L_rob / L_eff); a batch loss can round to exactly 0 in float32 once
# every margin exceeds ~17 logits, so losses are floored here before they reach the controller.
LOSS_FLOOR = 1e-8


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite (raised by the per-step objective or the trainer)."""


class FixedWeight:
    """A constant robustness weight w, with the controllers' ``weight`` / ``combine`` interface."""

    def __init__(self, w: float) -> None:
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"the robustness weight must lie in [0, 1], got {w}")
        self.w = float(w)
        self.history: list[dict] = []

    @property
    def weight(self) -> float:
        return self.w

    def combine(self, loss_eff: torch.Tensor, loss_rob: torch.Tensor) -> torch.Tensor:
        return (1.0 - self.w) * loss_eff + self.w * loss_rob


class RobustRankingLoss(nn.Module):
    """L_rob: the batch's queries, perturbed by synonym substitution, must still rank their
    positive above the clean in-batch candidates *and* above attacked hard negatives.

    Per step, against the current model (cheap by construction):

    1. each query's hardest candidate: the highest-scoring passage of the batch other than its own
       positive (other rows' positives, mined negatives if any), from the embeddings L_eff
       already computed: no extra encoding;
    2. for the ``attacked_per_batch`` queries whose hardest candidate scores highest, that
       passage is attacked with :func:`~drscale.attack.attack_pairs` (word importance by
       deletion, then greedy synonym steps; ``attack`` sets the budget and the candidates per step)
       after truncation to the words the model reads (:func:`truncate_words`);
    3. every query gets ``query_words`` random synonym substitutions (no model in the loop);
    4. contrastive loss of the perturbed queries over [clean candidates, attacked passages]; an
       attacked copy of row j's own positive is masked out of row j's softmax (a synonym rewrite
       of j's positive is still relevant to j): it is a negative for every query but j.

    Only the perturbed queries and the attacked passages are encoded with gradients on top of
    L_eff's forward pass; the attack itself runs without gradients, in eval mode.
    """

    def __init__(self, model, texts: Mapping[str, Sequence[str]], document_columns: Sequence[str],
                 synonyms: Mapping[str, Sequence[str]], attack: AttackConfig, attacked_per_batch: int,
                 query_words: int, scale: float, seed: int) -> None:
        super().__init__()
        self.model = model
        self.texts = texts
        self.document_columns = list(document_columns)
        self.synonyms = synonyms
        self.attack = attack
        self.attacked_per_batch = attacked_per_batch
        self.query_words = query_words
        self.scale = scale
        self.seed = seed
        self.document_words = text_length(model, "document")
        self.last_attack: list = []  # the step's AttackResults, for inspection and tests

    def _embed(self, texts: list[str], task: str) -> torch.Tensor:
        from sentence_transformers.util import batch_to_device

        features = batch_to_device(self.model.preprocess(texts, task=task), self.model.device)
        features["task"] = task
        return self.model(features)["sentence_embedding"]

    def attacked_passages(self, rows: list[int], query_emb: torch.Tensor, pool_emb: torch.Tensor,
                          pool_texts: list[str]) -> tuple[list[str], list[int]]:
        """Attack the hardest candidates; returns the attacked texts and their pool indices."""
        batch = len(rows)
        if self.attacked_per_batch < 1 or pool_emb.shape[0] < 2:
            return [], []
        with torch.no_grad():
            scores = F.normalize(query_emb.float(), dim=-1) @ F.normalize(pool_emb.float(), dim=-1).T
            scores[torch.arange(batch), torch.arange(batch)] = -math.inf  # own positive
            hardest_score, hardest = scores.max(dim=1)
            attacked = torch.topk(hardest_score, min(self.attacked_per_batch, batch)).indices.tolist()
        pairs = [(str(i), self.texts[QUERY_COLUMN][rows[i]], str(int(hardest[i])),
                  truncate_words(pool_texts[int(hardest[i])], self.document_words)) for i in attacked]
        was_training = self.model.training
        try:
            self.last_attack = attack_pairs(self.model, pairs, self.synonyms, self.attack)
        finally:
            self.model.train(was_training)  # encode() leaves the model in eval mode
        return [r.attacked for r in self.last_attack], [int(hardest[i]) for i in attacked]

    def forward(self, embeddings: list[torch.Tensor], labels: torch.Tensor, step: int) -> torch.Tensor:
        rows = labels.tolist()
        batch = len(rows)
        pool_emb = torch.cat(embeddings[1:], dim=0)  # column-major: all positives, then each negative column
        pool_texts = [self.texts[c][r] for c in self.document_columns for r in rows]
        adv_texts, adv_sources = self.attacked_passages(rows, embeddings[0], pool_emb, pool_texts)

        queries = [perturb_query(self.texts[QUERY_COLUMN][r], self.synonyms,
                                 np.random.default_rng([self.seed, step, r]), self.query_words,
                                 self.attack.candidates_per_word) for r in rows]
        query_emb = F.normalize(self._embed(queries, "query"), dim=-1)
        candidates = [pool_emb]
        if adv_texts:
            candidates.append(self._embed(adv_texts, "document"))
        candidate_emb = F.normalize(torch.cat(candidates, dim=0), dim=-1)
        logits = self.scale * query_emb @ candidate_emb.T
        for m, source in enumerate(adv_sources):
            if source < batch:  # the attacked passage is row `source`'s positive
                logits[source, pool_emb.shape[0] + m] = -math.inf
        return F.cross_entropy(logits, torch.arange(batch, device=logits.device))


class JointObjective(nn.Module):
    """``L = (1 - w_t) L_eff + w_t L_rob``, logging w_t and both losses at every step.

    ``effectiveness`` is a ``MultipleNegativesRankingLoss`` (its ``compute_loss_from_embeddings``
    is used, so the batch is encoded once for both terms). Without ``robustness`` the objective is
    L_eff itself (w = 0). ``controller`` is a :class:`FixedWeight`, a ``ParetoController`` (w is
    updated from the two losses after the step's loss is formed with w_t) or an ``MGDAController``
    (w is set from this step's two gradients before it is formed) or a ``ProbeController`` (w is
    set before the step from ``probe(model)``, the validation probe measured with the current model,
    on the steps the controller says). ``step`` is set by the trainer callback before every step
    (1-based, as the trainer's log); it seeds the query perturbation.
    """

    def __init__(self, model, effectiveness: nn.Module, robustness: RobustRankingLoss | None = None,
                 controller=None, probe=None) -> None:
        super().__init__()
        self.model = model
        self.effectiveness = effectiveness
        self.robustness = robustness
        self.controller = controller if controller is not None else FixedWeight(0.0)
        self.probe = probe
        if isinstance(self.controller, ProbeController) and probe is None:
            raise ValueError("a ProbeController needs the validation probe to measure")
        self.step = 0
        self.log: list[dict] = []

    def forward(self, sentence_features, labels: torch.Tensor | None) -> torch.Tensor:
        from sentence_transformers.base.losses.merged_forward import embed_columns

        embeddings = embed_columns(self.model, sentence_features)
        loss_eff = self.effectiveness.compute_loss_from_embeddings(embeddings, labels)
        if self.robustness is None:
            self._record(loss_eff, loss_eff, None)
            return loss_eff
        loss_rob = self.robustness(embeddings, labels, self.step)
        self._check_finite(loss_eff, loss_rob)
        if isinstance(self.controller, ProbeController):
            self.controller.update(self.step, self.probe(self.model) if self.controller.due(self.step) else None)
        if isinstance(self.controller, MGDAController):
            parameters = [p for p in self.model.parameters() if p.requires_grad]
            self.controller.update_from_gradients(shared_gradient(loss_eff, parameters),
                                                  shared_gradient(loss_rob, parameters))
        w = self.controller.weight
        loss = self.controller.combine(loss_eff, loss_rob)
        if isinstance(self.controller, ParetoController):
            self.controller.update(max(loss_eff.item(), LOSS_FLOOR), max(loss_rob.item(), LOSS_FLOOR))
        self._record(loss, loss_eff, loss_rob, w)
        return loss

    def _check_finite(self, *losses: torch.Tensor) -> None:
        for name, value in zip(("L_eff", "L_rob"), losses):
            if not math.isfinite(value.item()):
                raise NonFiniteLossError(
                    f"{name} became {value.item()} at step {self.step}; lower the model's 'learning_rate' in the "
                    "config (random-init encoders need a rate that falls with width)")

    def _record(self, loss, loss_eff, loss_rob, w: float = 0.0) -> None:
        row = {"step": self.step, "w": w, "loss": loss.item(), "loss_eff": loss_eff.item(),
               "loss_rob": math.nan if loss_rob is None else loss_rob.item()}
        history = self.controller.history
        if history:  # the controller's own columns (EMAs, delta, MGDA weight) of this step
            row.update({k: v for k, v in history[-1].items() if k not in row})
        self.log.append(row)
