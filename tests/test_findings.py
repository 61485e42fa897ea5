"""Decision rules of the findings on synthetic data whose truth is known, in both directions."""

import numpy as np
import pandas as pd
import pytest

from drscale.findings import (
    FINDING_COLUMNS,
    cost_findings,
    direction_findings,
    efficiency_findings,
    findings_table,
    frontier_findings,
    interval_verdict,
    power_law_findings,
    sensitivity_findings,
)
from drscale.fit import scaling_fits

# Effectiveness leans on N, robustness on D (the study's claim), written out by hand.
EFF = {"A": 3e5, "B": 200.0, "alpha": 0.6, "beta": 0.3, "delta": 1.0}
ROB = {"A": 1e4, "B": 3e3, "alpha": 0.2, "beta": 0.8, "delta": 1.5}


def law(p, N, D):
    return ((p["A"] / N) ** (p["alpha"] / p["beta"]) + p["B"] / D) ** p["beta"] + p["delta"]


def sensitivity_by_hand(p, N, D):
    """(dlogL/dlogD) / (dlogL/dlogN) = beta (B/D) / (alpha (A/N)^(alpha/beta))."""
    return p["beta"] * p["B"] / D / (p["alpha"] * (p["A"] / N) ** (p["alpha"] / p["beta"]))


def families(eff, rob, n=5, noise=0.002, seed=0):
    rng = np.random.default_rng(seed)
    N, D = (g.ravel() for g in np.meshgrid(np.geomspace(1e4, 1e6, n), np.geomspace(500, 8000, n)))
    e = law(eff, N, D) * np.exp(rng.normal(0, noise, N.size))
    r = law(rob, N, D) * np.exp(rng.normal(0, noise, N.size))
    return pd.DataFrame(
        {
            "model": [f"m{x:.0f}" for x in N],
            "non_embedding_params": N,
            "total_params": 2 * N,
            "data_size": D,
            "strategy": "standard",
            "n_seeds": 1,
            "ce_eff": e,
            "ce_ood_mean": r,
            "ce_adv": r,
            "ce_rob": r,
            "ce_joint": (e + r) / 2,
        }
    )


@pytest.fixture(scope="module")
def claimed():
    table = families(EFF, ROB)
    return table, *scaling_fits(table, families=["ce_eff", "ce_ood_mean", "ce_adv", "ce_rob"], n_bootstrap=40)


@pytest.fixture(scope="module")
def reversed_():
    table = families(ROB, EFF)
    return table, *scaling_fits(table, families=["ce_eff", "ce_ood_mean", "ce_adv", "ce_rob"], n_bootstrap=40)


def by_claim(rows):
    return {r["claim"]: r for r in rows}


def test_truth_of_the_synthetic_laws():
    N0, D0 = 1e5, np.sqrt(500 * 8000)
    assert sensitivity_by_hand(EFF, N0, D0) < 0.5 and sensitivity_by_hand(ROB, N0, D0) > 2


def test_interval_verdict():
    assert interval_verdict(1.2, 3.0, 1.0, claim_above=True) == "supported"
    assert interval_verdict(0.2, 0.9, 1.0, claim_above=True) == "contradicted"
    assert interval_verdict(0.2, 0.9, 1.0, claim_above=False) == "supported"
    assert interval_verdict(0.9, 1.1, 1.0, claim_above=True) == "inconclusive"
    assert interval_verdict(np.nan, 2.0, 1.0, claim_above=True) == "inconclusive"
    assert interval_verdict(2.0, np.inf, 1.0, claim_above=True) == "supported"


def test_power_laws_supported_on_exact_laws(claimed):
    _, fits, _ = claimed
    rows = power_law_findings(fits)
    assert len(rows) == 3 * 4 and all(set(r) == set(FINDING_COLUMNS) for r in rows)
    joint = [r for r in rows if r["statistic"].endswith("joint law L(N, D)")]
    assert all(r["verdict"] == "supported" for r in joint), [(r["claim"], r["would_decide"]) for r in joint]
    eff_alpha = next(r for r in joint if r["claim"].startswith("effectiveness") and r["statistic"].startswith("alpha"))
    assert eff_alpha["ci_lo"] <= EFF["alpha"] <= eff_alpha["ci_hi"]


