"""Training strategies (docs/design.md, section 5): how the dataset is built and which losses it feeds.

Every strategy has the same small interface, so the training entry point stays one function and
a new strategy is a new class here, not a copy of the trainer:

- ``dataset(rows) -> datasets.Dataset``: the first column ("query") is encoded as a query, every
  other text column as a document (``router_mapping`` in :mod:`drscale.train`); a ``label`` column,
  where present, carries the row index so a loss can look the row's texts up.
- ``loss(model) -> nn.Module``: always a :class:`JointObjective`,
  ``L = (1 - w_t) L_eff + w_t L_rob``. Single-objective strategies have no L_rob and w = 0.
- ``trajectory() -> DataFrame``: one row per training step (step, w, loss, loss_eff, loss_rob and
  the controller's own columns), the table Pareto training's w_t plot is drawn from.
- ``state_dict()`` / ``load_state_dict()``: what a resumed run needs (the per-step log, the weight
  controller), saved with every checkpoint.

The pieces, composed by the strategies at the bottom of the module:

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
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from datasets import Dataset
from torch import nn

from drscale.attack import AttackConfig, attack_pairs, split_words
from drscale.mining import denoise_negatives
from drscale.models import text_length
from drscale.pareto import MGDAController, ParetoController, shared_gradient
from drscale.synonyms import STOP_WORDS, load_synonyms

__all__ = [
    "STRATEGIES",
    "Adversarial",
    "Denoising",
    "FixedWeight",
    "HardNegative",
    "JointObjective",
    "NonFiniteLossError",
    "Pareto",
    "ParetoMGDA",
    "RobustRankingLoss",
    "Standard",
    "as_rows",
    "make_strategy",
    "perturb_query",
    "strategy_options",
    "truncate_words",
]

QUERY_COLUMN = "query"
POSITIVE_COLUMN = "positive"
ROW_COLUMN = "label"  # the collator hands a "label" column to the loss as a tensor: the row index
# The Pareto rule takes log(L_rob / L_eff); a batch loss can round to exactly 0 in float32 once
# every margin exceeds ~17 logits, so losses are floored here before they reach the controller.
LOSS_FLOOR = 1e-8


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite (raised by the per-step objective or the trainer)."""


# ---------------------------------------------------------------------------------------------
# Rows and text helpers


def as_rows(items: Sequence[tuple[str, str] | Mapping[str, Any]]) -> list[dict]:
    """Training rows as dicts: ``(query, positive)`` tuples become ``{"query", "positive"}``."""
    rows = []
    for item in items:
        if isinstance(item, Mapping):
            rows.append(dict(item))
        else:
            query, positive = item
            rows.append({QUERY_COLUMN: query, POSITIVE_COLUMN: positive})
    return rows


def truncate_words(text: str, n_words: int) -> str:
    """``text`` up to and including its ``n_words``-th word (the separators between them kept).

    Every word is at least one token, so a model that reads at most ``n_words`` tokens never sees
    what is cut: attacking the truncated text costs less and changes nothing the model reads.
    """
    pieces = split_words(text)
    return text if len(pieces) // 2 <= n_words else "".join(pieces[: 2 * n_words])


def _eligible(word: str) -> bool:
    return word.lower() not in STOP_WORDS and not any(ch.isdigit() for ch in word)


def _match_case(template: str, word: str) -> str:
    if len(template) > 1 and template.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if template[:1].isupper() else word


def perturb_query(text: str, synonyms: Mapping[str, Sequence[str]], rng: np.random.Generator, n_words: int,
                  candidates_per_word: int = 4) -> str:
    """Replace up to ``n_words`` random words of a query by one of their first synonyms.

    Stop words and words with digits are never replaced nor inserted; capitalisation follows the
    replaced word; spacing and punctuation are untouched. Deterministic given ``rng``'s state.
    """
    pieces = split_words(text)
    words = pieces[1::2]
    options = {}
    for i, word in enumerate(words):
        usable = [s for s in synonyms.get(word.lower(), ())[:candidates_per_word] if _eligible(s)]
        if usable and _eligible(word):
            options[i] = usable
    if not options or n_words < 1:
        return text
    chosen = rng.choice(sorted(options), size=min(n_words, len(options)), replace=False)
    for i in sorted(int(c) for c in chosen):
        pieces[2 * i + 1] = _match_case(words[i], options[i][int(rng.integers(len(options[i])))])
    return "".join(pieces)


