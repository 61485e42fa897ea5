import numpy as np
import pandas as pd
import pytest

from drscale.fit import predict_joint, scaling_fits
from drscale.frontier import frontier_table
from drscale.plots import plot_exponents, plot_frontier, plot_scaling_curves, plot_weight_trajectories

LAW = {"A": 2e3, "B": 500.0, "alpha": 0.35, "beta": 0.6, "delta": 0.8}


@pytest.fixture(scope="module")
def families():
    N, D = (g.ravel() for g in np.meshgrid(np.geomspace(1e4, 1e6, 4), [300, 1000, 3000]))
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


def test_scaling_curves(tmp_path, families, fits):
    table, draws = fits
    plot_scaling_curves(families, table, "ce_eff", tmp_path / "eff.png", draws=draws)
    plot_scaling_curves(families, table, "ce_rob", tmp_path / "rob.svg")  # points, no fits
    plot_scaling_curves(families, table, "ce_adv", tmp_path / "adv.png")  # NaN family: a note
    plot_scaling_curves(families.iloc[:2], table.iloc[:0], "ce_eff", tmp_path / "unfitted.png")
    assert all(_written(tmp_path / f) for f in ("eff.png", "rob.svg", "adv.png", "unfitted.png"))


def test_exponents(tmp_path, fits):
    plot_exponents(fits[0], tmp_path / "exponents.png")
    plot_exponents(fits[0][fits[0]["family"] == "ce_adv"], tmp_path / "none.png")
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
    plot_frontier(frontier_table(families), tmp_path / "frontier.png")
    plot_frontier(families.assign(ce_rob=np.nan), tmp_path / "none.png")
    assert _written(tmp_path / "frontier.png") and _written(tmp_path / "none.png")


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
    plot_weight_trajectories(log, tmp_path / "w.png")
    plot_weight_trajectories(log.drop(columns="run").iloc[:50], tmp_path / "one.png")
    plot_weight_trajectories(log.iloc[:0], tmp_path / "none.png")
    assert all(_written(tmp_path / f) for f in ("w.png", "one.png", "none.png"))