def test_power_law_contradicted_when_the_loss_is_flat_and_inconclusive_when_too_few_points():
    table = families(EFF, ROB, noise=0.0)
    rng = np.random.default_rng(0)
    table["ce_adv"] = 3.0 * np.exp(rng.normal(0, 0.05, len(table)))  # no trend at all: noise around 3
    fits, _ = scaling_fits(table, families=["ce_adv"], n_bootstrap=30)
    rows = [r for r in power_law_findings(fits, families=("ce_adv",)) if "joint" in r["statistic"]]
    assert {r["verdict"] for r in rows} == {"contradicted"}
    small = table[table["non_embedding_params"].isin([1e4, 1e6]) & table["data_size"].isin([500, 8000])]
    fits, _ = scaling_fits(small, families=["ce_eff"], n_bootstrap=10)
    rows = power_law_findings(fits, families=("ce_eff",))
    assert {r["verdict"] for r in rows} == {"inconclusive"}
    assert all("add grid points" in r["would_decide"] for r in rows)
    assert np.isnan(rows[0]["estimate"])


def test_sensitivity_supported_when_true(claimed):
    table, fits, draws = claimed
    rows = by_claim(sensitivity_findings(fits, draws, table))
    eff = rows["effectiveness (ce_eff) is more sensitive to N than to D (standard)"]
    assert eff["verdict"] == "supported" and eff["ci_hi"] < 1
    N0, D0 = np.sqrt(1e4 * 1e6), np.sqrt(500 * 8000)
    assert eff["estimate"] == pytest.approx(sensitivity_by_hand(EFF, N0, D0), rel=0.1)
    rob = rows["robustness (ce_rob) is more sensitive to D than to N (standard)"]
    assert rob["verdict"] == "supported"
    assert rob["estimate"] == pytest.approx(sensitivity_by_hand(ROB, N0, D0), rel=0.1)
    both = rows["robustness (ce_rob) is more D-sensitive (relative to N) than effectiveness (standard)"]
    assert both["verdict"] == "supported" and both["ci_lo"] > 1
    assert both["estimate"] == pytest.approx(rob["estimate"] / eff["estimate"])


def test_sensitivity_contradicted_when_reversed(reversed_):
    table, fits, draws = reversed_
    rows = by_claim(sensitivity_findings(fits, draws, table))
    assert rows["effectiveness (ce_eff) is more sensitive to N than to D (standard)"]["verdict"] == "contradicted"
    assert rows["robustness (ce_rob) is more sensitive to D than to N (standard)"]["verdict"] == "contradicted"
    both = rows["robustness (ce_rob) is more D-sensitive (relative to N) than effectiveness (standard)"]
    assert both["verdict"] == "contradicted" and both["ci_hi"] < 1


def test_sensitivity_inconclusive_without_draws(claimed):
    table, fits, draws = claimed
    rows = sensitivity_findings(fits, draws.iloc[:0], table)
    assert {r["verdict"] for r in rows} == {"inconclusive"}
    assert "no bootstrap draws" in rows[0]["would_decide"]
    # A joint law that does not fit is not read, whatever its elasticities say.
    rows = sensitivity_findings(fits.assign(r2=0.8), draws, table)
    assert {r["verdict"] for r in rows} == {"inconclusive"}
    assert "R^2 0.800 < 0.9" in rows[0]["would_decide"]


def frontier(eff_b, rob_b, half=0.05, seeds=3):
    """Two strategies at two (N, D) points; b's values as given, a fixed at (3.0, 4.0)."""
    rows = []
    for n in (1e4, 1e5):
        for s, e, r in (("a", 3.0, 4.0), ("b", eff_b, rob_b)):
            rows.append(
                {
                    "non_embedding_params": n,
                    "data_size": 1000,
                    "strategy": s,
                    "n_seeds": seeds,
                    "ce_eff": e,
                    "ce_eff_lo": e - half,
                    "ce_eff_hi": e + half,
                    "ce_rob": r,
                    "ce_rob_lo": r - half,
                    "ce_rob_hi": r + half,
                }
            )
    table = pd.DataFrame(rows)
    dominated = (table["strategy"] == "a") & (eff_b + half < 3.0 - half) & (rob_b + half < 4.0 - half)
    table["dominated_by"] = np.where(dominated, "b", "")
    table["on_frontier"] = ~dominated
    return table


