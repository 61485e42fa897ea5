"""Every shipped config plans, a --configfile is the whole config, and the workflow deploys as a module.

Expected job counts come from the config's grid (``drscale.grid``), not from the workflow, so a
grid change keeps them right and a rule that plans the wrong jobs fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from drscale.grid import evaluated_collections, fitted_families, grid_table, tokenizers
from tests.test_workflow import ROOT, TEST_CONFIG, job_counts, snakemake, write_one_run_config

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
SHIPPED = sorted([*ROOT.glob("config/*.yaml"), *ROOT.glob(".test/**/*.yaml")])


def resolved(path: Path) -> dict:
    """The config as the workflow sees it: the file alone, the schema's defaults filled in."""
    config = yaml.safe_load(path.read_text())
    validate(config, str(SCHEMA))
    return config


def expected_jobs(config: dict) -> dict[str, int]:
    """Jobs of the key rules on a fresh directory, counted from the grid (a rule that changes its
    job granularity, e.g. one job per collection, changes its line here)."""
    runs = len(grid_table(config))
    collections = evaluated_collections(config)
    return {
        "train": runs,
        "encode": runs * len(collections),  # one job per (run, collection)
        "attack": runs,  # the in-domain collection only
        "prepare_model": len(config["models"]),
        "prepare_collection": len(collections),
        "training_pairs": len(config["data_sizes"]),
        "tokenize": len(tokenizers(config)) * len(collections),
        "plot_scaling": len(fitted_families(config)),
        "report": 1,
    }


def planned(workdir: Path, config: Path) -> tuple[dict[str, int], str]:
    result = snakemake(workdir, "--dry-run", config=config)
    assert result.returncode == 0, result.stderr[-4000:]
    return job_counts(result.stdout), result.stdout


def run_models(dry_run_output: str) -> set[str]:
    return set(re.findall(r"results/runs/model~([^/\s]+)/", dry_run_output))


def test_every_shipped_config_is_found():
    names = {p.relative_to(ROOT).as_posix() for p in SHIPPED}
    assert {"config/config.yaml", "config/paper.yaml", ".test/config/config.yaml",
            ".test/config-slurm/config.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_shipped_config_plans_its_grid(path, tmp_path):
    """Offline (nothing is downloaded while planning), the file alone: config/paper.yaml included."""
    config = resolved(path)
    counts, output = planned(tmp_path, path)
    expected = expected_jobs(config)
    assert {rule: counts.get(rule, 0) for rule in expected} == expected
    assert run_models(output) == set(config["models"])


def test_a_user_config_is_the_whole_config(tmp_path):
    """One model of the default's name but another spec: only its runs, nothing merged from config/config.yaml."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["models"] = {"L1-H16": {"hf": "google/bert_uncased_L-2_H-128_A-2", "learning_rate": 1.0e-4}}
    config["ood"] = []
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(config))
    counts, output = planned(tmp_path, path)
    assert run_models(output) == {"L1-H16"}
    assert counts["prepare_model"] == 1
    assert counts["train"] == len(grid_table(resolved(path)))
    # No init model, so no WordPiece to train; no OOD collection, so only the in-domain one is built.
    assert "train_tokenizer" not in counts
    assert counts["prepare_collection"] == 1


def test_the_default_plans_without_a_config_file(tmp_path):
    """`snakemake --cores all` (the quick start) reads config/config.yaml of the working directory."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((ROOT / "config" / "config.yaml").read_text())
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
               "--workflow-profile", "none", "--dry-run"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    expected = expected_jobs(resolved(ROOT / "config" / "config.yaml"))
    counts = job_counts(result.stdout)
    assert {rule: counts.get(rule, 0) for rule in expected} == expected


def deploy_as_module(workdir: Path, config: Path) -> None:
    """The catalog's standardized usage: the user's own Snakefile and config/config.yaml, the workflow a module."""
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text(config.read_text())
    (workdir / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n\n\n'
        f'module drscale:\n    snakefile:\n        "{ROOT / "Snakefile"}"\n    config:\n        config\n\n\n'
        "use rule * from drscale\n"
    )


def module_snakemake(workdir: Path, *args: str, timeout: int = 3600):
    command = [sys.executable, "-m", "snakemake", "--workflow-profile", "none", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=workdir)


def test_the_workflow_plans_as_a_module(tmp_path):
    deploy_as_module(tmp_path, TEST_CONFIG)
    result = module_snakemake(tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr[-4000:]
    expected = expected_jobs(resolved(TEST_CONFIG))
    counts = job_counts(result.stdout)
    assert {rule: counts.get(rule, 0) for rule in expected} == expected


@pytest.mark.e2e
def test_the_workflow_runs_as_a_module_from_another_directory(tmp_path):
    """One standard run of the .test config end to end through `module` + `use rule *`, the report
    included. One run, not the whole .test grid: what the module path can break (paths, the
    config, the report) every run shares, and the grid itself runs in ``finished_run``."""
    one_run = write_one_run_config(tmp_path / "one_run.yaml")
    deploy_as_module(tmp_path / "user", one_run)
    start = time.monotonic()
    result = module_snakemake(tmp_path / "user", "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    print(f"module run: {time.monotonic() - start:.0f} s wall")
    assert (tmp_path / "user" / "results" / "report.html").stat().st_size > 0
    metrics = pd.read_csv(tmp_path / "user" / "results" / "metrics.tsv", sep="\t")
    assert metrics.run.nunique() == len(grid_table(resolved(one_run))) == 1
    again = module_snakemake(tmp_path / "user", "--dry-run")
    assert "Nothing to be done" in again.stdout, again.stdout[-2000:]
