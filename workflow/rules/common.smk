import itertools
import json
import os
import re

import pandas as pd
from snakemake.utils import Paramspace, validate

from drscale.grid import (
    check_config,
    docstring_packages,
    evaluated_collections,
    fitted_families,
    grid_table,
    tokenizer_of,
    tokenizers,
)
from drscale.resources import Planner, slurm_request

validate(config, schema="../schemas/config.schema.yaml")
try:
    check_config(config)
except ValueError as error:
    raise WorkflowError(f"invalid config: {error}")


GRID = Paramspace(grid_table(config), filename_params=None)
RUN = GRID.wildcard_pattern  # model~{model}/data~{data}/strategy~{strategy}/seed~{seed}
COLLECTIONS = evaluated_collections(config)
# Evaluation roles (the {split} wildcard) and the key naming each role's qrels split: test
# metrics are the results; validation metrics are what choices (e.g. the Pareto target) may read.
SPLIT_KEYS = {"test": "test_split", "validation": "validation_split"}
IN_DOMAIN = config["in_domain"]  # the attacked collection (ce_adv)
PACKAGES = docstring_packages(config)
FAMILIES = fitted_families(config)
TOKENIZERS = tokenizers(config)
PLANNER = Planner(config)  # the resource model: mem_mb and runtime of the heavy rules


# Cheap table, metric and plot steps run on the submitting node, not as cluster jobs.
localrules:
    training_pairs,
    pareto_target,
    evaluate,
    evaluate_attack,
    aggregate,
    fit,
    frontier,
    plot_scaling,
    plot_summary,
    plot_trajectories,
    report,


wildcard_constraints:
    model="|".join(map(re.escape, config["models"])),
    data=r"\d+",
    strategy="|".join(config["strategies"]),
    seed=r"\d+",
    split="|".join(SPLIT_KEYS),
    collection="|".join(map(re.escape, config["collections"])),
    family="|".join(map(re.escape, FAMILIES)),
    tokenizer="|".join(map(re.escape, TOKENIZERS)),
    package="|".join(map(re.escape, PACKAGES)) if PACKAGES else "(?!)",


def planned(rule_name, key):
    """A resource callable: the resource model's ``mem_mb`` or ``runtime`` for this job.

    Sized from the config (corpus sizes, model shape, steps, batch), the job's threads and
    attempt (2x, 3x on a retry); GPUs per job are the SLURM profile's ``DRSCALE_SLURM_GPUS``
    when set (a CPU-only cluster), else ``training.gpu``.
    """

    def request(wildcards, threads, attempt):
        keys = {
            k: wildcards[k]
            for k in ("model", "data", "strategy", "collection")
            if k in wildcards.keys()
        }
        gpus = os.environ.get("DRSCALE_SLURM_GPUS", "").strip()
        cost = PLANNER.cost(
            rule_name, threads=threads, gpus=int(gpus) if gpus else None, **keys
        )
        return slurm_request(cost, attempt)[key]

    return request


def canonical(value):
    """Dicts with sorted keys: Snakemake's params-change trigger compares their order too."""
    return json.loads(json.dumps(value, sort_keys=True))


def collection_entry(wildcards):
    return canonical(config["collections"][wildcards.collection])


def model_entry(wildcards):
    return canonical(config["models"][wildcards.model])


def has_validation(collection):
    """Whether a collection has validation qrels: a docstrings collection only with dev queries,
    a local:/beir: one unless its entry sets validation_split: null."""
    entry = config["collections"][collection]
    if entry["validation_split"] is None:
        return False
    return entry["source"] != "docstrings" or entry["dev_queries"] > 0


def collection_splits(collection):
    """The roles a collection is evaluated in."""
    return ["test", "validation"] if has_validation(collection) else ["test"]


def qrels_split(wildcards):
    """The qrels split of the job's role ({split}) in its collection."""
    return config["collections"][wildcards.collection][SPLIT_KEYS[wildcards.split]]


def query_splits(wildcards):
    """The qrels splits whose queries a token cache holds (test, and validation where it exists)."""
    entry = config["collections"][wildcards.collection]
    return [entry[SPLIT_KEYS[s]] for s in collection_splits(wildcards.collection)]


