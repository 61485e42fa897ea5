"""Bad input fails early with a message naming the key or file and the fix, or is repaired and recorded.

Each kind of mistake is tried the way a user makes it: a config given with --configfile (dry run:
planning fails, so no job -- train or other -- starts), or a broken local BEIR folder (the first
job, prepare_collection, fails; nothing else has run).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drscale.beir_folder import BeirFolderError, check_folder
from drscale.checkpoints import CheckpointFolderBusy, claim_checkpoint_folder
from drscale.data import split_pairs, write_collection
from tests.conftest import make_pairs
from tests.test_workflow import ROOT, TEST_CONFIG, job_counts, snakemake

BASE = yaml.safe_load(TEST_CONFIG.read_text())


def changed(**changes) -> dict:
    """The .test config with ``a__b=value`` set at config["a"]["b"]."""
    config = copy.deepcopy(BASE)
    for key, value in changes.items():
        *parents, last = key.split("__")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = value
    return config


def beir_folder(folder: Path, pairs: int = 240) -> Path:
    """A BEIR folder of ``pairs`` (query, passage) pairs: 40 test, 20 dev, the rest train."""
    write_collection(folder, split_pairs(make_pairs(pairs), test_queries=40, dev_queries=20, seed=0))
    return folder


def local_config(folder: Path, **collection) -> dict:
    """A one-collection config trained on the local BEIR folder ``folder``."""
    config = changed(ood=[], data_sizes=[100], strategies=["standard"])
    config.pop("strategy_points")
    config["in_domain"] = "loc"
    config["collections"] = {"loc": {"source": f"local:{folder}", **collection}}
    return config


def write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def dry_run(workdir: Path, config: dict):
    return snakemake(workdir, "--dry-run", config=write(workdir / "config.yaml", config))


def planning_error(workdir: Path, config: dict) -> str | None:
    """Plan the workflow in this process, as ``snakemake --dry-run --configfile`` does (Snakemake's
    API; 0.1 s of CPU against 2 s for a new process), and return the message it fails with."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings, StorageSettings

    configfile = write(workdir / "config.yaml", config)
    try:
        with SnakemakeApi(OutputSettings(quiet=set())) as api:
            workflow = api.workflow(snakefile=ROOT / "Snakefile", workdir=workdir,
                                    config_settings=ConfigSettings(configfiles=[configfile]),
                                    resource_settings=ResourceSettings(cores=1), storage_settings=StorageSettings())
            workflow.dag(DAGSettings()).dryrun()
    except Exception as error:  # noqa: BLE001 - whatever Snakemake raises is the user's message
        return str(error)
    return None


