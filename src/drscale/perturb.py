"""Word-level text operations shared by the attack and the robustness loss: splitting a text into
words and separators, keeping a replaced word's capitalisation, cutting a text to the words a
model reads, and random synonym substitution in queries."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from drscale.synonyms import STOP_WORDS

__all__ = ["match_case", "perturb_query", "split_words", "truncate_words"]

# Words are runs of word characters; everything between them (spaces, punctuation) is kept
# verbatim so a perturbed text differs from the original only in the substituted words.
_WORD_SPLIT = re.compile(r"(\w+)")


def split_words(text: str) -> list[str]:
    """``[sep, word, sep, word, ..., sep]``: words at odd indices, ``"".join`` restores ``text``."""
    return _WORD_SPLIT.split(text)


def match_case(template: str, word: str) -> str:
    """``word`` capitalised like ``template``: all caps (acronyms), a capital first letter, or as is."""
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def truncate_words(text: str, n_words: int) -> str:
    """``text`` up to and including its ``n_words``-th word (the separators between them kept).

    Every word is at least one token, so a model that reads at most ``n_words`` tokens never sees
    what is cut: attacking the truncated text costs less and changes nothing the model reads.
    """
    pieces = split_words(text)
    return text if len(pieces) // 2 <= n_words else "".join(pieces[: 2 * n_words])


def _eligible(word: str) -> bool:
    return word.lower() not in STOP_WORDS and not any(ch.isdigit() for ch in word)


def perturb_query(text: str, synonyms: Mapping[str, Sequence[str]], rng: np.random.Generator, n_words: int,
                  candidates_per_word: int = 4) -> str:
    """Replace up to ``n_words`` random words of a query by one of their first synonyms.

    Stop words and words with digits are never replaced nor inserted; capitalisation follows the
    replaced word; spacing and punctuation are untouched. Deterministic given ``rng``'s state.
    """
    pieces = split_words(text)
    words = pieces[1::2]
    options = {}
    for i, word in enumerate(words):
        usable = [s for s in synonyms.get(word.lower(), ())[:candidates_per_word] if _eligible(s)]
        if usable and _eligible(word):
            options[i] = usable
    if not options or n_words < 1:
        return text
    chosen = rng.choice(sorted(options), size=min(n_words, len(options)), replace=False)
    for i in sorted(int(c) for c in chosen):
        pieces[2 * i + 1] = match_case(words[i], options[i][int(rng.integers(len(options[i])))])
    return "".join(pieces)
