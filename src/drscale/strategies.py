"""Training strategies (section 5 of docs/design.md): how the dataset is built and which losses it feeds.

Every strategy has the same small interface, so the training entry point stays one function and
a new strategy is a class here plus its entry in :mod:`drscale.registry`, not a copy of the trainer:

- ``dataset(rows) -> datasets.Dataset``: the first column ("query") is encoded as a query, every
  other text column as a document (``router_mapping`` in :mod:`drscale.train`); a ``label`` column,
  where present, carries the row index so a loss can look the row's texts up.
- ``loss(model) -> nn.Module``: always a :class:`~drscale.losses.JointObjective`,
  ``L = (1 - w_t) L_eff + w_t L_rob``. Single-objective strategies have no L_rob and w = 0.
- ``trajectory() -> DataFrame``: one row per training step (step, w, loss, loss_eff, loss_rob and
  the controller's own columns), the table Pareto training's w_t plot is drawn from.
- ``state_dict()`` / ``load_state_dict()``: what a resumed run needs (the per-step log, the weight
  controller), saved with every checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from datasets import Dataset
from torch import nn

from drscale.attack import AttackConfig
from drscale.losses import POSITIVE_COLUMN, QUERY_COLUMN, ROW_COLUMN, FixedWeight, JointObjective, RobustRankingLoss
from drscale.mining import denoise_negatives
from drscale.pareto import MGDAController, ParetoController, ProbeController
from drscale.probe import ProbeAttack, measure_probe
from drscale.registry import REGISTRY
from drscale.synonyms import load_synonyms

__all__ = ["STRATEGIES", "Adversarial", "Denoising", "HardNegative", "Pareto", "ParetoMGDA", "Standard", "as_rows",
           "make_strategy"]


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

    def _synonyms(self) -> Mapping[str, Sequence[str]]:
        if not hasattr(self, "_synonym_table"):
            self._synonym_table = self.synonyms if isinstance(self.synonyms, Mapping) else load_synonyms(self.synonyms)
        return self._synonym_table

    def robustness(self, model) -> RobustRankingLoss:
        if not self._texts:
            raise RuntimeError("call dataset(rows) before loss(model): the robustness loss looks rows up")
        synonyms = self._synonyms()
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
    """(1 - w_t) L_eff + w_t L_rob with w_t steered towards the frontier's knee ratio r*.

    ``signal`` ``validation_probe`` (:class:`~drscale.pareto.ProbeController`): the ratio is the
    validation probe's ce_rob / ce_eff (``probe``: the probe's data or its JSON file, see
    :mod:`drscale.probe`) measured every ``probe_every`` steps, the quantity r* is measured in.
    ``training_loss`` (:class:`~drscale.pareto.ParetoController`): the paper's literal rule on the
    training losses' EMAs, every step.
    """

    target_ratio: float = 1.0
    w0: float | None = None
    eta: float = 0.1
    ema_decay: float = 0.9
    w_min: float = 0.05
    w_max: float = 0.95
    signal: str = "validation_probe"
    probe: str | Mapping | None = None
    probe_every: int = 10
    probe_attacked_queries: int = 4
    probe_top_m: int = 2

    def controller(self):
        if self.signal == "training_loss":
            return ParetoController(self.target_ratio, w0=self.w0, eta=self.eta, ema_decay=self.ema_decay,
                                    w_min=self.w_min, w_max=self.w_max)
        if self.signal != "validation_probe":
            raise ValueError(f"unknown Pareto signal {self.signal!r}; valid: validation_probe, training_loss")
        return ProbeController(self.target_ratio, w0=self.w0, eta=self.eta, every=self.probe_every,
                               w_min=self.w_min, w_max=self.w_max)

    def probe_attack(self) -> ProbeAttack:
        """The probe's attack: the in-training attack's budget on its strongest pool passages."""
        return ProbeAttack(attacked_queries=self.probe_attacked_queries, top_m=self.probe_top_m,
                           max_words=self.attack_words, candidates_per_word=self.attack_candidates,
                           words_per_step=self.attack_words_per_step)

    def loss(self, model) -> JointObjective:
        controller = self.controller()
        probe = None
        if isinstance(controller, ProbeController):
            if self.probe is None:
                raise ValueError("Pareto training on the validation probe needs 'probe' (results/pareto/probe.json)")
            data = self.probe if isinstance(self.probe, Mapping) else json.loads(Path(self.probe).read_text())
            synonyms = self._synonyms()
            attack = self.probe_attack()

            cache: dict = {}  # the probe's token ids, computed at the first measurement

            def probe(m):
                return measure_probe(m, data, synonyms, attack, self.scale, cache)

        self._objective = JointObjective(model, self.effectiveness(model), self.robustness(model), controller, probe)
        return self._objective


@dataclass
class ParetoMGDA(Pareto):
    """Pareto training with the two-task MGDA min-norm weight (Sener & Koltun 2018) instead of the
    ratio rule; only w_0 comes from r*. Costs two extra backward passes per step."""

    def controller(self):
        return MGDAController(self.target_ratio, w0=self.w0, w_min=self.w_min, w_max=self.w_max)


# The classes of the registry's strategies, by name.
STRATEGIES = {name: globals()[spec.cls] for name, spec in REGISTRY.items()}


def make_strategy(name: str, **options):
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; valid strategies: {sorted(STRATEGIES)}")
    cls = STRATEGIES[name]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"strategy {name!r} has no option(s) {unknown}; valid: {sorted(known)}")
    return cls(**options)
