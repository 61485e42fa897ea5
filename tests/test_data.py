import json

import pytest

from drscale import data
from drscale.docstrings import harvest_in_process, split_docstring


def test_split_docstring_drops_signature_and_rules():
    doc = """add(x1, x2, /, out=None)

    Add arguments element-wise and return the sum.

    Parameters
    ----------
    x1, x2 : array_like
        The arrays to be added. If their shapes differ they must be broadcastable to a common shape.
    """
    summary, rest = split_docstring(doc)
    assert summary == "Add arguments element-wise and return the sum."
    assert rest.startswith("Parameters x1, x2 : array_like The arrays")
    assert "---" not in rest


def test_split_docstring_removes_memory_addresses():
    doc = """Allreduce the tensors of every process.

    allreduce(self, opts: Options = <Options object at 0x7f8ab6dcc8b0>) -> Work: reduce the tensors in place
    and return a handle that completes when every process has contributed its share.
    """
    _, rest = split_docstring(doc)
    assert "0x" not in rest and "<Options object>" in rest


@pytest.mark.parametrize("doc", ["Only a summary line.", "Too short.\n\nTiny rest."])
def test_split_docstring_rejects_unusable(doc):
    assert split_docstring(doc) is None


def test_harvest_is_deterministic_and_real():
    first, second = harvest_in_process("json"), harvest_in_process("json")
    assert first == second and len(first) > 3
    assert all(p["id"].startswith("json") for p in first)


def test_unique_pairs_drops_every_copy_of_a_shared_text():
    harvests = {
        "a": [{"id": "a.f", "query": "Return self==value.", "passage": "x " * 20},
              {"id": "a.g", "query": "Compute the mean", "passage": "the mean " * 10}],
        "b": [{"id": "b.f", "query": "return  SELF==value.", "passage": "y " * 20}],
    }
    unique = data.unique_pairs(harvests)
    assert [p["id"] for p in unique["a"]] == ["a.g"] and unique["b"] == []


def test_collection_round_trip_and_bytes_are_deterministic(tmp_path):
    from tests.conftest import make_pairs

    pairs = make_pairs(60)
    for name in ("one", "two"):
        data.write_collection(tmp_path / name, data.split_pairs(pairs, 10, 5, seed=3))
    for file in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "qrels/train.tsv"):
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes()
    test = data.load_collection(tmp_path / "one", "test")
    assert len(test.qrels) == 10 and len(test.corpus) == 60
    train = data.training_pairs(data.load_collection(tmp_path / "one", "train"))
    assert len(train) == 45 and all(q and p for q, p in train)


def test_manifest_records_hashes(tmp_path):
    from tests.conftest import make_pairs

    data.write_collection(tmp_path, data.split_pairs(make_pairs(30), 5, 0, seed=0))
    manifest = data.write_manifest(tmp_path, "docstrings", ["numpy"])
    assert manifest["files"]["corpus.jsonl"] == data.sha256(tmp_path / "corpus.jsonl")
    assert manifest["packages"]["numpy"] == __import__("numpy").__version__
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest


def test_nested_subsets():
    pairs = list(range(1000))
    small, large = data.nested_subset(pairs, 100, seed=0), data.nested_subset(pairs, 400, seed=0)
    assert large[:100] == small and len(set(large)) == 400
    with pytest.raises(ValueError, match="data size 2000 exceeds the 1000"):
        data.nested_subset(pairs, 2000, seed=0)


def test_sources_are_parsed_and_bad_ones_named():
    assert data.parse_source("beir:scifact") == ("beir", "scifact")
    assert data.parse_source("local:/x/y") == ("local", "/x/y")
    with pytest.raises(ValueError, match="'ftp:x'"):
        data.parse_source("ftp:x")


def test_local_collection_is_checked(tmp_path, tiny_collection):
    copied = data.copy_local_collection(tmp_path / "copy", tiny_collection)
    assert copied["source"].startswith("local:")
    with pytest.raises(FileNotFoundError, match="lacks"):
        data.copy_local_collection(tmp_path / "bad", tmp_path / "nowhere")


def test_beir_download_fails_at_once_offline(tmp_path, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(ConnectionError, match="local:<folder>"):
        data.download_beir_collection(tmp_path / "scifact", "scifact")


def test_adding_dev_queries_leaves_the_test_split_unchanged():
    """The test queries are cut first, so giving a collection validation queries (the Pareto
    target's) never changes what it is tested on."""
    pairs = [{"id": f"p{i}", "query": f"q{i}", "passage": f"d{i}"} for i in range(50)]
    without = data.split_pairs(pairs, test_queries=10, dev_queries=0, seed=3)
    with_dev = data.split_pairs(pairs, test_queries=10, dev_queries=15, seed=3)
    assert with_dev["test"] == without["test"] and len(with_dev["dev"]) == 15
    assert not {p["id"] for p in with_dev["dev"]} & {p["id"] for p in with_dev["test"]}
