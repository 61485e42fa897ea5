"""The trained WordPiece tokenizer: BERT-style, and the same files from every process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from transformers import AutoTokenizer

from tests.conftest import make_pairs

TRAIN = """
import sys
from pathlib import Path
from drscale.tokenizer import train_wordpiece
from tests.conftest import make_pairs
texts = [t for p in make_pairs(240) for t in (p["query"], p["passage"])]
train_wordpiece(texts, vocab_size=int(sys.argv[2]), output=Path(sys.argv[1]))
"""


def train_in_new_process(output: Path, vocab_size: int) -> dict[str, bytes]:
    """Each process draws new hash seeds (Python's and the Rust trainer's)."""
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", TRAIN, str(output), str(vocab_size)], check=True, cwd=root)
    return {p.name: p.read_bytes() for p in sorted(output.iterdir())}


def test_two_processes_train_identical_tokenizer_files(tmp_path):
    # A small vocabulary ends among many equally frequent merges, which the library's trainer
    # broke in hash order (huggingface/tokenizers#1794): 4 of 4 processes differed before the fix.
    assert train_in_new_process(tmp_path / "a", 150) == train_in_new_process(tmp_path / "b", 150)


def test_tokenizer_is_uncased_bert_wordpiece_with_only_the_five_special_tokens(tmp_path):
    from drscale.tokenizer import SPECIAL_TOKENS, train_wordpiece

    texts = [t for p in make_pairs(240) for t in (p["query"], p["passage"])]
    train_wordpiece(texts, vocab_size=300, output=tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert len(tokenizer) == 300
    assert [tokenizer.convert_ids_to_tokens(i) for i in range(5)] == SPECIAL_TOKENS
    assert sorted(tokenizer.all_special_tokens) == sorted(SPECIAL_TOKENS)
    assert tokenizer.convert_ids_to_tokens(tokenizer("The ARRAY")["input_ids"]) == ["[CLS]", "the", "array", "[SEP]"]
    # A continuing piece is an ordinary token: "##s" in a text is split like any other word.
    assert tokenizer.tokenize("##s") != ["##s"]
    assert tokenizer.decode(tokenizer("arrays sorted")["input_ids"], skip_special_tokens=True) == "arrays sorted"
