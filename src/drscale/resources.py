"""What each job of the grid costs: compute time, peak memory and disk, before anything runs.

A cluster scheduler kills a job that outgrows its memory or time request, so the SLURM profile
sizes each job from this model (resource callables in ``workflow/rules/common.smk``), and
``scripts/resources.py`` sums it over a whole config. Everything is a plain function of the
config, the collections' sizes and the models' shapes; no torch, no files but an optional count
of a prepared collection's passages.

Arithmetic is counted exactly (matmul FLOPs of a BERT encoder, bytes of float32 embeddings and
int32 token ids); time and memory constants are calibrated from measurements, each named below
with where it comes from. GPU throughput was never measured for this project: the GPU constants
are **assumptions** (marked so), not measurements.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

MB = 1e6
GB = 1e9

# --- collections --------------------------------------------------------------------------------
# BEIR corpus sizes, evaluated queries and mean words per passage / query (Thakur et al. 2021,
# Table 1; MS MARCO's queries are its dev split, the one config/paper.yaml evaluates). A beir:
# collection is not known offline, so planning reads its size here.
BEIR_COLLECTIONS = {
    "msmarco": (8_841_823, 6_980, 55.98, 5.96),
    "trec-covid": (171_332, 50, 160.77, 10.60),
    "nfcorpus": (3_633, 323, 232.26, 3.30),
    "fiqa": (57_638, 648, 132.32, 10.77),
    "arguana": (8_674, 1_406, 166.80, 192.98),
    "scifact": (5_183, 300, 213.63, 12.37),
}
TOKENS_PER_WORD = 1.3  # assumption: WordPiece pieces per English word (BERT's vocabulary)
# A docstrings or local collection that is not prepared yet: an upper bound of its size (the
# default's largest harvest is a few tens of thousands of passages).
UNPREPARED_PASSAGES = 100_000
ID_BYTES = 4 * 12  # numpy unicode ids: 4 bytes per character, ids of up to 12 characters
TOP_K = 100  # passages kept per query by encode (drscale.evaluate.TOP_K)
QUERY_CHUNK = 256  # queries scored against a shard at a time (drscale.encode.score_collection)


@dataclass(frozen=True)
class CollectionSize:
    """Passages and evaluated queries, and their mean token lengths after truncation."""

    passages: int
    queries: int
    passage_tokens: float
    query_tokens: float


def collection_size(name: str, entry: dict, query_length: int, passage_length: int,
                    prepared: Path | None = None) -> CollectionSize:
    """The size of one configured collection.

    ``beir:`` names come from :data:`BEIR_COLLECTIONS`; any other source is counted from its
    prepared folder (``prepared``/corpus.jsonl and the test qrels) when it exists, else bounded by
    :data:`UNPREPARED_PASSAGES`. Unknown lengths are taken at the token limit (an upper bound).
    """
    source = entry["source"]
    if source.startswith("beir:") and source[5:] in BEIR_COLLECTIONS:
        passages, queries, words, query_words = BEIR_COLLECTIONS[source[5:]]
        return CollectionSize(passages, queries, min(passage_length, TOKENS_PER_WORD * words + 2),
                              min(query_length, TOKENS_PER_WORD * query_words + 2))
    if source.startswith("local:"):
        prepared = Path(source[6:])
    if prepared is not None and (prepared / "corpus.jsonl").exists():
        passages = _count_lines(prepared / "corpus.jsonl")
        qrels = prepared / "qrels" / f"{entry.get('test_split', 'test')}.tsv"
        queries = len({line.split("\t")[0] for line in qrels.read_text().splitlines()[1:]}) if qrels.exists() else 0
    else:
        passages, queries = UNPREPARED_PASSAGES, entry.get("test_queries", 1000)
    return CollectionSize(passages, queries, passage_length, query_length)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b""))


# --- models ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """A BERT encoder's shape: what its FLOPs, parameters and embedding width follow from."""

    layers: int
    hidden: int
    heads: int
    intermediate: int
    vocab: int = 30_522
    positions: int = 512

    @property
    def matmul_params(self) -> int:
        """Weights of the matrix products a token goes through (attention and feed-forward)."""
        return self.layers * (4 * self.hidden**2 + 2 * self.hidden * self.intermediate)

    @property
    def non_embedding_params(self) -> int:
        """Kaplan et al.'s N as ``drscale.models.parameter_counts`` counts it (pooler included)."""
        h, i = self.hidden, self.intermediate
        per_layer = 4 * h * h + 4 * h + 2 * h * i + i + h + 4 * h  # q, k, v, o; ffn in, out; 2 LayerNorms
        return self.layers * per_layer + 2 * h + h * h + h  # embedding LayerNorm, pooler

    @property
    def total_params(self) -> int:
        return self.non_embedding_params + (self.vocab + self.positions + 2) * self.hidden

    def forward_flops(self, length: float) -> float:
        """FLOPs of one text of ``length`` tokens: 2 per weight and token, plus QK^T and AV."""
        return 2 * self.matmul_params * length + 4 * self.layers * length**2 * self.hidden


