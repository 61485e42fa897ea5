"""Benchmark: encode + exact search of one collection, the project's path vs BEIR's and vs an exhaustive search.

Project path: ``drscale.tokens.tokenize_collection`` (the ``tokenize`` rule: once per tokenizer and
collection, shared by every model with that tokenizer), then ``drscale.encode.score_collection`` on
those token ids (the ``encode`` rule: the corpus encoded in shards of ``--shard-size`` passages,
each shard searched and dropped, the top 100 and the sampled negatives' cosines kept). It is timed
twice: with the tokenization (``project``, the same work BEIR does) and from cached tokens
(``cached``, the per-model cost in the workflow).

Exhaustive baseline (``exhaustive``, the search before streaming): the whole corpus encoded into one
matrix from the same cached tokens, one query x corpus product and ``torch.topk`` per 256 queries,
and the sampled negatives' cosines gathered from the stored vectors; it must give the same top 100.

Baseline: BEIR's ``DenseRetrievalExactSearch`` (``beir.retrieval.search.dense``) with cosine scoring,
top-100, wrapping the same SentenceTransformer through a small adapter whose ``encode_queries`` /
``encode_corpus`` call ``encode_query`` / ``encode_document`` (BEIR's own ``models.SentenceBERT`` calls
``encode`` without a task, so it would ignore the model's per-task query/passage token limits and
encode different token sequences than the project does; the adapter keeps BEIR's title/text join).

Both see the same queries and corpus and alternate (A B A B ...); the script asserts that the
rankings agree (same top-10 doc ids per query, in the same order, except where two scores tie
within ``--tolerance``), prints both times and the ratio BEIR / project (>= 1.0x means the project
is at least as fast), and nDCG@10 from both result sets.

    python benchmarks/encode_search.py                          # numpy+networkx+pandas+sklearn docstrings
    python benchmarks/encode_search.py --shard-size 512         # the same corpus in 9 shards
    python benchmarks/encode_search.py --model results/runs/<run>/model --device cuda

The collection is built in a temporary folder the way the workflow builds one (``drscale.docstrings``
harvest, global deduplication, ``drscale.data.build_docstring_collection``, read back with BEIR's
loader); without ``--model`` the encoder is a default-grid ``init:`` model briefly trained with the
project's ``train`` (``--train-steps``), saved and reloaded like the ``encode`` rule loads it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MODEL_SIZES, environment, interleaved, median, train_init_model  # noqa: E402


class STAdapter:
    """BEIR's model interface over a SentenceTransformer, with the query/document tasks."""

    def __init__(self, model, sep: str = " "):
        self.model, self.sep = model, sep

    def encode_queries(self, queries: list[str], batch_size: int = 16, **kwargs):
        return self.model.encode_query(queries, batch_size=batch_size, **kwargs)

    def encode_corpus(self, corpus, batch_size: int = 8, **kwargs):
        from beir.retrieval.models.util import extract_corpus_sentences

        return self.model.encode_document(extract_corpus_sentences(corpus=corpus, sep=self.sep),
                                          batch_size=batch_size, **kwargs)


def build_collection(root: Path, packages: list[str], test_queries: int) -> Path:
    from drscale.data import build_docstring_collection
    from drscale.docstrings import harvest_in_process, write_pairs

    files = {}
    for package in packages:
        files[package] = root / "docstrings" / f"{package}.jsonl"
        files[package].parent.mkdir(parents=True, exist_ok=True)
        write_pairs(harvest_in_process(package), files[package])
    folder = root / "collection"
    build_docstring_collection(folder, files, packages, test_queries=test_queries, dev_queries=0, seed=0)
    return folder