# Planning: every mistake a config alone shows fails before any job is planned.
WEIGHTLESS = "weightless-model"  # a folder with config.json and no weights, made by the test
LOCAL = "beir-folder"  # a valid BEIR folder, made by the test
TINY_MODEL = {"init": {"layers": 1, "hidden": 16, "heads": 2}, "learning_rate": 1.0e-2}
PLANNING_MISTAKES = {
    # kind of mistake: (config, the message it gets)
    "duplicate seed": (changed(seeds=[0, 0]), "config key 'seeds' lists [0] more than once: [0, 0]; list each"),
    "duplicate strategy": (changed(strategies=["standard", "standard", "pareto"]),
                           "config key 'strategies' lists ['standard'] more than once"),
    "duplicate OOD collection": (changed(ood=["networkx", "networkx"]), "config key 'ood' lists ['networkx'] more"),
    "duplicate data size": (changed(data_sizes=[400, 400, 800]), "config key 'data_sizes' lists [400] more than"),
    "duplicate package": (changed(collections__networkx__packages=["networkx", "networkx"]),
                          "config key 'collections.networkx.packages' lists ['networkx'] more than once"),
    "OOD shares a package with in-domain": (
        changed(collections__networkx__packages=["numpy"]),
        "collections.networkx.packages shares ['numpy'] with the in-domain collection 'docs': its test queries "
        "would be training queries"),
    "package not installed": (changed(collections__networkx__packages=["networkz"]),
                              "collections.networkx.packages: ['networkz'] not installed"),
    "hf model on the wordpiece cache": (
        changed(models__bert={"hf": "google/bert_uncased_L-2_H-128_A-2", "tokenizer": "wordpiece",
                              "learning_rate": 1e-4}),
        "models.bert: tokenizer 'wordpiece' is the workflow's trained vocabulary of 'init' models"),
    "weightless local model": (
        changed(models__mine={"local": WEIGHTLESS, "learning_rate": 1e-4}),
        "has no weights (*.safetensors or *.bin), so it would train from random weights; add the weights, or "
        "set models.mine.random_init: true"),
    "local model shorter than the token limits": (
        changed(models__mine={"local": WEIGHTLESS, "learning_rate": 1e-4}, training__max_passage_length=600),
        "models.mine: weightless-model reads at most 512 tokens (max_position_embeddings), fewer than the 600"),
    "missing local model": (changed(models__mine={"local": "/nowhere/model", "learning_rate": 1e-4}),
                            "models.mine.local: /nowhere/model has no config.json (it does not exist)"),
    "init model with its own tokenizer": (
        changed(models__L1_H16={**TINY_MODEL, "tokenizer": "mine"}),
        "models.L1_H16: an 'init' bert model uses the 'wordpiece' tokenizer derived from the trained WordPiece; "
        "remove its 'tokenizer' key"),
    "hidden not a multiple of heads": (
        changed(models__odd={"init": {"layers": 1, "hidden": 30, "heads": 4}, "learning_rate": 1e-3}),
        "models.odd.init: hidden (30) must be a multiple of heads (4)"),
    "init and hf in one model": (
        changed(models__both={**TINY_MODEL, "hf": "x/y"}),
        "config key 'models.both'"),
    "learning rate YAML reads as text": (
        changed(models__L1_H16={**TINY_MODEL, "learning_rate": "1e-3"}),
        "'1e-3' is not of type 'number'; YAML reads 1e-3 as text (a number needs a dot and a signed exponent): "
        "write 1.0e-3"),
    "misspelt top-level key": (changed(seed=[1]), "Additional properties are not allowed ('seed' was unexpected)"),
    "a string where a list belongs": (changed(ood="networkx"), "config key 'ood': 'networkx' is not of type 'array'"),
    "OOD names the in-domain collection": (changed(ood=["networkx", "docs"]), "lists the in-domain collection"),
    "OOD names no collection": (changed(ood=["nowhere"]), "'ood' names collection 'nowhere'"),
    "test split dev without dev queries": (changed(collections__networkx__test_split="dev",
                                                   collections__networkx__dev_queries=0),
                                           "set dev_queries > 0 or test_split: test"),
    "in-domain tested on its training split": (changed(collections__docs__test_split="train"),
                                               "collections.docs.test_split is 'train'"),
    "w_min above w_max": (changed(pareto={"w_min": 0.9, "w_max": 0.1}),
                          "pareto.w_min (0.9) exceeds pareto.w_max (0.1); swap them"),
    "w0 outside the controller's bounds": (changed(pareto={"w0": 0.99}), "pareto.w0 (0.99) lies outside [w_min"),
    "Pareto target where the baselines do not run": (
        changed(pareto={"target_models": ["L1-H32"]}),
        "pareto.target_models names ['L1-H32'], where the baselines ['denoising'] do not run"),
    "Pareto without a baseline": (
        changed(strategies=["pareto"]),
        "add one to 'strategies' or set pareto.target_ratio (w_0 then defaults to r* / (1 + r*)"),
    "denoising teacher without standard": (changed(strategies=["denoising", "pareto"]),
                                           "add 'standard' to 'strategies' or set denoising.teacher: bm25"),
    "attack without a budget": (changed(attack__max_words=None),
                                "attack.max_words and attack.max_fraction are both null"),
    "missing synonym file": (changed(attack__synonyms="counter-fitted.txt"),
                             "attack.synonyms: counter-fitted.txt does not exist"),
    "attack top_m above K": (changed(attack__top_m=100), "attack.top_m (100) exceeds the K = 64 sampled negatives"),
    "more attacked queries than test queries": (changed(attack__queries=500),
                                                "attack.queries (500) exceeds the 100 test queries"),
    "batch larger than a data size": (changed(data_sizes=[10, 400]),
                                      "training.batch_size 16 exceeds the smallest data size 10"),
    "denoising candidates beyond the mining depth": (changed(mining={"depth": 2}),
                                                     "denoising.candidates (4) exceeds mining.depth (2)"),
    "more attacked passages than a batch": (changed(adversarial={"attacked_per_batch": 64}),
                                            "adversarial.attacked_per_batch (64) exceeds training.batch_size (16)"),
    "strategies at no point": (changed(strategy_points={"models": [], "data_sizes": [400]}),
                               "'strategy_points.models' is empty, so the strategies"),
    "no models": (changed(models={}), "config key 'models': {} should be non-empty"),
    "missing local collection": (local_config(Path("/nowhere/beir")),
                                 "collections.loc.source: /nowhere/beir is not a BEIR folder"),
    "local collection without the test split": (local_config(Path(LOCAL), test_split="validation"),
                                                "has no validation.tsv (it has ['dev', 'test', 'train'])"),
    "docstring keys on a local collection": (local_config(Path(LOCAL), packages=["numpy"]),
                                             "collections.loc: ['packages'] only apply to a 'docstrings' source"),
}


