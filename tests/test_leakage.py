"""No test or dev text of the in-domain collection reaches training (on the end-to-end run's files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from drscale.data import load_collection, normalise, passage_text
from tests.test_workflow import TEST_CONFIG


def held_out_texts(folder: Path) -> tuple[set[str], set[str]]:
    """Normalised queries and passages judged in the test or dev split."""
    queries, passages = set(), set()
    for split in ("test", "dev"):
        collection = load_collection(folder, split)
        for qid, judged in collection.qrels.items():
            queries.add(normalise(collection.queries[qid]))
            passages.update(normalise(passage_text(collection.corpus[d])) for d in judged)
    return queries, passages


@pytest.mark.e2e
def test_no_test_or_dev_query_or_passage_in_any_training_pair_or_mined_pool(finished_run):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    queries, passages = held_out_texts(finished_run / "resources" / "collections" / config["in_domain"])
    assert len(queries) == config["collections"][config["in_domain"]]["test_queries"] + config["collections"][
        config["in_domain"]]["dev_queries"]
    files = sorted((finished_run / "results" / "train_pairs").glob("*.jsonl"))
    mined = [f for f in files if f.name.endswith(".negatives.jsonl")]
    assert len(files) - len(mined) == len(config["data_sizes"]) and mined, files
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert normalise(row["query"]) not in queries, (path.name, row["query"])
            for passage in [row["positive"], *row.get("negatives", [])]:
                assert normalise(passage) not in passages, (path.name, passage[:80])
