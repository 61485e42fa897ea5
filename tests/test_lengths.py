"""A query is cut at max_query_length tokens and a passage at max_passage_length, never the other way."""

from drscale.models import load_start_model, text_length


def test_a_start_model_reads_queries_and_passages_at_their_own_lengths(tiny_model_dir, tmp_path):
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    assert (text_length(model, "query"), text_length(model, "document")) == (16, 32)
    long_text = " ".join(["sort the array of numbers"] * 20)
    assert model.preprocess([long_text], task="query")["input_ids"].shape[1] == 16
    assert model.preprocess([long_text], task="document")["input_ids"].shape[1] == 32
