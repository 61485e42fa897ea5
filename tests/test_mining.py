"""BM25 hard-negative mining and RocketQA-style denoising (drscale.mining)."""

import pytest
import torch

from drscale.data import load_collection, nested_subset, training_pairs
from drscale.mining import (
    denoise_negatives,
    dense_teacher_scores,
    mine_bm25_negatives,
    read_jsonl,
    with_teacher_scores,
    write_jsonl,
)

torch.set_num_threads(1)

CORPUS = [
    "sort the array of numbers in ascending order",
    "sort the list of words alphabetically",
    "open the file and read its content",
    "parse the date string into a calendar object",
    "resize the image to the requested width",
    "connect the socket to the remote host",
    "multiply two matrices and return the product",
    "split the string on whitespace",
]


def test_mined_negatives_exclude_positives_and_are_ranked_by_bm25():
    pairs = [("sort the array of numbers", CORPUS[0]), ("open a file", CORPUS[2])]
    rows = mine_bm25_negatives(pairs, CORPUS, depth=4)
    assert [(r["query"], r["positive"]) for r in rows] == pairs
    for row in rows:
        assert row["positive"] not in row["negatives"]
        assert len(row["negatives"]) == len(row["negative_scores"]) == 4
        assert row["negative_scores"] == sorted(row["negative_scores"], reverse=True)
    # The other "sort ..." passage is the hardest negative of the sort query.
    assert rows[0]["negatives"][0] == CORPUS[1]
    assert rows[0]["positive_score"] > rows[0]["negative_scores"][0] > 0


def test_every_positive_of_a_query_is_excluded_even_outside_the_pair():
    query = "sort the array of numbers"
    rows = mine_bm25_negatives([(query, CORPUS[0])], CORPUS, depth=3, positives={query: [CORPUS[0], CORPUS[1]]})
    assert CORPUS[1] not in rows[0]["negatives"] and CORPUS[0] not in rows[0]["negatives"]


def test_a_query_without_matches_is_topped_up_with_seeded_random_passages():
    pairs = [("zebra quokka", CORPUS[3])]
    first = mine_bm25_negatives(pairs, CORPUS, depth=5, seed=1)
    again = mine_bm25_negatives(pairs, CORPUS, depth=5, seed=1)
    assert first == again
    row = first[0]
    assert row["negative_scores"] == [0.0] * 5 and row["positive_score"] == 0.0
    assert len(set(row["negatives"])) == 5 and CORPUS[3] not in row["negatives"]


def test_nested_data_sizes_get_the_same_negatives(tiny_collection):
    pairs = training_pairs(load_collection(tiny_collection, "train"))
    corpus = [p for _, p in pairs]
    small = mine_bm25_negatives(nested_subset(pairs, 40, seed=0), corpus, depth=5)
    large = {r["query"]: r for r in mine_bm25_negatives(nested_subset(pairs, 120, seed=0), corpus, depth=5)}
    for row in small:
        assert row == large[row["query"]]
        assert row["positive"] not in row["negatives"]


def test_too_small_a_corpus_is_a_clear_error():
    with pytest.raises(ValueError, match="mining.depth"):
        mine_bm25_negatives([("sort", CORPUS[0])], CORPUS[:3], depth=5)


def test_denoising_drops_negatives_within_the_margin_of_the_positive():
    row = {"query": "q", "positive": "p", "positive_score": 10.0,
           "negatives": ["above", "within", "clear", "far"], "negative_scores": [12.0, 9.5, 8.0, 1.0]}
    [kept] = denoise_negatives([row], margin=1.0)
    assert kept["negatives"] == ["clear", "far"] and kept["negative_scores"] == [8.0, 1.0]
    assert kept["dropped"] == 2
    [strict] = denoise_negatives([row], margin=0.0)
    assert strict["negatives"] == ["within", "clear", "far"]
    with pytest.raises(ValueError):
        denoise_negatives([row], margin=-1.0)


def test_teacher_scores_replace_bm25_scores_and_truncate_to_what_was_scored():
    rows = [{"query": "q", "positive": "p", "positive_score": 3.0, "negatives": ["a", "b", "c"],
             "negative_scores": [2.0, 1.0, 0.5]}]
    [row] = with_teacher_scores(rows, [7.0], [[9.0, 1.0]])
    assert row["negatives"] == ["a", "b"] and row["negative_scores"] == [9.0, 1.0] and row["positive_score"] == 7.0
    with pytest.raises(ValueError):
        with_teacher_scores(rows, [7.0], [[1.0, 1.0, 1.0, 1.0]])


class BagOfWords:
    """Stand-in bi-encoder: normalised word counts over a fixed vocabulary."""

    def __init__(self, vocabulary):
        self.index = {w: i for i, w in enumerate(vocabulary)}

    def _embed(self, texts, batch_size=32, convert_to_tensor=True, normalize_embeddings=True, **_):
        emb = torch.full((len(texts), len(self.index) + 1), 0.0)
        emb[:, -1] = 1e-3
        for row, text in enumerate(texts):
            for word in text.split():
                if word in self.index:
                    emb[row, self.index[word]] += 1.0
        return torch.nn.functional.normalize(emb, dim=-1)

    encode_query = encode_document = _embed


def test_dense_teacher_scores_are_scaled_cosines():
    model = BagOfWords(["sort", "array", "file"])
    rows = [{"query": "sort array", "positive": "sort array", "negatives": ["file", "sort"]}]
    positive, negative = dense_teacher_scores(model, rows, scale=20.0)
    assert positive[0] == pytest.approx(20.0, abs=1e-3)
    assert negative[0][0] == pytest.approx(0.0, abs=1e-2)
    assert negative[0][1] == pytest.approx(20.0 / 2**0.5, abs=1e-2)


def test_jsonl_round_trip(tmp_path):
    rows = [{"query": "q", "negatives": ["a", "b"], "negative_scores": [1.5, 0.0]}]
    write_jsonl(rows, tmp_path / "x" / "rows.jsonl")
    assert read_jsonl(tmp_path / "x" / "rows.jsonl") == rows
