"""Cost laws: what training, encoding and attacking a grid point costs, as power laws in N and D.

Every job of the ``train``, ``encode`` and ``attack`` rules leaves a Snakemake benchmark file
(wall seconds ``s`` and ``cpu_time``); its run's ``model_info.json`` gives N, D, the strategy,
steps, batch size and the device. FLOPs follow the usual transformer count on non-embedding
parameters: 6 N per token trained (forward and backward), 2 N per token encoded (forward), with
the tokens a job processes:

- train: ``steps`` x the encoder inputs of one batch at the token limits (an upper bound: a
  batch is padded to its longest text, not always to the limit). The in-training attack's
  scoring passes of ``adversarial`` / ``pareto`` are not counted; their seconds are.
- encode: the cached token ids of every evaluated collection (exact), summed over the run's
  one job per collection.
- attack: not counted (the greedy search's scored candidates are not logged); seconds only.

Each (stage, strategy, quantity) gets ``cost = c N^a D^b`` fitted by least squares on logs, with
t intervals of the exponents; an axis the jobs do not vary is left out (its exponent NaN).
CPU seconds are the quantity to read on a shared machine (wall seconds include waiting).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

STAGES = ("train", "encode", "attack")
QUANTITIES = {"s": "wall seconds", "cpu_time": "CPU seconds", "flops": "FLOPs"}
COST_COLUMNS = [
    "run",
    "model",
    "non_embedding_params",
    "data_size",
    "strategy",
    "seed",
    "device",
    "stage",
    "s",
    "cpu_time",
    "tokens",
    "flops",
]
COST_FIT_COLUMNS = [
    "stage",
    "strategy",
    "quantity",
    "unit",
    "coef",
    "exp_N",
    "exp_N_lo",
    "exp_N_hi",
    "exp_D",
    "exp_D_lo",
    "exp_D_hi",
    "r2",
    "n_points",
    "dof",
    "device",
    "status",
]
FLOPS_PER_TOKEN = {"train": 6, "encode": 2}
# Strategies whose batches carry mined negatives, and those that add perturbed queries and
# attacked passages (the robustness loss) to every step.
MINED = ("hard_negative", "denoising")
ROBUST = ("adversarial", "pareto", "pareto_mgda")
PER_STAGE_STRATEGY = {"train": True, "encode": False, "attack": False}  # training cost depends on it
LEVEL = 0.95


def train_tokens(
    strategy: str,
    steps: int,
    batch_size: int,
    max_query_length: int,
    max_passage_length: int,
    negatives_per_query: int = 1,
    attacked_per_batch: int = 0,
) -> int:
    """Encoder input tokens of a training run at the token limits."""
    passages = 1 + (negatives_per_query if strategy in MINED else 0)
    per_step = batch_size * (max_query_length + passages * max_passage_length)
    if strategy in ROBUST:  # perturbed queries and attacked passages
        per_step += batch_size * max_query_length + attacked_per_batch * max_passage_length
    return int(steps * per_step)


def token_count(paths) -> int:
    """Tokens in ``tokenize`` caches (queries and passages)."""
    total = 0
    for path in paths:
        with np.load(path) as cache:
            total += int(cache["query_tokens"].size + cache["doc_tokens"].size)
    return total


def read_benchmarks(paths) -> dict:
    """Seconds and CPU seconds summed over a stage's jobs (encode runs one per collection), each
    the last row of its Snakemake benchmark file (a rerun appends with ``--benchmark-repeats``)."""
    rows = [pd.read_csv(path, sep="\t").iloc[-1] for path in paths]
    return {key: sum(float(row[key]) for row in rows) for key in ("s", "cpu_time")}


def cost_table(runs: list[dict], training: dict, negatives_per_query: int = 1, attacked_per_batch: int = 0):
    """One row per (run, stage) with seconds, tokens and FLOPs (``COST_COLUMNS``).

    ``runs`` holds, per run, ``run`` (its path id), ``model_info`` (path), ``benchmarks``
    ({stage: its jobs' benchmark paths}; a stage may be absent) and ``tokens`` (the token caches it encodes).
    ``training`` is the config's training section (token limits)."""
    rows = []
    for run in runs:
        info = json.loads(Path(run["model_info"]).read_text())
        n = int(info["non_embedding_params"])
        keys = {k: info[k] for k in ("model", "non_embedding_params", "data_size", "strategy", "seed")}
        tokens = {
            "train": train_tokens(
                info["strategy"],
                info["steps"],
                info["batch_size"],
                training["max_query_length"],
                training["max_passage_length"],
                negatives_per_query,
                attacked_per_batch,
            ),
            "encode": token_count(run.get("tokens", [])),
            "attack": np.nan,
        }
        for stage, paths in run["benchmarks"].items():
            flops = FLOPS_PER_TOKEN[stage] * n * tokens[stage] if stage in FLOPS_PER_TOKEN else np.nan
            rows.append(
                {
                    "run": run["run"],
                    **keys,
                    "device": info.get("device", "unknown"),
                    "stage": stage,
                    **read_benchmarks(paths),
                    "tokens": tokens[stage],
                    "flops": flops,
                }
            )
    return pd.DataFrame(rows, columns=COST_COLUMNS)


def fit_power_law(N, D, cost) -> dict:
    """log cost = log c + a log N + b log D by least squares, t intervals of a and b; an axis
    with a single value is dropped (exponent NaN)."""
    N, D, cost = (np.asarray(v, float) for v in (N, D, cost))
    ok = np.isfinite(cost) & (cost > 0) & (N > 0) & (D > 0)
    N, D, y = N[ok], D[ok], np.log(cost[ok])
    axes = [name for name, x in (("N", N), ("D", D)) if len(np.unique(x)) >= 2]
    columns = {"N": np.log(N), "D": np.log(D)}
    X = np.column_stack([np.ones(len(y)), *(columns[a] for a in axes)])
    out = {"coef": np.nan, "r2": np.nan, "n_points": int(len(y)), "dof": int(len(y) - X.shape[1])}
    for a in ("N", "D"):
        out.update({f"exp_{a}": np.nan, f"exp_{a}_lo": np.nan, f"exp_{a}_hi": np.nan})
    if out["dof"] < 1:
        return {**out, "status": f"skipped: too few jobs (n={len(y)}, need >{X.shape[1]})"}
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    residual = y - X @ beta
    sigma2 = float(residual @ residual) / out["dof"]
    se = np.sqrt(np.diag(sigma2 * np.linalg.pinv(X.T @ X)))
    t = stats.t.ppf((1 + LEVEL) / 2, out["dof"])
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    out.update(coef=float(np.exp(beta[0])), r2=1 - float(residual @ residual) / ss_tot if ss_tot > 0 else np.nan)
    for i, a in enumerate(axes, start=1):
        out.update(
            {
                f"exp_{a}": float(beta[i]),
                f"exp_{a}_lo": float(beta[i] - t * se[i]),
                f"exp_{a}_hi": float(beta[i] + t * se[i]),
            }
        )
    return {**out, "status": "ok"}


def cost_fits(costs: pd.DataFrame) -> pd.DataFrame:
    """Every stage's cost law in every quantity; training per strategy (the strategies differ in
    what a step does), encoding and attack over all runs (``strategy`` = ``all``)."""
    rows = []
    for stage in STAGES:
        jobs = costs[costs["stage"] == stage]
        groups = jobs.groupby("strategy", sort=True) if PER_STAGE_STRATEGY[stage] else [("all", jobs)]
        for strategy, group in groups:
            for quantity, unit in QUANTITIES.items():
                if group[quantity].isna().all():
                    continue
                fit = fit_power_law(group["non_embedding_params"], group["data_size"], group[quantity])
                device = ",".join(sorted(group["device"].astype(str).unique()))
                rows.append(
                    {"stage": stage, "strategy": strategy, "quantity": quantity, "unit": unit, **fit, "device": device}
                )
    return pd.DataFrame(rows, columns=COST_FIT_COLUMNS)


def predict_cost(fit: dict, N, D) -> np.ndarray:
    """c N^a D^b of one row of ``cost_fits``; a dropped axis contributes nothing."""
    a = 0.0 if np.isnan(fit["exp_N"]) else fit["exp_N"]
    b = 0.0 if np.isnan(fit["exp_D"]) else fit["exp_D"]
    return fit["coef"] * np.asarray(N, float) ** a * np.asarray(D, float) ** b


def strategy_cost_ratios(costs: pd.DataFrame, baseline: str = "standard") -> dict[str, float]:
    """Median CPU time of each strategy's training over the baseline's at the same (N, D, seed)."""
    train = costs[costs["stage"] == "train"]
    keys = ["non_embedding_params", "data_size", "seed"]
    base = train[train["strategy"] == baseline][[*keys, "cpu_time"]]
    ratios = {baseline: 1.0}
    for strategy, group in train[train["strategy"] != baseline].groupby("strategy"):
        both = group.merge(base, on=keys, suffixes=("", "_base"))
        if len(both):
            ratios[strategy] = float((both["cpu_time"] / both["cpu_time_base"]).median())
    return ratios