@pytest.mark.parametrize(("config", "message"), PLANNING_MISTAKES.values(), ids=PLANNING_MISTAKES)
def test_a_config_mistake_fails_at_planning(tmp_path, monkeypatch, config, message):
    monkeypatch.chdir(tmp_path)
    weightless = tmp_path / WEIGHTLESS
    weightless.mkdir()
    (weightless / "config.json").write_text('{"max_position_embeddings": 512}')
    beir_folder(tmp_path / LOCAL)
    error = planning_error(tmp_path, config)
    assert error is not None and message in error, error  # planning failed: no job, train or other, ran
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()


def test_planning_mistakes_fail_in_a_real_dry_run(tmp_path):
    """The same messages reach the user of the command line (one mistake per kind of check)."""
    for kind in ("duplicate seed", "learning rate YAML reads as text", "Pareto without a baseline"):
        config, message = PLANNING_MISTAKES[kind]
        result = dry_run(tmp_path, config)
        assert result.returncode != 0 and message in result.stdout + result.stderr, kind
        assert "Job stats" not in result.stdout


def test_a_yaml_syntax_error_in_the_default_config_names_file_and_line(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("in_domain: docs\nmodels: {a: 1\ndata_sizes: [1]\n")
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
               "--workflow-profile", "none", "--dry-run"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0
    assert "config/config.yaml, line 3, column 11: expected ',' or '}'" in result.stderr + result.stdout


# A --configfile is the whole config (the default config/config.yaml is not merged in).
def test_a_user_config_replaces_the_default(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")  # as when run from the repository root
    result = snakemake(tmp_path, "--dry-run")  # the .test config
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout)["train"] == 6
    minimal = {"in_domain": "docs", "collections": {"docs": {"source": "docstrings", "packages": ["numpy"]}},
               "models": {"one": TINY_MODEL}, "data_sizes": [100]}
    result = dry_run(tmp_path, minimal)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout)["train"] == 1
    assert "model~one/" in result.stdout and "L2-H128" not in result.stdout


# prepare_collection: a local BEIR folder is checked line by line before any later job.
def mutate(folder: Path, name: str, edit) -> None:
    path = folder / name
    path.write_text(edit(path.read_text()))


def edit_line(number: int, edit):
    def apply(text: str) -> str:
        lines = text.splitlines(keepends=True)
        lines[number - 1] = edit(lines[number - 1])
        return "".join(lines)
    return apply


def _integer_ids(folder: Path) -> None:
    import re

    for name in ("corpus.jsonl", "queries.jsonl"):
        mutate(folder, name, lambda t: re.sub(r'"_id": "[dq]:p(\d+)"', lambda m: f'"_id": {int(m.group(1))}', t))
    for split in ("train", "dev", "test"):
        mutate(folder, f"qrels/{split}.tsv", lambda t: re.sub(r"[dq]:p0*(\d+)", r"\1", t))


