"""Scaling-law fits, the way the Chinchilla re-analysis does them (Besiroglu et al. 2024).

    L(N)    = (A/N)^alpha + delta
    L(D)    = (B/D)^beta + delta
    L(N, D) = [(A/N)^(alpha/beta) + B/D]^beta + delta          (Fang et al. 2024)

Each law is fitted, by default, to log L with a Huber loss (robust to the odd diverged run;
objective ``huber_log``), or to L itself by least squares (``least_squares``, as Kaplan et al.
2020 and Fang et al. 2024 fit), from the best points of a start grid with L-BFGS-B. A, B and
delta are fitted as logs, so they stay positive and logaddexp evaluates the law without under-
or overflow. Every fit reports R^2 (on L itself),
its points and degrees of freedom; ``scaling_fits`` adds percentile-bootstrap CIs and held-out
extrapolation checks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import huber
from threadpoolctl import threadpool_limits

from drscale.families import family_columns, with_architecture

HUBER_DELTA = 1e-3  # as Hoffmann et al. (2022) and Besiroglu et al. (2024)
OBJECTIVES = ("huber_log", "least_squares")
PARAMS = {"N": ("A", "alpha", "delta"), "D": ("B", "beta", "delta"), "joint": ("A", "B", "alpha", "beta", "delta")}
ALL_PARAMS = ("A", "B", "alpha", "beta", "delta")
_LOG_PARAMS = {"A", "B", "delta"}
FIT_COLUMNS = [
    *("architecture", "strategy", "family", "law", "non_embedding_params", "data_size", *ALL_PARAMS),
    *(f"{p}_{end}" for p in ALL_PARAMS for end in ("lo", "hi")),
    *("r2", "n_points", "dof", "n_bootstrap"),
    *("heldout_N", "heldout_N_rel_error", "heldout_D", "heldout_D_rel_error", "status"),
]
DRAW_COLUMNS = ["architecture", "strategy", "family", "law", "draw", *ALL_PARAMS]
# Start grid: scales relative to the data's geometric-mean N or D, offsets relative to min L.
SCALE_OFFSETS = (-8.0, -4.0, 0.0, 4.0, 8.0)
EXPONENTS = (0.1, 0.3, 0.6, 1.0, 1.5)
DELTA_FRACTIONS = (0.01, 0.3, 0.6, 0.9)
N_STARTS = 8  # L-BFGS-B runs, from the grid points with the lowest loss
# Numerical guards: exponents stay positive (the joint law divides by beta); exp(+-200) is a float.
BOUNDS = {
    "alpha": (1e-3, 10.0),
    "beta": (1e-3, 10.0),
    "A": (-200.0, 200.0),
    "B": (-200.0, 200.0),
    "delta": (-200.0, 200.0),
}


@dataclass
class LawFit:
    """One fitted law; ``params`` are NaN and ``status`` says why when the fit was skipped."""

    law: str
    params: dict[str, float]
    r2: float
    n_points: int
    dof: int
    status: str


def _log_law(law: str, theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray) -> np.ndarray:
    if law == "N":
        a, alpha, e = theta
        return np.logaddexp(alpha * (a - log_n), e)
    if law == "D":
        b, beta, e = theta
        return np.logaddexp(beta * (b - log_d), e)
    a, b, alpha, beta, e = theta
    return np.logaddexp(beta * np.logaddexp(alpha / beta * (a - log_n), b - log_d), e)


def _to_theta(law: str, params: dict[str, float]) -> np.ndarray:
    with np.errstate(divide="ignore"):  # delta = 0 is log -inf, which logaddexp handles
        return np.array([np.log(params[p]) if p in _LOG_PARAMS else params[p] for p in PARAMS[law]], float)


def _to_params(law: str, theta: np.ndarray) -> dict[str, float]:
    return {p: float(np.exp(t) if p in _LOG_PARAMS else t) for p, t in zip(PARAMS[law], theta)}


def log_predict(law: str, params: dict[str, float], N=None, D=None) -> np.ndarray:
    """log L of ``law`` ("N", "D" or "joint"); stays finite far outside the fitted range."""
    log_n = None if N is None else np.log(np.asarray(N, float))
    log_d = None if D is None else np.log(np.asarray(D, float))
    return _log_law(law, _to_theta(law, params), log_n, log_d)


def predict(law: str, params: dict[str, float], N=None, D=None) -> np.ndarray:
    return np.exp(log_predict(law, params, N, D))


def predict_n(params: dict[str, float], N) -> np.ndarray:
    return predict("N", params, N=N)


def predict_d(params: dict[str, float], D) -> np.ndarray:
    return predict("D", params, D=D)


def predict_joint(params: dict[str, float], N, D) -> np.ndarray:
    return predict("joint", params, N, D)


def elasticities(params: dict[str, float], N, D) -> tuple[np.ndarray, np.ndarray]:
    """d log L / d log N and d log L / d log D of the joint law at (N, D), both <= 0.

    With a = (A/N)^(alpha/beta) and b = B/D, L = (a + b)^beta + delta, so
    d log L / d log N = -alpha a (a + b)^(beta - 1) / L and d log L / d log D = -beta b (a + b)^(beta - 1) / L:
    how many percent the loss falls per percent more model or data."""
    N, D = np.asarray(N, float), np.asarray(D, float)
    a = (params["A"] / N) ** (params["alpha"] / params["beta"])
    b = params["B"] / D
    common = (a + b) ** (params["beta"] - 1) / predict("joint", params, N, D)
    return -params["alpha"] * a * common, -params["beta"] * b * common


def _huber_loss(theta, law, log_n, log_d, log_y) -> float:
    return float(np.sum(huber(HUBER_DELTA, _log_law(law, theta, log_n, log_d) - log_y)))


def _squared_loss(theta, law, log_n, log_d, log_y) -> float:
    """Sum of squared residuals of L (not log L), relative to the data's scale so that the
    optimiser's tolerances mean the same for any unit of L."""
    with np.errstate(over="ignore"):
        residual = np.exp(_log_law(law, theta, log_n, log_d)) - np.exp(log_y)
    return float(np.sum(residual**2) / np.mean(np.exp(2 * log_y)))


