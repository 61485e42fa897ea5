"""Check a BEIR-format folder line by line before BEIR's loader reads it, repairing what is unambiguous.

BEIR's ``GenericDataLoader`` trusts its input: a corpus line with ``id`` instead of ``_id`` becomes
one passage with id ``None``, integer ids never match the string ids of the qrels, a qrels score
``1.0`` or a space-separated row raises deep inside it, a qrels row naming a missing query raises a
bare ``KeyError`` and one naming a missing passage silently drops the pair. :func:`check_folder`
reads every line first. Each problem is either a :class:`BeirFolderError` naming the file, the line
and the fix, or a repair: the folder's file is rewritten and the repair returned, so that the
caller records it in ``manifest.json`` and the log. Nothing is dropped without a record.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

QRELS_HEADER = ("query-id", "corpus-id", "score")


class BeirFolderError(ValueError):
    """A problem in a BEIR folder that has no unambiguous repair."""


@dataclass
class FolderCheck:
    """What :func:`check_folder` found: the repairs it made and the sizes later checks need."""

    repairs: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


def _fail(path: Path, line: int | None, problem: str, fix: str) -> None:
    where = f"{path}, line {line}" if line is not None else str(path)
    raise BeirFolderError(f"{where}: {problem}; {fix}")


def _read_jsonl(path: Path, shown: Path, kind: str, check: FolderCheck) -> dict[str, dict]:
    """id -> record of a corpus or queries file; ids become strings, as the qrels' ids are. Errors
    name ``shown``, the user's file the checked copy ``path`` came from."""
    records: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    changed = numeric_ids = blank = empty = duplicates = 0
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            blank += 1
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            _fail(shown, number, f"not valid JSON ({error.msg.removesuffix(' at')} at column {error.colno})",
                  "fix or delete that line (every line of a BEIR .jsonl file is one JSON object)")
        if not isinstance(record, dict):
            _fail(shown, number, f"a JSON {type(record).__name__}, not an object", "make every line one JSON object")
        if "_id" not in record:
            hint = " (it has 'id': BEIR names the field '_id', rename it)" if "id" in record else ""
            _fail(shown, number, f"no '_id' field{hint}", "give every line an '_id'")
        doc_id = record["_id"]
        if isinstance(doc_id, int) and not isinstance(doc_id, bool):
            numeric_ids += 1
            record["_id"] = doc_id = str(doc_id)
        if not isinstance(doc_id, str) or not doc_id.strip():
            _fail(shown, number, f"'_id' is {doc_id!r}", "ids must be non-empty strings (or integers)")
        text = record.get("text")
        if not isinstance(text, str):
            _fail(shown, number, f"'text' is {text!r}" if "text" in record else "no 'text' field",
                  "give every line a string 'text'")
        if kind == "corpus":
            title = record.get("title")
            if title is None:
                record["title"] = title = ""
                changed += 1
            if not isinstance(title, str):
                _fail(shown, number, f"'title' is {title!r}", "a title must be a string (or absent)")
        if not text.strip() and not (kind == "corpus" and record["title"].strip()):
            empty += 1
            continue
        if doc_id in records:
            if records[doc_id] != record:
                _fail(shown, number, f"duplicate id {doc_id!r} (first on line {first_line[doc_id]}) with a different "
                      "text", "give each record its own id, or delete one of them")
            duplicates += 1
            continue
        records[doc_id] = record
        first_line[doc_id] = number
    for count, what in ((numeric_ids, "integer '_id's written as strings (qrels ids are strings)"),
                        (changed, "null titles written as ''"),
                        (blank, "blank lines removed"),
                        (empty, f"{'passages' if kind == 'corpus' else 'queries'} with an empty text dropped"),
                        (duplicates, "exact duplicate lines dropped")):
        if count:
            check.repairs.append(f"{path.name}: {count} {what}")
    if numeric_ids or changed or blank or empty or duplicates:
        with open(path, "w", encoding="utf-8") as f:
            for record in records.values():
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return records


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _grade(path: Path, number: int, value: str) -> tuple[int, bool]:
    """The integer grade of a qrels score, and whether it was written as a float (``1.0``)."""
    try:
        return int(value), False
    except ValueError:
        pass
    try:
        grade = float(value)
    except ValueError:
        _fail(path, number, f"score {value!r} is not a number", "the third column is an integer relevance grade")
    if not grade.is_integer():
        _fail(path, number, f"score {value} is not a whole number",
              "relevance grades are integers (pytrec_eval reads them as such): round or map them")
    return int(grade), True