BERT_BASE = Shape(12, 768, 12, 3072)
_MINIATURE = re.compile(r"L-(\d+)_H-(\d+)_A-(\d+)")
KNOWN_HUB_SHAPES = {"bert-base-uncased": BERT_BASE, "google-bert/bert-base-uncased": BERT_BASE}


def model_shape(entry: dict, vocab_size: int, max_positions: int) -> Shape:
    """The shape of a ``models`` entry: ``init`` gives it; Google's BERT miniatures and
    :data:`KNOWN_HUB_SHAPES` are read from their hub name; any other model is sized as BERT-base,
    the largest encoder this project is meant for (an over-estimate for smaller ones)."""
    if "init" in entry:
        init = entry["init"]
        return Shape(init["layers"], init["hidden"], init["heads"], init.get("intermediate", 4 * init["hidden"]),
                     vocab_size, max_positions)
    name = entry.get("hf", "")
    match = _MINIATURE.search(name)
    if match:
        layers, hidden, heads = map(int, match.groups())
        return Shape(layers, hidden, heads, 4 * hidden)
    return KNOWN_HUB_SHAPES.get(name, BERT_BASE)


def training_memory_bytes(shape: Shape, batch_size: int, query_length: int, passage_length: int,
                          texts_per_pair: int = 2, params: int | None = None) -> int:
    """A conservative estimate of the memory one training step needs, in bytes.

    fp32 weights, gradients and two AdamW moments (16 bytes per parameter), plus activations kept
    for the backward pass: per layer and token about 34 x hidden values (Korthikanti et al. 2022)
    and the attention maps (2 x heads x length per token), all fp32.
    """
    params = shape.total_params if params is None else params
    extra = max(texts_per_pair - 1, 1)
    tokens = batch_size * (query_length + extra * passage_length)
    per_token = shape.layers * (34 * shape.hidden + 2 * shape.heads * passage_length)
    return 16 * params + 4 * tokens * per_token


# --- throughput -----------------------------------------------------------------------------------
# CPU, measured (benchmarks/README.md, 1 thread, AMD EPYC, torch 2.13 CPU): encoding BERT-base shape
# 4 passages/s at 128 tokens, L2-H128 573 passages/s at 113.8 tokens, training L2-H128 252.7 pairs/s
# at 32 + 64 tokens. Those give 59-89 GFLOP/s per thread with this module's FLOP count
# (tests/test_resources.py recomputes them); the rate below is their low end.
CPU_FLOPS_PER_THREAD = 55e9
CPU_THREAD_EFFICIENCY = 0.7  # assumption: speed-up of t threads = 0.7 t (BLAS on shared cores)
# GPU, ASSUMED (never measured here): H100/H200 SXM dense bf16 peak 989 TFLOP/s at a model FLOPs
# utilisation of 30% for BERT-base (the low end of the 30-40% typical of encoder training), falling in proportion
# to the hidden size below 768 (small matrices do not fill the GPU), never below 2%.
GPU_PEAK_FLOPS = 989e12
GPU_MFU_BERT_BASE = 0.30
GPU_STEP_OVERHEAD_S = 0.015  # assumption: trainer, optimizer and kernel launches per training step
GPU_CALL_OVERHEAD_S = 0.003  # assumption: one encoder call (a batch) on a GPU, launches and copies
# Backward pass: 2x the forward FLOPs (Kaplan et al. 2020).
TRAIN_FLOPS_PER_FORWARD = 3


