"""Figures for the report. Each function reads plain tables, writes one figure (PNG or SVG, by
the path's suffix) and returns the ``Figure`` (so tests can check what it draws). When there is
nothing to draw, the figure says so in words, so a report rule never fails on a grid that is too
small or a stage that did not run.

Figures are built with matplotlib's object API (``Figure``), not pyplot: saving renders with
the Agg (PNG) or SVG canvas, with no global backend or open-figure state to manage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from drscale.families import family_columns, with_architecture
from drscale.findings import R2_SUPPORT
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


def _save(fig, path) -> Figure:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig


def _nothing_to_plot(path, message: str) -> Figure:
    fig = Figure(figsize=(6, 1.5))
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return _save(fig, path)


def compact(value: float) -> str:
    """3600 -> '3.6k', 413000 -> '413k', 1.2e6 -> '1.2M': short tick labels that never collide."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _log_ticks(axis, values, max_ticks: int = 6) -> None:
    """Major ticks at the measured values (thinned so neighbours are at least 1/max_ticks of the
    log span apart), labelled compactly; no minor labels. Matplotlib's default log ticks label
    minor ticks on a range under a decade, where '2x10^3' and '3x10^4' collide."""
    values = np.unique(np.asarray(values, float)[np.isfinite(values) & (np.asarray(values, float) > 0)])
    if len(values) == 0:
        return
    logs = np.log10(values)
    gap = max((logs[-1] - logs[0]) / max_ticks, 0.05)
    kept = [values[0]]
    for v, lv in zip(values[1:], logs[1:]):
        if lv - np.log10(kept[-1]) >= gap:
            kept.append(v)
    axis.set_major_locator(FixedLocator(kept))
    axis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _loss_ticks(axis, low: float, high: float, n: int = 5) -> None:
    """A log loss axis: about ``n`` round ticks between the data's extremes, plain labels."""
    if not (np.isfinite(low) and np.isfinite(high)) or low <= 0:
        return
    ticks = np.unique([float(f"{t:.2g}") for t in np.geomspace(low, high, n)])
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _series(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(architecture, strategy, label) of every plotted series; the label names the architecture
    only on a grid with several, so a BERT-only grid's figures read as before."""
    keys = sorted(frame.groupby(["architecture", "strategy"]).groups, key=lambda k: (k[0], _strategy_rank(k[1]), k[1]))
    several = len({a for a, _ in keys}) > 1
    return [(a, s, f"{a} {s}" if several else s) for a, s in keys]


def _architecture_style(architecture: str, architectures: list[str]) -> dict:
    """Solid circles for the first architecture, squares and hatched bars for the next."""
    i = sorted(architectures).index(architecture)
    return {"marker": "osD^"[i % 4], "hatch": ("", "//", "..", "xx")[i % 4]}


def _select(table: pd.DataFrame, architecture: str, strategy: str, family: str, law: str) -> pd.DataFrame:
    table = with_architecture(table)
    return table[(table["architecture"] == architecture) & (table["strategy"] == strategy)
                 & (table["family"] == family) & (table["law"] == law)]


def _fit_params(fits: pd.DataFrame, architecture: str, strategy: str, family: str, law: str) -> dict | None:
    row = _select(fits, architecture, strategy, family, law)
    return row.iloc[0].to_dict() if len(row) and row.iloc[0]["status"] == "ok" else None


def _band(ax, law, params_draws, color, **at) -> None:
    if params_draws is not None and len(params_draws):
        x = next(v for v in at.values() if np.ndim(v))
        ax.fill_between(x, *prediction_band(law, params_draws, **at), color=color, alpha=0.15, lw=0)


def _draws_of(draws, architecture, strategy, family, law):
    return None if draws is None else _select(draws, architecture, strategy, family, law)


def plot_scaling_curves(
    families_df: pd.DataFrame, fits: pd.DataFrame, family: str, path, draws: pd.DataFrame | None = None
) -> Figure:
    """L vs N at the largest D and L vs D at the largest N of the whole grid, one colour per
    strategy and one marker per architecture: only the grid points at that D (or N), the marginal
    law fitted to exactly those points (solid) and the joint law's slice at that D (or N) (dashed), each with its 95%
    bootstrap band given ``draws`` where the fit has draws. A strategy measured elsewhere (e.g.
    only at a smaller D) does not appear in that panel. Log-log."""
    points = families_df[families_df[family].notna()] if family in families_df else families_df.iloc[:0]
    if points.empty:
        return _nothing_to_plot(path, f"No finite {family} values: nothing to plot for {family_label(family)}.")
    points = with_architecture(points)
    architectures = sorted(points["architecture"].unique())
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2, sharey=True)
    max_n, max_d = points["non_embedding_params"].max(), points["data_size"].max()
    panels = (
        (axes[0], "N", "non_embedding_params", "data_size", max_d, "alpha"),
        (axes[1], "D", "data_size", "non_embedding_params", max_n, "beta"),
    )
    for ax, law, var, fixed, at, exponent in panels:
        sl_all = points[points[fixed] == at]
        for architecture, strategy, name in _series(sl_all):
            sl = sl_all[(sl_all["architecture"] == architecture) & (sl_all["strategy"] == strategy)]
            color, marker = _color(strategy), _architecture_style(architecture, architectures)["marker"]
            params = _fit_params(fits, architecture, strategy, family, law)
            # The strategy's law was fitted at its own largest D (N): draw it only if that is this panel's.
            if params is not None and not np.isclose(params["data_size" if law == "N" else "non_embedding_params"], at):
                params = None
            joint = _fit_params(fits, architecture, strategy, family, "joint")
            label = f"{name}: L({law}), {exponent} = {params[exponent]:.2f}" if params else (
                f"{name}: L({law}) not fitted")
            ax.scatter(sl[var], sl[family], color=color, marker=marker, s=20, label=label, zorder=3)
            x = np.geomspace(sl[var].min(), sl[var].max(), 100)
            if params is not None and len(sl) > 1:
                ax.plot(x, predict(law, params, **{law: x}), color=color, gid=f"law {law} {name}")
                _band(ax, law, _draws_of(draws, architecture, strategy, family, law), color, **{law: x})
            if joint is not None and len(sl) > 1:
                at_both = {"N": x, "D": at} if law == "N" else {"N": at, "D": x}
                ax.plot(x, predict("joint", joint, **at_both), color=color, ls="--", gid=f"joint {name}",
                        label=f"{name}: joint law, {exponent} = {joint[exponent]:.2f}")
                _band(ax, "joint", _draws_of(draws, architecture, strategy, family, "joint"), color, **at_both)
        other = "D" if law == "N" else "N"
        ax.set(xscale="log", yscale="log", xlabel=AXIS_LABELS[law],
               title=f"L({law}) at the largest {other} ({other} = {compact(at)})")
        _log_ticks(ax.xaxis, points[var])
        if len(sl_all):
            ax.legend(fontsize=7)
    axes[0].set_ylabel(family_label(family))
    shown = points[(points["data_size"] == max_d) | (points["non_embedding_params"] == max_n)][family]
    _loss_ticks(axes[0].yaxis, shown.min(), shown.max())
    return _save(fig, path)


