"""Paths the main tests do not reach: a missing OOD result, a NaN robustness loss, a params edit."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest
import torch
import yaml

from drscale.families import metric_families
from drscale.grid import grid_table
from tests.test_workflow import TEST_CONFIG, job_counts, snakemake, write_config


def metric_rows(model: str, n: int, values: dict[tuple[str, str], float]) -> list[dict]:
    return [{"run": f"{model}-run", "model": model, "architecture": "bert", "non_embedding_params": n,
             "total_params": 2 * n, "data_size": 100, "strategy": "standard", "seed": 0, "collection": collection,
             "role": "in_domain" if collection == "docs" else "ood", "metric": metric, "value": value}
            for (collection, metric), value in values.items()]


def test_ce_ood_mean_is_nan_when_an_ood_collection_is_missing():
    complete = {("docs", "ce"): 3.0, ("docs", "ce_adv"): 3.4, ("a", "ce"): 3.5, ("b", "ce"): 4.5}
    missing_b = {k: v for k, v in complete.items() if k != ("b", "ce")}
    metrics = pd.DataFrame(metric_rows("big", 200, complete) + metric_rows("small", 100, missing_b))
    families = metric_families(metrics).set_index("model")
    # By hand: ce_ood_mean = (3.5 + 4.5) / 2 = 4; ce_rob = (4 + 3.4) / 2 = 3.7; ce_joint = (3 + 3.7) / 2.
    assert families.loc["big", "ce_ood_mean"] == pytest.approx(4.0)
    assert families.loc["big", "ce_rob"] == pytest.approx(3.7)
    assert families.loc["big", "ce_joint"] == pytest.approx(3.35)
    # Never the mean of an easier subset: a point missing an OOD collection has no robustness.
    small = families.loc["small"]
    assert small.ce_ood_a == 3.5 and math.isnan(small.ce_ood_b)
    assert math.isnan(small.ce_ood_mean) and math.isnan(small.ce_rob) and math.isnan(small.ce_joint)
    assert small.ce_eff == 3.0 and small.ce_adv == 3.4


def test_a_nan_robustness_loss_stops_training_and_names_l_rob(tiny_model_dir, tiny_collection, tmp_path):
    from drscale.data import load_collection, training_pairs
    from drscale.losses import NonFiniteLossError
    from drscale.models import load_start_model
    from drscale.strategies import make_strategy
    from drscale.train import TrainConfig, train

    pairs = training_pairs(load_collection(tiny_collection, "train"))
    strategy = make_strategy("adversarial", synonyms={"sort": ["order"]}, attacked_per_batch=2)
    strategy.robustness = lambda model: (lambda embeddings, labels, step: torch.tensor(math.nan))
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    config = TrainConfig(steps=4, batch_size=8, learning_rate=1e-2, warmup_ratio=0.0, weight_decay=0.0, seed=0,
                         checkpoint_every=2, logging_steps=1)
    with pytest.raises(NonFiniteLossError, match="L_rob became nan at step 1"):
        train(model, strategy, pairs, config, tmp_path / "ckpt", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.e2e
def test_editing_the_pareto_section_reruns_only_the_pareto_runs(finished_run, tmp_path):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    edited = write_config(tmp_path / "config.yaml", pareto={**config.get("pareto", {}), "eta": 0.2})
    result = snakemake(finished_run, "--dry-run", config=edited)
    assert result.returncode == 0, result.stderr[-3000:]
    grid = grid_table(config)
    assert job_counts(result.stdout)["train"] == grid.strategy.str.startswith("pareto").sum() > 0
    strategies = set(re.findall(r"strategy=(\w+)", result.stdout))
    assert strategies == {s for s in config["strategies"] if s.startswith("pareto")}
