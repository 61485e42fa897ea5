"""The workflow on a real (throw-away, single-node) SLURM.

Runs Snakemake with the slurm executor plugin and ``profiles/slurm`` against
munged + mariadbd + slurmdbd + slurmctld + slurmd started by
``tests/slurm/cluster.py`` under a temp dir (see there).  Needs root; installs
the Debian packages with ``tests/slurm/install.sh`` when they are missing and
apt-get is there (about 40 s), otherwise skips with the reason (fails
with it when the environment variable CI is set: see tests/ci.py).

    pytest -m slurm tests/test_slurm.py -v

Environment knobs:
    DRSCALE_SLURM_NO_INSTALL=1   never call install.sh (skip instead; a failure when CI is set)
    DRSCALE_SLURM_TIMEOUT=1500   hard limit (s) for the real-workflow run
    DRSCALE_REPO_ROOT=...        run the real workflow of another checkout
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.ci import unavailable

HERE = Path(__file__).resolve().parent
REPO_ROOT = Path(os.environ.get("DRSCALE_REPO_ROOT", HERE.parent)).resolve()
SLURM_PROFILE = REPO_ROOT / "profiles" / "slurm"
INSTALL_SH = HERE / "slurm" / "install.sh"


def _load_cluster_module():
    # tests/slurm/cluster.py is also a script; load it under a unique name.
    spec = importlib.util.spec_from_file_location(
        "drscale_slurm_cluster", HERE / "slurm" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


slurm_cluster = _load_cluster_module()

pytestmark = pytest.mark.slurm

# Status polling starts after this many seconds (plugin default: 40).
INIT_SECONDS = 5
REAL_WORKFLOW_TIMEOUT = int(os.environ.get("DRSCALE_SLURM_TIMEOUT", "1500"))


# --------------------------------------------------------------------------
# fixtures / helpers
# --------------------------------------------------------------------------
def _ensure_slurm_installed() -> None:
    if os.geteuid() != 0:
        unavailable("SLURM test needs root (daemons run as SlurmUser=root)")
    if not slurm_cluster.missing_binaries():
        return
    missing = ", ".join(slurm_cluster.missing_binaries())
    if os.environ.get("DRSCALE_SLURM_NO_INSTALL") == "1":
        unavailable(f"SLURM binaries missing ({missing}) and DRSCALE_SLURM_NO_INSTALL=1")
    if shutil.which("apt-get") is None:
        unavailable(f"SLURM binaries missing ({missing}) and no apt-get to install them")
    try:
        res = subprocess.run(["bash", str(INSTALL_SH)], capture_output=True,
                             text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired:
        unavailable("tests/slurm/install.sh timed out (no package registry?)")
    if res.returncode != 0 or slurm_cluster.missing_binaries():
        unavailable("could not install SLURM with tests/slurm/install.sh:\n"
                    + res.stdout[-2000:] + res.stderr[-2000:])


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running single-node SLURM with accounting; stopped afterwards."""
    _ensure_slurm_installed()
    try:
        slurm_cluster.check_available()
    except slurm_cluster.SlurmUnavailable as e:
        unavailable(f"cannot run SLURM here: {e}")
    root = tmp_path_factory.mktemp("slurm")
    # profiles/slurm is sized for cluster nodes (up to 16 GB for a first
    # attempt, 2x/3x on retries).  Memory is bookkeeping only on this node
    # (no cgroups, nothing enforces it), so declare at least 64 GB: SLURM
    # then runs two profile-sized jobs side by side on the 2 CPUs instead of
    # one, which halves the real-workflow run time.
    cluster = slurm_cluster.SlurmCluster(
        root, mem_mb=max(slurm_cluster.machine_mem_mb(), 65536))
    cluster.start()
    print(f"\nSLURM cluster up in {cluster.startup_seconds:.1f}s under {root}")
    try:
        yield cluster
    finally:
        cluster.stop()


def _snakemake_env(cluster, **extra) -> dict:
    env = cluster.env()
    env["DRSCALE_SLURM_ACCOUNT"] = cluster.account      # a real sacctmgr account
    env["DRSCALE_SLURM_PARTITION"] = cluster.partition
    for key in ("DRSCALE_SLURM_GPU_PARTITION", "DRSCALE_SLURM_GPUS",
                "DRSCALE_SLURM_GPU_MODEL", "SNAKEMAKE_PROFILE"):
        env.pop(key, None)
    env.update(extra)
    return env