_LOSSES = {"huber_log": _huber_loss, "least_squares": _squared_loss}


def _objective(name: str):
    if name not in _LOSSES:
        raise ValueError(f"analysis.fit_objective must be one of {list(OBJECTIVES)}, got {name!r}")
    return _LOSSES[name]


def _minimize(law, starts, log_n, log_d, log_y, objective: str = "huber_log"):
    """Best L-BFGS-B result over ``starts``, or None if none ends at a finite loss.

    Callers hold BLAS to one thread: L-BFGS-B's tiny linear algebra gains nothing from OpenBLAS
    threads, which made fits 20x slower on a busy two-core machine."""
    bounds = [BOUNDS[p] for p in PARAMS[law]]
    loss = _objective(objective)
    runs = [minimize(loss, x0, args=(law, log_n, log_d, log_y), method="L-BFGS-B", bounds=bounds) for x0 in starts]
    finite = [r for r in runs if np.isfinite(r.fun)]
    return min(finite, key=lambda r: r.fun) if finite else None


def _start_grid(law, log_n, log_d, log_y) -> list[np.ndarray]:
    axes = {
        "A": np.mean(log_n) + np.array(SCALE_OFFSETS),
        "B": np.mean(log_d) + np.array(SCALE_OFFSETS),
        "alpha": EXPONENTS,
        "beta": EXPONENTS,
        "delta": np.min(log_y) + np.log(DELTA_FRACTIONS),
    }
    return [np.array(t) for t in itertools.product(*(axes[p] for p in PARAMS[law]))]


def _usable(N, D, y):
    """N, D, L of the points a law can be fitted to (finite, L > 0)."""
    N, D, y = (np.asarray(v, float) for v in (N, D, y))
    ok = np.isfinite(N) & np.isfinite(D) & np.isfinite(y) & (y > 0)
    return N[ok], D[ok], y[ok]


