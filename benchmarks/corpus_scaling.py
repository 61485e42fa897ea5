"""Peak memory and bytes written of encode + evaluate as the corpus grows (synthetic, tiny model, CPU).

For each corpus size the script writes a synthetic BEIR folder (Zipf-distributed words; every
test query is a few words of its one relevant passage; the same test queries and training pairs
at every size, so only the corpus grows), runs the real workflow on it up to the evaluation
(``snakemake --until evaluate``: prepare_collection, train_tokenizer, tokenize, a short training
run, encode, evaluate) and reads Snakemake's own benchmark files (``max_rss``, ``cpu_time``) and
the sizes of the files each rule wrote. What it measures is whatever the ``encode`` and
``evaluate`` rules do today, so it needs no change when they do.

    python benchmarks/corpus_scaling.py --sizes 100000 300000 1000000 --workdir /tmp/corpus_scaling

Prints one row per size (rule, passages, max RSS, CPU seconds, bytes written). Each size takes
a few minutes on one core at 1M passages; ``--keep`` leaves the work folders for inspection.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
# measured rules, where the workflow has them (prepare_collection only copies the corpus)
RULES = ["tokenize", "sample_negatives", "encode", "evaluate"]
UNTIL = "evaluate"  # the workflow runs up to this rule


def write_corpus(folder: Path, passages: int, test_queries: int, train_pairs: int, words: int,
                 vocabulary: int, seed: int = 0) -> None:
    """A BEIR folder: corpus.jsonl, queries.jsonl, qrels/{train,dev,test}.tsv.

    Passage ``i`` is ``words`` words drawn from a Zipf(1.1) law over ``vocabulary`` made-up words
    (seeded by ``i``, so a passage is the same at every corpus size); query ``j`` of a split is
    six words of its relevant passage ``j`` (test), ``test_queries + j`` (dev), ... (train).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qrels").mkdir(exist_ok=True)
    lexicon = np.array([f"w{chr(97 + i % 26)}{i:x}" for i in range(vocabulary)])
    rank_weights = 1.0 / np.arange(1, vocabulary + 1) ** 1.1
    rank_weights /= rank_weights.sum()
    rng = np.random.default_rng(seed)
    block = 100_000
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for start in range(0, passages, block):
            stop = min(start + block, passages)
            draws = lexicon[rng.choice(vocabulary, size=(stop - start, words), p=rank_weights)]
            for i, row in zip(range(start, stop), draws):
                f.write(json.dumps({"_id": f"d{i}", "title": "", "text": " ".join(row)}) + "\n")
    # Queries are cut from their passage's text as written (read back the first rows of the corpus).
    splits = {"test": test_queries, "dev": test_queries // 4, "train": train_pairs}
    needed = sum(splits.values())
    if needed > passages:
        raise ValueError(f"{passages} passages are fewer than the {needed} queries' relevant passages")
    texts = []
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for _, line in zip(range(needed), f):
            texts.append(json.loads(line)["text"].split())
    pick = np.random.default_rng(seed + 1)
    row = 0
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as queries:
        for split, count in splits.items():
            with open(folder / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as qrels:
                qrels.write("query-id\tcorpus-id\tscore\n")
                for _ in range(count):
                    text = " ".join(pick.choice(texts[row], size=6, replace=False))
                    queries.write(json.dumps({"_id": f"q{row}", "text": text}) + "\n")
                    qrels.write(f"q{row}\td{row}\t1\n")
                    row += 1


def write_config(path: Path, corpus: Path, hidden: int, passage_length: int) -> None:
    collection = {"source": f"local:{corpus}"}
    if "validation_split" in (ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text():
        collection["validation_split"] = None  # the test role only, as before roles existed
    config = {
        "in_domain": "synthetic",
        "ood": [],
        "collections": {"synthetic": collection},
        "tokenizer": {"vocab_size": 2000},
        "models": {f"L1-H{hidden}": {"init": {"layers": 1, "hidden": hidden, "heads": 2,
                                              "intermediate": 4 * hidden}, "learning_rate": 1.0e-2}},
        "data_sizes": [1000],
        "seeds": [0],
        "strategies": ["standard"],
        "training": {"steps": 20, "batch_size": 32, "checkpoint_every": 20, "max_query_length": 16,
                     "max_passage_length": passage_length, "threads": 1},
        "evaluation": {"batch_size": 1024},
    }
    path.write_text(yaml.safe_dump(config))


def rule_files(workdir: Path, rule: str) -> list[Path]:
    """The files a measured rule wrote, from Snakemake's own record of the job's outputs."""
    metadata, outputs = workdir / ".snakemake" / "metadata", []
    for record in metadata.rglob("*"):
        if record.is_file() and json.loads(record.read_text()).get("rule") == rule:
            # long names are split into subfolders of 255 characters
            output = workdir / _unquote(str(record.relative_to(metadata)).replace(os.sep, ""))
            outputs.extend([output] if output.is_file() else [p for p in output.rglob("*") if p.is_file()])
    return outputs


def _unquote(name: str) -> str:
    from base64 import urlsafe_b64decode

    return urlsafe_b64decode(name.encode()).decode()


def measure(workdir: Path, passages: int) -> list[dict]:
    rows = []
    for rule in RULES:
        if not (workdir / "results" / "benchmarks" / rule).exists():
            continue
        (bench,) = (workdir / "results" / "benchmarks" / rule).rglob("*.tsv")
        with open(bench) as f:
            record = next(csv.DictReader(f, delimiter="\t"))
        written = sum(p.stat().st_size for p in rule_files(workdir, rule))
        rows.append({"rule": rule, "passages": passages, "max_rss_mb": float(record["max_rss"]),
                     "cpu_s": float(record["cpu_time"]), "wall_s": float(record["s"]),
                     "bytes_written": written})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpus_scaling"))
    parser.add_argument("--test-queries", type=int, default=1000)
    parser.add_argument("--train-pairs", type=int, default=2000)
    parser.add_argument("--words", type=int, default=10, help="words per passage")
    parser.add_argument("--passage-length", type=int, default=16, help="training.max_passage_length (tokens)")
    parser.add_argument("--hidden", type=int, default=16, help="hidden size of the L1 init: encoder")
    parser.add_argument("--keep", action="store_true", help="keep each size's work folder")
    parser.add_argument("--out", type=Path, help="also write the rows to this TSV")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the outputs already in a kept work folder even if the code changed "
                             "(--rerun-triggers mtime): compare a new encode/evaluate on the same token caches")
    args = parser.parse_args()

    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"# corpus_scaling | commit {commit} | nproc {os.cpu_count()} | load {os.getloadavg()[0]:.1f} | "
          f"L1-H{args.hidden}, {args.words} words/passage cut at {args.passage_length} tokens, "
          f"{args.test_queries} test queries")
    rows = []
    for passages in args.sizes:
        workdir = args.workdir / f"n{passages}"
        corpus = args.workdir / f"corpus{passages}"
        if not (corpus / "qrels" / "train.tsv").exists():
            write_corpus(corpus, passages, args.test_queries, args.train_pairs, args.words, vocabulary=20_000)
        workdir.mkdir(parents=True, exist_ok=True)  # a kept folder reruns only what is missing
        write_config(workdir / "config.yaml", corpus, args.hidden, args.passage_length)
        command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
                   "--configfile", str(workdir / "config.yaml"), "--workflow-profile", "none", "--cores", "1",
                   "--until", UNTIL, *(["--rerun-triggers", "mtime"] if args.reuse else [])]
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
        if done.returncode:
            sys.exit(f"snakemake failed at {passages} passages:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        for row in measure(workdir, passages):
            rows.append(row)
            print(f"{row['rule']:<10} {passages:>9,} passages | max RSS {row['max_rss_mb']:8.1f} MB | "
                  f"cpu {row['cpu_s']:7.1f} s | wrote {row['bytes_written'] / 1e6:9.1f} MB", flush=True)
        if not args.keep:
            shutil.rmtree(workdir)
    if args.out:
        with open(args.out, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