def run_snakemake(cluster, args, *, cwd, timeout, env=None,
                  max_threads=None) -> tuple[subprocess.CompletedProcess, float]:
    """Run snakemake with the SLURM profile; hard wall-clock limit.

    The executor would wait forever for jobs that never leave the queue, so
    the whole process group is killed at ``timeout`` (and the cluster's
    stop() cancels whatever is left in SLURM).
    """
    cmd = [
        sys.executable, "-m", "snakemake",
        "--workflow-profile", str(SLURM_PROFILE),
        "--slurm-init-seconds-before-status-checks", str(INIT_SECONDS),
        # The test node has only a few CPUs; the profile asks for up to 8
        # threads (--cpus-per-task) for the GPU rules.
        "--max-threads", str(max_threads or cluster.cpus),
        "--latency-wait", "5",
        *args,
    ]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env or _snakemake_env(cluster),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        squeue = subprocess.run(["squeue", "-o", "%i %j %T %r"], env=cluster.env(),
                                capture_output=True, text=True).stdout
        pytest.fail(f"snakemake did not finish within {timeout}s\n"
                    f"squeue:\n{squeue}\noutput tail:\n{out[-8000:]}\n"
                    f"daemon logs:\n{cluster.logs()}")
    elapsed = time.monotonic() - t0
    print(f"\n$ {' '.join(cmd)}\n(finished in {elapsed:.1f}s, rc={proc.returncode})")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, ""), elapsed


def sacct_jobs(cluster) -> list[dict]:
    """All jobs of the cluster as dicts (allocation lines only)."""
    res = subprocess.run(
        ["sacct", "-a", "-X", "-P", "-S", "now-1days",
         "-o", "JobID,JobName%60,Comment%200,State,ExitCode,Account,Partition,ReqMem,AllocTRES%200"],
        env=cluster.env(), capture_output=True, text=True, check=True)
    return list(csv.DictReader(io.StringIO(res.stdout), delimiter="|"))


def job_table(cluster) -> str:
    res = subprocess.run(
        ["sacct", "-a", "-X", "-S", "now-1days",
         "-o", "JobID,Comment%45,State,Elapsed,ReqMem,AllocTRES%45"],
        env=cluster.env(), capture_output=True, text=True, check=False)
    return res.stdout


def _tail(text: str, n: int = 12000) -> str:
    return text[-n:]


# --------------------------------------------------------------------------
# harness + profile on a tiny self-contained workflow
# --------------------------------------------------------------------------
TINY_SNAKEFILE = textwrap.dedent(r'''
    # rule names match profiles/slurm, so the profile's resources apply
    rule all:
        input: "results/metrics.tsv"

    rule train:
        output: "results/model.txt"
        log: "logs/train.log"
        shell:
            "( echo job=$SLURM_JOB_ID gpus=${{SLURM_GPUS_ON_NODE:-0}} "
            "cpus=$SLURM_CPUS_PER_TASK step=${{SLURM_STEP_ID:-none}}; "
            "echo model ) > {output} 2> {log}"

    rule aggregate:
        input: rules.train.output
        output: "results/metrics.tsv"
        shell: "printf 'metric\tvalue\nmrr\t1.0\n' > {output}; cat {input} >> {output}"
''')

FAILING_SNAKEFILE = textwrap.dedent(r'''
    MARKER = "DRSCALE-SLURM-FAILURE-MARKER"

    rule all:
        input: "results/never.txt"

    rule fit:
        output: "results/never.txt"
        log: "logs/fit.log"
        shell:
            "echo '" + MARKER + " mem_mb={resources.mem_mb}' > {log}; "
            "echo '" + MARKER + "-stderr' >&2; exit 1"
''')