FOLDER_ERRORS = {
    # kind of mistake: (how the folder is broken, the message it gets)
    "id instead of _id": (lambda f: mutate(f, "corpus.jsonl", lambda t: t.replace('"_id"', '"id"')),
                          "corpus.jsonl, line 1: no '_id' field (it has 'id': BEIR names the field '_id', rename it)"),
    "truncated JSON line": (lambda f: mutate(f, "queries.jsonl", edit_line(7, lambda line: line[:30] + "\n")),
                            "queries.jsonl, line 7: not valid JSON (Invalid control character at column 31); fix"),
    "text missing": (lambda f: mutate(f, "queries.jsonl", edit_line(2, lambda line: '{"_id": "q:x"}\n')),
                     "queries.jsonl, line 2: no 'text' field; give every line a string 'text'"),
    "space-separated qrels": (lambda f: mutate(f, "qrels/test.tsv", lambda t: t.replace("\t", " ")),
                              "qrels/test.tsv, line 2: 1 tab-separated column(s), expected 3 (query-id, corpus-id, "
                              "score); separate the columns with tabs, not spaces"),
    "fractional grade": (lambda f: mutate(f, "qrels/test.tsv", lambda t: t.replace("\t1\n", "\t0.5\n", 1)),
                         "qrels/test.tsv, line 2: score 0.5 is not a whole number"),
    "duplicate id, other text": (
        lambda f: mutate(f, "corpus.jsonl", lambda t: t + '{"_id": "d:p0001", "title": "", "text": "other"}\n'),
        "corpus.jsonl, line 241: duplicate id 'd:p0001' (first on line 2) with a different text"),
}
FOLDER_REPAIRS = {
    # kind of mistake: (how the folder is broken, the repair recorded)
    "integer ids": (_integer_ids, "corpus.jsonl: 240 integer '_id's written as strings"),
    "qrels naming a missing query": (lambda f: mutate(f, "qrels/test.tsv", lambda t: t + "q999\td:p0001\t1\n"),
                                     "qrels/test.tsv: rows naming 1 query id(s) missing from queries.jsonl"),
    "qrels naming a missing passage": (lambda f: mutate(f, "qrels/test.tsv", lambda t: t + "q:p0001\td999\t1\n"),
                                       "rows naming 1 passage id(s) missing from corpus.jsonl"),
    "float grades": (lambda f: mutate(f, "qrels/test.tsv", lambda t: t.replace("\t1\n", "\t1.0\n")),
                     "qrels/test.tsv: 40 scores written as integers (e.g. 1.0 -> 1)"),
    "qrels without header": (lambda f: mutate(f, "qrels/test.tsv", lambda t: t.split("\n", 1)[1]),
                             "qrels/test.tsv: header line added"),
    "empty query text": (lambda f: mutate(f, "queries.jsonl", edit_line(1, lambda line: json.dumps(
        {**json.loads(line), "text": " "}) + "\n")), "queries.jsonl: 1 queries with an empty text dropped"),
    "exact duplicate line": (lambda f: mutate(f, "corpus.jsonl", edit_line(1, lambda line: line + line)),
                             "corpus.jsonl: 1 exact duplicate lines dropped"),
    "null title": (lambda f: mutate(f, "corpus.jsonl", lambda t: t.replace('"title": ""', '"title": null')),
                   "corpus.jsonl: 240 null titles written as ''"),
}


@pytest.mark.parametrize(("breaks", "message"), FOLDER_ERRORS.values(), ids=FOLDER_ERRORS)
def test_a_broken_beir_folder_is_named_by_file_and_line(tmp_path, breaks, message):
    folder = beir_folder(tmp_path / "user")
    breaks(folder)
    copy_ = tmp_path / "copy"
    shutil.copytree(folder, copy_)
    with pytest.raises(BeirFolderError) as error:
        check_folder(copy_, origin=folder)
    assert str(error.value).startswith(str(folder))  # the user's file, not the copy
    assert message in str(error.value)


