import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.container import ErrorbarContainer

from drscale.budget import iso_cost_curves, plan
from drscale.fit import predict_joint, scaling_fits
from drscale.frontier import frontier_table
from drscale.plots import (
    compact,
    plot_exponents,
    plot_frontier,
    plot_iso_cost,
    plot_scaling_curves,
    plot_weight_trajectories,
)

LAW = {"A": 2e3, "B": 500.0, "alpha": 0.35, "beta": 0.6, "delta": 0.8}


@pytest.fixture(scope="module")
def families():
    N, D = (g.ravel() for g in np.meshgrid(np.geomspace(1e4, 1e6, 5), [300, 1000, 3000]))
    rows = []
    for strategy, eff_shift, rob_shift in (("standard", 1.0, 1.3), ("adversarial", 1.1, 1.1), ("pareto", 1.02, 1.12)):
        rows.append(
            pd.DataFrame(
                {
                    "model": [f"m{n:.0f}" for n in N],
                    "architecture": "bert",
                    "non_embedding_params": N.astype(int),
                    "total_params": 2 * N.astype(int),
                    "data_size": D,
                    "strategy": strategy,
                    "ce_eff": eff_shift * predict_joint(LAW, N, D),
                    "ce_rob": rob_shift * predict_joint(LAW, N, D),
                    "ce_adv": np.nan,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def fits(families):
    return scaling_fits(families, families=["ce_eff", "ce_adv"], n_bootstrap=5)


def _written(path):
    return path.exists() and path.stat().st_size > 0


def _points(ax) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))


def _text(ax) -> str:
    return " ".join(t.get_text() for t in ax.texts)


def test_scaling_curves(tmp_path, families, fits):
    table, draws = fits
    # A strategy measured only at a smaller D and N (like the default's strategy points).
    extra = families[(families["strategy"] == "standard") & (families["data_size"] == 1000)
                     & (families["non_embedding_params"] < 1e6)].assign(strategy="hard_negative")
    with_extra = pd.concat([families, extra], ignore_index=True)
    fig = plot_scaling_curves(with_extra, table, "ce_eff", tmp_path / "eff.png", draws=draws)
    left, right = fig.axes
    assert left.get_title() == "L(N) at the largest D (D = 3k)"
    assert right.get_title() == "L(D) at the largest N (N = 1M)"
    # 3 strategies x 5 N at D = 3000; hard_negative (D = 1000 only) is not in the panel.
    assert _points(left) == 15 and _points(right) == 3 * 3
    assert {t.get_text().split(":")[0] for t in left.get_legend().get_texts()} == {"standard", "adversarial", "pareto"}
    assert "standard: L(D) not fitted" in [t.get_text() for t in right.get_legend().get_texts()]
    gids = [line.get_gid() for line in left.lines]
    strategies = ("standard", "adversarial", "pareto")
    assert sorted(gids) == sorted([f"{k} {s}" for k in ("law N", "joint") for s in strategies])
    # Three data sizes cannot fit the three-parameter D-law: the joint law's slice only (dashed).
    assert sorted(line.get_gid() for line in right.lines) == ["joint adversarial", "joint pareto", "joint standard"]
    assert {line.get_linestyle() for line in right.lines} == {"--"}
    # Bands: N-law and joint law per strategy on the left (both have draws), the joint law's on the right.
    bands = [[c for c in ax.collections if not isinstance(c, PathCollection)] for ax in (left, right)]
    assert [len(b) for b in bands] == [6, 3]
    assert [t.get_text() for t in left.get_xticklabels()] == ["10k", "31.6k", "100k", "316k", "1M"]
    assert [t.get_text() for t in right.get_xticklabels()] == ["300", "1k", "3k"]
    fig = plot_scaling_curves(families, table, "ce_rob", tmp_path / "rob.svg")  # points, no fits (ce_rob not fitted)
    assert _points(fig.axes[0]) == 15 and not fig.axes[0].lines
    fig = plot_scaling_curves(families, table, "ce_adv", tmp_path / "adv.png")  # NaN family: a note
    assert "No finite ce_adv" in _text(fig.axes[0])
    plot_scaling_curves(families.iloc[:2], table.iloc[:0], "ce_eff", tmp_path / "unfitted.png")
    assert all(_written(tmp_path / f) for f in ("eff.png", "rob.svg", "adv.png", "unfitted.png"))


def test_compact_tick_labels():
    assert [compact(v) for v in (300, 3600, 13824, 413000, 1.2e6)] == ["300", "3.6k", "13.8k", "413k", "1.2M"]


def test_exponents(tmp_path, fits):
    fig = plot_exponents(fits[0], tmp_path / "exponents.png")
    # Three data sizes do not fit the D-law: the beta panel's title says it shows the joint law only.
    assert [ax.get_title() for ax in fig.axes] == ["alpha: L(N) and joint law", "beta: joint law"]
    alpha, beta = fig.axes
    assert len(alpha.patches) == 3  # one N-law bar per strategy for the one fitted family
    assert not beta.patches
    for ax in (alpha, beta):  # one joint-law marker with its interval per strategy
        assert sum(isinstance(c, ErrorbarContainer) and c.get_label().endswith("joint law") for c in ax.containers) == 3
    # A law with R^2 below the findings' threshold is drawn faded, and its legend entry says so.
    poor = fits[0].copy()
    poor.loc[(poor["strategy"] == "pareto") & (poor["law"] == "N"), "r2"] = 0.4
    alpha = plot_exponents(poor, tmp_path / "poor.png").axes[0]
    assert sorted(p.get_alpha() or 1.0 for p in alpha.patches) == [0.3, 1.0, 1.0]
    assert "pareto: L(N), R^2 < 0.9" in alpha.get_legend_handles_labels()[1]
    fig = plot_exponents(fits[0][fits[0]["family"] == "ce_adv"], tmp_path / "none.png")
    assert "No scaling law" in _text(fig.axes[0])
    assert _written(tmp_path / "exponents.png") and _written(tmp_path / "none.png")


def test_architectures_side_by_side(tmp_path, families):
    standard = families[families["strategy"] == "standard"]
    both = pd.concat([standard, standard.assign(architecture="qwen3", ce_eff=1.05 * standard["ce_eff"])])
    table, draws = scaling_fits(both, families=["ce_eff"], n_bootstrap=5)
    assert sorted(table["architecture"].unique()) == ["bert", "qwen3"]
    plot_exponents(table, tmp_path / "exponents.png")
    plot_scaling_curves(both, table, "ce_eff", tmp_path / "eff.png", draws=draws)
    assert _written(tmp_path / "exponents.png") and _written(tmp_path / "eff.png")


def test_frontier(tmp_path, families):
    table = frontier_table(families)
    table["ce_eff_lo"], table["ce_eff_hi"] = table["ce_eff"] - 0.01, table["ce_eff"] + 0.01
    fig = plot_frontier(table, tmp_path / "frontier.png")
    whole, zoom = fig.axes
    assert whole.get_title().startswith("every grid point") and zoom.get_title().startswith("zoom: the 15 (N, D)")
    for ax in (whole, zoom):
        assert _points(ax) == 3 * 15  # every strategy's every (N, D)
        gids = [line.get_gid() or "" for line in ax.lines]
        # Per strategy: one line across N per D (3), one across D per N (5); a frontier per (N, D).
        assert sum(g.startswith("across N ") for g in gids) == 3 * 3
        assert sum(g.startswith("across D ") for g in gids) == 3 * 5 and gids.count("frontier") == 15
        stars = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_sizes()[0] == 150]
        assert len(stars) == 1 and len(stars[0].get_offsets()) == 15  # Pareto training
        assert len(ax.containers) == 3  # error bars per strategy from ce_eff_lo / ce_eff_hi
    assert sum(1 for t in whole.texts) == 3 * (3 + 5)  # one arrow per joined line
    # A single strategy: nothing competes, one panel, no frontier.
    fig = plot_frontier(table[table["strategy"] == "standard"], tmp_path / "standard.png")
    assert len(fig.axes) == 1 and not [g for g in (line.get_gid() for line in fig.axes[0].lines) if g == "frontier"]
    fig = plot_frontier(families.assign(ce_rob=np.nan), tmp_path / "none.png")
    assert "no frontier" in _text(fig.axes[0])
    assert _written(tmp_path / "frontier.png") and _written(tmp_path / "none.png")


