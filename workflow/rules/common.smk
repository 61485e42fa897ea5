import json
import os
import re

import pandas as pd
from snakemake.utils import Paramspace, validate

from drscale.grid import (
    check_config,
    check_prepared_collections,
    docstring_packages,
    evaluated_collections,
    fitted_families,
    grid_table,
    schema_error_message,
    tokenizer_of,
    tokenizers,
)
from drscale.registry import REGISTRY, baseline_strategies, pareto_strategies
from drscale.resources import Planner, slurm_request

try:
    validate(config, schema="../schemas/config.schema.yaml")
except WorkflowError as error:  # Snakemake's message repeats the whole schema
    cause = error.__context__  # the jsonschema ValidationError
    if not hasattr(cause, "absolute_path"):
        raise
    raise WorkflowError(f"invalid config: {schema_error_message(cause)}")
try:
    check_config(config)
    check_prepared_collections(config)
except ValueError as error:
    raise WorkflowError(f"invalid config: {error}")


GRID_TABLE = grid_table(config)
GRID = Paramspace(GRID_TABLE, filename_params=None)
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
    evaluate,
    evaluate_attack,
    aggregate,
    fit,
    costs,
    frontier,
    findings,
    budget,
    summary,
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


def collection_inputs(wildcards):
    """A docstring collection depends on every package's harvest (deduplication is global); an OOD
    collection on the in-domain one, whose training texts its tests must not share (two docstring
    collections share none: deduplication is global and check_config forbids shared packages).
    """
    inputs = {}
    if collection_source(wildcards) == "docstrings":
        inputs = {p: f"resources/docstrings/{p}.jsonl" for p in PACKAGES}
    both_docstrings = (
        collection_source(wildcards)
        == "docstrings"
        == config["collections"][IN_DOMAIN]["source"]
    )
    if wildcards.collection != IN_DOMAIN and not both_docstrings:
        inputs["in_domain"] = f"resources/collections/{IN_DOMAIN}"
    return inputs


def preparation_entry(wildcards):
    """The collection's keys that change its folder: not its K or evaluated splits, so that changing
    those re-checks the folder (at planning) instead of rebuilding it and retraining every model.
    """
    entry = config["collections"][wildcards.collection]
    return canonical(
        {
            k: v
            for k, v in entry.items()
            if k not in ("negatives", "test_split", "validation_split")
        }
    )


def tokenizer_folder(wildcards):
    """The trained WordPiece, or the prepared folder of the first model that names the tokenizer."""
    model = TOKENIZERS[wildcards.tokenizer]
    return "resources/tokenizer" if model is None else f"resources/models/{model}"


def collection_tokens(wildcards):
    """The job's collection's token cache under the run's model's tokenizer."""
    tokenizer = tokenizer_of(config, wildcards.model)
    return f"resources/tokens/{tokenizer}/{wildcards.collection}.npz"


def collection_roles(wildcards):
    """Role -> qrels split of the job's collection (test, and validation where it has one)."""
    entry = config["collections"][wildcards.collection]
    return {s: entry[SPLIT_KEYS[s]] for s in collection_splits(wildcards.collection)}


def attacked_queries(wildcards):
    """The attack's query subset (count, seed) on the in-domain collection, None elsewhere: the
    encode pass keeps those queries' scores over the whole corpus, from which ranks follow.
    """
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
        "results/findings.tsv",
        "results/fits.tsv",
        "results/cost_fits.tsv",
        "results/budget.tsv",
        "results/frontier.tsv",
        "results/efficiency.tsv",
        "results/plots/iso_cost.png",
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


def cost_records():
    """Per run: its model_info.json, the benchmark files of its train, encode (one per
    collection) and attack jobs (products of those jobs, so listing them as inputs makes
    Snakemake run the jobs) and the token caches its encode jobs read."""
    records = []
    for row in grid_table(config).itertuples():
        run = (
            f"model~{row.model}/data~{row.data}/strategy~{row.strategy}/seed~{row.seed}"
        )
        tokenizer = tokenizer_of(config, row.model)
        records.append(
            {
                "run": run,
                "model_info": f"results/runs/{run}/model_info.json",
                "benchmarks": {
                    "train": [f"results/benchmarks/train/{run}.tsv"],
                    "encode": [
                        f"results/benchmarks/encode/{run}/{c}.tsv" for c in COLLECTIONS
                    ],
                    "attack": [f"results/benchmarks/attack/{run}/test/{IN_DOMAIN}.tsv"],
                },
                "tokens": [
                    f"resources/tokens/{tokenizer}/{c}.npz" for c in COLLECTIONS
                ],
            }
        )
    return records


def cost_inputs():
    records = cost_records()
    paths = [r["model_info"] for r in records]
    paths += [p for r in records for stage in r["benchmarks"].values() for p in stage]
    return list(dict.fromkeys(paths + [p for r in records for p in r["tokens"]]))


def made_by_a_rule(path):
    return any(str(f) == path for rule in workflow.rules for f in rule.output)


def findings_inputs(wildcards):
    """What the findings read; per-seed families only where a rule makes them."""
    inputs = {
        "families": "results/families.tsv",
        "fits": "results/fits.tsv",
        "draws": "results/fit_bootstrap.tsv",
        "frontier": "results/frontier.tsv",
        "efficiency": "results/efficiency.tsv",
        "cost_fits": "results/cost_fits.tsv",
    }
    if made_by_a_rule("results/families_by_seed.tsv"):
        inputs["by_seed"] = "results/families_by_seed.tsv"
    return inputs


