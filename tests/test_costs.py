"""Cost laws from benchmark files and the budget planner, against hand-computed values."""

import json

import numpy as np
import pandas as pd
import pytest

from drscale.budget import BUDGET_COLUMNS, default_budgets, iso_cost_curves, plan
from drscale.costs import COST_FIT_COLUMNS, cost_fits, cost_table, fit_power_law, strategy_cost_ratios, train_tokens

TRAINING = {"max_query_length": 24, "max_passage_length": 48}


def test_train_tokens_by_hand():
    # 30 steps x 16 rows x (24 + 48) tokens.
    assert train_tokens("standard", 30, 16, 24, 48) == 34560
    # one mined negative per row: 30 x 16 x (24 + 2 x 48)
    assert train_tokens("hard_negative", 30, 16, 24, 48) == 57600
    # plus 16 perturbed queries and 4 attacked passages a step: 30 x (1152 + 384 + 192)
    assert train_tokens("pareto", 30, 16, 24, 48, attacked_per_batch=4) == 51840


def _runs(tmp_path, strategies=("standard",), seconds=lambda n, d, s: 1e-3 * n**0.8 * (2.0 if s != "standard" else 1)):
    cache = tmp_path / "tokens.npz"
    np.savez(cache, query_tokens=np.zeros(100, np.int32), doc_tokens=np.zeros(900, np.int32))
    runs = []
    for n in (1e3, 4e3, 1.6e4, 6.4e4):
        for d in (400, 800, 1600):
            for s in strategies:
                run = tmp_path / f"{s}-{n:.0f}-{d}"
                run.mkdir()
                info = {
                    "model": f"m{n:.0f}",
                    "non_embedding_params": int(n),
                    "data_size": d,
                    "strategy": s,
                    "seed": 0,
                    "device": "cpu",
                    "steps": 30,
                    "batch_size": 16,
                }
                (run / "model_info.json").write_text(json.dumps(info))
                benchmarks = {}
                for stage, factor in (("train", 1.0), ("encode", 0.1), ("attack", 3.0)):
                    t = factor * seconds(n, d, s)
                    (run / f"{stage}.tsv").write_text(f"s\th:m:s\tcpu_time\n{t * 3}\t0:00:01\t{t}\n")
                    benchmarks[stage] = [run / f"{stage}.tsv"]
                runs.append(
                    {
                        "run": run.name,
                        "model_info": run / "model_info.json",
                        "benchmarks": benchmarks,
                        "tokens": [cache],
                    }
                )
    return runs


def test_cost_table_and_laws(tmp_path):
    costs = cost_table(_runs(tmp_path, ("standard", "pareto")), TRAINING, attacked_per_batch=4)
    assert len(costs) == 4 * 3 * 2 * 3
    encode = costs[costs["stage"] == "encode"].iloc[0]
    assert encode["tokens"] == 1000 and encode["flops"] == 2 * 1000 * 1000
    train = costs[(costs["stage"] == "train") & (costs["strategy"] == "standard")].iloc[0]
    assert train["flops"] == 6 * 1000 * 34560
    assert costs[costs["stage"] == "attack"]["flops"].isna().all()
    fits = cost_fits(costs)
    assert list(fits.columns) == COST_FIT_COLUMNS
    cpu = fits[fits["quantity"] == "cpu_time"].set_index(["stage", "strategy"])
    assert set(cpu.index) == {("train", "pareto"), ("train", "standard"), ("encode", "all"), ("attack", "all")}
    attack = cpu.loc[("attack", "all")]
    assert attack["exp_N"] == pytest.approx(0.8) and attack["exp_D"] == pytest.approx(0.0, abs=1e-9)
    # Half the jobs cost 2x (pareto): a log-space fit puts c at their geometric mean, 3e-3 x sqrt(2).
    assert attack["coef"] == pytest.approx(3e-3 * np.sqrt(2))
    flops = fits[(fits["quantity"] == "flops") & (fits["stage"] == "train")].set_index("strategy")
    assert flops.loc["standard", "exp_N"] == pytest.approx(1.0) and flops.loc["standard", "device"] == "cpu"
    assert strategy_cost_ratios(costs) == {"standard": 1.0, "pareto": pytest.approx(2.0)}