def gpu_mfu(shape: Shape) -> float:
    return max(0.02, GPU_MFU_BERT_BASE * min(1.0, shape.hidden / 768))


def compute_seconds(flops: float, shape: Shape, gpus: int, threads: int) -> float:
    if gpus:
        return flops / (GPU_PEAK_FLOPS * gpu_mfu(shape) * gpus)
    return flops / (CPU_FLOPS_PER_THREAD * max(1.0, CPU_THREAD_EFFICIENCY * threads))


# Measured on CPU in the `.test` workflow (results/benchmarks/*, cpu_time): a job's fixed cost
# (Python, torch and sentence-transformers imports, loading the model) and per-item overheads that
# are not arithmetic. See docs/design.md "Resource model" for the run and the fit.
FIXED_CPU_S = {"train": 9.5, "encode": 11.0, "evaluate": 0.5, "attack": 11.5, "tokenize": 2.5,
               "teacher_scores": 7.5, "sample_negatives": 1.4}
CPU_STEP_OVERHEAD_S = 0.012  # per training step at small widths (L1-H32 steady state, benchmarks/README.md)
# per text: tokenize it; pad and batch it for the encoder; load a passage of a collection (attack);
# read a passage id (sample_negatives)
CPU_PASSAGE_S = {"tokenize": 3.9e-5, "encode": 1.4e-5, "load": 2.0e-5, "ids": 1.2e-6}
# per token of an encoder forward pass on CPU, beyond its matmuls (embeddings, LayerNorm, softmax)
CPU_TOKEN_S = 4.5e-7
BASE_RSS = {"train": 600 * MB, "encode": 560 * MB, "evaluate": 150 * MB, "attack": 630 * MB,
            "tokenize": 280 * MB, "teacher_scores": 560 * MB, "sample_negatives": 85 * MB}
GPU_HOST_EXTRA = 3 * GB  # assumption: CUDA context and libraries in host memory of a GPU job
# Memory per passage that does not depend on the model (passage text and ids held by the job,
# the query x corpus score block of the exact search), from benchmarks/corpus_scaling.py at 100k,
# 300k and 1M passages: the slope of max RSS against passages, less the embeddings' own bytes.
RSS_PER_PASSAGE = {"encode": 100.0, "attack": 1500.0, "sample_negatives": 60.0}
# `tokenize` tokenizes TOKENIZE_CHUNK texts at a time (drscale.tokens.tokenize_texts): a chunk's
# encodings and Python id lists take ~410 B per token, and what stays (int32 ids, offsets, the
# texts) ~17 B per token. Peak RSS measured with 100k and 1M synthetic passages of 64 tokens and
# the default's WordPiece: 603 MB and 1,596 MB (this model: 604 and 1,583 MB); one call without
# chunks took 2.9 GB and 8.1 GB at 100k and 300k (409 B per token).
TOKENIZE_CHUNK = 8192
TOKENIZE_RSS_PER_CHUNK_TOKEN = 410.0
TOKENIZE_RSS_PER_TOKEN = 17.0
TOKENIZE_CPU_PER_TOKEN_S = 6.4e-6  # with 3.9e-5 s per text (same runs)
# Strategies' cost per step relative to `standard`, measured on CPU (docs/design.md "Training
# strategies": adversarial 3.0x, pareto 2.5-3.1x, pareto_mgda 3.3x; the mined negative adds a
# passage per pair, counted in the tokens instead).
STRATEGY_STEP_COST = {"standard": 1.0, "hard_negative": 1.0, "denoising": 1.0, "adversarial": 3.0,
                      "pareto": 3.1, "pareto_mgda": 3.3}


# Rules whose outputs are temp() (workflow/rules/*.smk): they count towards the disk a grid
# writes, not towards what it keeps after `snakemake --delete-temp-output` (the profiles keep
# them until then). encode: a run's scores files, read by its evaluate, attack and
# evaluate_attack jobs.
TEMPORARY_OUTPUTS = frozenset({"encode"})