def _read_qrels(path: Path, shown: Path, queries: dict, corpus: dict, check: FolderCheck) -> dict[str, dict[str, int]]:
    """query id -> {doc id: grade} of one split; rows naming a missing query or passage are dropped
    (and recorded), a row in another format is an error."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\r\n") for line in f]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    repairs: list[str] = []
    missing_queries: dict[str, int] = {}
    missing_docs: dict[str, int] = {}
    floats = duplicates = blank = 0
    start = 1  # BEIR skips the first line: a header, unless it is a judgement
    first = lines[0].split("\t") if lines else []
    if len(first) == 3 and _is_number(first[2]):
        start = 0
        repairs.append(f"qrels/{path.name}: header line added (BEIR skips the first line, which was a judgement)")
    for number, line in enumerate(lines[start:], start + 1):
        if not line.strip():
            blank += 1
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            spaced = len(line.split()) in (3, 4) and "\t" not in line
            _fail(shown, number, f"{len(fields)} tab-separated column(s), expected 3 (query-id, corpus-id, score)",
                  "separate the columns with tabs, not spaces" + (" (a TREC 'qid 0 docid rel' file: drop the "
                                                                  "second column)" if len(line.split()) == 4 else "")
                  if spaced else "write 'query-id<TAB>corpus-id<TAB>score' on every line")
        query_id, doc_id, score = (value.strip() for value in fields)
        grade, was_float = _grade(shown, number, score)
        floats += was_float
        if query_id not in queries:
            missing_queries.setdefault(query_id, number)
            continue
        if doc_id not in corpus:
            missing_docs.setdefault(doc_id, number)
            continue
        if doc_id in qrels[query_id]:
            if qrels[query_id][doc_id] != grade:
                _fail(shown, number, f"({query_id}, {doc_id}) is judged twice with different grades",
                      "keep one row per (query, passage)")
            duplicates += 1
            continue
        qrels[query_id][doc_id] = grade
    for count, what in ((floats, "scores written as integers (e.g. 1.0 -> 1)"),
                        (duplicates, "duplicate rows dropped"), (blank, "blank lines removed")):
        if count:
            repairs.append(f"qrels/{path.name}: {count} {what}")
    for missing, what, source in ((missing_queries, "query", "queries.jsonl"),
                                  (missing_docs, "passage", "corpus.jsonl")):
        if missing:
            first, line = next(iter(missing.items()))
            repairs.append(f"qrels/{path.name}: rows naming {len(missing)} {what} id(s) missing from {source} (or "
                           f"dropped there as empty) dropped, first {first!r} on line {line}")
    if repairs:
        check.repairs.extend(repairs)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\t".join(QRELS_HEADER) + "\n")
            for query_id, docs in qrels.items():
                for doc_id, grade in docs.items():
                    f.write(f"{query_id}\t{doc_id}\t{grade}\n")
    return dict(qrels)


def check_folder(folder: Path, origin: Path | None = None) -> FolderCheck:
    """Check (and where unambiguous repair, in place) a BEIR folder; return the repairs and its sizes.

    ``folder`` is the collection's own copy; errors name the files of ``origin``, the folder it was
    copied from (default ``folder`` itself), which is where the user fixes them.

    ``stats`` has the corpus size and, per qrels split, its queries with a relevant passage, its
    relevant pairs and the most passages one query judges (a query's sampled negatives come from the
    others, so ``corpus - max_judged`` bounds the collection's K).
    """
    check = FolderCheck()
    missing = [name for name in ("corpus.jsonl", "queries.jsonl", "qrels") if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(f"{origin or folder} lacks {missing}; a BEIR folder has corpus.jsonl, queries.jsonl "
                                "and qrels/<split>.tsv")
    origin = origin or folder
    corpus = _read_jsonl(folder / "corpus.jsonl", origin / "corpus.jsonl", "corpus", check)
    queries = _read_jsonl(folder / "queries.jsonl", origin / "queries.jsonl", "queries", check)
    splits = {}
    for path in sorted((folder / "qrels").glob("*.tsv")):
        qrels = _read_qrels(path, origin / "qrels" / path.name, queries, corpus, check)
        relevant = {q: [d for d, grade in docs.items() if grade > 0] for q, docs in qrels.items()}
        splits[path.stem] = {
            "queries": sum(1 for docs in relevant.values() if docs),
            "pairs": sum(map(len, relevant.values())),
            "max_judged": max(map(len, qrels.values()), default=0),
        }
    if not splits:
        raise BeirFolderError(f"{folder / 'qrels'} has no <split>.tsv file; add qrels/test.tsv (and train.tsv "
                              "for the in-domain collection)")
    check.stats = {"corpus": len(corpus), "queries": len(queries), "splits": splits}
    return check


def shared_pairs(ood_folder: Path, ood_split: str, train_folder: Path) -> tuple[int, int, str | None]:
    """(shared, total, first) relevant pairs of ``ood_split`` whose query or passage text also occurs
    in the training split of ``train_folder``: the model was trained on them.

    The training side is streamed (only its train queries and positives are compared), so that an
    in-domain collection the size of MS MARCO is never held in memory.
    """
    from drscale.data import load_collection, normalise, passage_text

    ood = load_collection(ood_folder, ood_split)
    pairs = [(q, d) for q, docs in ood.qrels.items() for d, grade in docs.items() if grade > 0]
    texts = {normalise(ood.queries[q]) for q, _ in pairs} | {normalise(passage_text(ood.corpus[d])) for _, d in pairs}
    train_queries, train_docs = set(), set()
    with open(train_folder / "qrels" / "train.tsv", encoding="utf-8") as f:
        next(f, None)
        for row in f:
            query_id, doc_id, grade = row.rstrip("\n").split("\t")
            if int(grade) > 0:
                train_queries.add(query_id)
                train_docs.add(doc_id)
    shared = set()
    for name, ids, text in (("queries.jsonl", train_queries, lambda r: r["text"]),
                            ("corpus.jsonl", train_docs, passage_text)):
        with open(train_folder / name, encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                if record["_id"] in ids and normalise(text(record)) in texts:
                    shared.add(normalise(text(record)))
    hits = [q for q, d in pairs
            if normalise(ood.queries[q]) in shared or normalise(passage_text(ood.corpus[d])) in shared]
    return len(hits), len(pairs), hits[0] if hits else None
