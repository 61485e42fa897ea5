"""The science on the .test/config-laws grid: CE falls with N and D and every law of ce_eff is fitted."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from scipy.stats import spearmanr

from tests.test_analysis import check_analysis_tables, read
from tests.test_workflow import LAWS_CONFIG


@pytest.mark.e2e
def test_in_domain_ce_falls_along_n_and_along_d(laws_run):
    families = read(laws_run, "families.tsv")
    largest_d = families[families.data_size == families.data_size.max()].sort_values("non_embedding_params")
    largest_n = families[families.non_embedding_params == families.non_embedding_params.max()].sort_values("data_size")
    for points, axis in ((largest_d, "non_embedding_params"), (largest_n, "data_size")):
        assert len(points) == 5
        assert points.ce_eff.iloc[-1] < points.ce_eff.iloc[0], points[[axis, "ce_eff"]]
        assert spearmanr(points[axis], points.ce_eff).statistic <= -0.8, points[[axis, "ce_eff"]]
    # More of both helps on the whole grid too.
    assert spearmanr(np.log(families.non_embedding_params) + np.log(families.data_size),
                     families.ce_eff).statistic < -0.5


@pytest.mark.e2e
def test_every_law_of_ce_eff_is_fitted_with_finite_positive_exponents_and_intervals(laws_run):
    fits = read(laws_run, "fits.tsv")
    ce_eff = fits[(fits.strategy == "standard") & (fits.family == "ce_eff")].set_index("law")
    assert (ce_eff.status == "ok").all(), ce_eff.status
    assert (ce_eff.loc[["N", "D"], "dof"] >= 2).all() and ce_eff.loc["joint", "dof"] >= 2
    for law, exponents in (("N", ["alpha"]), ("D", ["beta"]), ("joint", ["alpha", "beta"])):
        row = ce_eff.loc[law]
        assert row.n_bootstrap > 0, law
        for p in exponents:
            value, lo, hi = row[p], row[f"{p}_lo"], row[f"{p}_hi"]
            assert np.isfinite([value, lo, hi]).all() and 0 < lo <= hi, (law, p, value, lo, hi)
            assert 1e-3 < value < 10, (law, p, value)  # not stuck at a bound of the fit
    assert ce_eff.loc["N", "r2"] > 0.8
    draws = read(laws_run, "fit_bootstrap.tsv")
    assert len(draws[(draws.family == "ce_eff") & (draws.law == "joint")]) == ce_eff.loc["joint", "n_bootstrap"]


@pytest.mark.e2e
def test_laws_run_tables_follow_from_its_metrics(laws_run):
    config = yaml.safe_load(LAWS_CONFIG.read_text())
    check_analysis_tables(laws_run, config)
    metrics = read(laws_run, "metrics.tsv")
    assert metrics.run.nunique() == len(config["models"]) * len(config["data_sizes"])
