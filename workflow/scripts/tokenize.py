from pathlib import Path

from transformers import AutoTokenizer

from drscale.data import load_collection
from drscale.logs import log_to
from drscale.tokens import tokenize_collection

log_to(snakemake.log[0])
tokenizer = AutoTokenizer.from_pretrained(snakemake.input.tokenizer)
collection = load_collection(Path(snakemake.input.collection), snakemake.params.test_split)
tokens = tokenize_collection(tokenizer, collection, snakemake.params.query_length, snakemake.params.passage_length)
tokens.save(Path(snakemake.output[0]))
print(f"{len(tokens.queries)} queries ({tokens.queries.ids.size} tokens), "
      f"{len(tokens.docs)} passages ({tokens.docs.ids.size} tokens)")
