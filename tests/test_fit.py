import numpy as np
import pandas as pd
import pytest

from drscale.fit import (
    FIT_COLUMNS,
    bootstrap_draws,
    confidence_intervals,
    elasticities,
    fit_law,
    fit_table,
    heldout_error,
    predict,
    predict_d,
    predict_joint,
    predict_n,
    scaling_fits,
)

TRUE_N = {"A": 2e3, "alpha": 0.35, "delta": 0.8}
TRUE_JOINT = {"A": 2e3, "B": 500.0, "alpha": 0.35, "beta": 0.6, "delta": 0.8}


def joint_by_hand(p, N, D):
    """Fang et al.'s joint law written out, independently of drscale.fit."""
    return ((p["A"] / N) ** (p["alpha"] / p["beta"]) + p["B"] / D) ** p["beta"] + p["delta"]


def test_joint_law_at_hand_evaluated_points():
    # (A/N)^(alpha/beta) = (1e4/1e6)^0.5 = 0.1 and B/D = 1e3/1e4 = 0.1: L = 0.2^1 + 1 = 1.2.
    p = {"A": 1e4, "B": 1e3, "alpha": 0.5, "beta": 1.0, "delta": 1.0}
    assert predict_joint(p, 1e6, 1e4) == pytest.approx(1.2, rel=1e-12)
    # alpha = beta = 0.5: (A/N)^1 = 0.01, B/D = 0.1: L = sqrt(0.11) + 1 = 1.3316624790355.
    # (The additive Chinchilla form would give 0.1 + 0.3162 + 1 = 1.4162.)
    p = {"A": 1e4, "B": 1e3, "alpha": 0.5, "beta": 0.5, "delta": 1.0}
    assert predict_joint(p, 1e6, 1e4) == pytest.approx(1.3316624790355, rel=1e-12)
    # N = 1e8: (1e-4)^1 = 1e-4; D = 1e3: B/D = 1: L = sqrt(1.0001) + 1 = 2.00004999875.
    assert predict_joint(p, 1e8, 1e3) == pytest.approx(2.00004999875, rel=1e-10)
    # Marginals: (A/N)^alpha + delta = (1e4/1e6)^0.5 + 1 = 1.1; (B/D)^beta + delta = 0.1^0.5 + 1.
    assert predict_n(p, 1e6) == pytest.approx(1.1) and predict_d(p, 1e4) == pytest.approx(1.316227766017)


def test_elasticities_by_hand():
    # a = b = 0.1, L = 1.2: dlogL/dlogN = -alpha a / L = -0.05 / 1.2, dlogL/dlogD = -beta b / L = -0.1 / 1.2.
    p = {"A": 1e4, "B": 1e3, "alpha": 0.5, "beta": 1.0, "delta": 1.0}
    e_n, e_d = elasticities(p, 1e6, 1e4)
    assert e_n == pytest.approx(-0.05 / 1.2) and e_d == pytest.approx(-0.1 / 1.2)
    # Numerical derivative of the hand-written law agrees (alpha != beta, so the chain rule matters).
    p = {"A": 2e3, "B": 500.0, "alpha": 0.35, "beta": 0.6, "delta": 0.8}
    h = 1e-6
    e_n, e_d = elasticities(p, 1e5, 2e3)
    num_n = (np.log(joint_by_hand(p, 1e5 * np.exp(h), 2e3)) - np.log(joint_by_hand(p, 1e5 * np.exp(-h), 2e3))) / (2 * h)
    num_d = (np.log(joint_by_hand(p, 1e5, 2e3 * np.exp(h))) - np.log(joint_by_hand(p, 1e5, 2e3 * np.exp(-h)))) / (2 * h)
    assert e_n == pytest.approx(num_n, rel=1e-6) and e_d == pytest.approx(num_d, rel=1e-6)


