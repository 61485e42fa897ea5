"""Shared fixtures: a tiny BEIR collection and a tiny randomly initialised encoder."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from drscale.data import split_pairs, write_collection

torch.set_num_threads(1)

TOPICS = {
    "array": "sort the array of numbers and return the sorted copy in ascending order",
    "matrix": "multiply two matrices and return their product as a new dense matrix",
    "string": "split the string on whitespace and return the list of words it contains",
    "file": "open the file for reading and return its content decoded as text",
    "graph": "find the shortest path between two nodes of a weighted graph",
    "date": "parse the date from an ISO formatted string into a calendar object",
    "socket": "connect the socket to a remote host and send the request bytes",
    "image": "resize the image to the requested width and height with smoothing",
}


def make_pairs(n: int = 240, seed: int = 0) -> list[dict]:
    """Templated (summary, description) pairs with real English vocabulary, one topic per pair."""
    rng = random.Random(seed)
    verbs = ["Compute", "Return", "Build", "Create", "Produce", "Make"]
    adjectives = ["quick", "careful", "simple", "robust", "large", "small", "fast", "exact"]
    pairs = []
    for i in range(n):
        topic, text = list(TOPICS.items())[i % len(TOPICS)]
        adjective = rng.choice(adjectives)
        pairs.append({
            "id": f"p{i:04d}",
            "query": f"{rng.choice(verbs)} a {adjective} {topic} result number {i}",
            "passage": f"This {adjective} function will {text}. It handles the {topic} case {i} "
                       f"and raises an error when the input is invalid.",
        })
    return pairs


@pytest.fixture(scope="session")
def tiny_collection(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("collection") / "tiny"
    write_collection(folder, split_pairs(make_pairs(), test_queries=40, dev_queries=0, seed=0))
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_collection) -> Path:
    """A prepared 'init' model (architecture + tokenizer, no weights), as the prepare_model rule makes it."""
    from drscale.models import ModelSpec, prepare_model
    from drscale.tokenizer import train_wordpiece

    root = tmp_path_factory.mktemp("model")
    corpus = (tiny_collection / "corpus.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in corpus]
    train_wordpiece(texts, vocab_size=300, output=root / "tokenizer")
    spec = ModelSpec.from_config("L1-H16", {"init": {"layers": 1, "hidden": 16, "heads": 2, "intermediate": 32},
                                            "learning_rate": 1e-2})
    prepare_model(spec, root / "prepared", root / "tokenizer", max_positions=64)
    return root / "prepared"


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """The real workflow run once, end to end, on the tiny .test config (a few minutes on 2 cores)."""
    from tests.test_workflow import snakemake

    workdir = tmp_path_factory.mktemp("workflow")
    result = snakemake(workdir, "--cores", "2", timeout=1800)  # a guard against a hang, not a speed bound
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.fixture(scope="session")
def laws_run(tmp_path_factory) -> Path:
    """The real workflow on .test/config-laws: 25 standard runs, enough to fit every law of ce_eff."""
    from tests.test_workflow import LAWS_CONFIG, snakemake

    workdir = tmp_path_factory.mktemp("laws")
    result = snakemake(workdir, "--cores", "2", config=LAWS_CONFIG, timeout=3600)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir
