"""Effectiveness-robustness frontier, its knee, and the scaling efficiency of Pareto training
(docs/design.md sections 5 and 6). Every loss here is a contrastive entropy: lower is better.

Strategy comparisons are judged on the seed replicates, never on one run: a strategy dominates
another only where it is better on both axes beyond the seed noise (:func:`better_beyond_noise`),
and the efficiency multiples carry intervals from the same replicates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from drscale.families import GRID_KEYS
from drscale.fit import ALL_PARAMS, log_predict, predict_joint
from drscale.registry import baseline_strategies

LEVEL = 0.95  # intervals and tests: 95% / two-sided 5%
POINT_KEYS = [k for k in GRID_KEYS if k != "strategy"]  # one grid point (N, D), its model's names
SLOPE_STEP = 1e-4  # central difference in log N / log D for the law's local slope


def pareto_frontier(points: pd.DataFrame, x: str = "ce_eff", y: str = "ce_rob") -> pd.Series:
    """Mask of the non-dominated points: no other point is at least as good on both axes and
    better on one. Points with a NaN coordinate are never on the frontier; ties all are."""
    xv, yv = points[x].to_numpy(float), points[y].to_numpy(float)
    at_least_as_good = (xv[:, None] <= xv[None, :]) & (yv[:, None] <= yv[None, :])
    better = (xv[:, None] < xv[None, :]) | (yv[:, None] < yv[None, :])
    dominated = (at_least_as_good & better).any(axis=0)
    return pd.Series(np.isfinite(xv) & np.isfinite(yv) & ~dominated, index=points.index, name="on_frontier")


def mean_interval(values) -> tuple[float, float, float]:
    """Mean and its 95% t-interval (Student's t with n - 1 degrees of freedom); NaN bounds with
    fewer than 2 finite values."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    mean = float(v.mean())
    if len(v) < 2:
        return mean, np.nan, np.nan
    half = float(stats.t.ppf(0.5 + LEVEL / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return mean, mean - half, mean + half


def _difference(a: pd.Series, b: pd.Series) -> tuple[float, float, float]:
    """Mean of a - b and its 95% interval: paired by seed where both have the same seeds (the
    seed fixes initialisation and data order, so a pair shares everything but the strategy),
    else Welch's unequal-variance interval. ``a`` and ``b`` are indexed by seed."""
    a, b = a.dropna(), b.dropna()
    if len(a) < 2 or len(b) < 2:
        return float(a.mean() - b.mean()) if len(a) and len(b) else np.nan, np.nan, np.nan
    if set(a.index) == set(b.index):
        return mean_interval(a - b.reindex(a.index))
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(a.mean() - b.mean())
    if va + vb == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, df) * np.sqrt(va + vb))
    return diff, diff - half, diff + half


def better_beyond_noise(a: pd.Series, b: pd.Series) -> bool:
    """Whether ``a`` (per-seed losses) is lower than ``b`` beyond the seed noise: the 95% interval
    of the difference (paired by seed, else Welch) lies wholly below 0 -- a two-sided t-test at 5%.
    Never with fewer than 2 seeds on either side: one run says nothing about its noise."""
    _, _, hi = _difference(a, b)
    return bool(np.isfinite(hi) and hi < 0)


def frontier_table(by_seed: pd.DataFrame, x: str = "ce_eff", y: str = "ce_rob",
                   joint: str = "ce_joint") -> pd.DataFrame:
    """Every strategy at every (N, D) and architecture it ran (two families at matched N are not
    strategies of one model, so a point is one architecture's): seed means, 95% intervals, ``n_seeds``, and
    ``dominated_by``: the strategies at the same (N, D) better on both axes beyond the seed noise
    (:func:`better_beyond_noise`). ``on_frontier``: finite on both axes and dominated by none.
    ``by_seed`` has one row per run (:func:`drscale.families.families_by_seed`); the rows of
    results/frontier.tsv (a table without ``seed`` counts as one seed per row)."""
    by_seed = by_seed if "seed" in by_seed.columns else by_seed.assign(seed=0)
    values = [c for c in (x, y, joint) if c in by_seed.columns]
    keys = [k for k in POINT_KEYS if k in by_seed.columns]
    rows = []
    for point, group in by_seed.groupby(keys, sort=True):
        runs = {s: g.set_index("seed") for s, g in group.groupby("strategy", sort=True)}
        for strategy, g in runs.items():
            row = {**dict(zip(keys, point)), "strategy": strategy, "n_seeds": int(g.index.nunique())}
            for column in values:
                row[column], row[f"{column}_lo"], row[f"{column}_hi"] = mean_interval(g[column])
            dominating = [other for other, h in runs.items() if other != strategy
                          and better_beyond_noise(h[x], g[x]) and better_beyond_noise(h[y], g[y])]
            row["on_frontier"] = bool(np.isfinite(row[x]) and np.isfinite(row[y]) and not dominating)
            row["dominated_by"] = ",".join(dominating)
            rows.append(row)
    columns = [*keys, "strategy", "n_seeds", *(f"{c}{s}" for c in values for s in ("", "_lo", "_hi")),
               "on_frontier", "dominated_by"]
    table = pd.DataFrame(rows, columns=columns)
    order = [k for k in ("architecture", "non_embedding_params", "data_size") if k in keys]
    return table.sort_values([*order, "strategy"]).reset_index(drop=True)


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


def local_slopes(params: dict[str, float], N: float, D: float) -> tuple[float, float]:
    """d log L / d log N and d log L / d log D of the joint law at (N, D) (both < 0 for a law
    that falls with either resource)."""
    def at(log_n, log_d):
        return float(log_predict("joint", params, np.exp(log_n), np.exp(log_d)))

    ln, ld, h = np.log(N), np.log(D), SLOPE_STEP
    return (at(ln + h, ld) - at(ln - h, ld)) / (2 * h), (at(ln, ld + h) - at(ln, ld - h)) / (2 * h)


def _multiple(log_gap: tuple[float, float, float], slope: float) -> tuple[float, float, float]:
    """k = exp(log_gap / slope) with its interval (a negative slope swaps the bounds)."""
    if not np.isfinite(slope) or slope >= 0:
        return np.nan, np.nan, np.nan
    k = [float(np.exp(v / slope)) if np.isfinite(v) else np.nan for v in log_gap]
    return k[0], k[2], k[1]


def efficiency_table(by_seed: pd.DataFrame, joint_fits: pd.DataFrame, pareto_strategy: str = "pareto",
                     baselines=None, family: str = "ce_joint") -> pd.DataFrame:
    """For every (N, D) of ``pareto_strategy`` and every baseline with an ``ok`` joint law of
    ``family`` in ``joint_fits`` and measured runs at that same (N, D): the multiples ``k_N`` (of
    model size, at fixed D) and ``k_D`` (of data, at fixed N) the baseline needs to match Pareto
    training, with 95% intervals from the seed replicates.

    Anchored on the measured baseline point, not on the law's prediction there (whose residual
    can exceed the effect): through the baseline's measured seed mean runs a line of the law's
    local slope s in log-log, so log k = (log L_pareto - log L_baseline) / s, the gap measured
    per seed (paired by seed where both share the seeds, else Welch). k > 1: the baseline needs
    more; k < 1: Pareto training is behind. A grid with several architectures compares each point
    with the baseline law of its own architecture. The rows of results/efficiency.tsv."""
    baselines = baseline_strategies() if baselines is None else baselines
    by_architecture = "architecture" in joint_fits.columns and "architecture" in by_seed.columns
    law_keys = ["architecture", "strategy"] if by_architecture else ["strategy"]
    laws = joint_fits[(joint_fits["law"] == "joint") & (joint_fits["family"] == family)].set_index(law_keys)
    keys = [k for k in POINT_KEYS if k in by_seed.columns]
    targets = by_seed[by_seed["strategy"] == pareto_strategy]
    rows = []
    for baseline in baselines:
        for point, pareto_runs in targets.groupby(keys, sort=True):
            where = dict(zip(keys, point))
            law_key = (where["architecture"], baseline) if by_architecture else baseline
            if law_key not in laws.index:
                continue
            law = laws.loc[law_key]
            params = {p: float(law[p]) for p in ALL_PARAMS}
            N, D = float(where["non_embedding_params"]), float(where["data_size"])
            mask = (by_seed["strategy"] == baseline) & (by_seed[keys] == pd.Series(where)).all(axis=1)
            base_runs = by_seed[mask]
            p = pareto_runs.set_index("seed")[family]
            b = base_runs.set_index("seed")[family]
            row = {**({"architecture": where["architecture"]} if by_architecture else {}),
                   "strategy": pareto_strategy, "baseline": baseline, "model": where["model"],
                   "non_embedding_params": int(N), "data_size": int(D), "family": family,
                   family: float(p.mean()), "n_seeds": int(p.notna().sum()),
                   f"baseline_{family}": float(b.mean()) if len(b) else np.nan,
                   "baseline_n_seeds": int(b.notna().sum()),
                   f"baseline_{family}_fit": np.nan, "slope_N": np.nan, "slope_D": np.nan, "note": ""}
            k = {f"k_{a}{s}": np.nan for a in "ND" for s in ("", "_lo", "_hi")}
            if law["status"] != "ok":
                row["note"] = f"baseline fit {law['status']}"
            elif b.notna().sum() == 0:
                row["note"] = f"no measured {baseline} run at this (N, D) to anchor on"
            elif p.notna().sum() == 0:
                row["note"] = f"no {family} for {pareto_strategy}"
            else:
                slope_n, slope_d = local_slopes(params, N, D)
                gap = _difference(np.log(p), np.log(b))
                k["k_N"], k["k_N_lo"], k["k_N_hi"] = _multiple(gap, slope_n)
                k["k_D"], k["k_D_lo"], k["k_D_hi"] = _multiple(gap, slope_d)
                row.update({f"baseline_{family}_fit": float(predict_joint(params, N, D)),
                            "slope_N": slope_n, "slope_D": slope_d})
                notes = [f"the law does not fall with {a} here" for a, s in (("N", slope_n), ("D", slope_d)) if s >= 0]
                if not np.isfinite(gap[1]):
                    notes.append("fewer than 2 seeds on a side: no interval")
                row["note"] = "; ".join(notes)
            rows.append({**row, **k})
    columns = [*(["architecture"] if by_architecture else []),
               "strategy", "baseline", "model", "non_embedding_params", "data_size", "family", family, "n_seeds",
               f"baseline_{family}", "baseline_n_seeds", f"baseline_{family}_fit", "slope_N", "slope_D",
               "k_N", "k_N_lo", "k_N_hi", "k_D", "k_D_lo", "k_D_hi", "note"]
    return pd.DataFrame(rows, columns=columns)
