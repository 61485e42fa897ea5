"""Rule tests: every axis of a finished .test run extends (or shrinks) without redoing finished work.

Each test copies the session's finished run (``finished_run``), changes the config and reads the
jobs a dry run plans: only the jobs that depend on the change, plus the cheap aggregation and
analysis. Pareto runs are the one exception by design: their target r* is estimated from the
baseline runs' metrics, so anything that changes those metrics retrains them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from drscale.data import split_pairs, write_collection
from drscale.grid import fitted_families, grid_table
from tests.conftest import make_pairs
from tests.test_workflow import TEST_CONFIG, job_counts, snakemake

PARETO = ("pareto", "pareto_mgda")
ANALYSIS = {"aggregate", "fit", "frontier", "costs", "findings", "budget", "summary", "plot_scaling", "plot_summary",
            "report", "all"}


def planned_jobs(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a dry run lists."""
    jobs = []
    for rule, body in re.findall(r"^(?:local)?rule (\w+):\n((?:    .*\n?)*)", output, flags=re.MULTILINE):
        found = re.search(r"^    wildcards: (.*)$", body, flags=re.MULTILINE)
        wildcards = dict(item.split("=", 1) for item in found.group(1).split(", ")) if found else {}
        jobs.append((rule, wildcards))
    return jobs


@pytest.fixture
def workdir(finished_run, tmp_path) -> Path:
    """A copy of the finished run (outputs, logs and Snakemake's metadata, mtimes kept)."""
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy, symlinks=True)
    return copy


def plan(workdir: Path, **changes) -> tuple[dict[str, int], list[tuple[str, dict[str, str]]]]:
    config = yaml.safe_load(TEST_CONFIG.read_text())
    for key, value in changes.items():
        config[key] = value(config) if callable(value) else value
    path = workdir / "changed.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--dry-run", config=path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    if "Nothing to be done" in result.stdout:
        return {}, []
    return job_counts(result.stdout), planned_jobs(result.stdout)


def local_collection(root: Path, n: int = 240) -> Path:
    folder = root / "extra"
    write_collection(folder, split_pairs(make_pairs(n, seed=1), test_queries=40, dev_queries=20, seed=0))
    return folder


def not_pareto(jobs, rule):
    return [w for r, w in jobs if r == rule and w.get("strategy") not in PARETO]


@pytest.mark.e2e
def test_a_finished_run_plans_nothing(workdir):
    assert plan(workdir) == ({}, [])


@pytest.mark.e2e
def test_deleting_the_temporary_scores_leaves_a_finished_run(workdir):
    """`snakemake --delete-temp-output` removes exactly the scores files (temp(), 90% of the paper
    grid's disk) and nothing else; the run still plans nothing."""
    files = {p: p.stat().st_mtime_ns for p in (workdir / "results").rglob("*") if p.is_file()}
    scores = {p for p in files if p.parent.name == "scores" and p.suffix == ".npz"}
    assert len(scores) == len(grid_table(yaml.safe_load(TEST_CONFIG.read_text()))) * 2  # docs and one OOD set
    result = snakemake(workdir, "--cores", "1", "--delete-temp-output")
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in files if p.exists()} == {p: t for p, t in files.items() if p not in scores}
    assert plan(workdir) == ({}, [])


@pytest.mark.e2e
def test_adding_a_model_runs_only_its_runs(workdir):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    new = {"init": {"layers": 1, "hidden": 24, "heads": 2, "intermediate": 96}, "learning_rate": 1.0e-2}
    counts, jobs = plan(workdir, models=lambda c: {**c["models"], "L1-H24": new})
    runs = len(config["data_sizes"])  # standard only: the other strategies run at strategy_points
    collections = 1 + len(config["ood"])
    assert counts == {
        "prepare_model": 1, "train": runs, "encode": runs * collections, "evaluate": runs * collections,
        "attack": runs, "evaluate_attack": runs, "plot_scaling": len(fitted_families(config)),
        **{rule: 1 for rule in ANALYSIS - {"plot_scaling"}},
    }
    assert {w["model"] for _, w in jobs if "model" in w} == {"L1-H24"}


@pytest.mark.e2e
def test_adding_a_data_size_runs_only_its_runs(workdir):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    counts, jobs = plan(workdir, data_sizes=lambda c: [*c["data_sizes"], 1200])
    models, collections = len(config["models"]), 1 + len(config["ood"])
    assert counts == {
        "training_pairs": 1, "train": models, "encode": models * collections, "evaluate": models * collections,
        "attack": models, "evaluate_attack": models, "plot_scaling": len(fitted_families(config)),
        **{rule: 1 for rule in ANALYSIS - {"plot_scaling"}},
    }
    assert {w["data"] for _, w in jobs if "data" in w} == {"1200"}