def in_domain_split(wildcards):
    """The in-domain qrels split of the job's role ({split}; the attack rules name no collection)."""
    return config["collections"][IN_DOMAIN][SPLIT_KEYS[wildcards.split]]


def collection_negatives(collection):
    """K, the sampled negatives of a collection's CE (collections.<name>.negatives, else
    evaluation.negatives)."""
    return (
        config["collections"][collection]["negatives"]
        or config["evaluation"]["negatives"]
    )


def collection_source(wildcards):
    return config["collections"][wildcards.collection]["source"]


def harvest_inputs(wildcards):
    """A docstring collection depends on every package's harvest (deduplication is global)."""
    if collection_source(wildcards) != "docstrings":
        return {}
    return {p: f"resources/docstrings/{p}.jsonl" for p in PACKAGES}


def tokenizer_folder(wildcards):
    """The trained WordPiece, or the prepared folder of the first model that names the tokenizer."""
    model = TOKENIZERS[wildcards.tokenizer]
    return "resources/tokenizer" if model is None else f"resources/models/{model}"


def collection_tokens(wildcards):
    """The token cache of the job's collection under the run's model's tokenizer."""
    tokenizer = tokenizer_of(config, wildcards.model)
    return f"resources/tokens/{tokenizer}/{wildcards.collection}.npz"


def collection_roles(wildcards):
    """Role -> qrels split of the job's collection (test, and validation where it has one)."""
    entry = config["collections"][wildcards.collection]
    return {s: entry[SPLIT_KEYS[s]] for s in collection_splits(wildcards.collection)}


def attacked_queries(wildcards):
    """The attack's query subset (count, seed) on the in-domain collection, None elsewhere: the
    encode pass keeps those queries' scores over the whole corpus, from which ranks follow."""
    if wildcards.collection != IN_DOMAIN:
        return None
    return {k: config["attack"][k] for k in ("queries", "seed")}


def start_model_inputs(wildcards):
    entry = config["models"][wildcards.model]
    return {"tokenizer": "resources/tokenizer"} if "init" in entry else {}


def analysis_outputs():
    return [
        "results/metrics.tsv",
        "results/summary.md",
        "results/fits.tsv",
        "results/frontier.tsv",
        "results/efficiency.tsv",
        "results/plots/exponents.png",
        "results/plots/frontier.png",
        "results/plots/pareto_trajectories.png",
        *expand("results/plots/scaling_{family}.png", family=FAMILIES),
    ]


def run_metrics(run, split="test"):
    """(collection, metrics JSON) pairs of one run in one role: the clean metrics of every
    evaluated collection that has the role, and the attack's on the in-domain one."""
    collections = [c for c in COLLECTIONS if split in collection_splits(c)]
    pairs = [(c, f"results/runs/{run}/metrics/{split}/{c}.json") for c in collections]
    if IN_DOMAIN in collections:
        pairs.append(
            (IN_DOMAIN, f"results/runs/{run}/metrics/{split}/{IN_DOMAIN}.adv.json")
        )
    return pairs


def run_records():
    """Per run: its path id, model_info.json and its test (collection, metrics JSON) pairs."""
    return [
        {
            "run": run,
            "model_info": f"results/runs/{run}/model_info.json",
            "metrics": run_metrics(run),
        }
        for run in GRID.instance_patterns
    ]


def final_outputs():
    return ["results/report.html"]


# Training strategies (docs/design.md, section 5; rules in strategies.smk).
BASELINE_STRATEGIES = ["standard", "hard_negative", "denoising", "adversarial"]
PARETO_STRATEGIES = ["pareto", "pareto_mgda"]
# The config sections each strategy reads; only these reach a train job's params, so that
# editing e.g. the pareto section never reruns a standard run.
STRATEGY_SECTIONS = {
    "standard": [],
    "hard_negative": ["mining"],
    "denoising": ["mining", "denoising"],
    "adversarial": ["adversarial"],
    "pareto": ["adversarial", "pareto"],
    "pareto_mgda": ["adversarial", "pareto"],
}
# The denoising teacher: the standard run of the same (model, data, seed).
TEACHER_RUN = "results/runs/model~{model}/data~{data}/strategy~standard/seed~{seed}"
TEACHER_SCORES = f"{TEACHER_RUN}/teacher_scores.jsonl"