def _skipped(law: str, n: int, status: str) -> LawFit:
    return LawFit(law, {p: np.nan for p in PARAMS[law]}, np.nan, n, n - len(PARAMS[law]), status)


def fit_law(law: str, N, D, y, objective: str = "huber_log", n_starts: int = N_STARTS) -> LawFit:
    """Fit ``law`` to losses ``y`` at (N, D) with ``objective`` (``OBJECTIVES``); D is ignored by
    the N-law and N by the D-law, but both are always passed so every law reads the same table.
    Never raises on too little data (a bad ``objective`` name does raise)."""
    loss = _objective(objective)
    log_n, log_d, log_y = np.log(_usable(N, D, y))
    n, k = len(log_y), len(PARAMS[law])
    if n <= k:
        return _skipped(law, n, f"skipped: too few points (n={n}, need >{k})")
    grid = _start_grid(law, log_n, log_d, log_y)
    grid_loss = [loss(t, law, log_n, log_d, log_y) for t in grid]
    with threadpool_limits(1, user_api="blas"):  # see _minimize
        best = _minimize(law, [grid[i] for i in np.argsort(grid_loss)[:n_starts]], log_n, log_d, log_y, objective)
    if best is None:
        return _skipped(law, n, "failed: no start reached a finite loss")
    y, pred = np.exp(log_y), np.exp(_log_law(law, best.x, log_n, log_d))
    ss_tot = np.sum((y - y.mean()) ** 2)
    r2 = 1 - np.sum((y - pred) ** 2) / ss_tot if ss_tot > 0 else np.nan
    return LawFit(law, _to_params(law, best.x), float(r2), n, n - k, "ok")


def bootstrap_draws(
    law: str, N, D, y, fit: LawFit, n_bootstrap: int = 200, seed: int = 0, objective: str = "huber_log"
) -> pd.DataFrame:
    """Refits on points resampled with replacement, one row of parameters per draw.

    Each refit starts from the full-data optimum (one L-BFGS-B run, which keeps 200 draws cheap).
    Resamples with no more distinct points than parameters do not identify the law and are
    skipped, so the table may have fewer than ``n_bootstrap`` rows; with a single spare point
    (dof < 2) every usable resample is the data itself, so there are no draws at all."""
    log_n, log_d, log_y = np.log(_usable(N, D, y))
    n, k = len(log_y), len(PARAMS[law])
    draws = []
    if fit.status == "ok" and fit.dof >= 2:
        rng, x0 = np.random.default_rng(seed), _to_theta(law, fit.params)
        with threadpool_limits(1, user_api="blas"):  # see _minimize
            for _ in range(n_bootstrap):
                idx = rng.integers(0, n, n)
                if len(np.unique(idx)) <= k:
                    continue
                best = _minimize(law, [x0], log_n[idx], log_d[idx], log_y[idx], objective)
                if best is not None:
                    draws.append(_to_params(law, best.x))
    return pd.DataFrame(draws, columns=list(PARAMS[law]))


