import json
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

validate(config, schema="../schemas/config.schema.yaml")
try:
    check_config(config)
except ValueError as error:
    raise WorkflowError(f"invalid config: {error}")


GRID = Paramspace(grid_table(config), filename_params=None)
RUN = GRID.wildcard_pattern  # model~{model}/data~{data}/strategy~{strategy}/seed~{seed}
COLLECTIONS = evaluated_collections(config)
PACKAGES = docstring_packages(config)
FAMILIES = fitted_families(config)
TOKENIZERS = tokenizers(config)


wildcard_constraints:
    model="|".join(map(re.escape, config["models"])),
    data=r"\d+",
    strategy="|".join(config["strategies"]),
    seed=r"\d+",
    collection="|".join(map(re.escape, config["collections"])),
    family="|".join(map(re.escape, FAMILIES)),
    tokenizer="|".join(map(re.escape, TOKENIZERS)),
    package="|".join(map(re.escape, PACKAGES)) if PACKAGES else "(?!)",


def canonical(value):
    """Dicts with sorted keys: Snakemake's params-change trigger compares their order too."""
    return json.loads(json.dumps(value, sort_keys=True))


def collection_entry(wildcards):
    return canonical(config["collections"][wildcards.collection])


def model_entry(wildcards):
    return canonical(config["models"][wildcards.model])


def test_split(wildcards):
    return config["collections"][wildcards.collection]["test_split"]


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
    """The token caches of every evaluated collection under the run's model's tokenizer."""
    tokenizer = tokenizer_of(config, wildcards.model)
    return [f"resources/tokens/{tokenizer}/{c}.npz" for c in COLLECTIONS]


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
        *expand("results/plots/scaling_{family}.png", family=FAMILIES),
    ]


def run_records():
    """Per run: its path id, model_info.json and its (collection, metrics JSON) pairs.

    Every evaluated collection has clean metrics; the in-domain one also has the attack's.
    """
    in_domain = config["in_domain"]
    return [
        {
            "run": run,
            "model_info": f"results/runs/{run}/model_info.json",
            "metrics": [
                (c, f"results/runs/{run}/metrics/{c}.json") for c in COLLECTIONS
            ]
            + [(in_domain, f"results/runs/{run}/metrics/{in_domain}.adv.json")],
        }
        for run in GRID.instance_patterns
    ]


def final_outputs():
    return ["results/report.html"]