def _with_errors(rows: pd.DataFrame, exponent: str):
    value = rows[exponent]
    return value, np.nan_to_num(np.array([value - rows[f"{exponent}_lo"], rows[f"{exponent}_hi"] - value]).clip(min=0))


def plot_exponents(fits: pd.DataFrame, path, families: list[str] | None = None) -> Figure:
    """Exponents alpha (N) and beta (D) per family and (architecture, strategy) side by side with
    their bootstrap 95% CIs (hatched bars for a second architecture):
    bars for the marginal laws, black-edged diamonds for the joint law (whose intervals exist on
    grids where the marginal laws have too few points for any). A law that fits with R^2 below
    the findings' threshold is drawn faded (bars) or hollow (diamonds): its exponent describes no
    power law. Does robustness scale more with data and effectiveness with model size, and do the
    exponents transfer across architectures?"""
    ok = fits[(fits["status"] == "ok") & fits["law"].isin(["N", "D", "joint"])]
    if families is not None:
        ok = ok[ok["family"].isin(families)]
    if ok.empty:
        return _nothing_to_plot(path, "No scaling law could be fitted: no exponents to compare.")
    ok = with_architecture(ok)
    names = family_columns(pd.DataFrame(columns=ok["family"].unique()))
    series, architectures = _series(ok), sorted(ok["architecture"].unique())
    width = 0.8 / len(series)
    fig = Figure(figsize=(max(8, 1.6 * len(names)), 4))
    axes = fig.subplots(1, 2)
    for ax, law, exponent in ((axes[0], "N", "alpha"), (axes[1], "D", "beta")):
        drawn = []
        for i, (architecture, strategy, name) in enumerate(series):
            x = np.arange(len(names)) + (i - (len(series) - 1) / 2) * width
            mine = ok[(ok["architecture"] == architecture) & (ok["strategy"] == strategy)]
            color, hatch = _color(strategy), _architecture_style(architecture, architectures)["hatch"]
            marginal = mine[mine["law"] == law].set_index("family").reindex(names)
            joint = mine[mine["law"] == "joint"].set_index("family").reindex(names)
            for rows, kind in ((marginal, f"L({law})"), (joint, "joint law")):
                if not rows[exponent].notna().any():
                    continue
                drawn.append(kind)
                value, err = _with_errors(rows, exponent)
                value, fitted = value.to_numpy(float), rows[exponent].notna().to_numpy()
                good = (rows["r2"] >= R2_SUPPORT).to_numpy()
                for keep, fits_well in ((fitted & good, True), (fitted & ~good, False)):
                    if not keep.any():
                        continue
                    label = f"{name}: {kind}" + ("" if fits_well else f", R^2 < {R2_SUPPORT}")
                    if kind == "joint law":
                        ax.errorbar(x[keep], value[keep], yerr=err[:, keep], fmt="D", ms=5, capsize=3, ecolor="black",
                                    mec="black", color=color if fits_well else "none", label=label)
                    else:
                        ax.bar(x[keep], value[keep], width, yerr=err[:, keep], capsize=2, color=color, hatch=hatch,
                               alpha=1.0 if fits_well else 0.3, label=label)
        ax.set_xticks(np.arange(len(names)), [family_label(n) for n in names], rotation=30, ha="right", fontsize=8)
        laws = " and ".join(dict.fromkeys(drawn)) or "no law fitted"
        ax.set(ylabel=f"{exponent} ({AXIS_LABELS[law]})", title=f"{exponent}: {laws}")
    # One legend for both panels, below them, where it hides no bar.
    legend = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), loc="lower center", ncol=3, fontsize=7)
    fig.tight_layout(rect=(0, 0.045 * -(-len(legend) // 3), 1, 1))
    return _save(fig, path)


def _interval(cell: pd.DataFrame, column: str):
    """Error-bar half-widths from ``<column>_lo`` / ``_hi`` (None without them)."""
    if f"{column}_lo" not in cell:
        return None
    lo, hi = cell[f"{column}_lo"].to_numpy(float), cell[f"{column}_hi"].to_numpy(float)
    value = cell[column].to_numpy(float)
    return np.nan_to_num(np.array([value - lo, hi - value]).clip(min=0))


def _competing(data: pd.DataFrame) -> list[pd.DataFrame]:
    """The (architecture, N, D) cells where at least two strategies were trained."""
    cells = data.groupby(["architecture", "non_embedding_params", "data_size"])
    return [cell for _, cell in cells if cell["strategy"].nunique() >= 2]


def plot_frontier(points: pd.DataFrame, path, x: str = "ce_eff", y: str = "ce_rob") -> Figure:
    """The study's figure: every strategy's (effectiveness, robustness) points in one plane,
    joined across N at each D (solid) and across D at each N (dotted), arrows towards the larger
    resource, so the direction in which each strategy scales is visible; seed intervals as error
    bars (``*_lo``/``*_hi``), Pareto training as stars, and at every (N, D) where strategies
    compete, the frontier of its point estimates as a dashed staircase, and rings on the points
    no other strategy dominates beyond seed noise (``on_frontier`` where the table has it). The
    right panel zooms onto those (N, D) cells and shows only them: their points, intervals, and
    the lines between them."""
    data = points.dropna(subset=[x, y]) if {x, y} <= set(points.columns) else points.iloc[:0]
    if data.empty:
        return _nothing_to_plot(path, f"No grid point has both {x} and {y}: no frontier to plot.")
    data = with_architecture(data)
    cells = _competing(data)
    fig = Figure(figsize=(12, 5.5))
    axes = fig.subplots(1, 2 if cells else 1, squeeze=False)[0]
    architectures = sorted(data["architecture"].unique())
    zoomed = pd.concat(cells) if cells else data.iloc[:0]
    for ax, shown in zip(axes, (data, zoomed)):
        for cell in cells:
            front = cell[pareto_frontier(cell, x, y)].sort_values(x)
            ax.step(front[x], front[y], where="post", color="black", ls="--", lw=0.8, zorder=1, gid="frontier")
            # Ring the non-dominated points (beyond seed noise where the table says): a one-point
            # frontier draws no staircase.
            ringed = cell[cell["on_frontier"].astype(bool)] if "on_frontier" in cell else front
            ax.plot(ringed[x], ringed[y], ls="none", marker="o", ms=11, mfc="none", mec="black", mew=1.0, zorder=4,
                    gid="frontier point")
        for architecture, strategy, name in _series(shown):
            mine = shown[(shown["architecture"] == architecture) & (shown["strategy"] == strategy)]
            color, marker = _color(strategy), _architecture_style(architecture, architectures)["marker"]
            star = strategy in PARETO_STRATEGIES
            for along, fixed, axis_name, style in (("non_embedding_params", "data_size", "N", "-"),
                                              ("data_size", "non_embedding_params", "D", ":")):
                for _, line in mine.groupby(fixed):
                    line = line.sort_values(along)
                    if len(line) < 2:
                        continue
                    ax.plot(line[x], line[y], color=color, ls=style, lw=1.2, alpha=0.8, zorder=2,
                            gid=f"across {axis_name} {name}")
                    (x0, y0), (x1, y1) = line[[x, y]].to_numpy(float)[-2:]
                    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=2,
                                arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.0, "ls": style})
            xerr, yerr = _interval(mine, x), _interval(mine, y)
            if xerr is not None or yerr is not None:
                ax.errorbar(mine[x], mine[y], xerr=xerr, yerr=yerr, fmt="none", ecolor=color, elinewidth=0.8,
                            capsize=2, zorder=2)
            ax.scatter(mine[x], mine[y], color=color, marker="*" if star else marker, s=150 if star else 30,
                       edgecolors="black" if star else "none", zorder=3, label=name)
        ax.set_xlabel(f"{x}: effectiveness CE (lower is better)")
        ax.set_ylabel(f"{y}: robustness CE (lower is better)")
    axes[0].set_title("every grid point; lines join a strategy across N (solid) and D (dotted), arrows to larger",
                      fontsize=9)
    if cells:
        # The limits hold every interval, so no error bar runs off the panel.
        lo = np.array([np.nanmin([zoomed[c].min(), zoomed.get(f"{c}_lo", zoomed[c]).min()]) for c in (x, y)])
        hi = np.array([np.nanmax([zoomed[c].max(), zoomed.get(f"{c}_hi", zoomed[c]).max()]) for c in (x, y)])
        pad = np.maximum((hi - lo) * 0.15, 0.02)
        axes[1].set(xlim=(lo[0] - pad[0], hi[0] + pad[0]), ylim=(lo[1] - pad[1], hi[1] + pad[1]))
        for cell in cells:
            n, d = cell["non_embedding_params"].iloc[0], cell["data_size"].iloc[0]
            where = f"{cell['architecture'].iloc[0]} " if len(architectures) > 1 else ""
            axes[1].annotate(f"{where}N={compact(n)}, D={compact(d)}", (cell[x].max(), cell[y].max()), fontsize=7,
                             xytext=(4, 4), textcoords="offset points")
        axes[1].set_title(f"zoom: the {len(cells)} (N, D) where strategies compete, with their frontiers", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="black", ls="--", lw=0.8, marker="o", ms=8, mfc="none", mec="black"))
    labels.append("frontier of the point estimates at an (N, D); ringed: not dominated beyond seed noise")
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(labels), fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_iso_cost(curves: pd.DataFrame, budget_table: pd.DataFrame, path, families=("ce_eff", "ce_rob", "ce_joint"),
                  measured: pd.DataFrame | None = None, free_data: bool = False) -> Figure:
    """Iso-cost curves as Hoffmann et al. draw them: per family, the predicted loss against N at
    a fixed training budget (the best D the budget affords at each N), one curve per budget for
    the strategy the planner picks there, its optimum marked; the measured N range shaded. With
    ``free_data`` (training cost independent of D) the curves coincide up to each budget's
    largest affordable N, and the figure says so."""
    families = [f for f in families if len(curves) and (curves["family"] == f).any()]
    if not families:
        return _nothing_to_plot(path, "No joint law with a training-cost law: no iso-cost curves to plot.")
    fig = Figure(figsize=(4.5 * len(families), 4))
    axes = fig.subplots(1, len(families), squeeze=False)[0]
    budgets = sorted(curves["budget_flops"].unique())
    for ax, family in zip(axes, families):
        # Largest budget first, so that where curves coincide each smaller one stays visible on top.
        for i, budget in reversed(list(enumerate(budgets))):
            best = budget_table[(budget_table["budget_flops"] == budget) & (budget_table["family"] == family)]
            if best.empty or not isinstance(best.iloc[0]["strategy"], str):
                continue
            best = best.iloc[0]
            curve = curves[(curves["budget_flops"] == budget) & (curves["family"] == family)
                           & (curves["strategy"] == best["strategy"])].sort_values("non_embedding_params")
            color = f"C{i % 10}"
            ax.plot(curve["non_embedding_params"], curve["predicted"], color=color,
                    label=f"C = {budget:.2g} FLOPs ({best['strategy']})")
            ax.scatter([best["non_embedding_params"]], [best["predicted"]], color=color, marker="*", s=120,
                       edgecolors="black", zorder=3)
        if measured is not None and len(measured):
            ax.axvspan(measured["non_embedding_params"].min(), measured["non_embedding_params"].max(),
                       color="grey", alpha=0.12, lw=0, label="measured N range")
        ax.set(xscale="log", xlabel=AXIS_LABELS["N"], ylabel=f"predicted {family_label(family)}",
               title=f"{family}: loss at fixed training cost")
        ax.legend(fontsize=7)
    if free_data:
        fig.suptitle("Training cost does not grow with D at a fixed number of steps: every budget takes the largest "
                     "measured D, the curves coincide and end at the largest N the budget affords", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_weight_trajectories(trajectories: pd.DataFrame, path, label: str = "run") -> Figure:
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
    return _save(fig, path)
