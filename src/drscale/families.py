"""Metric families: the per-grid-point losses that scaling laws and frontiers are fitted to.

The workflow's tidy ``results/metrics.tsv`` has one row per (run, collection, metric); the
analysis needs one row per grid point (N, D, strategy) with one column per family, every one a
contrastive entropy (lower is better), so a power law with an offset can fit it directly
(docs/design.md section 2).
"""

from __future__ import annotations

import pandas as pd

from drscale.architectures import DEFAULT_ARCHITECTURE

GRID_KEYS = ["model", "architecture", "non_embedding_params", "total_params", "data_size", "strategy"]


def with_architecture(table: pd.DataFrame) -> pd.DataFrame:
    """A table without an ``architecture`` column (from before the architecture axis, or built by
    hand) is a grid of the default architecture."""
    return table if "architecture" in table.columns else table.assign(architecture=DEFAULT_ARCHITECTURE)


def families_by_seed(metrics: pd.DataFrame, robustness_weight: float = 0.5) -> pd.DataFrame:
    """One row per run (``GRID_KEYS`` + ``seed``) with the CE families as columns.

    - ``ce_eff``: CE on the in-domain collection.
    - ``ce_ood_<collection>`` for every OOD collection, and ``ce_ood_mean``, their mean (NaN if
      any of them is missing, so a grid point is never judged on an easier subset).
    - ``ce_adv``: adversarial CE, a column only when the attack stage ran.
    - ``ce_rob = (ce_ood_mean + ce_adv) / 2``: robustness needs both kinds, so it is NaN when the
      attack stage did not run (and with it ``ce_joint``, the frontier and the efficiency).
    - ``ce_joint = (1 - w) ce_eff + w ce_rob`` with ``w = robustness_weight`` (0.5: the mean).
    """
    if not 0.0 <= robustness_weight <= 1.0:
        raise ValueError(f"robustness_weight must lie in [0, 1], got {robustness_weight}")
    ce = metrics[metrics["metric"].isin(["ce", "ce_adv"])].copy()
    is_ood = ce["role"] == "ood"
    ce["family"] = "ce_eff"
    ce.loc[is_ood, "family"] = "ce_ood_" + ce.loc[is_ood, "collection"].astype(str)
    ce.loc[ce["metric"] == "ce_adv", "family"] = "ce_adv"
    ood = sorted(ce.loc[is_ood & (ce["metric"] == "ce"), "family"].unique())

    per_seed = ce.pivot_table(index=GRID_KEYS + ["seed"], columns="family", values="value")
    per_seed = per_seed.reindex(columns=["ce_eff", *ood, *(["ce_adv"] if "ce_adv" in per_seed else [])])
    per_seed["ce_ood_mean"] = per_seed[ood].mean(axis=1, skipna=False) if ood else float("nan")
    adv = per_seed["ce_adv"] if "ce_adv" in per_seed else float("nan")
    per_seed["ce_rob"] = (per_seed["ce_ood_mean"] + adv) / 2
    per_seed["ce_joint"] = (1 - robustness_weight) * per_seed["ce_eff"] + robustness_weight * per_seed["ce_rob"]
    per_seed = per_seed.reset_index()
    return per_seed[[*GRID_KEYS, "seed", *family_columns(per_seed)]]


def metric_families(metrics: pd.DataFrame, robustness_weight: float = 0.5) -> pd.DataFrame:
    """One row per grid point (``GRID_KEYS``): the seed means of :func:`families_by_seed`, and
    ``n_seeds``, how many seeds were averaged."""
    per_seed = families_by_seed(metrics, robustness_weight)
    grouped = per_seed.groupby(GRID_KEYS, sort=True)
    families = grouped[family_columns(per_seed)].mean()
    families.insert(0, "n_seeds", grouped["seed"].nunique())
    return families.reset_index()


def family_columns(families: pd.DataFrame) -> list[str]:
    """The family columns of a ``metric_families`` table, in a fixed order: effectiveness first,
    then each OOD set, their mean, adversarial, robustness and the joint loss."""
    ood = sorted(c for c in families.columns if c.startswith("ce_ood_") and c != "ce_ood_mean")
    order = ["ce_eff", *ood, "ce_ood_mean", "ce_adv", "ce_rob", "ce_joint"]
    return [c for c in order if c in families.columns]