@pytest.mark.parametrize(("breaks", "repair"), FOLDER_REPAIRS.values(), ids=FOLDER_REPAIRS)
def test_an_unambiguous_folder_problem_is_repaired_and_recorded(tmp_path, breaks, repair):
    from beir.datasets.data_loader import GenericDataLoader

    folder = beir_folder(tmp_path / "user")
    breaks(folder)
    check = check_folder(folder)
    assert any(repair in r for r in check.repairs), check.repairs
    for split in ("train", "dev", "test"):  # BEIR's loader now reads every split
        corpus, queries, qrels = GenericDataLoader(data_folder=str(folder)).load(split=split)
        assert qrels and all(q in queries for q in qrels)
        assert all(d in corpus for docs in qrels.values() for d in docs)
        assert all(isinstance(grade, int) for docs in qrels.values() for grade in docs.values())
        assert all(text.strip() for text in queries.values())


def test_folder_sizes_are_recorded_for_the_later_checks(tmp_path):
    folder = beir_folder(tmp_path / "user")
    mutate(folder, "qrels/test.tsv", lambda t: t + "q:p0000\td:p0001\t0\n")  # one more judged passage
    stats = check_folder(folder).stats
    # 240 pairs: 40 test, 20 dev, 180 train, one passage each; q:p0000 now judges two passages.
    assert stats["corpus"] == 240 and stats["queries"] == 240
    assert stats["splits"]["train"] == {"queries": 180, "pairs": 180, "max_judged": 1}
    assert stats["splits"]["test"]["max_judged"] == 2


def test_a_broken_local_collection_fails_in_its_first_job(tmp_path):
    folder = beir_folder(tmp_path / "user")
    mutate(folder, "corpus.jsonl", lambda t: t.replace('"_id"', '"id"'))
    result = snakemake(tmp_path, "--cores", "1", config=write(tmp_path / "config.yaml", local_config(folder)))
    assert result.returncode != 0
    log = (tmp_path / "logs" / "prepare_collection" / "loc.log").read_text()
    assert f"{folder}/corpus.jsonl, line 1: no '_id' field" in log
    assert not (tmp_path / "results" / "runs").exists()
    assert not (tmp_path / "resources" / "collections" / "loc").exists()


@pytest.mark.parametrize(("config", "message"), [
    ({"data_sizes": [30]}, "collections.loc: its corpus has 60 passages and a test query judges up to 1, which leaves "
                           "59 to draw K = 64 sampled negatives from; set collections.loc.negatives to at most 59"),
    ({"data_sizes": [100], "evaluation": {"negatives": 32}},
     "data_sizes: 100 training pairs exceed the 0 relevant pairs in qrels/train.tsv"),
], ids=["K above the corpus", "data size above the training pairs"])
def test_what_only_preparing_shows_fails_in_prepare_collection(tmp_path, config, message):
    folder = beir_folder(tmp_path / "user", pairs=60)  # 40 test, 20 dev, no train pair
    result = snakemake(tmp_path, "--cores", "1", "resources/collections/loc",
                       config=write(tmp_path / "config.yaml", {**local_config(folder), **config}))
    assert result.returncode != 0
    assert message in (tmp_path / "logs" / "prepare_collection" / "loc.log").read_text()


def test_a_prepared_collection_is_rechecked_at_planning_when_k_changes(tmp_path):
    folder = beir_folder(tmp_path / "user")
    config = local_config(folder)
    result = snakemake(tmp_path, "--cores", "1", "resources/collections/loc",
                       config=write(tmp_path / "config.yaml", config))
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "resources" / "collections" / "loc" / "manifest.json").read_text())
    assert manifest["repairs"] == [] and manifest["stats"]["corpus"] == 240
    result = dry_run(tmp_path, {**config, "evaluation": {"negatives": 500}})
    assert result.returncode != 0
    assert "set collections.loc.negatives to at most 239" in result.stdout + result.stderr
    result = dry_run(tmp_path, {**config, "evaluation": {"negatives": 500},
                                "collections": {"loc": {**config["collections"]["loc"], "negatives": 200}}})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "prepare_collection" not in job_counts(result.stdout)  # K is no reason to rebuild the collection


def test_an_ood_collection_sharing_training_texts_fails(tmp_path):
    folder = beir_folder(tmp_path / "user")
    leak = beir_folder(tmp_path / "leak")
    (leak / "qrels" / "test.tsv").write_text((leak / "qrels" / "train.tsv").read_text())
    config = local_config(folder)
    config["collections"]["ood"] = {"source": f"local:{leak}"}
    config["ood"] = ["ood"]
    result = snakemake(tmp_path, "--cores", "1", "resources/collections/ood",
                       config=write(tmp_path / "config.yaml", config))
    assert result.returncode != 0
    assert ("collections.ood: 180 of the 180 relevant test pairs share their query or passage text with the "
            "training split of the in-domain collection 'loc'") in (tmp_path / "logs" / "prepare_collection" /
                                                                    "ood.log").read_text()