@dataclass(frozen=True)
class Cost:
    """One job: compute seconds on its device(s), peak host memory, peak device memory, bytes it writes."""

    seconds: float
    memory: float
    gpu_memory: float = 0.0
    disk: float = 0.0
    gpus: int = 0

    @property
    def mem_mb(self) -> int:
        return math.ceil(self.memory / MB)

    @property
    def runtime_min(self) -> int:
        return math.ceil(self.seconds / 60)


def slurm_request(cost: Cost, attempt: int = 1, margin: float = 1.5, gpu_time_margin: float = 3.0) -> dict[str, int]:
    """``mem_mb`` and ``runtime`` (minutes) for a job: the estimate times ``margin`` (time on a GPU
    times ``gpu_time_margin``: GPU throughput is assumed, and an A100 is about 3x slower in bf16
    than the H100 it assumes), times the attempt (a retried job gets 2x, then 3x), with floors of
    1 GB and 10 minutes."""
    time_margin = gpu_time_margin if cost.gpus else margin
    return {"mem_mb": max(1000, math.ceil(margin * cost.memory / MB)) * attempt,
            "runtime": max(10, math.ceil(time_margin * cost.seconds / 60)) * attempt}


# --- per rule -------------------------------------------------------------------------------------
def _fixed(rule: str, gpus: int) -> float:
    return FIXED_CPU_S[rule] * (2 if gpus else 1)  # a GPU job also starts CUDA


def _host_base(rule: str, gpus: int) -> float:
    return BASE_RSS[rule] + (GPU_HOST_EXTRA if gpus else 0)


def train_cost(shape: Shape, training: dict, strategy: str = "standard", negatives_per_query: int = 0) -> Cost:
    """One training run: ``steps`` x ``batch_size`` pairs (plus mined negatives) at the token limits.

    Batches are padded to their longest text, so the limits are what a step costs in practice on
    long-text collections; the model is saved once (fp32) and one checkpoint (weights and AdamW
    moments) is kept while it runs.
    """
    gpus, threads = training["gpu"], training["threads"]
    steps, batch = training["steps"], training["batch_size"]
    lq, lp = training["max_query_length"], training["max_passage_length"]
    texts = 2 + (negatives_per_query if strategy in ("hard_negative", "denoising") else 0)
    step_flops = TRAIN_FLOPS_PER_FORWARD * batch * (shape.forward_flops(lq) + (texts - 1) * shape.forward_flops(lp))
    factor = STRATEGY_STEP_COST[strategy]
    overhead = GPU_STEP_OVERHEAD_S if gpus else CPU_STEP_OVERHEAD_S
    seconds = _fixed("train", gpus) + factor * steps * (overhead + compute_seconds(step_flops, shape, gpus, threads))
    needed = training_memory_bytes(shape, batch, lq, lp, texts_per_pair=texts)
    memory = _host_base("train", gpus) + (8 * shape.total_params if gpus else needed)
    disk = 4 * shape.total_params + 16 * shape.total_params  # the model + the one checkpoint kept
    return Cost(seconds, memory, needed if gpus else 0.0, disk, gpus)


def call_activation_bytes(shape: Shape, batch_size: int, tokens: float) -> float:
    """Activations of one inference call of ``batch_size`` texts: ~8 fp32 values per hidden unit and token."""
    return batch_size * tokens * shape.hidden * 4 * 8


def scores_bytes(size: CollectionSize, evaluation: dict, attacked: int) -> float:
    """A scores file (``encode``'s output): each query's top 100 (ids and cosines), the cosines of
    the positives and of the R x K sampled negatives, the attacked queries' cosines to the corpus."""
    return size.queries * (TOP_K * (4 + ID_BYTES) + 4 * (evaluation["draws"] * evaluation["negatives"] + 2)) \
        + 4 * attacked * size.passages