def final_outputs():
    return ["results/report.html"]


# Training strategies (docs/design.md section 5; rules in strategies.smk), from the registry.
BASELINE_STRATEGIES = baseline_strategies()
PARETO_STRATEGIES = pareto_strategies()
# The denoising teacher: the standard run of the same (model, data, seed).
TEACHER_RUN = "results/runs/model~{model}/data~{data}/strategy~standard/seed~{seed}"
TEACHER_SCORES = f"{TEACHER_RUN}/teacher_scores.jsonl"


def mined_negatives(wildcards):
    return f"results/train_pairs/data~{wildcards.data}.negatives.jsonl"


def teacher_scores(wildcards):
    """The standard teacher's scores; none for the 'bm25' teacher (the mining scores)."""
    if config["denoising"]["teacher"] != "standard":
        return None
    if "standard" not in config["strategies"]:
        raise WorkflowError(
            "denoising.teacher 'standard' scores the negatives with the standard run of "
            "the same (model, data, seed): add 'standard' to 'strategies' or set "
            "denoising.teacher to 'bm25'"
        )
    return TEACHER_SCORES.format(**wildcards)


# The path of each extra input a strategy's registry entry names (None: not needed).
STRATEGY_INPUTS = {
    "negatives": mined_negatives,
    "teacher_scores": teacher_scores,
    "pareto_target": lambda wildcards: "results/pareto/target.json",
    "validation_probe": lambda wildcards: probe_input(wildcards),
}


def strategy_inputs(wildcards):
    """Extra inputs of a train job, as the registry lists them for its strategy."""
    inputs = {
        name: STRATEGY_INPUTS[name](wildcards)
        for name in REGISTRY[wildcards.strategy].inputs
    }
    return {name: path for name, path in inputs.items() if path is not None}


def strategy_config(wildcards):
    """The config sections the run's strategy reads, the score scale and, for the strategies
    with a robustness loss, the evaluation attack's synonym source."""
    sections = {s: config[s] for s in REGISTRY[wildcards.strategy].sections}
    sections["evaluation"] = {"score_scale": config["evaluation"]["score_scale"]}
    if "adversarial" in sections:
        sections["attack"] = {"synonyms": config["attack"]["synonyms"]}
    return canonical(sections)


def probe_collections():
    """(name, role, split) of every evaluated collection with validation data: the validation
    probe's parts. Collections without it are left out of the probe (and so of r*)."""
    return [
        [
            c,
            "in_domain" if c == IN_DOMAIN else "ood",
            config["collections"][c]["validation_split"],
        ]
        for c in COLLECTIONS
        if has_validation(c)
    ]


PROBE = "results/pareto/probe.json"


def require_validation():
    """r* and the controller read validation data only: the in-domain collection must have some."""
    if not has_validation(IN_DOMAIN):
        raise WorkflowError(
            f"Pareto training measures r* and steers on validation data only, and the in-domain "
            f"collection {IN_DOMAIN!r} has none: set collections.{IN_DOMAIN}.dev_queries (docstrings) "
            "or its validation_split, or give pareto.target_ratio and w0 with pareto.signal "
            "training_loss"
        )


def probe_input(wildcards):
    """The probe the controller measures (none for the paper's training-loss signal)."""
    if config["pareto"]["signal"] != "validation_probe":
        return None
    require_validation()
    return PROBE


def pareto_target_runs():
    """The baseline runs r* is estimated from: every baseline strategy of the grid at the
    pareto target models and data sizes (default: the smallest point where the strategies run,
    i.e. the first of ``strategy_points.models`` and the smallest of its ``data_sizes``), every
    seed they run with. Empty when no Pareto strategy runs or r* is given (w_0 follows from it).
    """
    pareto = config["pareto"]
    if not set(PARETO_STRATEGIES) & set(config["strategies"]):
        return []
    if (
        pareto["target_ratio"] is not None
    ):  # w_0 defaults to r* / (1 + r*): no run needed
        return []
    baselines = [s for s in config["strategies"] if s in BASELINE_STRATEGIES]
    if not baselines:
        raise WorkflowError(
            f"Pareto training estimates r* from the baseline strategies {BASELINE_STRATEGIES}, "
            "none of which is in 'strategies': add one to 'strategies' or set "
            "pareto.target_ratio (w_0 then defaults to r* / (1 + r*), or set pareto.w0 too)"
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
    require_validation()
    runs = GRID_TABLE[
        GRID_TABLE["model"].isin(models)
        & GRID_TABLE["data"].isin(data_sizes)
        & GRID_TABLE["strategy"].isin(baselines)
    ]
    return [
        {
            "run": f"results/runs/model~{r.model}/data~{r.data}/strategy~{r.strategy}/seed~{r.seed}",
            "model": r.model,
            "data_size": int(r.data),
            "strategy": r.strategy,
            "seed": int(r.seed),
        }
        for r in runs.itertuples()
    ]


def pareto_target_inputs(wildcards):
    runs = pareto_target_runs()
    inputs = {"models": [f"{r['run']}/model" for r in runs]}
    if runs:
        inputs["probe"] = PROBE
    return inputs


def pareto_trajectories():
    """Per-step w_t, L_eff and L_rob tables of every Pareto-trained run (empty without one)."""
    return [
        f"results/runs/{run}/trajectory.tsv"
        for run in GRID.instance_patterns
        if any(f"strategy~{s}/" in run for s in PARETO_STRATEGIES)
    ]
