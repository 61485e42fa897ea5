import json
from dataclasses import asdict
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer

from drscale.attack import AttackConfig, attack_pairs
from drscale.data import load_collection, passage_text
from drscale.encode import Embeddings
from drscale.evaluate import sample_negatives
from drscale.logs import log_to
from drscale.models import text_length
from drscale.robustness import attack_targets, attacked_query_rows
from drscale.synonyms import load_synonyms
from drscale.tokens import cut_to_token_budget

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
evaluation, settings = snakemake.params.evaluation, snakemake.params.attack
collection = load_collection(Path(snakemake.input.collection), snakemake.params.qrels_split)
emb = Embeddings.load(Path(snakemake.input.embeddings)).of_queries(sorted(collection.queries))
sample = sample_negatives(emb, collection.qrels, snakemake.params.negatives, evaluation["draws"], evaluation["seed"])
query_rows = attacked_query_rows(len(emb.query_ids), settings["queries"], settings["seed"])
targets = attack_targets(emb, sample, query_rows, settings["top_m"])
model = SentenceTransformer(snakemake.input.model)
# Attack the part of each passage the encoder reads: same scores, a fraction of the candidates.
passages = cut_to_token_budget(model.tokenizer, [passage_text(collection.corpus[emb.doc_ids[d]]) for _, d in targets],
                               text_length(model, "document"))
pairs = [(emb.query_ids[q], collection.queries[emb.query_ids[q]], emb.doc_ids[d], passage)
         for (q, d), passage in zip(targets, passages)]
config = AttackConfig(max_words=settings["max_words"], max_fraction=settings["max_fraction"],
                      candidates_per_word=settings["candidates_per_word"], words_per_step=settings["words_per_step"],
                      scale=evaluation["score_scale"], batch_size=settings["batch_size"])
results = attack_pairs(model, pairs, load_synonyms(settings["synonyms"]), config)
with open(snakemake.output[0], "w", encoding="utf-8") as f:
    for (query_row, doc_row), result in zip(targets, results):
        f.write(json.dumps({"query_row": query_row, "doc_row": doc_row, **asdict(result)}, ensure_ascii=False) + "\n")
gains = [r.score_gain for r in results]
print(f"attacked {len(results)} (query, passage) pairs of {len(query_rows)} queries; "
      f"mean score gain {sum(gains) / max(len(gains), 1):.3f}")