def test_frontier_in_all_three_directions():
    assert frontier_findings(frontier(2.5, 4.5))[0]["verdict"] == "supported"  # b better on eff, worse on rob
    row = frontier_findings(frontier(2.5, 3.5))[0]  # b better on both beyond noise
    assert row["verdict"] == "contradicted" and row["evidence"].startswith("0 trade-off, 2 one-best")
    row = frontier_findings(frontier(2.98, 4.03))[0]  # inside the noise
    assert row["verdict"] == "inconclusive" and "add seeds" in row["would_decide"]
    row = frontier_findings(frontier(2.5, 4.5).drop(columns=["ce_eff_lo", "dominated_by"]))[0]
    assert row["verdict"] == "inconclusive" and "ce_eff_lo" in row["would_decide"] and np.isnan(row["estimate"])


def by_seed(slope_adv, seeds=(0, 1, 2)):
    """standard: log ce_joint falls by 0.3 per log N; adversarial (better ce_rob, worse ce_eff)
    by ``slope_adv``; seed noise of +-0.01 on the slope."""
    rows = []
    for seed in seeds:
        for strategy, slope, eff_shift, rob_shift in (("standard", -0.3, 0, 0), ("adversarial", slope_adv, 0.1, -0.2)):
            s = slope + 0.01 * (seed - 1)
            for n in (1e4, 1e5):
                joint = np.exp(1.0 + s * np.log(n / 1e4))
                rows.append(
                    {
                        "non_embedding_params": n,
                        "data_size": 1000,
                        "strategy": strategy,
                        "seed": seed,
                        "ce_joint": joint,
                        "ce_eff": 3 + eff_shift,
                        "ce_rob": 4 + rob_shift,
                    }
                )
    return pd.DataFrame(rows)


def test_direction_in_all_three_directions():
    row = direction_findings(by_seed(-0.1))[0]
    assert row["claim"] == "adversarial (favours robustness) scales in a worse direction along N than standard"
    assert row["verdict"] == "supported" and row["estimate"] == pytest.approx(0.2)
    assert direction_findings(by_seed(-0.5))[0]["verdict"] == "contradicted"
    row = direction_findings(by_seed(-0.1, seeds=(0,)))[0]
    assert row["verdict"] == "inconclusive" and "add seeds" in row["would_decide"]
    single = by_seed(-0.1)
    row = direction_findings(single[single["non_embedding_params"] == 1e4])[0]
    assert row["verdict"] == "inconclusive" and "strategy_points" in row["would_decide"]
    assert "families_by_seed.tsv was not made" in direction_findings(None)[0]["would_decide"]


def efficiency(k_lo, k_hi, with_ci=True):
    table = pd.DataFrame(
        {
            "strategy": "pareto",
            "baseline": "standard",
            "model": "m",
            "non_embedding_params": [1e4],
            "data_size": [1000],
            "family": "ce_joint",
            "ce_joint": [3.0],
            "k_N": [(k_lo + k_hi) / 2],
            "k_D": [(k_lo + k_hi) / 2],
            "note": [""],
            "k_N_lo": [k_lo],
            "k_N_hi": [k_hi],
            "k_D_lo": [k_lo],
            "k_D_hi": [k_hi],
        }
    )
    return table if with_ci else table.drop(columns=["k_N_lo", "k_N_hi", "k_D_lo", "k_D_hi"])


def test_efficiency_in_all_three_directions():
    assert {r["verdict"] for r in efficiency_findings(efficiency(1.5, 3.0))} == {"supported"}
    assert {r["verdict"] for r in efficiency_findings(efficiency(0.3, 0.8))} == {"contradicted"}
    assert {r["verdict"] for r in efficiency_findings(efficiency(0.8, 1.5))} == {"inconclusive"}
    rows = efficiency_findings(efficiency(1.5, 3.0, with_ci=False))
    assert {r["verdict"] for r in rows} == {"inconclusive"} and "k_N_lo" in rows[0]["would_decide"]
    assert rows[0]["estimate"] == 2.25  # the point estimate is still reported, its verdict is not
    assert "add 'pareto'" in efficiency_findings(None)[0]["would_decide"]


