"""The Pareto target: r* = ce_rob / ce_eff at the knee of the baseline strategies' frontier, and
w_0 = r* / (1 + r*), from which Pareto training starts (section 5 of docs/design.md).

The baselines' final models are measured on the validation probe (:mod:`drscale.probe`), the
instrument Pareto training's controller steers with, so r* and the controller's signal are the
same quantity; no test split is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from drscale.frontier import knee_ratio
from drscale.pareto import initial_weight

__all__ = ["pareto_target"]


def pareto_target(measurements: pd.DataFrame | None, baselines: Sequence[str], w_min: float = 0.05,
                  w_max: float = 0.95, target_ratio: float | None = None, w0: float | None = None) -> dict:
    """r* = ce_rob / ce_eff at the knee of the baselines' frontier, and w_0 = r* / (1 + r*).

    ``measurements`` has one row per baseline run (``model``, ``non_embedding_params``,
    ``data_size``, ``strategy``, ``seed``, ``ce_eff``, ``ce_rob``): the probe's values of its final
    model. Seeds are averaged per (N, D, strategy); the knee (:func:`drscale.frontier.knee_ratio`)
    is found per (N, D) among the ``baselines`` trained there, and r* is the geometric mean of the
    points' knee ratios. ``target_ratio`` / ``w0`` override the estimates (w_0 is otherwise clipped
    to [w_min, w_max]). Returns plain data: the two numbers, where they came from, and the points.
    """
    result: dict[str, Any] = {"source": "config", "points": []}
    if target_ratio is None:
        runs = pd.DataFrame() if measurements is None else measurements
        runs = runs[runs["strategy"].isin(baselines)] if not runs.empty else runs
        if runs.empty or runs[["ce_eff", "ce_rob"]].isna().all().any():
            raise ValueError("no baseline run with both effectiveness and robustness measurements to estimate the "
                             "Pareto target from; set 'pareto.target_ratio' in the config")
        means = (runs.groupby(["model", "non_embedding_params", "data_size", "strategy"], sort=True)
                 .agg(ce_eff=("ce_eff", "mean"), ce_rob=("ce_rob", "mean"), n_seeds=("seed", "nunique"))
                 .reset_index())
        ratios = []
        for (n, d), group in means.groupby(["non_embedding_params", "data_size"]):
            ratio = knee_ratio(group, "ce_eff", "ce_rob")
            ratios.append(ratio)
            for _, row in group.iterrows():
                result["points"].append({"model": row["model"], "non_embedding_params": int(n), "data_size": int(d),
                                         "strategy": row["strategy"], "n_seeds": int(row["n_seeds"]),
                                         "ce_eff": float(row["ce_eff"]), "ce_rob": float(row["ce_rob"]),
                                         "knee_ratio": ratio})
        target_ratio = float(np.exp(np.mean(np.log(ratios))))
        result["source"] = "knee"
    result["w0_source"] = "config" if w0 is not None else "initial_weight"
    if w0 is None:
        w0 = min(max(initial_weight(target_ratio), w_min), w_max)
    result.update(target_ratio=float(target_ratio), w0=float(w0))
    return result