def test_tiny_workflow_runs_on_slurm(slurm, tmp_path):
    """sbatch + sacct polling + srun job step, with the profile's resources:
    account, partitions, memory and a typed GPU for `train`."""
    (tmp_path / "Snakefile").write_text(TINY_SNAKEFILE)
    env = _snakemake_env(slurm, DRSCALE_SLURM_GPU_PARTITION=slurm.gpu_partition,
                         DRSCALE_SLURM_GPU_MODEL=slurm.gpu_type)
    res, elapsed = run_snakemake(slurm, [], cwd=tmp_path, timeout=300, env=env)
    assert res.returncode == 0, _tail(res.stdout) + "\n" + slurm.logs()
    metrics = (tmp_path / "results" / "metrics.tsv").read_text()
    assert "mrr\t1.0" in metrics
    # The job ran inside a SLURM allocation, through the jobstep's srun step,
    # and got the profile's GPU (a fake GRES on the test node).
    assert "job=" in metrics and "job= " not in metrics, metrics
    assert "gpus=1" in metrics, metrics
    assert "step=none" not in metrics, metrics

    jobs = {j["Comment"]: j for j in sacct_jobs(slurm)}
    train = jobs.get("rule_train")
    assert train is not None, jobs
    assert train["State"] == "COMPLETED"
    assert train["Account"] == slurm.account
    assert train["Partition"] == slurm.gpu_partition       # DRSCALE_SLURM_GPU_PARTITION
    assert "gres/gpu=1" in train["AllocTRES"], train       # --gpus=fakegpu:1
    # the real train rule sizes its memory itself (resource callables); this
    # one declares none, so it gets the profile's default-resources
    assert train["ReqMem"].startswith("4000M"), train       # profile: 4000 * attempt
    agg = jobs.get("rule_aggregate")
    assert agg is not None and agg["State"] == "COMPLETED", jobs
    assert "gres/gpu" not in agg["AllocTRES"], agg
    assert agg["Partition"] == slurm.partition
    print(f"tiny workflow on SLURM: {elapsed:.1f}s")


def test_failing_job_fails_workflow(slurm, tmp_path):
    """A job exiting 1 on SLURM fails the run (after the profile's retries,
    with memory growing per attempt) and its log is shown."""
    (tmp_path / "Snakefile").write_text(FAILING_SNAKEFILE)
    res, elapsed = run_snakemake(slurm, [], cwd=tmp_path, timeout=300)
    out = res.stdout
    assert res.returncode != 0, _tail(out)
    assert not (tmp_path / "results" / "never.txt").exists()
    # show-failed-logs (profile) prints the rule's log ...
    assert "DRSCALE-SLURM-FAILURE-MARKER" in out, _tail(out)
    assert "Error in rule fit" in out, _tail(out)
    # ... and the plugin keeps the SLURM log of the failed job and says where.
    slurm_logs = sorted((tmp_path / ".snakemake" / "slurm_logs" / "rule_fit").glob("*.log"))
    assert slurm_logs, _tail(out)
    assert any(str(p) in out for p in slurm_logs), _tail(out)
    assert any("DRSCALE-SLURM-FAILURE-MARKER-stderr" in p.read_text() for p in slurm_logs)
    # retries: 2 -> three SLURM jobs, mem_mb 2000 * attempt (profile: fit)
    fit_jobs = [j for j in sacct_jobs(slurm) if j["Comment"] == "rule_fit"
                and j["JobName"] in out]
    assert [j["State"] for j in fit_jobs] == ["FAILED"] * 3, fit_jobs
    assert [j["ReqMem"] for j in fit_jobs] == ["2000M", "4000M", "6000M"], fit_jobs
    print(f"failing workflow on SLURM: {elapsed:.1f}s")


# --------------------------------------------------------------------------
# the real workflow
# --------------------------------------------------------------------------
@pytest.mark.parametrize("repo_root", [REPO_ROOT], ids=["repo"])
def test_real_workflow_on_slurm(slurm, tmp_path, repo_root):
    snakefile = repo_root / "Snakefile"
    if not snakefile.exists() and (repo_root / "workflow" / "Snakefile").exists():
        snakefile = repo_root / "workflow" / "Snakefile"
    configfile = repo_root / ".test" / "config-slurm" / "config.yaml"
    if not snakefile.exists():
        unavailable(f"no Snakefile in {repo_root} yet")
    if not configfile.exists():
        unavailable(f"no CI config {configfile.relative_to(repo_root)} yet")
    workdir = tmp_path / "run"
    workdir.mkdir()
    env = _snakemake_env(slurm, DRSCALE_SLURM_GPUS="0")   # CPU-only CI run
    res, elapsed = run_snakemake(
        slurm,
        ["--snakefile", str(snakefile), "--configfile", str(configfile),
         "--directory", str(workdir)],
        cwd=repo_root, timeout=REAL_WORKFLOW_TIMEOUT, env=env,
        # one CPU per job: two jobs at a time on the 2-CPU test node
        max_threads=1)
    print(job_table(slurm))
    assert res.returncode == 0, _tail(res.stdout) + "\n" + slurm.logs()
    metrics = workdir / "results" / "metrics.tsv"
    assert metrics.exists() and metrics.stat().st_size > 0, _tail(res.stdout)
    states = {j["State"] for j in sacct_jobs(slurm) if j["Account"] == slurm.account}
    assert "COMPLETED" in states
    print(f"real workflow on SLURM: {elapsed:.1f}s")