def test_iso_cost(tmp_path, families, fits):
    table, draws = fits
    cost_law = pd.DataFrame([{"stage": "train", "strategy": "standard", "quantity": "flops", "status": "ok",
                              "coef": 6 * 1e4, "exp_N": 1.0, "exp_D": 0.5}])
    costs = pd.DataFrame({"stage": "train", "strategy": ["standard", "adversarial", "pareto"], "seed": 0,
                          "non_embedding_params": 1e4, "data_size": 300, "cpu_time": [1.0, 2.0, 3.0], "flops": 1e9})
    budgets = [1e11, 1e12]
    curves = iso_cost_curves(table, cost_law, costs, families, budgets, families=("ce_eff",))
    best = plan(table, draws, cost_law, costs, families, budgets, families=("ce_eff",))
    fig = plot_iso_cost(curves, best, tmp_path / "iso.png", families=("ce_eff",), measured=families)
    ax = fig.axes[0]
    assert ax.get_title() == "ce_eff: loss at fixed training cost"
    assert len(ax.lines) == 2 and _points(ax) == 2  # a curve and its starred optimum per budget
    assert sorted(t.get_text() for t in ax.get_legend().get_texts())[:2] == [
        "C = 1e+11 FLOPs (standard)", "C = 1e+12 FLOPs (standard)"]
    fig = plot_iso_cost(curves.iloc[:0], best, tmp_path / "none.png")
    assert "no iso-cost" in _text(fig.axes[0])


def test_weight_trajectories(tmp_path):
    steps = np.arange(50)
    log = pd.concat(
        [
            pd.DataFrame(
                {
                    "run": run,
                    "step": steps,
                    "w": 0.5 + 0.3 * np.tanh(steps / 20) * sign,
                    "loss_eff": 2 * np.exp(-steps / 30),
                    "loss_rob": 3 * np.exp(-steps / 40),
                }
            )
            for run, sign in (("pareto", 1), ("pareto_mgda", -1))
        ]
    )
    fig = plot_weight_trajectories(log, tmp_path / "w.png")
    ax_w, ax_loss = fig.axes
    assert [line.get_label() for line in ax_w.lines] == ["pareto", "pareto_mgda"]
    assert all(len(line.get_xdata()) == 50 for line in ax_w.lines)
    assert len(ax_loss.lines) == 2 * 2 + 2  # L_eff and L_rob per run, plus the two legend keys
    assert ax_w.get_ylabel() == "robustness weight w_t" and ax_w.get_ylim() == (0, 1)
    fig = plot_weight_trajectories(log.drop(columns="run").iloc[:50], tmp_path / "one.png")
    assert len(fig.axes[0].lines) == 1
    fig = plot_weight_trajectories(log.iloc[:0], tmp_path / "none.png")
    assert "No Pareto-training log" in _text(fig.axes[0])
    assert all(_written(tmp_path / f) for f in ("w.png", "one.png", "none.png"))