@pytest.mark.parametrize("objective", ["huber_log", "least_squares"])
def test_both_objectives_recover_joint_exponents_within_2_percent(objective):
    rng = np.random.default_rng(3)
    N, D = _grid()
    y = joint_by_hand(TRUE_JOINT, N, D) * np.exp(rng.normal(0, 0.001, N.size))
    fit = fit_law("joint", N, D, y, objective=objective)
    assert fit.status == "ok" and fit.dof == 20
    for p in ("alpha", "beta", "delta"):
        assert fit.params[p] == pytest.approx(TRUE_JOINT[p], rel=0.02), (objective, p, fit.params)


@pytest.mark.parametrize("objective", ["huber_log", "least_squares"])
def test_both_objectives_recover_n_law(objective):
    N = np.geomspace(1e4, 1e7, 8)
    y = (TRUE_N["A"] / N) ** TRUE_N["alpha"] + TRUE_N["delta"]
    fit = fit_law("N", N, np.ones_like(N), y, objective=objective)
    assert fit.params["alpha"] == pytest.approx(0.35, rel=0.02) and fit.r2 > 0.999


def test_objectives_differ_on_an_outlier_and_bad_name_raises():
    # One diverged run (5x the law): the Huber fit in log space ignores it, least squares does not.
    N = np.geomspace(1e4, 1e7, 8)
    y = (TRUE_N["A"] / N) ** TRUE_N["alpha"] + TRUE_N["delta"]
    y[3] *= 5
    huber_fit = fit_law("N", N, np.ones_like(N), y, objective="huber_log")
    ls_fit = fit_law("N", N, np.ones_like(N), y, objective="least_squares")
    assert abs(huber_fit.params["alpha"] - 0.35) < abs(ls_fit.params["alpha"] - 0.35)
    with pytest.raises(ValueError, match="analysis.fit_objective"):
        fit_law("N", N, N, y, objective="l1")


def _grid(n_models=5, n_data=5):
    N, D = np.meshgrid(np.geomspace(1e4, 1e7, n_models), np.geomspace(300, 3e4, n_data))
    return N.ravel(), D.ravel()


def test_n_law_recovered_with_truth_inside_bootstrap_ci():
    rng = np.random.default_rng(1)
    N = np.geomspace(1e4, 1e7, 8)
    D = np.full_like(N, 1000)
    y = predict_n(TRUE_N, N) * np.exp(rng.normal(0, 0.01, N.size))
    fit = fit_law("N", N, D, y)
    assert fit.status == "ok" and (fit.n_points, fit.dof) == (8, 5)
    assert fit.r2 > 0.99
    assert fit.params["alpha"] == pytest.approx(0.35, rel=0.1)
    ci = confidence_intervals(bootstrap_draws("N", N, D, y, fit, n_bootstrap=200, seed=0))
    for p, truth in TRUE_N.items():
        assert ci[p][0] <= truth <= ci[p][1], (p, ci[p])


def test_joint_law_recovers_both_exponents():
    rng = np.random.default_rng(2)
    N, D = _grid()
    y = predict_joint(TRUE_JOINT, N, D) * np.exp(rng.normal(0, 0.005, N.size))
    fit = fit_law("joint", N, D, y)
    assert fit.status == "ok" and fit.dof == 25 - 5
    assert fit.params["alpha"] == pytest.approx(0.35, rel=0.05)
    assert fit.params["beta"] == pytest.approx(0.6, rel=0.05)


def test_joint_law_tends_to_the_marginal_laws():
    assert predict_joint(TRUE_JOINT, 1e30, 1000) == pytest.approx(predict_d(TRUE_JOINT, 1000))
    assert predict_joint(TRUE_JOINT, 1e5, 1e30) == pytest.approx(predict_n(TRUE_JOINT, 1e5))


