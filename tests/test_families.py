import numpy as np
import pandas as pd
import pytest

from drscale.families import GRID_KEYS, family_columns, metric_families

# The families of _tidy(): in-domain, two OOD collections and their mean, attacked, and the mixes.
FAMILIES = ["ce_eff", "ce_ood_pandas", "ce_ood_scipy", "ce_ood_mean", "ce_adv", "ce_rob", "ce_joint"]


def _tidy(with_adv: bool = True) -> pd.DataFrame:
    """Two grid points; the first has two seeds. ce values are chosen so the means are easy."""
    rows = []
    runs = [
        ("L1-H32", 1000, 5000, 100, "standard", 0, 0.0),
        ("L1-H32", 1000, 5000, 100, "standard", 1, 1.0),
        ("L2-H64", 4000, 9000, 100, "standard", 0, 0.5),
    ]
    for model, n, total, d, strategy, seed, shift in runs:
        base = {
            "run": f"model~{model}/data~{d}/strategy~{strategy}/seed~{seed}",
            "model": model,
            "architecture": "bert",
            "non_embedding_params": n,
            "total_params": total,
            "data_size": d,
            "strategy": strategy,
            "seed": seed,
        }
        rows.append({**base, "collection": "numpy", "role": "in_domain", "metric": "ce", "value": 1.0 + shift})
        rows.append({**base, "collection": "numpy", "role": "in_domain", "metric": "ndcg@10", "value": 0.7})
        rows.append({**base, "collection": "scipy", "role": "ood", "metric": "ce", "value": 2.0 + shift})
        rows.append({**base, "collection": "pandas", "role": "ood", "metric": "ce", "value": 3.0 + shift})
        rows.append({**base, "collection": "pandas", "role": "ood", "metric": "recall@100", "value": 0.9})
        if with_adv:
            rows.append({**base, "collection": "numpy", "role": "in_domain", "metric": "ce_adv", "value": 4.0 + shift})
            rows.append(
                {**base, "collection": "numpy", "role": "in_domain", "metric": "attack_success_rate", "value": 0.3}
            )
    return pd.DataFrame(rows)


def test_families_average_seeds_and_combine_robustness():
    fam = metric_families(_tidy())
    assert list(fam.columns) == [*GRID_KEYS, "n_seeds", *FAMILIES]
    small = fam[fam["model"] == "L1-H32"].iloc[0]
    assert small["n_seeds"] == 2
    assert small["ce_eff"] == pytest.approx(1.5)
    assert small["ce_ood_mean"] == pytest.approx(3.0)  # mean(2.5, 3.5)
    assert small["ce_adv"] == pytest.approx(4.5)
    assert small["ce_rob"] == pytest.approx(3.75)
    assert small["ce_joint"] == pytest.approx((1.5 + 3.75) / 2)
    assert fam[fam["model"] == "L2-H64"].iloc[0]["ce_eff"] == pytest.approx(1.5)


def test_robustness_weight_and_missing_attack():
    weighted = metric_families(_tidy(), robustness_weight=0.2).iloc[0]
    assert weighted["ce_joint"] == pytest.approx(0.8 * 1.5 + 0.2 * 3.75)
    no_adv = metric_families(_tidy(with_adv=False))
    assert "ce_adv" not in no_adv
    assert no_adv["ce_rob"].isna().all() and no_adv["ce_joint"].isna().all()
    assert no_adv["ce_ood_mean"].notna().all()
    with pytest.raises(ValueError):
        metric_families(_tidy(), robustness_weight=1.5)


def test_family_columns_order():
    fam = metric_families(_tidy())
    assert family_columns(fam) == FAMILIES
    assert family_columns(fam[["model", "ce_rob", "ce_eff"]]) == ["ce_eff", "ce_rob"]
    assert np.isfinite(fam["ce_joint"]).all()
