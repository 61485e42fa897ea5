#!/usr/bin/env bash
# GPU smoke test: the .test workflow end to end on one GPU (train, encode and attack on CUDA, bf16),
# then a check that the runs really used the GPU. Usage: bash scripts/gpu_smoke.sh [workdir]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"
/usr/bin/time -v snakemake -s "$root/Snakefile" --directory "$work" --configfile "$root/.test/config/config.yaml" \
    --workflow-profile none --cores 4 --resources gpu=1 \
    --config 'training={"steps": 30, "batch_size": 16, "checkpoint_every": 10, "max_query_length": 24, "max_passage_length": 48, "gpu": 1}'
grep -h '"device"' "$work"/results/runs/*/*/*/*/model_info.json | sort | uniq -c
grep -q '"device": "cuda' "$work"/results/runs/*/*/*/*/model_info.json
column -t -s $'\t' "$work/results/summary.md" 2>/dev/null | head -20 || true