def encode_cost(shape: Shape, size: CollectionSize, evaluation: dict, attacked: int, gpus: int,
                threads: int) -> Cost:
    """Encode one collection's queries and corpus, shard by shard, keeping only the scores.

    Memory: the collection's token ids, one shard's embeddings and score block, the attacked
    queries' cosines to the whole corpus (4 B x attacked x passages, the one part that grows with
    the corpus besides the ids); disk: the scores file.
    """
    batch_size, shard = evaluation["batch_size"], min(evaluation["shard_size"], size.passages)
    flops = size.passages * shape.forward_flops(size.passage_tokens) + size.queries * shape.forward_flops(
        size.query_tokens) + 2 * size.queries * size.passages * shape.hidden
    texts = size.passages + size.queries
    tokens = size.passages * size.passage_tokens + size.queries * size.query_tokens
    calls = math.ceil(texts / batch_size) + 1
    # length-sorted padding runs on the host, on a GPU machine too
    overhead = CPU_PASSAGE_S["encode"] * texts + (GPU_CALL_OVERHEAD_S * calls if gpus else CPU_TOKEN_S * tokens)
    seconds = _fixed("encode", gpus) + overhead + compute_seconds(flops, shape, gpus, threads)
    held = size.passages * (RSS_PER_PASSAGE["encode"] + 4 * size.passage_tokens + 4 * attacked)
    block = shard * 4 * (shape.hidden + QUERY_CHUNK) + call_activation_bytes(shape, batch_size, size.passage_tokens)
    memory = _host_base("encode", gpus) + held + (0 if gpus else block)
    gpu_memory = block + 4 * shape.total_params + 4 * attacked * size.passages if gpus else 0.0
    return Cost(seconds, memory, gpu_memory, scores_bytes(size, evaluation, attacked), gpus)


def sample_cost(size: CollectionSize, evaluation: dict) -> Cost:
    """The sampled negatives of a collection (int64 rows, R x queries x K) from its ids and qrels."""
    drawn = 8 * evaluation["draws"] * size.queries * evaluation["negatives"]
    seconds = FIXED_CPU_S["sample_negatives"] + CPU_PASSAGE_S["ids"] * size.passages
    memory = BASE_RSS["sample_negatives"] + size.passages * RSS_PER_PASSAGE["sample_negatives"] + 2 * drawn
    return Cost(seconds, memory, 0.0, drawn)


def evaluate_cost(size: CollectionSize, evaluation: dict, attacked: int) -> Cost:
    """Clean metrics of one (run, collection) from its scores file (no corpus, no model)."""
    seconds = FIXED_CPU_S["evaluate"] + 5e-4 * size.queries
    memory = BASE_RSS["evaluate"] + scores_bytes(size, evaluation, attacked)
    return Cost(seconds, memory, 0.0, 2000.0)


def attacked_queries(attack: dict, size: CollectionSize) -> int:
    return min(attack["queries"], size.queries)


def attacked_pairs(attack: dict, evaluation: dict, size: CollectionSize) -> int:
    """An upper bound of the distinct (query, negative) pairs the attack works on."""
    return attacked_queries(attack, size) * evaluation["draws"] * attack["top_m"]


def attack_cost(shape: Shape, size: CollectionSize, attack: dict, evaluation: dict, training: dict) -> Cost:
    """The greedy synonym attack of the in-domain collection with one model.

    Per pair: one deletion variant per word the encoder reads, then per greedy step
    ``words_per_step`` x ``candidates_per_word`` candidates, for at most ``max_words`` steps.
    """
    gpus, threads = training["gpu"], training["threads"]
    pairs = attacked_pairs(attack, evaluation, size)
    words = size.passage_tokens / TOKENS_PER_WORD
    budget = attack["max_words"] if attack.get("max_fraction") is None else min(
        attack["max_words"], max(1, int(attack["max_fraction"] * words)))
    per_step = (attack.get("words_per_step") or words) * attack["candidates_per_word"]
    forwards = pairs * (words + budget * per_step + 2)
    flops = forwards * shape.forward_flops(size.passage_tokens)
    calls = math.ceil(forwards / attack["batch_size"])
    overhead = CPU_PASSAGE_S["load"] * size.passages + (
        GPU_CALL_OVERHEAD_S * calls if gpus else CPU_TOKEN_S * forwards * size.passage_tokens)
    seconds = _fixed("attack", gpus) + overhead + compute_seconds(flops, shape, gpus, threads)
    memory = _host_base("attack", gpus) + size.passages * (RSS_PER_PASSAGE["attack"] + 4 * attacked_queries(attack,
                                                                                                      size))
    gpu_memory = 4 * shape.total_params + call_activation_bytes(shape, attack["batch_size"], size.passage_tokens)
    return Cost(seconds, memory, gpu_memory if gpus else 0.0, pairs * 2000.0, gpus)


