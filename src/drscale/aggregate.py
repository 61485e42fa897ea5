"""Collect every run's metrics into one tidy table (the summary is made after the findings: drscale.summary)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from drscale.architectures import DEFAULT_ARCHITECTURE

METRIC_COLUMNS = ["run", "model", "architecture", "non_embedding_params", "total_params", "data_size", "strategy",
                  "seed", "collection", "role", "negatives", "metric", "value"]


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
                    "run": run["run"], "model": info["model"],
                    "architecture": info.get("architecture", DEFAULT_ARCHITECTURE),
                    "non_embedding_params": info["non_embedding_params"],
                    "total_params": info["total_params"], "data_size": info["data_size"],
                    "strategy": info["strategy"], "seed": info["seed"], "collection": collection,
                    "role": "in_domain" if collection == in_domain else "ood",
                    "negatives": (negatives or {}).get(collection), "metric": metric, "value": value,
                })
    table = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    order = ["architecture", "strategy", "non_embedding_params", "data_size", "seed", "collection", "metric"]
    return table.sort_values(order, ignore_index=True)