# Models: weights are required unless random init is asked for.
def test_a_weightless_model_fails_in_prepare_model_unless_random_init(tmp_path):
    from drscale.models import ModelSpec, prepare_model

    source = tmp_path / "source"
    source.mkdir()
    (source / "config.json").write_text("{}")
    spec = ModelSpec.from_config("mine", {"local": str(source), "learning_rate": 1e-4})
    with pytest.raises(FileNotFoundError, match="models.mine: .* has no weights .* models.mine.random_init: true"):
        prepare_model(spec, tmp_path / "prepared")
    prepare_model(spec, tmp_path / "random", random_init=True)
    assert (tmp_path / "random" / "config.json").exists()


# The checkpoint folder of a train job is not shared with a live process.
def test_a_live_process_holding_the_checkpoint_folder_is_refused(tmp_path):
    folder = tmp_path / "checkpoints" / "seed~0"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = folder.with_name("seed~0.lock")
        lock.parent.mkdir(parents=True)
        lock.write_text(json.dumps({"host": os.uname().nodename, "pid": holder.pid}))
        with pytest.raises(CheckpointFolderBusy, match=rf"in use by process {holder.pid} .*\(kill {holder.pid}\)"):
            claim_checkpoint_folder(folder)
    finally:
        holder.kill()
        holder.wait()
    assert claim_checkpoint_folder(folder) == lock  # the dead holder's lock is taken over
    assert json.loads(lock.read_text())["pid"] == os.getpid()


def test_the_checkpoint_lock_is_released_when_the_job_exits(tmp_path):
    folder = tmp_path / "seed~0"
    code = f"from pathlib import Path; from drscale.checkpoints import claim_checkpoint_folder; " \
           f"print(claim_checkpoint_folder(Path({str(folder)!r})).exists())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr
    assert not folder.with_name("seed~0.lock").exists()


# A failed job leaves every finished output of other jobs in place.
def test_a_failed_job_keeps_the_finished_outputs(tmp_path):
    folder = beir_folder(tmp_path / "user")
    other = beir_folder(tmp_path / "other")
    for name in ("corpus.jsonl", "queries.jsonl"):  # other texts than the in-domain folder's
        mutate(other, name, lambda t: t.replace("number", "item"))
    config = local_config(folder)
    config["collections"]["other"] = {"source": f"local:{other}"}
    config["ood"] = ["other"]
    targets = ["resources/collections/loc", "resources/collections/other", "resources/tokenizer",
               "results/train_pairs/data~100.jsonl"]
    result = snakemake(tmp_path, "--cores", "1", *targets, config=write(tmp_path / "config.yaml", config))
    assert result.returncode == 0, result.stderr[-3000:]
    finished = {p: p.stat().st_mtime_ns for d in ("resources", "results") for p in (tmp_path / d).rglob("*")
                if p.is_file()}
    broken = beir_folder(tmp_path / "broken")
    mutate(broken, "queries.jsonl", edit_line(3, lambda line: line[:20] + "\n"))
    config["collections"]["broken"] = {"source": f"local:{broken}"}
    config["ood"] = ["other", "broken"]
    config["data_sizes"] = [50, 100]
    result = snakemake(tmp_path, "--cores", "1", "--keep-going", *targets, "resources/collections/broken",
                       "results/train_pairs/data~50.jsonl", config=write(tmp_path / "config.yaml", config))
    assert result.returncode != 0
    log = (tmp_path / "logs" / "prepare_collection" / "broken.log").read_text()
    assert f"{broken}/queries.jsonl, line 3: not valid JSON" in log
    assert not (tmp_path / "resources" / "collections" / "broken").exists()
    assert (tmp_path / "results" / "train_pairs" / "data~50.jsonl").exists()  # the other new job finished
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # nothing finished was removed or rewritten
