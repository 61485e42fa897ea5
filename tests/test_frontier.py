import numpy as np
import pandas as pd
import pytest
from scipy import stats

from drscale.fit import predict_joint
from drscale.frontier import (
    _difference,
    better_beyond_noise,
    efficiency_table,
    frontier_table,
    knee_ratio,
    local_slopes,
    pareto_frontier,
)

LAW = {"A": 2e3, "B": 500.0, "alpha": 0.35, "beta": 0.6, "delta": 0.8}


def test_pareto_frontier_of_hand_made_points():
    points = pd.DataFrame(
        {"ce_eff": [1, 2, 3, 4, 2, np.nan, 5], "ce_rob": [5, 3, 4, 1, 3, 0.5, 1]}, index=list("abcdefg")
    )
    mask = pareto_frontier(points)
    # c is dominated by b, g by d; the duplicate b/e are both on it; f has no ce_eff.
    assert mask.to_dict() == {"a": True, "b": True, "c": False, "d": True, "e": True, "f": False, "g": False}


def runs(point, strategy, column_values, seeds=(0, 1, 2)):
    """Per-seed rows of one strategy at one (N, D) point: column -> values by seed."""
    n, d = point
    return pd.DataFrame({"model": f"m{n}", "non_embedding_params": n, "total_params": 2 * n, "data_size": d,
                         "strategy": strategy, "seed": list(seeds), **column_values})


def test_frontier_table_judges_dominance_beyond_the_seed_noise():
    by_seed = pd.concat([
        runs((10, 100), "standard", {"ce_eff": [1.0, 1.1, 0.9], "ce_rob": [2.0, 2.1, 1.9], "ce_joint": 1.5}),
        # Paired with standard, better or worse by +-0.1 per seed: inside the noise.
        runs((10, 100), "adversarial", {"ce_eff": [1.05, 1.0, 1.0], "ce_rob": [2.0, 2.0, 2.0], "ce_joint": 1.5}),
        # Worse than both by ~1 in every seed, on both axes: dominated by both.
        runs((10, 100), "pareto", {"ce_eff": [2.0, 2.1, 1.9], "ce_rob": [3.0, 3.1, 2.9], "ce_joint": 2.5}),
        # One seed each: pareto looks better on both axes, but one run says nothing about noise.
        runs((10, 200), "standard", {"ce_eff": [3.0], "ce_rob": [3.0], "ce_joint": 3.0}, seeds=[0]),
        runs((10, 200), "pareto", {"ce_eff": [0.5], "ce_rob": [0.5], "ce_joint": 0.5}, seeds=[0]),
    ])
    table = frontier_table(by_seed)
    assert list(table.columns) == [
        "model", "non_embedding_params", "total_params", "data_size", "strategy", "n_seeds",
        "ce_eff", "ce_eff_lo", "ce_eff_hi", "ce_rob", "ce_rob_lo", "ce_rob_hi", "ce_joint", "ce_joint_lo",
        "ce_joint_hi", "on_frontier", "dominated_by"]
    row = table.set_index(["data_size", "strategy"])
    assert row.loc[(100, "pareto"), "dominated_by"] == "adversarial,standard"
    assert row.loc[(100, "standard"), "dominated_by"] == "" and row.loc[(100, "adversarial"), "dominated_by"] == ""
    assert row["on_frontier"].to_dict() == {(100, "adversarial"): True, (100, "pareto"): False,
                                            (100, "standard"): True, (200, "pareto"): True, (200, "standard"): True}
    # Mean 1.0, sd 0.1, n 3: half width t(0.975, 2) * 0.1 / sqrt(3) = 4.302653 * 0.057735 = 0.248414.
    standard = row.loc[(100, "standard")]
    assert standard["n_seeds"] == 3 and standard["ce_eff"] == pytest.approx(1.0)
    assert (standard["ce_eff_lo"], standard["ce_eff_hi"]) == (pytest.approx(0.751586, abs=1e-6),
                                                              pytest.approx(1.248414, abs=1e-6))
    assert row.loc[(200, "pareto"), "n_seeds"] == 1 and np.isnan(row.loc[(200, "pareto"), "ce_eff_lo"])


def test_differences_are_paired_by_seed_else_welch():
    a = pd.Series([1.0, 1.3, 0.8, 1.1], index=[0, 1, 2, 3])
    b = pd.Series([1.2, 1.4, 1.1, 1.15], index=[0, 1, 2, 3])
    paired = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert _difference(a, b)[1:] == (pytest.approx(paired.low), pytest.approx(paired.high))
    c = pd.Series([1.5, 1.9, 1.7], index=[5, 6, 7])
    welch = stats.ttest_ind(a, c, equal_var=False).confidence_interval(0.95)
    assert _difference(a, c)[1:] == (pytest.approx(welch.low), pytest.approx(welch.high))
    assert better_beyond_noise(a, c) and not better_beyond_noise(c, a)
    assert not better_beyond_noise(a.iloc[:1], c.iloc[:1])  # one seed: no noise estimate


def test_architectures_at_matched_n_have_their_own_frontiers():
    families = pd.DataFrame({"model": ["b", "q"], "architecture": ["bert", "qwen3"], "non_embedding_params": 10,
                             "total_params": 20, "data_size": 100, "strategy": "standard",
                             "ce_eff": [1.0, 2.0], "ce_rob": [1.0, 2.0], "ce_joint": 0.0})
    assert frontier_table(families)["on_frontier"].tolist() == [True, True]


