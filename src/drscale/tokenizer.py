"""Train the WordPiece tokenizer shared by every randomly initialised encoder of the default grid."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PREFIX = "##"  # WordPiece's continuing-subword prefix


def _bert_pipeline(tokenizer: Tokenizer) -> Tokenizer:
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix=PREFIX)
    return tokenizer


def continuing_characters(tokenizer: Tokenizer, texts: list[str]) -> list[str]:
    """The ``##c`` pieces of every character ``c`` that continues a word of ``texts``, sorted."""
    characters = set()
    for text in texts:
        for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(tokenizer.normalizer.normalize_str(text)):
            characters.update(word[1:])
    return [PREFIX + c for c in sorted(characters)]


def train_wordpiece(texts: list[str], vocab_size: int, output: Path) -> BertTokenizerFast:
    """Train an uncased BERT-style WordPiece tokenizer on ``texts`` and save it to ``output``.

    Uncased with BERT's normaliser and pre-tokeniser, like ``bert-base-uncased``, so that the
    default grid and the paper grid (Google's uncased BERT miniatures) tokenise alike.

    Deterministic: the library's trainer gives each ``##c`` piece its id in the iteration order of
    a randomly seeded hash map, and breaks ties between equally frequent merges by those ids, so
    the same texts gave other vocabularies from run to run (huggingface/tokenizers#1794). Handing
    the trainer every ``##c`` piece up front, in sorted order, fixes their ids and hence every
    merge; the vocabulary is then rebuilt as a plain WordPiece model (those pieces are ordinary
    tokens again, only the five BERT tokens are special).
    """
    trained = _bert_pipeline(Tokenizer(models.WordPiece(unk_token="[UNK]")))
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + continuing_characters(trained, texts),
        continuing_subword_prefix=PREFIX, show_progress=False,
    )
    trained.train_from_iterator(texts, trainer)
    vocab = trained.get_vocab()
    tokenizer = _bert_pipeline(Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", continuing_subword_prefix=PREFIX)))
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = BertTokenizerFast(tokenizer_object=tokenizer, do_lower_case=True)
    fast.save_pretrained(output)
    return fast