def mined_negatives(wildcards):
    return f"results/train_pairs/data~{wildcards.data}.negatives.jsonl"


def strategy_inputs(wildcards):
    """Extra inputs of a train job: mined negatives, the teacher's scores, the Pareto target."""
    strategy = wildcards.strategy
    inputs = {}
    if strategy in ("hard_negative", "denoising"):
        inputs["negatives"] = mined_negatives(wildcards)
    if strategy == "denoising" and config["denoising"]["teacher"] == "standard":
        if "standard" not in config["strategies"]:
            raise WorkflowError(
                "denoising.teacher 'standard' scores the negatives with the standard run of "
                "the same (model, data, seed): add 'standard' to 'strategies' or set "
                "denoising.teacher to 'bm25'"
            )
        inputs["teacher_scores"] = TEACHER_SCORES.format(**wildcards)
    if strategy in PARETO_STRATEGIES:
        inputs["pareto_target"] = "results/pareto/target.json"
    return inputs


def strategy_config(wildcards):
    """The config sections the run's strategy reads, the score scale and, for the strategies
    with a robustness loss, the evaluation attack's synonym source."""
    sections = {s: config[s] for s in STRATEGY_SECTIONS[wildcards.strategy]}
    sections["evaluation"] = {"score_scale": config["evaluation"]["score_scale"]}
    if "adversarial" in sections:
        sections["attack"] = {"synonyms": config["attack"]["synonyms"]}
    return canonical(sections)


def pareto_target_runs():
    """The baseline runs r* is estimated from: every baseline strategy of the grid at the
    pareto target models and data sizes (default: the smallest point where the strategies run,
    i.e. the first of ``strategy_points.models`` and the smallest of its ``data_sizes``), every
    seed. Empty when no Pareto strategy runs or r* and w_0 are both given.
    """
    pareto = config["pareto"]
    if not set(PARETO_STRATEGIES) & set(config["strategies"]):
        return []
    if pareto["target_ratio"] is not None and pareto["w0"] is not None:
        return []
    baselines = [s for s in config["strategies"] if s in BASELINE_STRATEGIES]
    if not baselines:
        raise WorkflowError(
            f"Pareto training estimates r* from the baseline strategies {BASELINE_STRATEGIES}, "
            "none of which is in 'strategies': add one or set pareto.target_ratio"
        )
    points = config.get("strategy_points") or {}
    models = (
        pareto["target_models"] or (points.get("models") or list(config["models"]))[:1]
    )
    data_sizes = pareto["target_data_sizes"] or [
        min(points.get("data_sizes") or config["data_sizes"])
    ]
    off_grid = [m for m in models if m not in config["models"]]
    off_grid += [d for d in data_sizes if d not in config["data_sizes"]]
    if off_grid:
        raise WorkflowError(
            f"pareto.target_models / target_data_sizes name {off_grid}, which are not on the grid"
        )
    records = []
    for model, data, strategy, seed in itertools.product(
        models, data_sizes, baselines, config["seeds"]
    ):
        run = f"model~{model}/data~{data}/strategy~{strategy}/seed~{seed}"
        records.append(
            {
                "run": run,
                "model_info": f"results/runs/{run}/model_info.json",
                "metrics": run_metrics(run),
            }
        )
    return records


def pareto_target_inputs(wildcards):
    records = pareto_target_runs()
    return [r["model_info"] for r in records] + [
        p for r in records for _, p in r["metrics"]
    ]


def pareto_trajectories():
    """Per-step w_t, L_eff and L_rob tables of every Pareto-trained run (empty without one)."""
    return [
        f"results/runs/{run}/trajectory.tsv"
        for run in GRID.instance_patterns
        if any(f"strategy~{s}/" in run for s in PARETO_STRATEGIES)
    ]
