"""Collections in BEIR format: build them, fetch them, load them, and draw nested training subsets.

Every source (the offline docstring benchmark, a ``local:`` folder, a ``beir:`` download) ends
up as the same folder layout -- ``corpus.jsonl``, ``queries.jsonl``, ``qrels/{split}.tsv`` and
a ``manifest.json`` -- and is read back with BEIR's own ``GenericDataLoader``, so every later
stage has one code path.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import socket
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from drscale.beir_folder import check_folder

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Collection:
    """One collection in memory: BEIR's dictionaries for one split."""

    corpus: dict[str, dict]  # doc id -> {"title", "text"}
    queries: dict[str, str]  # query id -> text (only queries judged in this split)
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


def parse_source(source: str) -> tuple[str, str]:
    """Split ``"kind:value"`` (``docstrings``, ``local:/path``, ``beir:scifact``) into its parts."""
    kind, _, value = source.partition(":")
    if kind not in {"docstrings", "local", "beir"} or (kind != "docstrings" and not value):
        raise ValueError(
            f"collection source {source!r} is not one of 'docstrings', 'local:<folder>', 'beir:<name>'"
        )
    return kind, value


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def unique_pairs(harvests: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Keep only pairs whose query and passage each occur once across *all* harvested packages.

    A summary such as "Return self==value." or a passage inherited by many subclasses would be an
    ambiguous query or a passage with several "right" queries; dropping every copy (rather than
    keeping the first) makes the result independent of package order.
    """
    all_pairs = [pair for pairs in harvests.values() for pair in pairs]
    query_counts = Counter(normalise(p["query"]) for p in all_pairs)
    passage_counts = Counter(normalise(p["passage"]) for p in all_pairs)
    return {
        package: [
            p for p in pairs
            if query_counts[normalise(p["query"])] == 1 and passage_counts[normalise(p["passage"])] == 1
        ]
        for package, pairs in harvests.items()
    }


def split_pairs(pairs: list[dict], test_queries: int, dev_queries: int, seed: int) -> dict[str, list[dict]]:
    """Shuffle pairs with ``seed`` and cut test, dev, then train (the rest)."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    shuffled = [pairs[i] for i in order]
    test, dev = shuffled[:test_queries], shuffled[test_queries:test_queries + dev_queries]
    return {"test": test, "dev": dev, "train": shuffled[test_queries + dev_queries:]}


def write_collection(folder: Path, splits: dict[str, list[dict]]) -> None:
    """Write pairs as a BEIR collection: one query and one passage per pair, relevance 1.

    Corpus and queries are sorted by id so that the bytes depend only on the content.
    """
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    rows = sorted((p for pairs in splits.values() for p in pairs), key=lambda p: p["id"])
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for p in rows:
            f.write(json.dumps({"_id": "d:" + p["id"], "title": "", "text": p["passage"]}, ensure_ascii=False) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        for p in rows:
            f.write(json.dumps({"_id": "q:" + p["id"], "text": p["query"]}, ensure_ascii=False) + "\n")
    for split, pairs in splits.items():
        with open(folder / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for p in sorted(pairs, key=lambda p: p["id"]):
                f.write(f"q:{p['id']}\td:{p['id']}\t1\n")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_version(package: str) -> str:
    if package == "stdlib":
        return platform.python_version()
    try:
        return metadata.version({"sklearn": "scikit-learn", "PIL": "pillow"}.get(package, package))
    except metadata.PackageNotFoundError:
        return "unknown"


def write_manifest(folder: Path, source: str, packages: list[str] | None = None, **extra) -> dict:
    """Record where a collection came from and the sha256 of every file in it."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")
    manifest = {
        "source": source,
        "python": platform.python_version(),
        "packages": {p: package_version(p) for p in packages or []},
        "files": {str(p.relative_to(folder)): sha256(p) for p in files},
        **extra,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def build_docstring_collection(folder: Path, harvest_files: dict[str, Path], packages: list[str],
                               test_queries: int, dev_queries: int, seed: int) -> dict:
    """Build one docstring collection from the given packages' harvests.

    ``harvest_files`` holds every package of every docstring collection in the config, because
    deduplication is global: a text shared by two domains belongs to neither.
    """
    harvests = {}
    for package, path in harvest_files.items():
        with open(path, encoding="utf-8") as f:
            harvests[package] = [json.loads(line) for line in f]
    unique = unique_pairs(harvests)
    pairs = [p for package in packages for p in unique[package]]
    if len(pairs) < test_queries + dev_queries:
        raise ValueError(
            f"collection at {folder}: packages {packages} give {len(pairs)} unique pairs, fewer than "
            f"test_queries + dev_queries = {test_queries + dev_queries}; add packages or lower those keys"
        )
    splits = split_pairs(pairs, test_queries, dev_queries, seed)
    write_collection(folder, splits)
    return checked_manifest(folder, "docstrings", packages, seed=seed,
                            counts={split: len(p) for split, p in splits.items()})


def copy_local_collection(folder: Path, source_folder: Path) -> dict:
    """Copy a BEIR-format folder given as ``local:<path>``, then check and repair the copy."""
    if not all((source_folder / name).exists() for name in ("corpus.jsonl", "queries.jsonl", "qrels")):
        check_folder(source_folder)  # names what is missing
    shutil.copytree(source_folder, folder, dirs_exist_ok=True)
    return checked_manifest(folder, f"local:{source_folder}", origin=source_folder)


def checked_manifest(folder: Path, source: str, packages: list[str] | None = None, origin: Path | None = None,
                     **extra) -> dict:
    """Check a prepared folder (:func:`drscale.beir_folder.check_folder`; errors name the files of
    ``origin``, the folder it was copied from), then write its manifest with the repairs made and the
    sizes that later checks (K, data sizes) read."""
    check = check_folder(folder, origin)
    for repair in check.repairs:
        print(f"repaired {repair}")
    return write_manifest(folder, source, packages, repairs=check.repairs, stats=check.stats, **extra)


def download_beir_collection(folder: Path, name: str, timeout_s: float = 10) -> dict:
    """Download a BEIR dataset (MS MARCO is ``beir:msmarco``); fail at once when offline."""
    from beir.util import download_and_unzip

    url = BEIR_URL.format(name=name)
    host = url.split("/")[2]
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
    except OSError as error:
        raise ConnectionError(
            f"collection 'beir:{name}' must be downloaded from {host}, which cannot be reached ({error}). "
            f"Run the prepare step where the network is available, or put the unzipped BEIR folder "
            f"somewhere and use 'local:<folder>' as the source"
        ) from error
    tmp = folder.parent / f".{folder.name}.download"
    unzipped = Path(download_and_unzip(url, str(tmp)))
    shutil.copytree(unzipped, folder, dirs_exist_ok=True)
    shutil.rmtree(tmp)
    return checked_manifest(folder, f"beir:{name}", url=url)


def load_collection(folder: Path, split: str) -> Collection:
    """Load one split of a BEIR-format folder with BEIR's loader."""
    from beir.datasets.data_loader import GenericDataLoader

    if not (folder / "qrels" / f"{split}.tsv").exists():
        raise FileNotFoundError(f"{folder} has no qrels/{split}.tsv; available: "
                                f"{sorted(p.stem for p in (folder / 'qrels').glob('*.tsv'))}")
    corpus, queries, qrels = GenericDataLoader(data_folder=str(folder)).load(split=split)
    return Collection(corpus, queries, qrels)


def passage_text(doc: dict) -> str:
    """BEIR passages have a title and a text; join them as BEIR's dense retrievers do."""
    return f"{doc.get('title', '')} {doc['text']}".strip()


def training_pairs(collection: Collection) -> list[tuple[str, str]]:
    """(query, positive passage) pairs of a split, in a deterministic order."""
    return [
        (collection.queries[qid], passage_text(collection.corpus[did]))
        for qid in sorted(collection.qrels)
        for did, rel in sorted(collection.qrels[qid].items())
        if rel > 0 and qid in collection.queries and did in collection.corpus
    ]


def nested_subset(pairs: list, size: int, seed: int) -> list:
    """The first ``size`` pairs of one seeded permutation: every smaller subset is inside every larger."""
    if size > len(pairs):
        raise ValueError(f"data size {size} exceeds the {len(pairs)} training pairs available; "
                         f"lower the 'data_sizes' entry {size} in the config")
    order = np.random.default_rng(seed).permutation(len(pairs))
    return [pairs[i] for i in order[:size]]


def evaluated_splits(entry: dict) -> list[str]:
    """The qrels splits a collection is evaluated on: ``test_split``, plus ``validation_split`` where the
    collection has one (a docstring collection only with ``dev_queries`` > 0)."""
    validation = entry.get("validation_split")
    if parse_source(entry["source"])[0] == "docstrings" and not entry.get("dev_queries"):
        validation = None
    return [entry.get("test_split", "test"), *([validation] if validation else [])]


def check_prepared(name: str, entry: dict, stats: dict, negatives: int, data_sizes: list[int] | None = None,
                   attack_queries: int | None = None) -> None:
    """What a prepared collection must offer its later jobs, checked before any of them runs.

    Every evaluated split exists and has relevant pairs, leaves each query at least K = ``negatives``
    unjudged passages to sample from, and (the in-domain collection) the ``train`` split has as many
    pairs as the largest of ``data_sizes`` and the test split as many queries as ``attack_queries``.
    """
    splits = stats["splits"]
    for key, split in zip(("test_split", "validation_split"), evaluated_splits(entry)):
        if split not in splits:
            raise ValueError(f"collections.{name}: {key} {split!r} has no qrels/{split}.tsv (it has "
                             f"{sorted(splits)}); set collections.{name}.{key} to one of them"
                             + (" or to null" if key == "validation_split" else ""))
        if not splits[split]["pairs"]:
            raise ValueError(f"collections.{name}: qrels/{split}.tsv has no relevant (score > 0) pair left to "
                             "evaluate; see the repairs in its manifest.json")
        room = stats["corpus"] - splits[split]["max_judged"]
        k = entry.get("negatives") or negatives
        if room < k:
            raise ValueError(
                f"collections.{name}: its corpus has {stats['corpus']} passages and a {split} query judges up to "
                f"{splits[split]['max_judged']}, which leaves {room} to draw K = {k} sampled negatives from; set "
                f"collections.{name}.negatives to at most {room}"
                + ("" if entry.get("negatives") else " (or lower evaluation.negatives for every collection)")
            )
    if data_sizes:
        available = splits.get("train", {}).get("pairs", 0)
        if max(data_sizes) > available:
            raise ValueError(f"data_sizes: {max(data_sizes)} training pairs exceed the {available} relevant pairs in "
                             f"qrels/train.tsv of the in-domain collection {name!r}; lower the largest 'data_sizes' "
                             "entry" + ("" if available else " (a local in-domain collection needs qrels/train.tsv)"))
    test = splits[evaluated_splits(entry)[0]]
    if attack_queries and attack_queries > test["queries"]:
        raise ValueError(f"attack.queries ({attack_queries}) exceeds the {test['queries']} evaluated queries of the "
                         f"in-domain collection {name!r}; lower attack.queries")