def test_power_law_fit_interval_and_skips():
    rng = np.random.default_rng(0)
    N = np.repeat([1e3, 1e4, 1e5, 1e6], 3)
    D = np.tile([100, 200, 400], 4)
    y = 5 * N**0.7 * D**0.2 * np.exp(rng.normal(0, 0.05, N.size))
    fit = fit_power_law(N, D, y)
    assert fit["exp_N_lo"] < 0.7 < fit["exp_N_hi"] and fit["exp_D_lo"] < 0.2 < fit["exp_D_hi"]
    assert fit["dof"] == 9 and fit["r2"] > 0.99
    one_d = fit_power_law(N, np.full_like(N, 100), y)
    assert np.isnan(one_d["exp_D"]) and one_d["dof"] == 10
    assert fit_power_law([1e3, 1e4], [1, 2], [1.0, 2.0])["status"].startswith("skipped")


def _chinchilla_inputs():
    """Joint law with alpha = beta = 1: L = A/N + B/D + delta; training cost N x D."""
    law = {"A": 1e4, "B": 1e2, "alpha": 1.0, "beta": 1.0, "delta": 1.0}
    fits = pd.DataFrame([{"strategy": "standard", "family": "ce_joint", "law": "joint", "status": "ok", **law}])
    draws = pd.DataFrame(
        [
            {
                "strategy": "standard",
                "family": "ce_joint",
                "law": "joint",
                "draw": i,
                **{**law, "delta": law["delta"] + e},
            }
            for i, e in enumerate((-0.1, 0.0, 0.1))
        ]
    )
    cost_law = pd.DataFrame(
        [
            {
                "stage": "train",
                "strategy": "standard",
                "quantity": "flops",
                "status": "ok",
                "coef": 1.0,
                "exp_N": 1.0,
                "exp_D": 1.0,
            }
        ]
    )
    costs = pd.DataFrame(
        {
            "stage": "train",
            "strategy": "standard",
            "non_embedding_params": [1e4, 1e6],
            "data_size": [1e2, 1e4],
            "seed": 0,
            "cpu_time": 1.0,
            "flops": [1e6, 1e10],
        }
    )
    families = pd.DataFrame({"strategy": "standard", "non_embedding_params": [1e4, 1e6], "data_size": [1e2, 1e4]})
    return fits, draws, cost_law, costs, families


def test_budget_optimum_by_hand():
    # min A/N + B/D s.t. N D = C: N* = sqrt(A C / B) = 1e5, D* = sqrt(B C / A) = 1e3, L* = 0.1 + 0.1 + 1.
    fits, draws, cost_law, costs, families = _chinchilla_inputs()
    table = plan(fits, draws, cost_law, costs, families, [1.0000001e8], families=("ce_joint",))
    assert list(table.columns) == BUDGET_COLUMNS and len(table) == 1
    row = table.iloc[0]
    assert row["non_embedding_params"] == pytest.approx(1e5) and row["data_size"] == pytest.approx(1e3)
    assert row["predicted"] == pytest.approx(1.2) and not row["outside_grid"]
    assert row["predicted_lo"] == pytest.approx(1.105) and row["predicted_hi"] == pytest.approx(1.295)
    # A budget 1e4 times larger puts the optimum at N = 1e7 > the measured 1e6: flagged.
    big = plan(fits, draws, cost_law, costs, families, [1.0000001e12], families=("ce_joint",)).iloc[0]
    assert big["outside_grid"] and "N = 1e+07 outside" in big["note"]
    curves = iso_cost_curves(fits, cost_law, costs, families, [1.0000001e8], families=("ce_joint",))
    assert curves["predicted"].min() == pytest.approx(1.2) and curves["non_embedding_params"].is_monotonic_increasing
    none = plan(fits, draws, cost_law.iloc[:0], costs, families, [1e8], families=("ce_joint",)).iloc[0]
    assert none["note"] == "no training-FLOPs cost law" and np.isnan(none["predicted"])


def test_default_budgets_span_the_grid():
    *_, costs, _ = _chinchilla_inputs()
    assert default_budgets(costs) == [1e6, 2.2e7, 4.6e8, 1e10]
    # 1.234e6 rounds to 1.2e6, below the cheapest run: the smallest budget is rounded up instead.
    assert default_budgets(costs.assign(flops=[1.234e6, 1e10]))[0] == 1.3e6


def test_budget_when_data_costs_no_compute():
    # Fixed steps: cost = N alone. The budget buys N = C (up to the search grid), D is the largest measured.
    fits, draws, cost_law, costs, families = _chinchilla_inputs()
    cost_law = cost_law.assign(exp_D=np.nan)
    row = plan(fits, draws, cost_law, costs, families, [1.0000001e5], families=("ce_joint",)).iloc[0]
    assert row["non_embedding_params"] == pytest.approx(1e5) and row["data_size"] == pytest.approx(1e4)
    assert row["predicted"] == pytest.approx(1e4 / 1e5 + 1e2 / 1e4 + 1.0)  # 1.11
    assert not row["outside_grid"] and "does not grow with D" in row["note"]
