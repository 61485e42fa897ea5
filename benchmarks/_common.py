"""Shared pieces of the benchmarks: inputs (real docstring pairs, a prepared ``init:`` model),
interleaved timing and the environment line every benchmark prints.

Every benchmark runs the project's code path and a plain baseline in the same process on the same
inputs, alternating them (A B A B ...) so that load from other jobs on a shared machine hits both
sides, and reports medians and their ratio.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # model-shard bars would drown the timings
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

MODEL_SIZES = {  # init: models: the default grid's (config/config.yaml), a larger one and BERT-base's shape
    "L1-H16": {"layers": 1, "hidden": 16, "heads": 2, "intermediate": 64},
    "L1-H32": {"layers": 1, "hidden": 32, "heads": 2, "intermediate": 128},
    "L1-H64": {"layers": 1, "hidden": 64, "heads": 2, "intermediate": 256},
    "L2-H128": {"layers": 2, "hidden": 128, "heads": 2, "intermediate": 512},
    "L3-H192": {"layers": 3, "hidden": 192, "heads": 3, "intermediate": 768},
    "L12-H768": {"layers": 12, "hidden": 768, "heads": 12, "intermediate": 3072},
}


def add_run_arguments(parser, repeats: int = 2) -> None:
    """The options every benchmark takes: where it runs and how often each side is timed."""
    import torch

    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=repeats, help="runs of each side (alternating)")


def environment(device: str, threads: int) -> str:
    import torch

    versions = [f"torch {torch.__version__}"]
    for name in ("sentence_transformers", "transformers", "beir", "snakemake"):
        try:
            from importlib import metadata

            versions.append(f"{name} {metadata.version(name.replace('_', '-'))}")
        except Exception:  # noqa: BLE001
            pass
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "?"
    gpu = ""
    if device.startswith("cuda") and torch.cuda.is_available():
        gpu = f", gpu {torch.cuda.get_device_name(0)}"
    load = f", load avg {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (f"# device={device} threads={threads} | nproc {os.cpu_count()}, cpu {cpu}{gpu}{load} | "
            f"python {platform.python_version()}, " + ", ".join(versions))


def docstring_pairs(packages: list[str], limit: int | None = None) -> list[dict]:
    """Real (query, passage) pairs: the docstrings of installed packages, harvested in this process
    (the same splitter as the workflow's ``harvest_docstrings`` rule), deduplicated globally."""
    from drscale.data import unique_pairs
    from drscale.docstrings import harvest_in_process

    harvests = {p: harvest_in_process(p) for p in packages}
    pairs = [p for package in packages for p in unique_pairs(harvests)[package]]
    return pairs[:limit] if limit else pairs


def prepare_init_model(root: Path, texts: list[str], size: str, vocab_size: int = 8192,
                       max_positions: int = 64) -> Path:
    """A prepared ``init:`` model folder (architecture + WordPiece tokenizer, no weights), made the way
    the ``train_tokenizer`` and ``prepare_model`` rules make it (tests/conftest.py's ``tiny_model_dir``)."""
    from drscale.models import ModelSpec, prepare_model
    from drscale.tokenizer import train_wordpiece

    train_wordpiece(texts, vocab_size=vocab_size, output=root / "tokenizer")
    spec = ModelSpec.from_config(size, {"init": MODEL_SIZES[size], "learning_rate": 3e-3})
    prepare_model(spec, root / "prepared", root / "tokenizer", max_positions=max_positions)
    return root / "prepared"


def train_init_model(root: Path, rows: list[tuple[str, str]], size: str, steps: int, device: str,
                     learning_rate: float) -> Path:
    """An ``init:`` model of ``size`` trained for ``steps`` on ``rows`` with the project's ``train``
    (standard strategy, query/passage limits 32/64), saved as the train rule saves it; its folder."""
    from drscale.models import load_start_model
    from drscale.strategies import make_strategy
    from drscale.train import TrainConfig, train

    prepared = prepare_init_model(root / "model", [t for row in rows for t in row], size)
    model = load_start_model(prepared, 0, 32, 64, "mean", scratch=root / "ckpt" / "init", device=device)
    config = TrainConfig(steps=steps, batch_size=32, learning_rate=learning_rate, warmup_ratio=0.1,
                         weight_decay=0.01, seed=0, checkpoint_every=10 ** 6)
    train(model, make_strategy("standard"), rows, config, root / "ckpt", root / "trained")
    return root / "trained"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def interleaved(runs: dict[str, Callable[[], object]], repeats: int, device: str = "cpu", verbose: bool = True,
                cpu_times: dict[str, list[float]] | None = None) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Run each callable ``repeats`` times, alternating them (A B A B ...; the order flips every
    round, A B B A A B ..., so neither side always runs right after the other); return the wall times
    and each callable's last result. ``cpu_times``, if given, receives this process's CPU time
    (all threads) of each run: on a shared machine it moves much less with other jobs' load."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, object] = {}
    names = list(runs)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            sync(device)
            start, cpu_start = time.perf_counter(), time.process_time()
            results[name] = runs[name]()
            sync(device)
            times[name].append(time.perf_counter() - start)
            cpu = time.process_time() - cpu_start
            if cpu_times is not None:
                cpu_times.setdefault(name, []).append(cpu)
            if verbose:
                print(f"  round {r + 1}: {name:<10} {times[name][-1]:8.3f} s wall, {cpu:8.3f} s cpu", flush=True)
    return times, results


def median(values: list[float]) -> float:
    return statistics.median(values)
