from pathlib import Path

from transformers import AutoTokenizer

from drscale.data import Collection, load_collection
from drscale.logs import log_to
from drscale.tokens import tokenize_collection

log_to(snakemake.log[0])
tokenizer = AutoTokenizer.from_pretrained(snakemake.input.tokenizer)
# The queries of every evaluated role (test, validation), one cache: encode reads it once.
splits = [load_collection(Path(snakemake.input.collection), split) for split in snakemake.params.splits]
queries = {qid: text for split in splits for qid, text in split.queries.items()}
collection = Collection(splits[0].corpus, queries, {})
tokens = tokenize_collection(tokenizer, collection, snakemake.params.query_length, snakemake.params.passage_length)
tokens.save(Path(snakemake.output[0]))
print(f"{len(tokens.queries)} queries of splits {snakemake.params.splits} ({tokens.queries.ids.size} tokens), "
      f"{len(tokens.docs)} passages ({tokens.docs.ids.size} tokens)")
