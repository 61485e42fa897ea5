"""The resource model: hand-computed counts, the SLURM request rule, and the rules' planned resources."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drscale.resources import (
    BERT_BASE,
    CPU_FLOPS_PER_THREAD,
    MB,
    TEMPORARY_OUTPUTS,
    CollectionSize,
    Cost,
    Planner,
    Shape,
    collection_size,
    model_shape,
    scores_bytes,
    slurm_request,
    training_memory_bytes,
)

ROOT = Path(__file__).resolve().parents[1]


def test_non_embedding_params_of_the_default_l2_h128():
    # per layer: q,k,v,o 4*(128*128+128) = 66,048; ffn 128*512+512 + 512*128+128 = 131,712;
    # two LayerNorms 512 -> 198,272; two layers 396,544; embedding LayerNorm 256; pooler 16,512
    assert Shape(2, 128, 2, 512, vocab=8192, positions=64).non_embedding_params == 413_312


def test_parameter_counts_match_a_real_bert():
    from transformers import BertConfig, BertModel

    from drscale.models import parameter_counts

    shape = Shape(2, 64, 2, 96, vocab=1000, positions=80)
    model = BertModel(BertConfig(vocab_size=1000, num_hidden_layers=2, hidden_size=64, num_attention_heads=2,
                                 intermediate_size=96, max_position_embeddings=80))
    counts = parameter_counts(model)
    assert (shape.non_embedding_params, shape.total_params) == (counts["non_embedding_params"], counts["total_params"])


def test_forward_flops_by_hand():
    # matmul weights 1 * (4*4^2 + 2*4*8) = 128; 2*128*10 + 4*1*10^2*4 = 2,560 + 1,600
    assert Shape(1, 4, 1, 8).forward_flops(10) == 4_160


def test_training_memory_by_hand():
    # 16 * 100 + 4 * (2 * (3 + 5)) tokens * 1 layer * (34*4 + 2*1*5) = 1,600 + 64 * 146
    assert training_memory_bytes(Shape(1, 4, 1, 16), 2, 3, 5, params=100) == 10_944


def test_model_shapes_from_the_config():
    assert model_shape({"hf": "google/bert_uncased_L-4_H-256_A-4"}, 8192, 128) == Shape(4, 256, 4, 1024)
    assert model_shape({"init": {"layers": 1, "hidden": 16, "heads": 2}}, 2000, 48) == Shape(1, 16, 2, 64, 2000, 48)
    assert model_shape({"local": "/somewhere"}, 8192, 128) == BERT_BASE  # unknown: sized as the largest


def test_beir_sizes_come_from_the_table():
    size = collection_size("msmarco", {"source": "beir:msmarco"}, 32, 128)
    assert (size.passages, size.queries) == (8_841_823, 6_980)
    assert size.passage_tokens == pytest.approx(1.3 * 55.98 + 2)  # under the 128-token limit
    assert collection_size("scifact", {"source": "beir:scifact"}, 32, 128).passage_tokens == 128


def test_a_prepared_collection_is_counted(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "a"}\n{"_id": "b"}\n{"_id": "c"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\ta\t1\nq1\tb\t1\nq2\tc\t1\n")
    size = collection_size("mine", {"source": f"local:{tmp_path}"}, 16, 64)
    assert size == CollectionSize(3, 2, 64, 16)


def test_slurm_request_scales_with_the_attempt():
    cost = Cost(seconds=600, memory=2000 * MB)
    assert slurm_request(cost) == {"mem_mb": 3000, "runtime": 15}  # 1.5x margin
    assert slurm_request(cost, attempt=2) == {"mem_mb": 6000, "runtime": 30}
    assert slurm_request(Cost(seconds=1, memory=MB)) == {"mem_mb": 1000, "runtime": 10}  # floors
    assert slurm_request(Cost(seconds=600, memory=2000 * MB, gpus=1))["runtime"] == 30  # assumed GPU speed: 3x


def test_scores_file_by_hand():
    # 10 queries x (100 x (4 B score + 48 B id) + 4 B x (2 draws x 3 negatives + 2)) + 4 B x 5 attacked x 1,000
    size = CollectionSize(1000, 10, 100, 10)
    assert scores_bytes(size, {"draws": 2, "negatives": 3}, attacked=5) == 10 * (5200 + 32) + 20_000


def test_paper_grid_scores_are_dominated_by_the_attacked_cosines():
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    encode = Planner(config).cost("encode", model="L12-H768", collection="msmarco")
    attacked = 200 * 8_841_823 * 4  # attack.queries x passages x float32
    assert attacked < encode.disk < attacked * 1.02
    assert encode.disk < 8_841_823 * 768 * 4 / 3  # vs the 27 GB of float32 embeddings before streaming


def test_cpu_rate_is_the_low_end_of_the_measured_anchors():
    """benchmarks/README.md, 1 thread: BERT-base encode 4 passages/s at 128 tokens, L2-H128 encode
    573 passages/s at 113.8 tokens, L2-H128 training 252.7 pairs/s at 32 + 64 tokens."""
    l2 = Shape(2, 128, 2, 512, 8192, 64)
    rates = [4 * BERT_BASE.forward_flops(128), 573 * l2.forward_flops(113.8),
             252.7 * 3 * (l2.forward_flops(32) + l2.forward_flops(64))]
    assert min(rates) * 0.9 <= CPU_FLOPS_PER_THREAD <= min(rates)


def test_paper_dry_run_shows_the_planned_resources(tmp_path):
    """`snakemake -n --workflow-profile profiles/slurm` on config/paper.yaml requests the model's
    memory and time (the attack above the 16 GB the profile gave every GPU job before)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("DRSCALE_SLURM_GPUS", None)
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s", str(ROOT / "Snakefile"),
                          "--directory", str(tmp_path), "--configfile", str(ROOT / "config" / "paper.yaml"),
                          "--workflow-profile", str(ROOT / "profiles" / "slurm")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    requests = {}
    for block in out.stdout.split("\nrule ")[1:]:
        rule = block.split(":")[0]
        wildcards = re.search(r"wildcards: (.*)", block)
        resources = re.search(r"mem_mb=(\d+).*runtime=(\d+)", block)
        if wildcards and resources:
            requests[rule, wildcards.group(1)] = tuple(map(int, resources.groups()))
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    planner = Planner(config)
    run = "model=L12-H768, data=500000, strategy=standard, seed=0"
    jobs = {"train": (run, {}, 8), "encode": (f"{run}, collection=msmarco", {"collection": "msmarco"}, 8),
            "attack": (f"{run}, split=test", {}, 4)}
    for rule, (wildcards, keys, threads) in jobs.items():
        expected = slurm_request(planner.cost(rule, model="L12-H768", data=500000, threads=threads, **keys))
        assert requests[rule, wildcards] == (expected["mem_mb"], expected["runtime"]), rule
    assert requests["attack", f"{run}, split=test"][0] > 16000  # the profile's old fixed request


def test_the_constants_copied_from_the_pipeline_match_it():
    """The resource model stays free of scipy and torch at planning time, so it copies two
    constants instead of importing them: the copies must stay equal to the pipeline's."""
    import inspect

    from drscale import encode, evaluate, resources, tokens

    assert resources.TOP_K == evaluate.TOP_K
    assert inspect.signature(tokens.tokenize_texts).parameters["chunk"].default == resources.TOKENIZE_CHUNK
    assert inspect.signature(encode.score_collection).parameters["query_chunk"].default == resources.QUERY_CHUNK


def test_the_rules_with_temp_outputs_are_the_ones_the_model_keeps_no_disk_for():
    """scripts/resources.py's "disk kept" leaves out TEMPORARY_OUTPUTS: it must name exactly the
    rules whose outputs are temp()."""
    temporary = set()
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for rule, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", smk.read_text(), flags=re.MULTILINE):
            output = re.search(r"^    output:\n((?:        .*\n)*)", body, flags=re.MULTILINE)
            if output and "temp(" in output.group(1):
                temporary.add(rule)
    assert temporary == set(TEMPORARY_OUTPUTS) == {"encode"}