def compare_rankings(ours: dict, beir: dict, k: int, tolerance: float) -> tuple[int, int, float]:
    """(queries with identical top-k order, queries whose top-k differ only by ties, max |score diff|)."""
    identical, tied, max_diff = 0, 0, 0.0
    for qid, scores in ours.items():
        a = sorted(scores.items(), key=lambda x: -x[1])[:k]
        b = sorted(beir[qid].items(), key=lambda x: -x[1])[:k]
        for doc, score in b:
            if doc in scores:
                max_diff = max(max_diff, abs(scores[doc] - score))
        if [d for d, _ in a] == [d for d, _ in b]:
            identical += 1
            continue
        if len(a) != len(b) or any(da != db and abs(sa - sb) > tolerance for (da, sa), (db, sb) in zip(a, b)):
            raise SystemExit(f"rankings differ for {qid}:\n  project {a}\n  beir    {b}")
        tied += 1
    return identical, tied, max_diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="saved SentenceTransformer (default: a briefly trained init: model)")
    parser.add_argument("--size", default="L2-H128", choices=sorted(MODEL_SIZES), help="init: size without --model")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--packages", default="numpy,networkx,pandas,sklearn")
    parser.add_argument("--test-queries", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=256, help="encoding batch size (evaluation.batch_size)")
    parser.add_argument("--top-k", type=int, default=100)
    parser.add_argument("--shard-size", type=int, default=65536, help="passages per shard (evaluation.shard_size)")
    parser.add_argument("--negatives", type=int, default=256)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=1e-5, help="scores closer than this are ties")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from beir.retrieval.evaluation import EvaluateRetrieval
    from beir.retrieval.search.dense import DenseRetrievalExactSearch
    from sentence_transformers import SentenceTransformer

    from drscale.data import load_collection, training_pairs
    from drscale.encode import encode_tokens, score_collection
    from drscale.evaluate import Role, sample_negatives
    from drscale.models import text_length
    from drscale.tokens import tokenize_collection

    print(environment(args.device, args.threads))
    with tempfile.TemporaryDirectory(prefix="drscale-bench-encode-") as tmp:
        tmp = Path(tmp)
        folder = build_collection(tmp, args.packages.split(","), args.test_queries)
        collection = load_collection(folder, "test")
        path = Path(args.model) if args.model else train_init_model(
            tmp, training_pairs(load_collection(folder, "train")), args.size, args.train_steps, args.device, 3e-3)
        model = SentenceTransformer(str(path), device=args.device)  # as the encode rule loads it
    transformer = model[0]
    print(f"# {len(collection.queries)} queries, {len(collection.corpus)} passages ({args.packages} docstrings); "
          f"model {args.model or args.size}, query/document length "
          f"{getattr(transformer, 'query_length', None)}/{getattr(transformer, 'document_length', None)} "
          f"(max_seq_length {model.max_seq_length}); batch {args.batch_size}; top-{args.top_k}; "
          f"{args.repeats} runs each, alternating")

    def tokenize():
        return tokenize_collection(model.tokenizer, collection, text_length(model, "query"),
                                   text_length(model, "document"))

    cache = tokenize()
    query_ids, doc_ids = cache.query_ids.tolist(), cache.doc_ids.tolist()
    sample = sample_negatives(query_ids, doc_ids, collection.qrels, args.negatives, args.draws, seed=0)
    role = {"test": Role(cache.query_ids, sample, np.empty(0, dtype=np.int64))}

    def as_results(scores):
        return {q: dict(zip(ids.tolist(), values.tolist()))
                for q, ids, values in zip(query_ids, scores.top_ids, scores.top_scores)}

    def streamed(tokens):
        return as_results(score_collection(model, tokens, role, args.batch_size, args.shard_size, args.top_k)["test"])

    def project():
        return streamed(tokenize())

    def cached():
        return streamed(cache)

    def exhaustive():
        query_emb = torch.from_numpy(encode_tokens(model, cache.queries, args.batch_size))
        doc_emb = torch.from_numpy(encode_tokens(model, cache.docs, args.batch_size))
        results = {}
        for start in range(0, len(query_ids), 256):
            values, rows = torch.topk(query_emb[start:start + 256] @ doc_emb.T, k=args.top_k, dim=1)
            for i, qid in enumerate(query_ids[start:start + 256]):
                results[qid] = {doc_ids[r]: float(v) for r, v in zip(rows[i].tolist(), values[i].tolist())}
        negatives = torch.from_numpy(sample.negative_rows).reshape(args.draws, -1)  # [R, Q x K]
        queries = query_emb.repeat_interleave(args.negatives, dim=0)
        for r in range(args.draws):  # the sampled negatives' cosines, as the streaming pass keeps them
            (queries * doc_emb[negatives[r]]).sum(-1)
        return results

    def beir():
        searcher = DenseRetrievalExactSearch(STAdapter(model), batch_size=args.batch_size, show_progress_bar=False)
        with torch.inference_mode():
            return searcher.search(collection.corpus, collection.queries, args.top_k, "cos_sim")

    runs = {"project": project, "beir": beir, "cached": cached, "exhaustive": exhaustive}
    for run in runs.values():  # warm-up (lazy imports, allocator)
        run()
    cpu: dict[str, list[float]] = {}
    times, results = interleaved(runs, args.repeats, args.device, cpu_times=cpu)
    compare_rankings(results["cached"], results["project"], 10, 0.0)
    same, ties, _ = compare_rankings(results["cached"], results["exhaustive"], args.top_k, args.tolerance)
    print(f"streaming vs exhaustive: {same}/{len(query_ids)} queries with identical top-{args.top_k} order, "
          f"{ties} differing only by ties")
    identical, tied, max_diff = compare_rankings(results["project"], results["beir"], 10, args.tolerance)
    ndcg = {name: EvaluateRetrieval.evaluate(collection.qrels, res, k_values=[10])[0]["NDCG@10"]
            for name, res in results.items()}
    print(f"rankings: {identical}/{len(results['project'])} queries with identical top-10 order, {tied} differing "
          f"only by ties within {args.tolerance:g}; max |score diff| {max_diff:.2e}; "
          f"nDCG@10 project {ndcg['project']:.4f}, beir {ndcg['beir']:.4f}")
    labels = {"project": "project (tokenize + encode + search)", "cached": "project (cached tokens: encode + search)",
              "beir": "beir DenseRetrievalExactSearch", "exhaustive": "exhaustive (corpus matrix) from cached tokens"}
    for name in times:
        print(f"{labels[name]:<42} wall {median(times[name]):6.2f} s (median of "
              f"{', '.join(f'{t:.2f}' for t in times[name])}), cpu {median(cpu[name]):6.2f} s")
    for clock, runs_of in (("wall", times), ("cpu", cpu)):
        print(f"ratio {clock} (beir / project, both tokenizing): "
              f"{median(runs_of['beir']) / median(runs_of['project']):.2f}x (target >= 1.0x) | beir / project "
              f"from cached tokens: {median(runs_of['beir']) / median(runs_of['cached']):.2f}x | "
              f"exhaustive / streaming (shard {args.shard_size}): "
              f"{median(runs_of['exhaustive']) / median(runs_of['cached']):.2f}x")


if __name__ == "__main__":
    main()
