"""Compute-budget planner: the (N, D, strategy) the fitted laws predict to be best for a budget.

For each strategy with a joint law of the family, the training cost of (N, D) is the standard
strategy's training-FLOPs law times the strategy's measured CPU-time multiple over standard
(``costs.strategy_cost_ratios``: its in-training attack is not in the FLOP count). On a
log-spaced (N, D) grid reaching ``EXTENT`` times beyond the measured range on each side, the
planner keeps what the budget affords and takes the lowest predicted loss; the interval is the
2.5-97.5% range of the bootstrap draws' predictions at that point. An optimum beyond the
measured N or D range is flagged: it is an extrapolation of the laws.

The workflow trains every grid point for the same number of steps, so training FLOPs do not
grow with D (the fitted D-exponent is 0): more data costs no compute. The planner then searches
D only up to the largest measured D (taking more data than was measured is not a compute
decision) and each budget buys N alone; ``note`` says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drscale.costs import predict_cost, strategy_cost_ratios
from drscale.fit import PARAMS, predict

BUDGET_FAMILIES = ("ce_eff", "ce_rob", "ce_joint")
BUDGET_COLUMNS = [
    "budget_flops",
    "family",
    "strategy",
    "non_embedding_params",
    "data_size",
    "cost_flops",
    "predicted",
    "predicted_lo",
    "predicted_hi",
    "outside_grid",
    "note",
]
EXTENT = 10.0  # search one decade beyond the measured N and D ranges
POINTS = 61  # per axis of the search grid
N_DEFAULT_BUDGETS = 4
LEVEL = 0.95


def default_budgets(costs: pd.DataFrame, n: int = N_DEFAULT_BUDGETS) -> list[float]:
    """``n`` budgets log-spaced from the cheapest to the dearest measured standard training run
    (FLOPs, two significant digits, the smallest rounded up so that it affords the cheapest
    run): budgets the grid itself spans."""
    flops = costs[(costs["stage"] == "train") & (costs["strategy"] == "standard")]["flops"].dropna()
    if flops.empty:
        return []
    budgets = [float(f"{b:.2g}") for b in np.geomspace(flops.min(), flops.max(), n)]
    # Rounding must not take the ends outside the grid: the smallest up, the largest down.
    budgets[0] = max(budgets[0], _round_up(flops.min()))
    return budgets


def _round_up(value: float) -> float:
    """``value`` rounded up to two significant digits."""
    scale = 10 ** (np.floor(np.log10(value)) - 1)
    return float(f"{np.ceil(value / scale) * scale:.2g}")


def train_flops_law(cost_fits: pd.DataFrame) -> dict | None:
    """The standard strategy's fitted training-FLOPs law (a row of cost_fits.tsv), or None."""
    rows = cost_fits[
        (cost_fits["stage"] == "train")
        & (cost_fits["strategy"] == "standard")
        & (cost_fits["quantity"] == "flops")
        & (cost_fits["status"] == "ok")
    ]
    return rows.iloc[0].to_dict() if len(rows) else None


def _joint_params(fits: pd.DataFrame, strategy: str, family: str) -> dict | None:
    rows = fits[(fits["strategy"] == strategy) & (fits["family"] == family) & (fits["law"] == "joint")]
    if not len(rows) or rows.iloc[0]["status"] != "ok":
        return None
    return {p: float(rows.iloc[0][p]) for p in PARAMS["joint"]}


def data_is_free(law: dict) -> bool:
    """True when the training cost law does not grow with D (fixed steps)."""
    return bool(np.isnan(law["exp_D"]) or abs(law["exp_D"]) < 1e-9)


def search_grid(families_df: pd.DataFrame, extent: float = EXTENT, points: int = POINTS, free_data: bool = False):
    """Log-spaced N and D axes reaching ``extent`` times past the measured ranges (D only up to
    the largest measured one when data costs no compute), plus the measured values."""
    n, d = families_df["non_embedding_params"].astype(float), families_df["data_size"].astype(float)
    d_max = d.max() if free_data else d.max() * extent
    # The measured values themselves are on the axes, so a budget that affords a grid point finds it.
    return (
        np.union1d(np.geomspace(n.min() / extent, n.max() * extent, points), n.unique()),
        np.union1d(np.geomspace(d.min() / extent, d_max, points), d.unique()),
    )