def test_knee_ratio():
    points = pd.DataFrame({"ce_eff": [1, 2, 5, 10, 6], "ce_rob": [10, 3, 2.5, 1, 9]})
    # Normalised distances to utopia: 1, 0.25, 0.47, 1, (dominated) 1.05.
    assert knee_ratio(points) == pytest.approx(1.5)
    assert knee_ratio(points.iloc[[2]]) == pytest.approx(0.5)
    same_eff = pd.DataFrame({"ce_eff": [2.0, 2.0, 2.0], "ce_rob": [3.0, 1.0, 2.0]})
    assert knee_ratio(same_eff) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        knee_ratio(pd.DataFrame({"ce_eff": [np.nan], "ce_rob": [1.0]}))


def slopes_by_hand(law, N, D):
    """d log L / d log N and d log D of L = [(A/N)^(alpha/beta) + B/D]^beta + delta, differentiated by hand."""
    a, b = law["alpha"], law["beta"]
    x, y = (law["A"] / N) ** (a / b), law["B"] / D
    loss = (x + y) ** b + law["delta"]
    return -a * x * (x + y) ** (b - 1) / loss, -b * y * (x + y) ** (b - 1) / loss


def test_local_slopes_match_the_derivative():
    N, D = 1e5, 1000
    assert local_slopes(LAW, N, D) == (pytest.approx(slopes_by_hand(LAW, N, D)[0], rel=1e-6),
                                       pytest.approx(slopes_by_hand(LAW, N, D)[1], rel=1e-6))


def test_efficiency_is_anchored_on_the_measured_baseline_point():
    N, D = 10_000, 300
    slope_n, slope_d = slopes_by_hand(LAW, N, D)
    # The measured standard runs sit 0.4 above the law (a residual larger than the effect), and
    # Pareto training is 10% lower in every seed: k comes from that measured gap alone.
    standard = float(predict_joint(LAW, N, D)) + 0.4 + np.array([0.0, 0.1, -0.1])
    pareto_equal_gap = 0.9 * standard
    pareto_noisy = standard * np.array([0.85, 0.9, 0.95])
    fits = pd.DataFrame([
        {"strategy": "standard", "family": "ce_joint", "law": "joint", **LAW, "status": "ok"},
        {"strategy": "adversarial", "family": "ce_joint", "law": "joint", **{k: np.nan for k in LAW},
         "status": "skipped: too few points (n=2, need >5)"},
    ])
    for pareto, expect_interval in ((pareto_equal_gap, False), (pareto_noisy, True)):
        by_seed = pd.concat([runs((N, D), "standard", {"ce_joint": standard}),
                             runs((N, D), "pareto", {"ce_joint": pareto}),
                             runs((N, D), "adversarial", {"ce_joint": standard})])
        table = efficiency_table(by_seed, fits).set_index("baseline")
        row = table.loc["standard"]
        gap = np.mean(np.log(pareto / standard))  # log 0.9 for the equal gap
        assert row["k_N"] == pytest.approx(np.exp(gap / slope_n), rel=1e-5)
        assert row["k_D"] == pytest.approx(np.exp(gap / slope_d), rel=1e-5)
        assert row["k_N"] > 1 and row["k_D"] > 1
        assert row["baseline_ce_joint"] == pytest.approx(standard.mean())
        assert row["baseline_ce_joint_fit"] == pytest.approx(float(predict_joint(LAW, N, D)))
        if expect_interval:
            ci = stats.ttest_rel(np.log(pareto), np.log(standard)).confidence_interval(0.95)
            assert (row["k_N_lo"], row["k_N_hi"]) == (pytest.approx(np.exp(ci.high / slope_n), rel=1e-5),
                                                      pytest.approx(np.exp(ci.low / slope_n), rel=1e-5))
            assert row["k_N_lo"] < row["k_N"] < row["k_N_hi"]
        else:
            assert row["k_N_lo"] == pytest.approx(row["k_N"]) == pytest.approx(row["k_N_hi"])
        assert np.isnan(table.loc["adversarial", "k_N"])
        assert table.loc["adversarial", "note"].startswith("baseline fit skipped")
    off_point = pd.concat([runs((N, 2 * D), "standard", {"ce_joint": standard}),
                           runs((N, D), "pareto", {"ce_joint": pareto_noisy})])
    assert "no measured standard run" in efficiency_table(off_point, fits).iloc[0]["note"]


def test_efficiency_compares_each_architecture_with_its_own_baseline_law():
    N, D = 10_000, 300
    qwen3_law = {**LAW, "A": 2.5 * LAW["A"]}
    standard = float(predict_joint(LAW, N, D)) + np.array([0.0, 0.1, -0.1])
    by_seed = pd.concat([runs((N, D), strategy, {"ce_joint": values}).assign(architecture=architecture)
                         for architecture in ("bert", "qwen3")
                         for strategy, values in (("standard", standard), ("pareto", 0.9 * standard))])
    fits = pd.DataFrame([
        {"architecture": "bert", "strategy": "standard", "family": "ce_joint", "law": "joint", **LAW, "status": "ok"},
        {"architecture": "qwen3", "strategy": "standard", "family": "ce_joint", "law": "joint", **qwen3_law,
         "status": "ok"},
    ])
    table = efficiency_table(by_seed, fits).set_index("architecture")
    # The same measured gap (log 0.9) over each architecture's own local slope, differentiated by hand.
    for architecture, law in (("bert", LAW), ("qwen3", qwen3_law)):
        assert table.loc[architecture, "k_N"] == pytest.approx(np.exp(np.log(0.9) / slopes_by_hand(law, N, D)[0]),
                                                               rel=1e-5)
    assert table.loc["bert", "k_N"] != pytest.approx(table.loc["qwen3", "k_N"])
