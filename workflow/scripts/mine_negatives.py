from collections import defaultdict
from pathlib import Path

import numpy as np

from drscale.data import load_collection, training_pairs
from drscale.logs import log_to
from drscale.mining import mine_bm25_negatives, read_jsonl, write_jsonl

log_to(snakemake.log[0])
# The pool is the whole training split (never test or dev passages); every positive a query has
# there is excluded, not only the one in this data size's pair.
train_split = training_pairs(load_collection(Path(snakemake.input.collection), "train"))
positives = defaultdict(list)
for query, positive in train_split:
    positives[query].append(positive)
pairs = [(row["query"], row["positive"]) for row in read_jsonl(snakemake.input.pairs)]
rows = mine_bm25_negatives(pairs, [p for _, p in train_split], depth=snakemake.params.depth,
                           seed=snakemake.params.seed, positives=positives)
write_jsonl(rows, snakemake.output[0])
top = np.array([r["negative_scores"][0] for r in rows])
positive = np.array([r["positive_score"] for r in rows])
print(f"{len(rows)} queries, {snakemake.params.depth} BM25 negatives each from {len(set(p for _, p in train_split))} "
      f"training passages; top negative outscores the positive under BM25 for {np.mean(top >= positive):.1%}")