@pytest.mark.e2e
def test_adding_a_seed_runs_only_its_runs_and_the_pareto_retraining(workdir):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    counts, jobs = plan(workdir, seeds=[0, 1])
    new_runs = len(grid_table(config))
    assert len(not_pareto(jobs, "train")) == new_runs - 1  # r* moves with the new seed's baselines
    assert {w["seed"] for w in not_pareto(jobs, "train") + not_pareto(jobs, "encode")} == {"1"}
    assert {w["seed"] for r, w in jobs if r == "train" and w["strategy"] in PARETO} == {"0", "1"}
    assert counts["pareto_target"] == 1 and counts["teacher_scores"] == 1
    assert not any(r in ("prepare_collection", "tokenize", "prepare_model", "training_pairs") for r, _ in jobs)


@pytest.mark.e2e
def test_adding_a_strategy_runs_only_its_runs_and_the_pareto_retraining(workdir):
    counts, jobs = plan(workdir, strategies=lambda c: [*c["strategies"], "hard_negative"])
    assert {w["strategy"] for w in not_pareto(jobs, "train")} == {"hard_negative"}
    assert len(not_pareto(jobs, "train")) == 1 and len(not_pareto(jobs, "attack")) == 1
    assert counts["pareto_target"] == 1  # hard_negative is a baseline of r*
    assert "mine_negatives" not in counts and "teacher_scores" not in counts


@pytest.mark.e2e
@pytest.mark.parametrize("scores", ["kept", "deleted"])
def test_adding_an_ood_collection_encodes_only_it_and_trains_and_attacks_nothing(workdir, tmp_path, scores):
    """With the other collections' scores on disk or removed by `--delete-temp-output`."""
    if scores == "deleted":
        assert snakemake(workdir, "--cores", "1", "--delete-temp-output").returncode == 0
    config = yaml.safe_load(TEST_CONFIG.read_text())
    folder = local_collection(tmp_path)
    counts, jobs = plan(workdir, ood=lambda c: [*c["ood"], "extra"],
                        collections=lambda c: {**c["collections"], "extra": {"source": f"local:{folder}"}})
    runs = grid_table(config)
    assert not not_pareto(jobs, "train") and not not_pareto(jobs, "attack")
    assert {w["collection"] for w in not_pareto(jobs, "encode") + not_pareto(jobs, "evaluate")} == {"extra"}
    assert len(not_pareto(jobs, "encode")) == (~runs.strategy.isin(PARETO)).sum()
    assert counts["prepare_collection"] == 1 and counts["tokenize"] == 1 and "harvest_docstrings" not in counts


@pytest.mark.e2e
def test_removing_an_ood_collection_trains_and_attacks_nothing(workdir):
    counts, jobs = plan(workdir, ood=[])
    assert not not_pareto(jobs, "train") and not not_pareto(jobs, "attack")
    # The Pareto runs' probe reads every collection's validation data: it and they run again.
    assert not not_pareto(jobs, "encode") and not not_pareto(jobs, "evaluate")
    assert set(counts) - {"validation_probe", "pareto_target", "train", "encode", "evaluate", "attack",
                          "evaluate_attack", "plot_trajectories"} == ANALYSIS
    assert counts["plot_scaling"] == len(fitted_families({"ood": []}))


@pytest.mark.e2e
def test_a_collection_too_small_for_its_k_fails_early_and_removes_nothing(workdir, tmp_path):
    """The too-small collection fails when it is prepared, before any encoding, and no other
    collection's outputs are touched."""
    folder = tmp_path / "small"
    write_collection(folder, split_pairs(make_pairs(40, seed=2), test_queries=10, dev_queries=0, seed=0))
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["ood"].append("small")
    config["collections"]["small"] = {"source": f"local:{folder}", "validation_split": None}
    path = workdir / "changed.yaml"
    path.write_text(yaml.safe_dump(config))
    before = {p: p.stat().st_mtime_ns for p in (workdir / "results" / "runs").rglob("*") if p.is_file()}
    runs = grid_table(config)
    targets = [f"results/runs/model~{r.model}/data~{r.data}/strategy~{r.strategy}/seed~{r.seed}/metrics/test/small.json"
               for r in runs.itertuples() if r.strategy not in PARETO]
    result = snakemake(workdir, "--cores", "1", *targets, config=path)
    assert result.returncode != 0
    # prepare_collection checks the prepared corpus against its K (sample_negatives would too).
    assert "set collections.small.negatives to at most 39" in (
        workdir / "logs" / "prepare_collection" / "small.log").read_text()
    assert not list((workdir / "results" / "runs").rglob("scores/small.npz"))
    assert {p: p.stat().st_mtime_ns for p in before if p.exists()} == before