def confidence_intervals(draws: pd.DataFrame, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile intervals of every parameter; NaN without draws."""
    q = [(1 - level) / 2, (1 + level) / 2]
    return {p: tuple(draws[p].quantile(q)) if len(draws) else (np.nan, np.nan) for p in draws.columns}


def prediction_band(law: str, draws: pd.DataFrame, N=None, D=None, level: float = 0.95):
    """Pointwise percentile band of the law over the bootstrap draws, for plotting."""
    curves = np.array([predict(law, row, N, D) for row in draws.to_dict("records")])
    return tuple(np.quantile(curves, [(1 - level) / 2, (1 + level) / 2], axis=0))


def heldout_error(law: str, N, D, y, axis: str = "N", objective: str = "huber_log") -> tuple[float, float]:
    """Refit without the points at the largest N (``axis="N"``) or D, and return that held-out
    value and the mean absolute relative error of the extrapolated L there (NaN if the refit is
    skipped). A scaling law that cannot extrapolate one grid step is not one."""
    N, D, y = _usable(N, D, y)
    if len(y) == 0:
        return np.nan, np.nan
    x = N if axis == "N" else D
    held = x == x.max()
    refit = fit_law(law, N[~held], D[~held], y[~held], objective)
    if refit.status != "ok":
        return float(x.max()), np.nan
    pred = predict(law, refit.params, N[held], D[held])
    return float(x.max()), float(np.mean(np.abs(pred - y[held]) / y[held]))


def _law_slices(points: pd.DataFrame):
    """(law, points, fixed N, fixed D): the N-law at the largest D, the D-law at the largest N,
    the joint law on everything."""
    max_n, max_d = points["non_embedding_params"].max(), points["data_size"].max()
    yield "N", points[points["data_size"] == max_d], np.nan, max_d
    yield "D", points[points["non_embedding_params"] == max_n], max_n, np.nan
    yield "joint", points, np.nan, np.nan


def _fit_row(law: str, N, D, y, n_bootstrap: int, seed: int, objective: str) -> tuple[dict, pd.DataFrame]:
    """Parameters, CIs, goodness of fit and held-out errors of one law, and its bootstrap draws."""
    fit = fit_law(law, N, D, y, objective)
    draws = bootstrap_draws(law, N, D, y, fit, n_bootstrap, seed, objective)
    ci = confidence_intervals(draws)
    row = {p: fit.params.get(p, np.nan) for p in ALL_PARAMS}
    for p in ALL_PARAMS:
        row[f"{p}_lo"], row[f"{p}_hi"] = ci.get(p, (np.nan, np.nan))
    row.update(r2=fit.r2, n_points=fit.n_points, dof=fit.dof, n_bootstrap=len(draws))
    for axis in ("N", "D"):
        held = heldout_error(law, N, D, y, axis, objective) if law in (axis, "joint") else (np.nan, np.nan)
        row[f"heldout_{axis}"], row[f"heldout_{axis}_rel_error"] = held
    return {**row, "status": fit.status}, draws


def scaling_fits(
    families_df: pd.DataFrame, families=None, n_bootstrap: int = 200, seed: int = 0, objective: str = "huber_log"
):
    """Every law for every (architecture, strategy) and family (default: all family columns): ``(fits, draws)``,
    the rows of results/fits.tsv (``FIT_COLUMNS``) and the bootstrap draws behind their CIs
    (``DRAW_COLUMNS``, for the plots' bands). ``non_embedding_params`` / ``data_size`` give the
    N or D a marginal law was fitted at; NaN for the joint law."""
    families = families or family_columns(families_df)
    # A family the grid lacks (e.g. ce_adv without the attack stage) is all NaN: skipped, not an error.
    families_df = families_df.reindex(columns=[*families_df.columns, *(f for f in families if f not in families_df)])
    families_df = with_architecture(families_df)
    rows, draws = [], []
    for (architecture, strategy), group in families_df.groupby(["architecture", "strategy"], sort=True):
        for family in families:
            points = group[group[family].notna()]
            for law, sl, fixed_n, fixed_d in _law_slices(points):
                key = {"architecture": architecture, "strategy": strategy, "family": family, "law": law}
                row, fit_draws = _fit_row(
                    law, sl["non_embedding_params"], sl["data_size"], sl[family], n_bootstrap, seed, objective
                )
                rows.append({**key, "non_embedding_params": fixed_n, "data_size": fixed_d, **row})
                if len(fit_draws):
                    draws.append(fit_draws.assign(**key, draw=range(len(fit_draws))))
    draws_table = pd.concat(draws, ignore_index=True) if draws else pd.DataFrame()
    return pd.DataFrame(rows, columns=FIT_COLUMNS), draws_table.reindex(columns=DRAW_COLUMNS)


def fit_table(
    families_df: pd.DataFrame, families=None, n_bootstrap: int = 200, seed: int = 0, objective: str = "huber_log"
) -> pd.DataFrame:
    """The rows of results/fits.tsv (see ``scaling_fits``)."""
    return scaling_fits(families_df, families, n_bootstrap, seed, objective)[0]
