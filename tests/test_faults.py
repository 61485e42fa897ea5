"""The real workflow killed with SIGKILL while it trains, then rerun as a user would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.test_workflow import ROOT, job_counts, snakemake, write_one_run_config

# What a rerun after a kill during `train` may run: the killed job and what depends on it.
# The jobs that make a run's inputs: none of them may rerun after a kill during train. Named this way
# round so that a new analysis rule downstream of train needs no edit here.
UPSTREAM_OF_TRAIN = {"prepare_collection", "sample_negatives", "train_tokenizer", "tokenize", "prepare_model",
                     "training_pairs", "mine_negatives", "teacher_scores", "harvest_docstrings"}


def wait_for_checkpoint(process: subprocess.Popen, checkpoints: Path, timeout: float) -> Path:
    """The first complete checkpoint (the strategy's state written after the trainer's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(checkpoints.glob("*/*/*/*/checkpoint-*/strategy_state.json"))
        if found:
            return found[0].parent
        if process.poll() is not None:
            pytest.fail(f"snakemake ended (rc {process.returncode}) before any train checkpoint appeared")
        time.sleep(0.05)
    pytest.fail(f"no train checkpoint under {checkpoints} within {timeout} s")


def kill_group(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGKILL snakemake and every job it started (they share its process group), and wait until
    none is left: an orphaned train.py would otherwise keep writing the checkpoint folder."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"processes of group {process.pid} still alive {timeout} s after SIGKILL")


def file_times(workdir: Path) -> dict[str, int]:
    return {str(p.relative_to(workdir)): p.stat().st_mtime_ns
            for folder in ("resources", "results") for p in (workdir / folder).rglob("*")
            if p.is_file() and "checkpoints" not in p.parts}


@pytest.mark.e2e
def test_a_workflow_killed_during_train_reruns_only_the_unfinished_jobs_and_matches(finished_run, tmp_path):
    # One standard run of the .test grid: its metrics must equal the uninterrupted finished_run's.
    one_run = write_one_run_config(tmp_path / "one_run.yaml")
    workdir = tmp_path / "run"
    workdir.mkdir()
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(one_run), "--workflow-profile", "none", "--cores", "2"]
    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            checkpoint = wait_for_checkpoint(process, workdir / "results" / "checkpoints", timeout=900)
        finally:
            kill_group(process)
    assert not (workdir / "results" / "metrics.tsv").exists()
    finished_before = file_times(workdir)

    unlocked = snakemake(workdir, "--unlock", config=one_run)
    assert unlocked.returncode == 0, unlocked.stderr[-2000:]
    plan = snakemake(workdir, "--dry-run", "--rerun-incomplete", config=one_run)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert not set(job_counts(plan.stdout)) & UPSTREAM_OF_TRAIN and job_counts(plan.stdout)["train"] == 1
    rerun = snakemake(workdir, "--cores", "2", "--rerun-incomplete", config=one_run, timeout=2400)
    assert rerun.returncode == 0, rerun.stderr[-4000:]

    # No job that had finished ran again: the files it wrote are untouched.
    after = file_times(workdir)
    assert {f: after.get(f) for f in finished_before} == finished_before
    # The rerun resumed from the checkpoint it was killed after, and trained to the last step.
    run = checkpoint.parent.relative_to(workdir / "results" / "checkpoints")
    curve = pd.read_csv(workdir / "results" / "runs" / run / "loss_curve.tsv", sep="\t")
    assert curve.step.max() == yaml.safe_load(one_run.read_text())["training"]["steps"]
    assert checkpoint.name in (workdir / "logs" / "train" / f"{run}.log").read_text()
    # ... and gave the uninterrupted run's metrics: resumed training and two clean runs agree.
    resumed = pd.read_csv(workdir / "results" / "metrics.tsv", sep="\t").set_index(["collection", "metric"]).value
    reference = pd.read_csv(finished_run / "results" / "metrics.tsv", sep="\t")
    reference = reference[reference.run == str(run)].set_index(["collection", "metric"]).value
    assert len(resumed) == len(reference) > 0 and set(resumed.index) == set(reference.index)
    np.testing.assert_allclose(resumed[reference.index], reference, rtol=0, atol=1e-6, equal_nan=True)
