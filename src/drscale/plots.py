"""Figures for the report. Each function reads plain tables, writes one figure (PNG or SVG, by
the path's suffix) and returns nothing. When there is nothing to draw, the figure says so in
words, so a report rule never fails on a grid that is too small or a stage that did not run.

Figures are built with matplotlib's object API (``Figure``), not pyplot: saving renders with
the Agg (PNG) or SVG canvas, with no global backend or open-figure state to manage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from drscale.families import family_columns
from drscale.fit import predict, prediction_band
from drscale.frontier import pareto_frontier

STRATEGIES = ("standard", "hard_negative", "denoising", "adversarial", "pareto", "pareto_mgda")
PARETO_STRATEGIES = ("pareto", "pareto_mgda")
AXIS_LABELS = {"N": "non-embedding parameters N", "D": "training pairs D"}


def family_label(family: str) -> str:
    """A family column name as a reader would say it."""
    fixed = {
        "ce_eff": "effectiveness (in-domain CE)",
        "ce_ood_mean": "OOD robustness (mean CE)",
        "ce_adv": "adversarial robustness (CE)",
        "ce_rob": "robustness (CE)",
        "ce_joint": "joint CE",
    }
    return fixed.get(family, f"OOD: {family.removeprefix('ce_ood_')} (CE)")


def _strategy_rank(strategy: str) -> int:
    return STRATEGIES.index(strategy) if strategy in STRATEGIES else len(STRATEGIES)


def _color(strategy: str) -> str:
    """The same colour for a strategy in every figure."""
    return f"C{_strategy_rank(strategy) % 10}"


def _series(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(architecture, strategy, label) of every plotted series; the label names the architecture
    only on a grid with several, so a BERT-only grid's figures read as before."""
    keys = sorted(frame.groupby(["architecture", "strategy"]).groups, key=lambda k: (k[0], _strategy_rank(k[1]), k[1]))
    several = len({a for a, _ in keys}) > 1
    return [(a, s, f"{a} {s}" if several else s) for a, s in keys]


def _architecture_style(architecture: str, architectures: list[str]) -> dict:
    """Solid circles for the first architecture, dashed lines, squares and hatched bars for the next."""
    i = sorted(architectures).index(architecture)
    return {"ls": ("-", "--", ":", "-.")[i % 4], "marker": "osD^"[i % 4], "hatch": ("", "//", "..", "xx")[i % 4]}


def _save(fig, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")


def _nothing_to_plot(path, message: str) -> None:
    fig = Figure(figsize=(6, 1.5))
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    _save(fig, path)


def _select(table: pd.DataFrame, architecture: str, strategy: str, family: str, law: str) -> pd.DataFrame:
    return table[(table["architecture"] == architecture) & (table["strategy"] == strategy)
                 & (table["family"] == family) & (table["law"] == law)]


def _fit_params(fits: pd.DataFrame, architecture: str, strategy: str, family: str, law: str) -> dict | None:
    row = _select(fits, architecture, strategy, family, law)
    return row.iloc[0].to_dict() if len(row) and row.iloc[0]["status"] == "ok" else None


def plot_scaling_curves(
    families_df: pd.DataFrame, fits: pd.DataFrame, family: str, path, draws: pd.DataFrame | None = None
) -> None:
    """L vs N at the largest D and L vs D at the largest N, one colour per strategy and one line
    style per architecture: the grid points, the fitted marginal law and, given bootstrap
    ``draws``, its 95% band. Log-log. An architecture's largest N and D are its own."""
    points = families_df[families_df[family].notna()] if family in families_df else families_df.iloc[:0]
    if points.empty:
        return _nothing_to_plot(path, f"No finite {family} values: nothing to plot for {family_label(family)}.")
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2, sharey=True)
    panels = (
        (axes[0], "N", "non_embedding_params", "data_size", "alpha"),
        (axes[1], "D", "data_size", "non_embedding_params", "beta"),
    )
    architectures = sorted(points["architecture"].unique())
    for architecture, strategy, name in _series(points):
        series = points[(points["architecture"] == architecture) & (points["strategy"] == strategy)]
        color, style = _color(strategy), _architecture_style(architecture, architectures)
        for ax, law, var, fixed, exponent in panels:
            sl = series[series[fixed] == series[fixed].max()]
            params = _fit_params(fits, architecture, strategy, family, law)
            label = f"{name} ({exponent} = {params[exponent]:.2f})" if params else f"{name} (not fitted)"
            ax.scatter(sl[var], sl[family], color=color, marker=style["marker"], s=20, label=label)
            if params is None:
                continue
            x = {law: np.geomspace(sl[var].min(), sl[var].max(), 100)}
            ax.plot(x[law], predict(law, params, **x), color=color, ls=style["ls"])
            if draws is not None:
                mine = _select(draws, architecture, strategy, family, law)
                if len(mine):
                    ax.fill_between(x[law], *prediction_band(law, mine, **x), color=color, alpha=0.2, lw=0)
    for ax, law, *_ in panels:
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=AXIS_LABELS[law],
            title=f"L({law}) at the largest {'D' if law == 'N' else 'N'}",
        )
        ax.legend(fontsize=7)
    axes[0].set_ylabel(family_label(family))
    _save(fig, path)


