"""Effectiveness-robustness frontier, its knee, and the scaling efficiency of Pareto training
(docs/design.md, sections 5 and 6). Every loss here is a contrastive entropy: lower is better."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from drscale.families import GRID_KEYS
from drscale.fit import ALL_PARAMS, log_predict, predict, predict_joint

BASELINE_STRATEGIES = ("standard", "hard_negative", "denoising", "adversarial")
LOG_K_BRACKET = (-50.0, 50.0)  # k in [e^-50, e^50]: beyond that the answer is 0 or inf anyway


def pareto_frontier(points: pd.DataFrame, x: str = "ce_eff", y: str = "ce_rob") -> pd.Series:
    """Mask of the non-dominated points: no other point is at least as good on both axes and
    better on one. Points with a NaN coordinate are never on the frontier; ties all are."""
    xv, yv = points[x].to_numpy(float), points[y].to_numpy(float)
    at_least_as_good = (xv[:, None] <= xv[None, :]) & (yv[:, None] <= yv[None, :])
    better = (xv[:, None] < xv[None, :]) | (yv[:, None] < yv[None, :])
    dominated = (at_least_as_good & better).any(axis=0)
    return pd.Series(np.isfinite(xv) & np.isfinite(yv) & ~dominated, index=points.index, name="on_frontier")


def frontier_table(families_df: pd.DataFrame, x: str = "ce_eff", y: str = "ce_rob") -> pd.DataFrame:
    """Every strategy at every (N, D) with ``on_frontier``: non-dominated among the strategies
    trained at that same (N, D) and architecture (two families at matched N are not strategies
    of one model), the rows of results/frontier.tsv."""
    columns = [c for c in [*GRID_KEYS, x, y, "ce_joint"] if c in families_df.columns]
    point = [c for c in ("architecture", "non_embedding_params", "data_size") if c in columns]
    table = families_df[list(dict.fromkeys(columns))].sort_values([*point, "strategy"])
    by_grid_point = table.groupby(point, sort=False)
    masks = [pareto_frontier(group, x, y) for _, group in by_grid_point]
    table["on_frontier"] = pd.concat(masks).reindex(table.index) if masks else pd.Series(dtype=bool)
    return table.reset_index(drop=True)


def knee_ratio(frontier_points: pd.DataFrame, x: str = "ce_eff", y: str = "ce_rob") -> float:
    """r* = y / x at the knee: the point nearest the utopia point (both minima) once each axis is
    min-max normalised. Dominated points can never be nearest, so any point set will do. An axis
    with no range contributes nothing; a single point is its own knee."""
    xy = frontier_points[[x, y]].dropna().to_numpy(float)
    if len(xy) == 0:
        raise ValueError(f"knee_ratio needs at least one point with finite {x} and {y}")
    span = xy.max(axis=0) - xy.min(axis=0)
    normalised = (xy - xy.min(axis=0)) / np.where(span > 0, span, 1.0)
    knee = xy[np.argmin(np.hypot(normalised[:, 0], normalised[:, 1]))]
    return float(knee[1] / knee[0])


def _multiple(params: dict[str, float], N: float, D: float, target: float, axis: str) -> tuple[float, str]:
    """k with L(kN, D) = target (axis "N") or L(N, kD) = target (axis "D"), solved on log k."""
    fixed = "D" if axis == "N" else "N"
    # As k grows the joint law falls to the other resource's marginal law, never below it:
    # L(inf, D) = (B/D)^beta + delta and L(N, inf) = (A/N)^alpha + delta.
    asymptote = float(predict(fixed, params, N, D))
    if target <= asymptote:
        return np.inf, f"unreachable in {axis}: target {target:.4g} <= asymptote {asymptote:.4g} at fixed {fixed}"

    def gap(log_k):
        k_n, k_d = (np.exp(log_k), 1.0) if axis == "N" else (1.0, np.exp(log_k))
        return float(log_predict("joint", params, k_n * N, k_d * D)) - np.log(target)

    lo, hi = LOG_K_BRACKET
    if gap(hi) > 0:
        return np.inf, f"k_{axis} > e^{hi:g}"
    if gap(lo) < 0:
        return 0.0, f"k_{axis} < e^{lo:g}"
    return float(np.exp(brentq(gap, lo, hi, xtol=1e-10))), ""


def scaling_efficiency(params: dict[str, float], N: float, D: float, target: float) -> dict:
    """How much more model (``k_N``, at fixed D) or data (``k_D``, at fixed N) the joint law
    ``params`` needs to reach loss ``target`` from (N, D). k < 1 means the target is worse than the
    law at (N, D); inf means the law never gets there (``note`` says why)."""
    k_n, note_n = _multiple(params, N, D, target, "N")
    k_d, note_d = _multiple(params, N, D, target, "D")
    return {"k_N": k_n, "k_D": k_d, "note": "; ".join(n for n in (note_n, note_d) if n)}


def efficiency_table(
    families_df: pd.DataFrame,
    joint_fits: pd.DataFrame,
    pareto_strategy: str = "pareto",
    baselines=BASELINE_STRATEGIES,
    family: str = "ce_joint",
) -> pd.DataFrame:
    """For every (N, D) of ``pareto_strategy`` and every baseline with a joint law of ``family`` in
    ``joint_fits`` (rows of ``fit_table``; other laws are ignored): the multiples k_N and k_D that
    the baseline needs to match Pareto training. The rows of results/efficiency.tsv. A grid with
    several architectures compares each point with the baseline law of its own architecture."""
    by_architecture = "architecture" in joint_fits.columns and "architecture" in families_df.columns
    keys = ["architecture", "strategy"] if by_architecture else ["strategy"]
    laws = joint_fits[(joint_fits["law"] == "joint") & (joint_fits["family"] == family)].set_index(keys)
    targets = families_df[families_df["strategy"] == pareto_strategy].sort_values(["non_embedding_params", "data_size"])
    rows = []
    for baseline in baselines:
        for _, point in targets.iterrows():
            key = (point["architecture"], baseline) if by_architecture else baseline
            if key not in laws.index:
                continue
            law = laws.loc[key]
            params = {p: float(law[p]) for p in ALL_PARAMS}
            N, D, target = float(point["non_embedding_params"]), float(point["data_size"]), float(point[family])
            result = {"k_N": np.nan, "k_D": np.nan, f"baseline_{family}_fit": np.nan}
            if law["status"] != "ok":
                result["note"] = f"baseline fit {law['status']}"
            elif not np.isfinite(target):
                result["note"] = f"no {family} for {pareto_strategy}"
            else:
                result.update(scaling_efficiency(params, N, D, target))
                result[f"baseline_{family}_fit"] = float(predict_joint(params, N, D))
            where = {"model": point["model"], "non_embedding_params": int(N), "data_size": int(D), "family": family}
            rows.append({"strategy": pareto_strategy, "baseline": baseline, **where, family: target, **result})
    columns = ["strategy", "baseline", "model", "non_embedding_params", "data_size", "family", family]
    columns += [f"baseline_{family}_fit", "k_N", "k_D", "note"]
    return pd.DataFrame(rows, columns=columns)
