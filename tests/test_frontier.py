import numpy as np
import pandas as pd
import pytest

from drscale.fit import predict_joint
from drscale.frontier import efficiency_table, frontier_table, knee_ratio, pareto_frontier, scaling_efficiency

LAW = {"A": 2e3, "B": 500.0, "alpha": 0.35, "beta": 0.6, "delta": 0.8}


def test_pareto_frontier_of_hand_made_points():
    points = pd.DataFrame(
        {"ce_eff": [1, 2, 3, 4, 2, np.nan, 5], "ce_rob": [5, 3, 4, 1, 3, 0.5, 1]}, index=list("abcdefg")
    )
    mask = pareto_frontier(points)
    # c is dominated by b, g by d; the duplicate b/e are both on it; f has no ce_eff.
    assert mask.to_dict() == {"a": True, "b": True, "c": False, "d": True, "e": True, "f": False, "g": False}


def test_frontier_table_is_per_grid_point():
    families = pd.DataFrame(
        {
            "model": ["s", "s", "s", "s"],
            "non_embedding_params": [10, 10, 10, 10],
            "total_params": 20,
            "data_size": [100, 100, 200, 200],
            "strategy": ["standard", "pareto", "standard", "pareto"],
            "ce_eff": [1.0, 1.1, 3.0, 0.5],
            "ce_rob": [2.0, 2.5, 3.0, 0.5],
            "ce_joint": 0.0,
        }
    )
    table = frontier_table(families)
    assert list(table.columns) == [
        "model",
        "non_embedding_params",
        "total_params",
        "data_size",
        "strategy",
        "ce_eff",
        "ce_rob",
        "ce_joint",
        "on_frontier",
    ]
    on = table.set_index(["data_size", "strategy"])["on_frontier"]
    assert on.to_dict() == {
        (100, "pareto"): False,
        (100, "standard"): True,
        (200, "pareto"): True,
        (200, "standard"): False,
    }


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


def test_scaling_efficiency_recovers_known_multiples():
    N, D = 1e5, 1000
    assert scaling_efficiency(LAW, N, D, float(predict_joint(LAW, 2.5 * N, D)))["k_N"] == pytest.approx(2.5)
    assert scaling_efficiency(LAW, N, D, float(predict_joint(LAW, N, 2.5 * D)))["k_D"] == pytest.approx(2.5)
    worse = scaling_efficiency(LAW, N, D, float(predict_joint(LAW, N / 2, D)))
    assert worse["k_N"] == pytest.approx(0.5) and worse["k_D"] < 1
    below = scaling_efficiency(LAW, N, D, 0.81)  # under (B/D)^beta + delta: more N can't get there
    assert below["k_N"] == np.inf and "unreachable in N" in below["note"]


def test_efficiency_table():
    N, D = np.array([1e4, 1e5, 1e6]), np.array([300, 1000, 3000])
    families = pd.DataFrame(
        {
            "model": ["a", "b", "c"],
            "non_embedding_params": N.astype(int),
            "total_params": 0,
            "data_size": D,
            "strategy": "pareto",
            "ce_joint": predict_joint(LAW, 2.5 * N, D),
        }
    )
    fits = pd.DataFrame(
        [
            {"strategy": "standard", "family": "ce_joint", "law": "joint", **LAW, "status": "ok"},
            {"strategy": "standard", "family": "ce_joint", "law": "N", **LAW, "alpha": 9.0, "status": "ok"},
            {
                "strategy": "adversarial",
                "family": "ce_joint",
                "law": "joint",
                **{k: np.nan for k in LAW},
                "status": "skipped: too few points (n=2, need >5)",
            },
        ]
    )
    table = efficiency_table(families, fits)
    assert list(table["baseline"]) == ["standard"] * 3 + ["adversarial"] * 3
    standard = table[table["baseline"] == "standard"]
    np.testing.assert_allclose(standard["k_N"], 2.5)
    assert (standard["k_D"] > 1).all() and (standard["note"] == "").all()
    np.testing.assert_allclose(standard["baseline_ce_joint_fit"], predict_joint(LAW, N, D))
    adversarial = table[table["baseline"] == "adversarial"]
    assert adversarial["k_N"].isna().all() and adversarial["note"].str.startswith("baseline fit skipped").all()


def test_efficiency_compares_each_architecture_with_its_own_baseline_law():
    N, D = np.array([1e4, 1e5]), np.array([300, 1000])
    point = {"non_embedding_params": N.astype(int), "total_params": 0, "data_size": D, "strategy": "pareto",
             "ce_joint": predict_joint(LAW, 2.5 * N, D)}
    families = pd.concat([pd.DataFrame({"model": ["a", "b"], "architecture": "bert", **point}),
                          pd.DataFrame({"model": ["qa", "qb"], "architecture": "qwen3", **point})])
    fits = pd.DataFrame([
        {"architecture": "bert", "strategy": "standard", "family": "ce_joint", "law": "joint", **LAW, "status": "ok"},
        {"architecture": "qwen3", "strategy": "standard", "family": "ce_joint", "law": "joint", **LAW,
         "A": 2.5 * LAW["A"], "status": "ok"},  # needs 2.5x the N of bert's law for the same loss
    ])
    k_n = efficiency_table(families, fits).set_index("model")["k_N"]
    np.testing.assert_allclose(k_n[["a", "b"]], 2.5)
    np.testing.assert_allclose(k_n[["qa", "qb"]], 6.25)