def iso_cost_curves(fits, cost_fits, costs, families_df, budgets, families=BUDGET_FAMILIES):
    """Per budget, family and strategy: the lowest predicted loss at each N over the D the budget
    affords there (rows: budget_flops, family, strategy, non_embedding_params, data_size,
    predicted, cost_flops). Empty without a training-FLOPs law."""
    law = train_flops_law(cost_fits)
    if law is None or not budgets or families_df.empty:
        return pd.DataFrame(
            columns=[
                "budget_flops",
                "family",
                "strategy",
                "non_embedding_params",
                "data_size",
                "predicted",
                "cost_flops",
            ]
        )
    ratios = strategy_cost_ratios(costs)
    N, D = search_grid(families_df, free_data=data_is_free(law))
    NN, DD = np.meshgrid(N, D, indexing="ij")
    rows = []
    for family in families:
        for strategy in sorted(families_df["strategy"].unique()):
            params = _joint_params(fits, strategy, family)
            if params is None or strategy not in ratios:
                continue
            loss = predict("joint", params, NN, DD)
            cost = predict_cost(law, NN, DD) * ratios[strategy]
            for budget in budgets:
                masked = np.where(cost <= budget, loss, np.inf)
                best_d = masked.argmin(axis=1)
                for i, j in enumerate(best_d):
                    if np.isfinite(masked[i, j]):
                        rows.append(
                            {
                                "budget_flops": budget,
                                "family": family,
                                "strategy": strategy,
                                "non_embedding_params": N[i],
                                "data_size": D[j],
                                "predicted": masked[i, j],
                                "cost_flops": cost[i, j],
                            }
                        )
    return pd.DataFrame(rows)


def plan(fits, draws, cost_fits, costs, families_df, budgets, families=BUDGET_FAMILIES) -> pd.DataFrame:
    """The rows of results/budget.tsv (``BUDGET_COLUMNS``): per budget and family, the best
    strategy and (N, D) with its predicted loss and bootstrap interval."""
    curves = iso_cost_curves(fits, cost_fits, costs, families_df, budgets, families)
    law = train_flops_law(cost_fits)
    free = (
        "training cost does not grow with D (fixed steps): the largest measured D"
        if (law is not None and data_is_free(law))
        else ""
    )
    rows = []
    for budget in budgets:
        for family in families:
            mine = curves[(curves["budget_flops"] == budget) & (curves["family"] == family)] if len(curves) else curves
            if mine.empty:
                note = (
                    "no training-FLOPs cost law"
                    if train_flops_law(cost_fits) is None
                    else f"no joint law of {family}, or the budget affords no searched (N, D)"
                )
                rows.append({"budget_flops": budget, "family": family, "note": note})
                continue
            best = mine.loc[mine["predicted"].idxmin()]
            strategy, N, D = best["strategy"], float(best["non_embedding_params"]), float(best["data_size"])
            measured = families_df[families_df["strategy"] == strategy]
            outside = []
            for axis, column, value in (("N", "non_embedding_params", N), ("D", "data_size", D)):
                lo, hi = measured[column].min(), measured[column].max()
                if not lo <= value <= hi:
                    outside.append(f"{axis} = {value:.3g} outside the fitted [{lo:.3g}, {hi:.3g}]")
            own = draws[(draws["strategy"] == strategy) & (draws["family"] == family) & (draws["law"] == "joint")]
            band = [predict("joint", r, N, D) for r in own[list(PARAMS["joint"])].to_dict("records")]
            lo, hi = np.quantile(band, [(1 - LEVEL) / 2, (1 + LEVEL) / 2]) if band else (np.nan, np.nan)
            rows.append(
                {
                    "budget_flops": budget,
                    "family": family,
                    "strategy": strategy,
                    "non_embedding_params": N,
                    "data_size": D,
                    "cost_flops": float(best["cost_flops"]),
                    "predicted": float(best["predicted"]),
                    "predicted_lo": float(lo),
                    "predicted_hi": float(hi),
                    "outside_grid": bool(outside),
                    "note": "; ".join([*outside, *([free] if free else []), *([] if band else ["no bootstrap draws"])]),
                }
            )
    return pd.DataFrame(rows, columns=BUDGET_COLUMNS)
