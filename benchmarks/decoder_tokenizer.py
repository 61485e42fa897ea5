"""Benchmark: the decoders' tokenizer, the trained WordPiece with the end token appended
(``drscale.architectures``), against a byte-level BPE of the same vocabulary trained on the same texts.

    python benchmarks/decoder_tokenizer.py <workflow dir>     # after its collections and tokenizer exist

Reads the in-domain ``docs`` collection and ``resources/tokenizer`` of a workflow directory and
prints, per tokenizer: tokens per passage and per word, the share of passages longer than the
64 tokens the default encoders read, the CPU time to tokenize the corpus, and the share of 1,000
attacked passages whose candidate ids the attack can splice from its words' ids
(``drscale.attack._SplicedIds``; the rest are tokenized again for every candidate).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from drscale import data
from drscale.architectures import ARCHITECTURES
from drscale.attack import AttackConfig, _init_state, _SplicedIds
from drscale.synonyms import load_synonyms

PASSAGE_LENGTH = 64


def byte_level_bpe(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A Qwen-style byte-level BPE that appends its end token."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    bpe.post_processor = processors.TemplateProcessing(single="$A <|endoftext|>",
                                                       special_tokens=[("<|endoftext|>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def main(root: Path) -> None:
    collection = root / "resources" / "collections" / "docs"
    texts = [t for pair in data.training_pairs(data.load_collection(collection, "train")) for t in pair]
    corpus = data.load_collection(collection, "test").corpus
    passages = [data.passage_text(corpus[d]) for d in sorted(corpus)]
    words = sum(len(p.split()) for p in passages)
    wordpiece = ARCHITECTURES["qwen3"].derive_tokenizer(AutoTokenizer.from_pretrained(root / "resources" / "tokenizer"))
    synonyms, config = load_synonyms(None), AttackConfig()
    for name, tokenizer in (("wordpiece-eos", wordpiece), ("byte-level BPE", byte_level_bpe(texts, len(wordpiece)))):
        lengths = np.array([len(ids) for ids in tokenizer(passages)["input_ids"]])
        start = time.process_time()
        tokenizer(passages, truncation=True, max_length=PASSAGE_LENGTH)
        seconds = time.process_time() - start
        states = [_init_state("query", p, i, synonyms, config) for i, p in enumerate(passages[:1000])]
        _SplicedIds(tokenizer, PASSAGE_LENGTH).attach(states)
        spliced = np.mean([s.token_ids is not None for s in states])
        longer = np.mean(lengths > PASSAGE_LENGTH)
        print(f"{name} (vocabulary {len(tokenizer)}): tokens/passage mean {lengths.mean():.1f}, tokens/word "
              f"{(lengths - 1).sum() / words:.2f}, over {PASSAGE_LENGTH} tokens {longer:.1%}, "
              f"{len(passages)} passages tokenized in {seconds:.2f} s CPU, spliceable {spliced:.1%} of 1,000")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
