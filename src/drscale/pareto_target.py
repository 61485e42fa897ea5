"""The Pareto target: r* = ce_rob / ce_eff at the knee of the baseline strategies' frontier, and
w_0 = r* / (1 + r*), from which Pareto training starts (section 5 of docs/design.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from drscale.families import metric_families
from drscale.frontier import knee_ratio
from drscale.pareto import initial_weight

__all__ = ["pareto_target"]


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
