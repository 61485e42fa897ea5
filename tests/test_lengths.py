"""A query is cut at max_query_length tokens and a passage at max_passage_length, never the other way."""

import json

import pytest
import yaml

from drscale.models import load_start_model, text_length
from tests.test_workflow import TEST_CONFIG


def test_a_start_model_reads_queries_and_passages_at_their_own_lengths(tiny_model_dir, tmp_path):
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    assert (text_length(model, "query"), text_length(model, "document")) == (16, 32)
    long_text = " ".join(["sort the array of numbers"] * 20)
    assert model.preprocess([long_text], task="query")["input_ids"].shape[1] == 16
    assert model.preprocess([long_text], task="document")["input_ids"].shape[1] == 32


@pytest.mark.e2e
def test_every_trained_model_of_the_workflow_keeps_the_configured_lengths(finished_run):
    """The rule script hands the config's two lengths to the right arguments (a swap there passes
    the unit test above)."""
    training = yaml.safe_load(TEST_CONFIG.read_text())["training"]
    saved = sorted((finished_run / "results" / "runs").glob("*/*/*/*/model/sentence_bert_config.json"))
    assert saved
    for path in saved:
        lengths = json.loads(path.read_text())
        assert (lengths["query_length"], lengths["document_length"]) == (
            training["max_query_length"], training["max_passage_length"]), path
