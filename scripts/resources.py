"""Print what a config's grid costs per rule and in total: GPU-hours, peak memory, disk.

    python scripts/resources.py --configfile config/paper.yaml [--gpus 0] [--jobs]
    python scripts/resources.py --configfile .test/config/config.yaml --validate /tmp/run

The numbers come from ``drscale.resources`` (the model the SLURM profile's requests come from);
its GPU throughput is an assumption, not a measurement (see that module). ``--gpus 0`` prices
the same grid on CPUs; ``--jobs`` also prints every job. ``--validate DIR`` compares the model
with a finished run of the config in DIR: per job, Snakemake's measured ``cpu_time`` and
``max_rss`` (results/benchmarks/) against the predicted CPU seconds and peak memory.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from drscale.grid import check_config, evaluated_collections, grid_table, tokenizers  # noqa: E402
from drscale.resources import GB, TEMPORARY_OUTPUTS, Planner  # noqa: E402


def jobs(config: dict):
    """(rule, wildcards) of every costed job of the grid (the test role: validation jobs run only
    where a consumer asks for them)."""
    grid = grid_table(config)
    evaluated = evaluated_collections(config)
    for run in grid.itertuples():
        keys = {"model": run.model, "data": run.data, "strategy": run.strategy}
        yield "train", keys
        for collection in evaluated:
            yield "encode", {**keys, "collection": collection}
            yield "evaluate", {**keys, "collection": collection}
        yield "attack", keys
        yield "evaluate_attack", keys
    if "denoising" in config["strategies"] and config["denoising"]["teacher"] == "standard":
        for run in grid[grid.strategy == "denoising"].itertuples():
            yield "teacher_scores", {"model": run.model, "data": run.data}
    for collection in evaluated:
        yield "sample_negatives", {"collection": collection}
        for _tokenizer in tokenizers(config):
            yield "tokenize", {"collection": collection}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configfile", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--gpus", type=int, help="override training.gpu (GPUs per train/encode/attack job)")
    parser.add_argument("--jobs", action="store_true", help="print every job, not only the per-rule totals")
    parser.add_argument("--directory", type=Path, default=ROOT, help="workflow directory (prepared collections)")
    parser.add_argument("--validate", type=Path, metavar="DIR", help="a finished run's directory to compare with")
    args = parser.parse_args()
    config = yaml.safe_load(args.configfile.read_text())
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    check_config(config)
    if args.gpus is not None:
        config["training"]["gpu"] = args.gpus
    planner = Planner(config, args.validate or args.directory)
    if args.validate:
        return validate_against(planner, args.validate)

    rows: dict[str, dict] = {}
    for rule, wildcards in jobs(config):
        cost = planner.cost(rule, **wildcards)
        if args.jobs:
            print(f"{rule:<16} {wildcards} {cost.seconds / 3600:8.2f} h  {cost.memory / GB:6.1f} GB  "
                  f"gpu {cost.gpu_memory / GB:5.1f} GB  disk {cost.disk / GB:8.2f} GB")
        row = rows.setdefault(rule, _empty_row())
        row["jobs"] += 1
        row["gpu_h" if cost.gpus else "cpu_h"] += cost.seconds * max(cost.gpus, 1) / 3600
        row["mem"] = max(row["mem"], cost.memory)
        row["gpu_mem"] = max(row["gpu_mem"], cost.gpu_memory)
        row["disk"] += cost.disk
        row["kept"] += 0.0 if rule in TEMPORARY_OUTPUTS else cost.disk
        row["largest"] = max(row["largest"], cost.disk)

    device = f"{config['training']['gpu']} GPU(s) per GPU job" if config["training"]["gpu"] else "CPU only"
    print(f"# {args.configfile} | {device} | GPU throughput ASSUMED (not measured), see drscale/resources.py")
    header = (f"| {'rule':<16} | jobs | GPU-hours | CPU-hours | peak memory / job | peak GPU memory / job "
              "| disk written | disk kept |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    total = _empty_row()
    for rule, row in rows.items():
        print(_line(rule, row))
        total = {k: max(total[k], v) if k in ("mem", "gpu_mem", "largest") else total[k] + v for k, v in row.items()}
    print(_line("**total**", total))
    for rule in sorted(TEMPORARY_OUTPUTS & set(rows)):
        print(f"# {rule}: temp() outputs, at most {rows[rule]['largest'] / GB:.2f} GB per job; the profiles keep "
              "them, `snakemake --delete-temp-output` deletes them (the 'disk kept' column).")


def validate_against(planner: Planner, directory: Path) -> None:
    """Predicted vs measured CPU seconds and peak RSS of every costed job of a finished CPU run."""
    errors: dict[str, list[tuple[float, float]]] = {}
    print("| rule | job | measured cpu_time (s) | predicted (s) | measured max_rss (MB) | predicted (MB) |")
    print("|---|---|---|---|---|---|")
    for bench in sorted((directory / "results" / "benchmarks").rglob("*.tsv")):
        rule = bench.relative_to(directory / "results" / "benchmarks").parts[0]
        if rule not in ("train", "encode", "evaluate", "attack", "evaluate_attack", "teacher_scores", "tokenize",
                        "sample_negatives"):
            continue
        keys = dict(re.findall(r"(model|data|strategy)~([^/]+)", str(bench)))
        if "~" not in bench.stem:  # tokenize/{tokenizer}/{collection}, encode/{run}/{collection}, ...
            keys["collection"] = bench.stem
        if rule in ("evaluate", "encode") and "collection" not in keys:
            continue  # a run from before the rule ran per collection
        with open(bench) as f:
            record = next(csv.DictReader(f, delimiter="\t"))
        cost = planner.cost(rule, **keys)
        cpu, rss = float(record["cpu_time"]), float(record["max_rss"])
        errors.setdefault(rule, []).append((cost.seconds / cpu - 1, cost.memory / 1e6 / rss - 1))
        job = "/".join(f"{v}" for v in keys.values())
        print(f"| {rule} | {job} | {cpu:.1f} | {cost.seconds:.1f} | {rss:.0f} | {cost.memory / 1e6:.0f} |")
    print("\n| rule | jobs | time: median error | worst | memory: median error | worst under-estimate |")
    print("|---|---|---|---|---|---|")
    every = []
    for rule, pairs in errors.items():
        every += pairs
        print(_errors(rule, pairs))
    print(_errors("**all**", every))


def _errors(rule: str, pairs: list[tuple[float, float]]) -> str:
    time, memory = [p[0] for p in pairs], [p[1] for p in pairs]
    return (f"| {rule} | {len(pairs)} | {statistics.median(time):+.0%} | {max(time, key=abs):+.0%} | "
            f"{statistics.median(memory):+.0%} | {min(memory):+.0%} |")


def _empty_row() -> dict:
    """Per-rule totals: jobs, device hours, the largest job's memory, disk written and kept, and
    the largest job's disk."""
    return {"jobs": 0, **dict.fromkeys(("gpu_h", "cpu_h", "mem", "gpu_mem", "disk", "kept", "largest"), 0.0)}


def _line(rule: str, row: dict) -> str:
    return (f"| {rule:<16} | {row['jobs']:4d} | {row['gpu_h']:9.1f} | {row['cpu_h']:9.1f} | "
            f"{row['mem'] / GB:14.1f} GB | {row['gpu_mem'] / GB:18.1f} GB | {row['disk'] / GB:9.1f} GB | "
            f"{row['kept'] / GB:6.1f} GB |")


if __name__ == "__main__":
    main()
