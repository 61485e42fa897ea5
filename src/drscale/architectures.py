"""The architecture axis: the encoder families an ``init:`` model is drawn from.

Each family fixes what its embedders do besides the transformer blocks: the pooling, the
post-processing of the trained WordPiece (which special tokens frame a text) and the
transformers config built from a model's ``init`` shape.

- ``bert``: a bidirectional BERT encoder, ``[CLS] text [SEP]``, mean pooling (the default grid).
- ``qwen3``: a decoder-only Qwen3 block stack (causal attention, RoPE, RMSNorm, SwiGLU, q/k norms),
  the architecture of Qwen3-Embedding, used as such embedders use it: ``text [SEP]`` (the end
  token appended) and last-token pooling, the one position whose causal attention saw the whole
  text. It reads the same WordPiece vocabulary as ``bert``, so the two families differ in
  architecture only, not in how text becomes ids.

Both are loaded as ``AutoModel`` (no language-model head), so a decoder's tied input/output
embedding is the input embedding only and N excludes it as it excludes BERT's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

WORDPIECE = "wordpiece"  # the tokenizer the workflow trains for 'init' models
END_TOKEN = "[SEP]"  # the trained WordPiece's end token, appended to every text of a decoder


@dataclass(frozen=True)
class Architecture:
    """One family: its pooling, the token-cache name of its ``init`` models, how its tokenizer is
    derived from the trained WordPiece and how an ``init`` shape becomes a transformers config."""

    name: str
    pooling: str
    tokenizer: str
    derive_tokenizer: Callable
    config: Callable


def _bert_config(init: dict, vocab_size: int, max_positions: int, tokenizer):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        num_hidden_layers=init["layers"],
        hidden_size=init["hidden"],
        num_attention_heads=init["heads"],
        intermediate_size=init.get("intermediate", 4 * init["hidden"]),
        max_position_embeddings=max_positions,
    )


def _qwen3_config(init: dict, vocab_size: int, max_positions: int, tokenizer):
    """Multi-head attention (as many key/value heads as heads), head size hidden / heads, untied,
    no KV cache (an embedder never generates). The default intermediate size 8/3 x hidden gives
    SwiGLU's three matrices the parameters of BERT's two at 4 x hidden."""
    from transformers import Qwen3Config

    hidden, heads = init["hidden"], init["heads"]
    return Qwen3Config(
        vocab_size=vocab_size,
        num_hidden_layers=init["layers"],
        hidden_size=hidden,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        head_dim=hidden // heads,
        intermediate_size=init.get("intermediate", round(8 * hidden / 3)),
        max_position_embeddings=max_positions,
        tie_word_embeddings=False,
        use_cache=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def _keep(tokenizer):
    return tokenizer


def _end_token_appended(wordpiece):
    """The trained WordPiece (same vocabulary, normaliser and BERT pre-tokeniser) framing a text as
    ``text [SEP]``: no [CLS], the end token last, where last-token pooling reads it. Right padding,
    so a text's positions do not depend on its batch."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    backend = wordpiece.backend_tokenizer
    end = backend.token_to_id(END_TOKEN)
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A {END_TOKEN}", pair=f"$A {END_TOKEN} $B:1 {END_TOKEN}:1", special_tokens=[(END_TOKEN, end)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=wordpiece.pad_token,
                                   unk_token=wordpiece.unk_token, eos_token=END_TOKEN, padding_side="right")


ARCHITECTURES = {
    arch.name: arch
    for arch in (
        Architecture("bert", pooling="mean", tokenizer=WORDPIECE, derive_tokenizer=_keep, config=_bert_config),
        Architecture("qwen3", pooling="lasttoken", tokenizer=f"{WORDPIECE}-eos",
                     derive_tokenizer=_end_token_appended, config=_qwen3_config),
    )
}
DEFAULT_ARCHITECTURE = "bert"