def evaluate_attack_cost(size: CollectionSize, evaluation: dict, attack: dict) -> Cost:
    return evaluate_cost(size, evaluation, attacked_queries(attack, size))


def tokenize_cost(size: CollectionSize) -> Cost:
    """Token ids of a collection's corpus and test queries (int32, ragged, int64 offsets)."""
    texts = size.passages + size.queries
    tokens = size.passages * size.passage_tokens + size.queries * size.query_tokens
    seconds = FIXED_CPU_S["tokenize"] + CPU_PASSAGE_S["tokenize"] * texts + TOKENIZE_CPU_PER_TOKEN_S * tokens
    chunk = min(size.passages, TOKENIZE_CHUNK) * size.passage_tokens * TOKENIZE_RSS_PER_CHUNK_TOKEN
    memory = BASE_RSS["tokenize"] + chunk + size.passages * size.passage_tokens * TOKENIZE_RSS_PER_TOKEN
    disk = size.passages * (4 * size.passage_tokens + 8 + ID_BYTES) + size.queries * (4 * size.query_tokens + 8)
    return Cost(seconds, memory, 0.0, disk)


# --- the workflow's view ----------------------------------------------------------------------------
class Planner:
    """Costs of the jobs of one config, with the collections sized once.

    ``root`` is the workflow's directory (prepared docstring collections are counted there).
    """

    def __init__(self, config: dict, root: Path = Path(".")):
        self.config = config
        training = config["training"]
        lq, lp = training["max_query_length"], training["max_passage_length"]
        self.sizes = {name: collection_size(name, entry, lq, lp, root / "resources" / "collections" / name)
                      for name, entry in config["collections"].items()}
        vocab = config.get("tokenizer", {}).get("vocab_size", 8192)
        self.shapes = {name: model_shape(entry, vocab, max(lq, lp)) for name, entry in config["models"].items()}

    def cost(self, rule: str, model: str | None = None, data: int | None = None, strategy: str = "standard",
             collection: str | None = None, threads: int | None = None, gpus: int | None = None) -> Cost:
        """One job of ``rule``; ``threads`` and ``gpus`` override the config's (a profile may set them)."""
        config, training = self.config, dict(self.config["training"])
        training.update({k: v for k, v in (("threads", threads), ("gpu", gpus)) if v is not None})
        shape = self.shapes[model] if model else None
        evaluation = {"shard_size": 65536, **config["evaluation"]}
        in_domain = self.sizes[config["in_domain"]]
        if rule == "train":
            return train_cost(shape, training, strategy, config.get("mining", {}).get("negatives_per_query", 1))
        if rule == "teacher_scores":  # the standard model scores `candidates` negatives of each pair
            pairs = replace(in_domain, passages=int(data) * (1 + config["denoising"]["candidates"]),
                            queries=int(data))
            cost = encode_cost(shape, pairs, evaluation, 0, training["gpu"], training["threads"])
            return replace(cost, memory=_host_base("teacher_scores", training["gpu"]), disk=100.0 * int(data))
        if rule == "sample_negatives":
            return sample_cost(self.sizes[collection], evaluation)
        if rule in ("encode", "evaluate"):  # one (run, collection)
            size = self.sizes[collection]
            attacked = attacked_queries(config["attack"], size) if collection == config["in_domain"] else 0
            if rule == "evaluate":
                return evaluate_cost(size, evaluation, attacked)
            return encode_cost(shape, size, evaluation, attacked, training["gpu"], training["threads"])
        if rule == "attack":
            return attack_cost(shape, in_domain, config["attack"], evaluation, training)
        if rule == "evaluate_attack":
            return evaluate_attack_cost(in_domain, evaluation, config["attack"])
        if rule == "tokenize":
            return tokenize_cost(self.sizes[collection])
        raise KeyError(f"no resource model for rule {rule!r}")
