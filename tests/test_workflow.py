"""Rule-level and end-to-end tests: the real workflow on the tiny .test config."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from drscale.grid import grid_table

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFIG = ROOT / ".test" / "config" / "config.yaml"
LAWS_CONFIG = ROOT / ".test" / "config-laws" / "config.yaml"


def snakemake(workdir: Path, *args: str, config: Path = TEST_CONFIG, timeout: int = 600):
    """Snakemake on this repository's Snakefile without a profile, keeping temp() files as both
    profiles do (``notemp``)."""
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(config), "--workflow-profile", "none", "--notemp", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=workdir)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run as {rule: count}."""
    table = output.split("Job stats:")[1].strip().splitlines()[2:]
    counts = {}
    for line in table:
        if not line.strip() or line.startswith("total"):
            break
        rule, count = line.split()
        counts[rule] = int(count)
    return counts


def write_config(path: Path, **changes) -> Path:
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config.update(changes)
    path.write_text(yaml.safe_dump(config))
    return path


def write_one_run_config(path: Path) -> Path:
    """The .test config cut to one standard run: its first model at its smallest data size."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    model, data = next(iter(config["models"])), min(config["data_sizes"])
    return write_config(path, models={model: config["models"][model]}, data_sizes=[data], strategies=["standard"],
                        strategy_points={"models": [model], "data_sizes": [data]})


@pytest.mark.e2e
def test_metrics_table_covers_every_run_collection_and_metric(finished_run):
    metrics = pd.read_csv(finished_run / "results" / "metrics.tsv", sep="\t")
    config = yaml.safe_load(TEST_CONFIG.read_text())
    runs = len(grid_table(config))
    collections = 1 + len(config["ood"])
    assert metrics.run.nunique() == runs
    assert set(metrics.strategy) == set(config["strategies"])
    attack_metrics = {"ce_adv", "ce_adv_attacked", "ce_adv_clean", "attack_success_rate", "mean_rank_gain",
                      "mean_words_substituted", "attacked_pairs"}
    assert len(metrics) == runs * (collections * 4 + len(attack_metrics))
    assert set(metrics.metric) == {"ce", "ndcg@10", "mrr@10", "recall@100"} | attack_metrics
    # A success rate is undefined (NaN) only when every attacked passage already ranked in the top 10.
    assert metrics[metrics.metric != "attack_success_rate"].value.notna().all()
    assert set(metrics.role) == {"in_domain", "ood"}
    in_domain_ce = metrics[(metrics.role == "in_domain") & (metrics.metric == "ce")].value
    chance = math.log(config["evaluation"]["negatives"] + 1)
    assert (in_domain_ce < chance).all(), "trained models must beat a model that cannot rank"
    sizes = metrics.drop_duplicates("model").set_index("model").non_embedding_params
    assert sizes["L1-H16"] < sizes["L1-H32"]
    assert set(metrics.data_size) == set(config["data_sizes"])
    assert "in-domain CE" in (finished_run / "results" / "summary.md").read_text()


@pytest.mark.e2e
def test_attacks_are_cached_within_budget_and_raise_the_adversarial_entropy(finished_run):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    metrics = pd.read_csv(finished_run / "results" / "metrics.tsv", sep="\t")
    wide = metrics[metrics.role == "in_domain"].pivot_table(index="run", columns="metric", values="value")
    assert (wide.ce_adv_attacked >= wide.ce_adv_clean).all()
    assert (wide.ce_adv >= wide.ce).all()
    assert (wide.mean_words_substituted <= config["attack"]["max_words"]).all()
    for attacks in (finished_run / "results" / "runs").glob("*/*/*/*/attacks/test/docs.jsonl"):
        rows = [json.loads(line) for line in attacks.read_text().splitlines()]
        assert rows and all(r["score_after"] >= r["score_before"] for r in rows)
        assert all(r["words_substituted"] <= config["attack"]["max_words"] for r in rows)


@pytest.mark.e2e
def test_benchmark_manifest_and_loss_curves(finished_run):
    from drscale.data import sha256

    folder = finished_run / "resources" / "collections" / "docs"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"]["corpus.jsonl"] == sha256(folder / "corpus.jsonl")
    assert set(manifest["packages"]) == {"stdlib", "numpy"}
    curves = list((finished_run / "results" / "runs").glob("*/*/*/*/loss_curve.tsv"))
    assert len(curves) == len(grid_table(yaml.safe_load(TEST_CONFIG.read_text())))
    assert all(pd.read_csv(c, sep="\t").loss.notna().all() for c in curves)
    assert not (finished_run / "results" / "checkpoints").exists() or not any(
        (finished_run / "results" / "checkpoints").rglob("checkpoint-*"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"training": {"stepz": 3}}, "stepz"),
        ({"ood": ["nowhere"]}, "'ood' names collection 'nowhere'"),
        ({"data_sizes": [0]}, "data_sizes"),
        ({"models": {"bad": {"init": {"layers": 1, "hidden": 30, "heads": 4}, "learning_rate": 1e-3}}},
         "models.bad.init: hidden"),
    ],
)
def test_a_bad_config_fails_before_any_job_with_a_named_key(tmp_path, changes, message):
    result = snakemake(tmp_path, "--dry-run", config=write_config(tmp_path / "bad.yaml", **changes))
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.e2e
def test_pareto_training_logs_its_weight_and_the_report_is_built(finished_run):
    trajectories = pd.read_csv(finished_run / "results" / "pareto" / "trajectories.tsv", sep="\t")
    config = yaml.safe_load(TEST_CONFIG.read_text())
    assert len(trajectories) == config["training"]["steps"]  # one Pareto run, every step logged
    assert trajectories.w.between(0.05, 0.95).all() and trajectories.w.nunique() > 1
    target = json.loads((finished_run / "results" / "pareto" / "target.json").read_text())
    assert target["target_ratio"] > 0
    # r* read validation splits only (C1: validation_split, default dev), never a test split.
    splits = {c: e.get("validation_split", "dev") for c, e in config["collections"].items()}
    assert target["validation_splits"] == [f"{c}:{splits[c]}" for c in [config["in_domain"], *config["ood"]]
                                           if c == config["in_domain"] or config["collections"][c].get("dev_queries")]
    assert not any(s.split(":")[1] == "test" for s in target["validation_splits"])
    fits = pd.read_csv(finished_run / "results" / "fits.tsv", sep="\t")
    assert set(fits.status.str.split(":").str[0]) <= {"ok", "skipped", "failed"}
    frontier = pd.read_csv(finished_run / "results" / "frontier.tsv", sep="\t")
    assert frontier.on_frontier.any()
    assert {"n_seeds", "ce_eff_lo", "ce_eff_hi", "ce_rob_lo", "ce_rob_hi", "dominated_by"} <= set(frontier.columns)
    efficiency = pd.read_csv(finished_run / "results" / "efficiency.tsv", sep="\t")
    assert {"k_N", "k_N_lo", "k_N_hi", "k_D", "k_D_lo", "k_D_hi"} <= set(efficiency.columns)
    report = (finished_run / "results" / "report.html").read_text(errors="ignore")
    assert len(report) > 100_000 and "metrics.tsv" in report


def test_planning_does_not_import_torch():
    """The Snakefile imports drscale.grid at every parse (dry runs, the report, each cluster job)."""
    code = "import sys, drscale.grid; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