def test_heldout_error_small_on_exact_law():
    N, D = _grid()
    y = predict_joint(TRUE_JOINT, N, D)
    for axis in ("N", "D"):
        held, error = heldout_error("joint", N, D, y, axis)
        assert held == (N if axis == "N" else D).max()
        assert error < 1e-3
    N = np.geomspace(1e4, 1e7, 5)
    held, error = heldout_error("N", N, np.ones_like(N), predict_n(TRUE_N, N), "N")
    assert held == 1e7 and error < 1e-3


def test_too_few_points_is_skipped_not_raised():
    fit = fit_law("joint", [1e4, 1e5, 1e6], [100, 100, 100], [3.0, 2.0, np.nan])
    assert fit.status == "skipped: too few points (n=2, need >5)"
    assert np.isnan(fit.params["beta"]) and fit.dof == -3
    assert bootstrap_draws("joint", [1e4], [100], [3.0], fit, n_bootstrap=5).empty
    assert np.isnan(heldout_error("N", [1e4, 1e5], [1, 1], [2.0, 1.5])[1])


def _families():
    N, D = _grid(5, 4)
    rows = []
    for strategy, shift in (("standard", 1.0), ("adversarial", 1.1)):
        ce = predict_joint(TRUE_JOINT, N, D) * shift
        rows.append(
            pd.DataFrame(
                {
                    "model": [f"m{n:.0f}" for n in N],
                    "architecture": "bert",
                    "non_embedding_params": N.astype(int),
                    "total_params": 2 * N.astype(int),
                    "data_size": D.astype(int),
                    "strategy": strategy,
                    "n_seeds": 1,
                    "ce_eff": ce,
                    "ce_rob": np.nan,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_fit_table_rows_and_nan_family():
    fits, draws = scaling_fits(_families(), n_bootstrap=10, seed=0)
    assert len(fits) == 2 * 2 * 3
    assert set(fits["law"]) == {"N", "D", "joint"}
    eff = fits[fits["family"] == "ce_eff"].set_index(["strategy", "law"])
    assert (eff["status"] == "ok").all()
    assert eff.loc[("standard", "joint"), "beta"] == pytest.approx(0.6, rel=0.01)
    assert eff.loc[("standard", "N"), "data_size"] == _families()["data_size"].max()
    # At fixed D the joint law is close to, not exactly, an N-law.
    assert eff.loc[("standard", "N"), "heldout_N_rel_error"] < 0.02
    assert np.isnan(eff.loc[("standard", "N"), "heldout_D_rel_error"])
    assert eff.loc[("standard", "joint"), ["heldout_N_rel_error", "heldout_D_rel_error"]].max() < 0.01
    # 4 data sizes leave the D-law one spare point: no resample differs from the data.
    assert (eff.xs("D", level="law")["n_bootstrap"] == 0).all() and eff.xs("D", level="law")["beta_lo"].isna().all()
    assert (eff.xs("joint", level="law")["n_bootstrap"] == 10).all()
    assert (eff["alpha_lo"] <= eff["alpha_hi"]).sum() == 4
    rob = fits[fits["family"] == "ce_rob"]
    assert rob["status"].str.startswith("skipped: too few points (n=0").all()
    assert set(draws["family"]) == {"ce_eff"} and len(draws) == eff["n_bootstrap"].sum()
    empty = fit_table(_families().iloc[:0])
    assert empty.empty and list(empty.columns) == FIT_COLUMNS
    standard = _families().query("strategy == 'standard'")
    table = fit_table(standard, families=["ce_eff", "ce_adv"], n_bootstrap=0)
    assert (table["n_bootstrap"] == 0).all() and np.isnan(table["alpha_lo"]).all()
    assert (table.loc[table["family"] == "ce_eff", "status"] == "ok").all()
    assert table.loc[table["family"] == "ce_adv", "status"].str.startswith("skipped").all()


def test_predict_dispatches_on_law():
    assert predict("N", TRUE_N, N=1e5) == pytest.approx((2e3 / 1e5) ** 0.35 + 0.8)