def plot_exponents(fits: pd.DataFrame, path, families: list[str] | None = None) -> None:
    """Exponents of the marginal laws, alpha (N) and beta (D), per family and (architecture,
    strategy) side by side with their bootstrap 95% CIs: does robustness scale more with data and
    effectiveness with model size, and do the exponents transfer across architectures?"""
    ok = fits[(fits["status"] == "ok") & fits["law"].isin(["N", "D"])]
    if families is not None:
        ok = ok[ok["family"].isin(families)]
    if ok.empty:
        return _nothing_to_plot(path, "No scaling law could be fitted: no exponents to compare.")
    names = family_columns(pd.DataFrame(columns=ok["family"].unique()))
    series, architectures = _series(ok), sorted(ok["architecture"].unique())
    width = 0.8 / len(series)
    fig = Figure(figsize=(max(8, 1.6 * len(names)), 4))
    axes = fig.subplots(1, 2)
    for ax, law, exponent in ((axes[0], "N", "alpha"), (axes[1], "D", "beta")):
        for i, (architecture, strategy, label) in enumerate(series):
            rows = ok[(ok["law"] == law) & (ok["architecture"] == architecture) & (ok["strategy"] == strategy)]
            rows = rows.set_index("family").reindex(names)
            value = rows[exponent]
            err = np.array([value - rows[f"{exponent}_lo"], rows[f"{exponent}_hi"] - value]).clip(min=0)
            ax.bar(
                np.arange(len(names)) + (i - (len(series) - 1) / 2) * width,
                value,
                width,
                yerr=np.nan_to_num(err),
                capsize=2,
                color=_color(strategy),
                hatch=_architecture_style(architecture, architectures)["hatch"],
                label=label,
            )
        ax.set_xticks(np.arange(len(names)), [family_label(n) for n in names], rotation=30, ha="right", fontsize=8)
        ax.set(ylabel=f"{exponent} ({AXIS_LABELS[law]})", title=f"L({law}) exponent {exponent}")
    axes[0].legend(fontsize=7)
    _save(fig, path)


def plot_frontier(points: pd.DataFrame, path, x: str = "ce_eff", y: str = "ce_rob") -> None:
    """One panel per (N, D): every strategy's (effectiveness, robustness) point, the frontier of
    non-dominated points as a staircase, Pareto training as stars."""
    data = points.dropna(subset=[x, y]) if {x, y} <= set(points.columns) else points.iloc[:0]
    if data.empty:
        return _nothing_to_plot(path, f"No grid point has both {x} and {y}: no frontier to plot.")
    ns, ds = sorted(data["non_embedding_params"].unique()), sorted(data["data_size"].unique())
    fig = Figure(figsize=(3.2 * len(ds), 2.8 * len(ns)))
    axes = fig.subplots(len(ns), len(ds), squeeze=False)
    for (i, n), (j, d) in ((a, b) for a in enumerate(ns) for b in enumerate(ds)):
        ax, cell = axes[i][j], data[(data["non_embedding_params"] == n) & (data["data_size"] == d)]
        if cell.empty:
            ax.axis("off")
            continue
        front = cell[pareto_frontier(cell, x, y)].sort_values(x)
        ax.step(front[x], front[y], where="post", color="black", ls="--", lw=1, label="frontier")
        for strategy, point in cell.groupby("strategy"):
            star = strategy in PARETO_STRATEGIES
            ax.scatter(
                point[x],
                point[y],
                color=_color(strategy),
                marker="*" if star else "o",
                s=140 if star else 40,
                edgecolors="black" if star else "none",
                zorder=3,
                label=strategy,
            )
        ax.set_title(f"N = {n:.3g}, D = {d:g}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        if i == len(ns) - 1:
            ax.set_xlabel(f"{x} (effectiveness, lower is better)", fontsize=8)
        if j == 0:
            ax.set_ylabel(f"{y} (robustness)", fontsize=8)
    fig.tight_layout()
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_legend_handles_labels()[0]}
    fig.legend(
        handles.values(), handles.keys(), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles), fontsize=8
    )
    _save(fig, path)


def plot_weight_trajectories(trajectories: pd.DataFrame, path, label: str = "run") -> None:
    """Pareto training's robustness weight w_t (top) and both losses (bottom: L_eff solid,
    L_rob dashed) against the step, one colour per run (``label`` column; one run without it)."""
    if trajectories.empty:
        return _nothing_to_plot(path, "No Pareto-training log: no w_t trajectory to plot.")
    runs = trajectories.groupby(label, sort=True) if label in trajectories else [("run", trajectories)]
    fig = Figure(figsize=(8, 6))
    ax_w, ax_loss = fig.subplots(2, 1, sharex=True)
    for i, (run, log) in enumerate(runs):
        log = log.sort_values("step")
        ax_w.plot(log["step"], log["w"], color=f"C{i % 10}", label=str(run))
        ax_loss.plot(log["step"], log["loss_eff"], color=f"C{i % 10}")
        ax_loss.plot(log["step"], log["loss_rob"], color=f"C{i % 10}", ls="--")
    ax_w.set(ylabel="robustness weight w_t", ylim=(0, 1))
    ax_w.legend(fontsize=7)
    ax_loss.plot([], [], color="grey", label="L_eff")
    ax_loss.plot([], [], color="grey", ls="--", label="L_rob")
    ax_loss.set(xlabel="training step", ylabel="loss")
    ax_loss.legend(fontsize=7)
    _save(fig, path)