def test_cost_findings():
    fits = pd.DataFrame(
        {
            "stage": ["train", "attack"],
            "strategy": ["standard", "all"],
            "quantity": "cpu_time",
            "exp_N": [0.8, -0.1],
            "exp_N_lo": [0.6, -0.5],
            "exp_N_hi": [1.0, 0.3],
            "exp_D": 0.0,
            "exp_D_lo": -0.1,
            "exp_D_hi": 0.1,
            "r2": [0.95, 0.2],
            "n_points": 8,
            "device": "cpu",
            "status": "ok",
        }
    )
    rows = cost_findings(fits)
    assert [r["verdict"] for r in rows] == ["supported", "inconclusive"]
    assert rows[1]["estimate"] == -0.1
    assert cost_findings(None)[0]["verdict"] == "inconclusive"


def test_findings_table_without_optional_inputs(claimed):
    table, fits, draws = claimed
    findings = findings_table(fits, draws, table)
    assert list(findings.columns) == FINDING_COLUMNS
    assert set(findings["verdict"]) <= {"supported", "contradicted", "inconclusive"}
    assert findings["claim"].str.contains("frontier").any()


@pytest.mark.e2e
def test_the_workflow_writes_findings_costs_and_budget(finished_run):
    results = finished_run / "results"
    findings = pd.read_csv(results / "findings.tsv", sep="\t")
    assert list(findings.columns) == FINDING_COLUMNS
    assert set(findings["verdict"]) <= {"supported", "contradicted", "inconclusive"}
    undecided = findings[findings["verdict"] == "inconclusive"]
    assert undecided["would_decide"].notna().all(), "an inconclusive claim must say what would decide it"
    costs = pd.read_csv(results / "cost_fits.tsv", sep="\t")
    assert {"train", "encode", "attack"} <= set(costs["stage"])
    flops = costs[(costs["stage"] == "train") & (costs["strategy"] == "standard") & (costs["quantity"] == "flops")]
    assert flops["exp_N"].iloc[0] == pytest.approx(1.0)  # 6 N x tokens at a fixed number of steps
    assert (costs["device"] == "cpu").all()
    budget = pd.read_csv(results / "budget.tsv", sep="\t")
    assert set(budget["family"]) == {"ce_eff", "ce_rob", "ce_joint"}
    summary = (results / "summary.md").read_text()
    assert summary.split("\n## ")[1].startswith("Findings")


def test_findings_per_architecture_and_compared_across():
    # Two architectures on the same grid: bert follows EFF/ROB, qwen3 the same laws with a steeper
    # effectiveness alpha (0.8 vs 0.6), so its exponent must not transfer.
    steeper = {**EFF, "alpha": 0.8}
    table = pd.concat([families(EFF, ROB).assign(architecture="bert"),
                       families(steeper, ROB, seed=1).assign(architecture="qwen3")], ignore_index=True)
    fits, draws = scaling_fits(table, families=["ce_eff", "ce_ood_mean", "ce_adv", "ce_rob"], n_bootstrap=40)
    findings = findings_table(fits, draws, table).set_index("claim")
    assert findings.index.str.startswith("bert: ").any() and findings.index.str.startswith("qwen3: ").any()
    alpha = findings.loc["effectiveness (ce_eff): alpha of the joint law transfers from bert to qwen3 (standard)"]
    assert alpha["estimate"] == pytest.approx(0.2, abs=0.05) and alpha["verdict"] == "contradicted"
    assert alpha["ci_lo"] > 0


def test_exponents_of_a_law_that_does_not_fit_are_not_compared():
    # qwen3's effectiveness is pure noise around a constant: its joint law fits with a low R^2,
    # so however far its alpha lies from bert's, the transfer claim stays inconclusive.
    rng = np.random.default_rng(0)
    bert = families(EFF, ROB).assign(architecture="bert")
    noise = bert.assign(architecture="qwen3", seed=1,
                        ce_eff=4.0 + rng.normal(0, 0.3, len(bert)))
    table = pd.concat([bert, noise], ignore_index=True)
    fits, draws = scaling_fits(table, families=["ce_eff"], n_bootstrap=40)
    qwen3 = fits[(fits.architecture == "qwen3") & (fits.law == "joint")].iloc[0]
    assert qwen3.r2 < 0.9
    findings = findings_table(fits, draws, table).set_index("claim")
    alpha = findings.loc["effectiveness (ce_eff): alpha of the joint law transfers from bert to qwen3 (standard)"]
    assert alpha["verdict"] == "inconclusive" and "qwen3 fits with R^2" in alpha["would_decide"]
