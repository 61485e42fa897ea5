"""Collect every run's metrics into one tidy table and a short human-readable summary."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

METRIC_COLUMNS = ["run", "model", "non_embedding_params", "total_params", "data_size", "strategy", "seed",
                  "collection", "role", "negatives", "metric", "value"]


def tidy_metrics(runs: list[dict], in_domain: str, negatives: dict[str, int] | None = None) -> pd.DataFrame:
    """One row per run x collection x metric; ``negatives`` is each collection's K (the CE's sampled
    negatives, which set its chance level ln(K + 1)), recorded with every metric of the collection.

    ``runs`` holds, per run, its path id (``run``), its ``model_info.json`` path and a list of
    (collection, metrics JSON path) pairs; a collection may have several files (clean, attack).
    """
    rows = []
    for run in runs:
        info = json.loads(Path(run["model_info"]).read_text())
        for collection, path in run["metrics"]:
            for metric, value in json.loads(Path(path).read_text()).items():
                rows.append({
                    "run": run["run"], "model": info["model"], "non_embedding_params": info["non_embedding_params"],
                    "total_params": info["total_params"], "data_size": info["data_size"],
                    "strategy": info["strategy"], "seed": info["seed"], "collection": collection,
                    "role": "in_domain" if collection == in_domain else "ood",
                    "negatives": (negatives or {}).get(collection), "metric": metric, "value": value,
                })
    table = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    return table.sort_values(["strategy", "non_embedding_params", "data_size", "seed", "collection", "metric"],
                             ignore_index=True)


def ce_table(metrics: pd.DataFrame, role: str = "in_domain", metric: str = "ce") -> pd.DataFrame:
    """Mean over seeds (and OOD collections) of one metric, models (by N) as rows and D as columns."""
    chosen = metrics[(metrics.role == role) & (metrics.metric == metric)]
    table = chosen.pivot_table(index=["non_embedding_params", "model"], columns="data_size", values="value",
                               aggfunc="mean")
    return table.sort_index()


def summary_markdown(metrics: pd.DataFrame, negatives: int) -> str:
    """Tables a person reads first: contrastive entropy by (N, D) per strategy, in-domain and OOD."""
    lines = ["# drscale summary", "",
             f"{metrics.run.nunique()} trained runs, {metrics.collection.nunique()} collections. "
             f"Contrastive entropy (CE) is lower-is-better; a model that cannot tell the positive from its "
             f"{negatives} negatives scores ln {negatives + 1} = {math.log(negatives + 1):.2f}.", ""]
    sections = [
        ("in_domain", "ce", "in-domain CE (effectiveness)"),
        ("ood", "ce", "mean OOD CE (out-of-distribution robustness)"),
        ("in_domain", "ce_adv", "in-domain CE with attacked negatives, ce_adv (adversarial robustness)"),
        ("in_domain", "ce_adv_attacked", "CE of the attacked queries, attacked (ce_adv's sample)"),
        ("in_domain", "ce_adv_clean", "clean CE of the attacked queries (ce_adv's paired baseline)"),
        ("in_domain", "attack_success_rate", "attack success rate (attacked passage enters the top 10)"),
        ("in_domain", "ndcg@10", "in-domain nDCG@10"),
    ]
    for strategy, rows in metrics.groupby("strategy"):
        for role, metric, title in sections:
            table = ce_table(rows, role, metric)
            if not table.empty:
                lines += [f"## {strategy}: {title}", "", "rows: model (non-embedding params); columns: data size D",
                          "", table.round(3).to_markdown(), ""]
    return "\n".join(lines)