def _fill_negatives(rows: list[dict], n: int, seed: int) -> tuple[list[list[str]], int]:
    """``n`` negatives per row: the row's own first ones, topped up (rarely: only after denoising
    emptied a row) with other rows' positives drawn at random, which are hardly ever relevant.
    Returns the negatives per row and how many rows needed a top-up."""
    positives = [r[POSITIVE_COLUMN] for r in rows]
    out, filled = [], 0
    for i, row in enumerate(rows):
        negatives = list(row.get("negatives", []))[:n]
        if len(negatives) < n:
            filled += 1
            rng = np.random.default_rng([seed, i])
            taken = {row[POSITIVE_COLUMN], *negatives}
            for j in rng.permutation(len(rows)):
                if len(negatives) == n:
                    break
                if positives[j] not in taken:
                    negatives.append(positives[j])
                    taken.add(positives[j])
            if len(negatives) < n:
                raise ValueError(f"cannot find {n} negatives for a row among {len(rows)} training rows")
        out.append(negatives)
    return out, filled


# ---------------------------------------------------------------------------------------------
# Losses


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
    (w is set from this step's two gradients before it is formed). ``step`` is set by the trainer
    callback before every step (1-based, as the trainer's log); it seeds the query perturbation.
    """

    def __init__(self, model, effectiveness: nn.Module, robustness: RobustRankingLoss | None = None,
                 controller=None) -> None:
        super().__init__()
        self.model = model
        self.effectiveness = effectiveness
        self.robustness = robustness
        self.controller = controller if controller is not None else FixedWeight(0.0)
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


# ---------------------------------------------------------------------------------------------
# Strategies


@dataclass
class Standard:
    """In-batch negatives: every other passage of the batch is a negative for a query."""

    scale: float = 20.0
    seed: int = 0

    def __post_init__(self) -> None:
        self._texts: dict[str, list[str]] = {}
        self._objective: JointObjective | None = None

    def columns(self, rows: list[dict]) -> dict[str, list]:
        """The dataset's columns, in order (query first)."""
        return {QUERY_COLUMN: [r[QUERY_COLUMN] for r in rows], POSITIVE_COLUMN: [r[POSITIVE_COLUMN] for r in rows]}

    def dataset(self, rows: Sequence[tuple[str, str] | Mapping]) -> Dataset:
        self._texts = self.columns(as_rows(rows))
        return Dataset.from_dict(self._texts)

    def effectiveness(self, model) -> nn.Module:
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

        return MultipleNegativesRankingLoss(model, scale=self.scale)

    def robustness(self, model) -> RobustRankingLoss | None:
        return None

    def controller(self):
        return FixedWeight(0.0)

    def loss(self, model) -> JointObjective:
        self._objective = JointObjective(model, self.effectiveness(model), self.robustness(model), self.controller())
        return self._objective

    def trajectory(self) -> pd.DataFrame:
        """One row per step trained so far (in this process or before a resume)."""
        log = self._objective.log if self._objective else []
        return pd.DataFrame(log, columns=list(dict.fromkeys(["step", "w", "loss", "loss_eff", "loss_rob",
                                                                  *(k for row in log for k in row)])))

    def state_dict(self) -> dict:
        objective = self._objective
        return {"log": objective.log, "controller": dict(vars(objective.controller))} if objective else {}

    def load_state_dict(self, state: dict) -> None:
        if self._objective is None:
            raise RuntimeError("call loss(model) before load_state_dict()")
        self._objective.log = list(state["log"])
        # Controllers hold only floats and lists of rows: their attributes are their state.
        vars(self._objective.controller).update(state["controller"])


@dataclass
class HardNegative(Standard):
    """In-batch negatives plus ``negatives_per_query`` mined negatives per query (rows' ``negatives``,
    best first, from :func:`drscale.mining.mine_bm25_negatives`)."""

    negatives_per_query: int = 1

    def columns(self, rows: list[dict]) -> dict[str, list]:
        if self.negatives_per_query < 1:
            raise ValueError(f"negatives_per_query must be >= 1, got {self.negatives_per_query}")
        negatives, self.rows_filled = _fill_negatives(self.select(rows), self.negatives_per_query, self.seed)
        columns = super().columns(rows)
        for k in range(self.negatives_per_query):
            columns[f"negative_{k + 1}"] = [n[k] for n in negatives]
        return columns

    def select(self, rows: list[dict]) -> list[dict]:
        """Rows whose ``negatives`` are the candidates to take the first ones from."""
        missing = sum("negatives" not in r for r in rows)
        if missing:
            raise ValueError(f"{missing} training rows have no mined 'negatives'; the {type(self).__name__} "
                             "strategy needs rows from the mine_negatives rule")
        return rows


@dataclass
class Denoising(HardNegative):
    """Hard negatives without likely false negatives: of each row's first ``candidates`` mined
    negatives, those scoring >= the positive's score minus ``margin`` under the teacher are dropped
    (:func:`drscale.mining.denoise_negatives`); the teacher is whoever scored the rows
    (``positive_score`` / ``negative_scores``). A row left with too few is topped up with random
    training passages."""

    margin: float = 1.0
    candidates: int = 4

    def select(self, rows: list[dict]) -> list[dict]:
        rows = [{**r, "negatives": r["negatives"][: self.candidates],
                 "negative_scores": r["negative_scores"][: self.candidates]} for r in super().select(rows)]
        denoised = denoise_negatives(rows, self.margin)
        dropped = sum(r["dropped"] for r in denoised)
        self.denoising_stats = {"rows": len(rows), "candidates": sum(len(r["negatives"]) for r in rows),
                                "dropped": dropped}
        return denoised

    def columns(self, rows: list[dict]) -> dict[str, list]:
        columns = super().columns(rows)
        self.denoising_stats["rows_filled"] = self.rows_filled
        return columns


@dataclass
class _RobustTraining(Standard):
    """Shared options of the strategies with a robustness loss (:class:`RobustRankingLoss`)."""

    synonyms: str | Mapping[str, Sequence[str]] | None = None  # "wordnet"/None, a path, or a mapping
    attacked_per_batch: int = 8
    attack_words: int = 2  # substitution budget of the in-training attack
    attack_candidates: int = 4  # synonyms tried per word
    attack_words_per_step: int = 3  # most important words competing in each greedy step
    query_words: int = 1  # random synonym substitutions per perturbed query

    def columns(self, rows: list[dict]) -> dict[str, list]:
        return {**super().columns(rows), ROW_COLUMN: list(range(len(rows)))}

    def attack_config(self) -> AttackConfig:
        return AttackConfig(max_words=self.attack_words, candidates_per_word=self.attack_candidates,
                            words_per_step=self.attack_words_per_step, scale=self.scale,
                            pairs_per_call=max(1, self.attacked_per_batch))

    def robustness(self, model) -> RobustRankingLoss:
        if not self._texts:
            raise RuntimeError("call dataset(rows) before loss(model): the robustness loss looks rows up")
        synonyms = self.synonyms if isinstance(self.synonyms, Mapping) else load_synonyms(self.synonyms)
        documents = [c for c in self._texts if c not in (QUERY_COLUMN, ROW_COLUMN)]
        return RobustRankingLoss(model, self._texts, documents, synonyms, self.attack_config(),
                                 self.attacked_per_batch, self.query_words, self.scale, self.seed)


@dataclass
class Adversarial(_RobustTraining):
    """Clean in-batch loss plus the robustness loss with a fixed weight: (1 - w) L_eff + w L_rob."""

    weight: float = 0.5

    def controller(self):
        return FixedWeight(self.weight)


@dataclass
class Pareto(_RobustTraining):
    """(1 - w_t) L_eff + w_t L_rob with w_t steered towards the frontier's knee ratio r*
    (``ParetoController``: eta, EMA decay and bounds as in docs/design.md, section 5)."""

    target_ratio: float = 1.0
    w0: float | None = None
    eta: float = 0.1
    ema_decay: float = 0.9
    w_min: float = 0.05
    w_max: float = 0.95

    def controller(self):
        return ParetoController(self.target_ratio, w0=self.w0, eta=self.eta, ema_decay=self.ema_decay,
                                w_min=self.w_min, w_max=self.w_max)


@dataclass
class ParetoMGDA(Pareto):
    """Pareto training with the two-task MGDA min-norm weight (Sener & Koltun 2018) instead of the
    ratio rule; only w_0 comes from r*. Costs two extra backward passes per step."""

    def controller(self):
        return MGDAController(self.target_ratio, w0=self.w0, w_min=self.w_min, w_max=self.w_max)


STRATEGIES = {"standard": Standard, "hard_negative": HardNegative, "denoising": Denoising,
              "adversarial": Adversarial, "pareto": Pareto, "pareto_mgda": ParetoMGDA}


def make_strategy(name: str, **options):
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; valid strategies: {sorted(STRATEGIES)}")
    cls = STRATEGIES[name]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"strategy {name!r} has no option(s) {unknown}; valid: {sorted(known)}")
    return cls(**options)


def strategy_options(name: str, config: Mapping, seed: int, target: Mapping | None = None) -> dict:
    """``make_strategy`` options of a strategy from the workflow config (sections ``mining``,
    ``denoising``, ``adversarial``, ``pareto``, and ``attack.synonyms``: training perturbs with
    the evaluation attack's synonym source; defaults as in the schema) and, for Pareto training,
    the ``pareto_target`` rule's output (``target_ratio``, ``w0``)."""
    options: dict[str, Any] = {"scale": float(config.get("evaluation", {}).get("score_scale", 20.0)), "seed": seed}
    if name in ("hard_negative", "denoising"):
        options["negatives_per_query"] = int(config.get("mining", {}).get("negatives_per_query", 1))
    if name == "denoising":
        denoising = config.get("denoising", {})
        options.update(margin=float(denoising.get("margin", 1.0)), candidates=int(denoising.get("candidates", 4)))
    if name in ("adversarial", "pareto", "pareto_mgda"):
        adversarial = dict(config.get("adversarial", {}))
        weight = adversarial.pop("weight", 0.5)
        options.update(adversarial, synonyms=config.get("attack", {}).get("synonyms"))
        if name == "adversarial":
            options["weight"] = float(weight)
    if name in ("pareto", "pareto_mgda"):
        if target is None:
            raise ValueError(f"strategy {name!r} needs the Pareto target (results/pareto/target.json)")
        pareto = config.get("pareto", {})
        options.update(target_ratio=float(target["target_ratio"]), w0=float(target["w0"]),
                       **{k: float(pareto[k]) for k in ("eta", "ema_decay", "w_min", "w_max") if k in pareto})
    return options


# ---------------------------------------------------------------------------------------------
# The Pareto target r* and w_0 (docs/design.md, section 5), from the baselines' results


def pareto_target(metrics: pd.DataFrame, baselines: Sequence[str], w_min: float = 0.05, w_max: float = 0.95,
                  target_ratio: float | None = None, w0: float | None = None) -> dict:
    """r* = ce_rob / ce_eff at the knee of the baselines' frontier, and w_0 = r* / (1 + r*).

    ``metrics`` is a tidy table (:func:`drscale.aggregate.tidy_metrics`) of the baseline runs at
    the grid points the target is estimated from; the knee (:func:`drscale.frontier.knee_ratio`)
    is found per (N, D) point among the ``baselines`` trained there, and r* is the geometric mean
    of the points' knee ratios. Robustness is ``ce_rob`` (mean of OOD and adversarial CE) when the
    attack stage ran, else the OOD mean alone, else the adversarial CE alone; ``robustness_family``
    records which. ``target_ratio`` / ``w0`` override the estimates (w_0 is otherwise clipped to
    [w_min, w_max]). Returns plain data: the two numbers, where they came from, and the points.
    """
    from drscale.families import metric_families
    from drscale.frontier import knee_ratio
    from drscale.pareto import initial_weight

    result: dict[str, Any] = {"source": "config", "robustness_family": None, "points": []}
    if target_ratio is None:
        families = metric_families(metrics)
        families = families[families["strategy"].isin(baselines)].copy()
        candidates = [c for c in ("ce_rob", "ce_ood_mean", "ce_adv") if c in families and families[c].notna().any()]
        if families.empty or not candidates:
            raise ValueError("no baseline run with both effectiveness and robustness metrics to estimate the "
                             "Pareto target from; set 'pareto.target_ratio' in the config")
        rob = candidates[0]
        ratios = []
        for (n, d), group in families.groupby(["non_embedding_params", "data_size"]):
            ratio = knee_ratio(group, "ce_eff", rob)
            ratios.append(ratio)
            for _, row in group.iterrows():
                result["points"].append({"model": row["model"], "non_embedding_params": int(n), "data_size": int(d),
                                         "strategy": row["strategy"], "ce_eff": float(row["ce_eff"]),
                                         "ce_rob": float(row[rob]), "knee_ratio": ratio})
        target_ratio = float(np.exp(np.mean(np.log(ratios))))
        result.update(source="knee", robustness_family=rob)
    result["w0_source"] = "config" if w0 is not None else "initial_weight"
    if w0 is None:
        w0 = min(max(initial_weight(target_ratio), w_min), w_max)
    result.update(target_ratio=float(target_ratio), w0=float(w0))
    return result
