import json
from dataclasses import asdict
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer

from drscale.attack import AttackConfig, attack_pairs
from drscale.data import load_collection, passage_text
from drscale.evaluate import load_scores
from drscale.logs import log_to
from drscale.models import text_length
from drscale.robustness import attack_targets
from drscale.synonyms import load_synonyms
from drscale.tokens import cut_to_token_budget

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
settings = snakemake.params.attack
collection = load_collection(Path(snakemake.input.collection), snakemake.params.qrels_split)
scores = load_scores(Path(snakemake.input.scores), Path(snakemake.input.sample), snakemake.wildcards.split)
doc_ids = sorted(collection.corpus)  # corpus rows of the scores
query_ids = scores.query_ids.tolist()
targets = attack_targets(scores, settings["top_m"])
model = SentenceTransformer(snakemake.input.model)
# Attack the part of each passage the encoder reads: same scores, a fraction of the candidates.
passages = cut_to_token_budget(model.tokenizer, [passage_text(collection.corpus[doc_ids[d]]) for _, d in targets],
                               text_length(model, "document"))
pairs = [(query_ids[q], collection.queries[query_ids[q]], doc_ids[d], passage)
         for (q, d), passage in zip(targets, passages)]
config = AttackConfig(max_words=settings["max_words"], max_fraction=settings["max_fraction"],
                      candidates_per_word=settings["candidates_per_word"], words_per_step=settings["words_per_step"],
                      scale=snakemake.params.score_scale, batch_size=settings["batch_size"])
results = attack_pairs(model, pairs, load_synonyms(settings["synonyms"]), config)
with open(snakemake.output[0], "w", encoding="utf-8") as f:
    for (query_row, doc_row), result in zip(targets, results):
        f.write(json.dumps({"query_row": query_row, "doc_row": doc_row, **asdict(result)}, ensure_ascii=False) + "\n")
gains = [r.score_gain for r in results]
print(f"attacked {len(results)} (query, passage) pairs of {len(scores.attacked_rows)} queries; "
      f"mean score gain {sum(gains) / max(len(gains), 1):.3f}")
