"""The analysis tables of an end-to-end run, recomputed by hand from the tables they are made of."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.test_workflow import TEST_CONFIG

KEYS = ["model", "data_size", "strategy"]


def read(workdir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(workdir / "results" / name, sep="\t")


def families_by_hand(metrics: pd.DataFrame, ood: list[str], weight: float) -> pd.DataFrame:
    """Seed means of the CE families, from metrics.tsv with plain pandas and the definitions."""
    def family(collection, metric):
        rows = metrics[(metrics.collection == collection) & (metrics.metric == metric)]
        return rows.groupby(["model", "data_size", "strategy", "seed"]).value.first()

    in_domain = metrics[metrics.role == "in_domain"].collection.iloc[0]
    table = pd.DataFrame({"ce_eff": family(in_domain, "ce"), "ce_adv": family(in_domain, "ce_adv")})
    for collection in ood:
        table[f"ce_ood_{collection}"] = family(collection, "ce")
    table["ce_ood_mean"] = sum(table[f"ce_ood_{c}"] for c in ood) / len(ood) if ood else np.nan
    table["ce_rob"] = (table.ce_ood_mean + table.ce_adv) / 2
    table["ce_joint"] = (1 - weight) * table.ce_eff + weight * table.ce_rob
    return table.groupby(KEYS).mean()


def dominated(point, others) -> bool:
    return any(o[0] <= point[0] and o[1] <= point[1] and (o[0] < point[0] or o[1] < point[1]) for o in others)


def joint_law(row, N, D) -> float:
    """L(N, D) = [(A/N)^(alpha/beta) + B/D]^beta + delta, written out."""
    return (((row.A / N) ** (row.alpha / row.beta) + row.B / D) ** row.beta) + row.delta


def check_analysis_tables(workdir: Path, config: dict) -> None:
    metrics, families = read(workdir, "metrics.tsv"), read(workdir, "families.tsv").set_index(KEYS)
    weight = config.get("analysis", {}).get("robustness_weight", 0.5)
    expected = families_by_hand(metrics, config.get("ood", []), weight)
    assert set(families.index) == set(expected.index)
    for column in expected.columns:
        np.testing.assert_allclose(families.loc[expected.index, column], expected[column], rtol=1e-12, atol=1e-12,
                                   equal_nan=True, err_msg=column)

    frontier = read(workdir, "frontier.tsv").set_index(KEYS)
    assert set(frontier.index) == set(families.index)
    for column in ("ce_eff", "ce_rob", "ce_joint"):
        np.testing.assert_allclose(frontier[column], families.loc[frontier.index, column], equal_nan=True)
    for (_, _), point in frontier.groupby(["non_embedding_params", "data_size"]):
        xy = list(zip(point.ce_eff, point.ce_rob))
        for (key, row), p in zip(point.iterrows(), xy):
            finite = bool(np.isfinite(p).all())
            on = finite and not dominated(p, [o for o in xy if np.isfinite(o).all()])
            # Dominance counts only beyond the seed noise: a strategy dominated that way is also
            # dominated in its seed means, never the other way round; with one seed, none is.
            assert bool(row.on_frontier) >= on, key
            if not row.on_frontier and finite:
                assert not on and row.n_seeds >= 2, key
            if (point.n_seeds < 2).any():
                assert bool(row.on_frontier) == finite, key

    efficiency, fits = read(workdir, "efficiency.tsv"), read(workdir, "fits.tsv")
    pareto = families.xs("pareto", level="strategy") if "pareto" in config["strategies"] else None
    for _, row in efficiency.iterrows():
        assert row.ce_joint == pytest.approx(pareto.loc[(row.model, row.data_size), "ce_joint"])
        law = fits[(fits.strategy == row.baseline) & (fits.family == "ce_joint") & (fits.law == "joint")].iloc[0]
        if law.status != "ok":
            assert np.isnan(row.k_N) and np.isnan(row.k_D)
            continue
        assert row.baseline_ce_joint_fit == pytest.approx(joint_law(law, row.non_embedding_params, row.data_size))
        assert not row.k_N <= 0 and not row.k_D <= 0  # NaN, inf or a positive multiple


@pytest.mark.e2e
def test_families_frontier_and_efficiency_follow_from_the_metrics(finished_run):
    check_analysis_tables(finished_run, yaml.safe_load(TEST_CONFIG.read_text()))
