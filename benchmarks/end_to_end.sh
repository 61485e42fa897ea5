#!/usr/bin/env bash
# Wall time and peak memory of the workflow end to end, plus a per-rule summary of Snakemake's
# per-job benchmark files (results/benchmarks/<rule>/...: s, max_rss, cpu_time).
#
#   benchmarks/end_to_end.sh DIR [extra snakemake args...]
#
# Runs `snakemake --cores all` of this repository's Snakefile with --directory DIR under
# /usr/bin/time -v, then prints the wall time and the maximum resident set size, and a table per
# rule: jobs, sum of wall seconds, sum of CPU seconds, max of max_rss (MB). Examples:
#
#   benchmarks/end_to_end.sh /tmp/e2e-test --configfile .test/config/config.yaml   # the CI config
#   benchmarks/end_to_end.sh /path/to/workdir                                      # the default config
#   SUMMARY_ONLY=1 benchmarks/end_to_end.sh /path/to/finished/workdir              # only the table
#
# Notes: GNU time's "Maximum resident set size" is the peak RSS of the largest single process of
# the tree (Snakemake itself or one job), not the sum over concurrent jobs. The per-rule sums count
# only jobs that ran in this directory (a rerun overwrites its job's file). Snakemake's workflow
# profile (profiles/default) applies as usual; pass --workflow-profile none to skip it.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    sed -n '2,20p' "$0"
    exit 2
fi
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$1"
shift
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
TIME_LOG="$DIR/end_to_end.time.txt"

if [[ -z "${SUMMARY_ONLY:-}" ]]; then
    echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load avg $(cut -d' ' -f1 /proc/loadavg)"
    echo "# snakemake $(snakemake --version) in $DIR: snakemake --cores all $*"
    cd "$REPO"
    # The Snakefile reads config/config.yaml of the working directory (Snakemake's convention):
    # without a --configfile, run the repository's default.
    [[ " $* " == *" --configfile "* ]] || set -- --configfile "$REPO/config/config.yaml" "$@"
    status=0
    /usr/bin/time -v -o "$TIME_LOG" snakemake --snakefile "$REPO/Snakefile" --directory "$DIR" --cores all "$@" \
        > "$DIR/end_to_end.snakemake.log" 2>&1 || status=$?
    tail -n 5 "$DIR/end_to_end.snakemake.log"
    echo "snakemake exit status: $status (full log: $DIR/end_to_end.snakemake.log)"
    wall=$(grep 'Elapsed (wall clock) time' "$TIME_LOG" | sed 's/.*: //')
    rss_kb=$(grep 'Maximum resident set size' "$TIME_LOG" | sed 's/.*: //')
    cpu_user=$(grep 'User time (seconds)' "$TIME_LOG" | sed 's/.*: //')
    cpu_sys=$(grep 'System time (seconds)' "$TIME_LOG" | sed 's/.*: //')
    echo "wall time: $wall (h:mm:ss or m:ss)"
    echo "max RSS (largest single process): $((rss_kb / 1024)) MiB"
    echo "CPU time (all processes): user ${cpu_user} s + sys ${cpu_sys} s"
    if [[ $status -ne 0 ]]; then
        exit "$status"
    fi
fi

python - "$DIR" <<'EOF'
import sys
from pathlib import Path

import pandas as pd

root = Path(sys.argv[1]) / "results" / "benchmarks"
rows = []
for path in sorted(root.rglob("*.tsv")):
    table = pd.read_csv(path, sep="\t")
    for _, row in table.iterrows():
        rows.append({"rule": path.relative_to(root).parts[0], "s": row["s"],
                     "cpu_time": row.get("cpu_time"), "max_rss": pd.to_numeric(row.get("max_rss"), errors="coerce")})
if not rows:
    sys.exit(f"no benchmark files under {root}")
jobs = pd.DataFrame(rows)
summary = jobs.groupby("rule").agg(jobs=("s", "size"), wall_s=("s", "sum"), cpu_s=("cpu_time", "sum"),
                                   max_rss_mb=("max_rss", "max"))
summary = summary.sort_values("cpu_s", ascending=False)
total = pd.DataFrame({"jobs": [summary["jobs"].sum()], "wall_s": [summary["wall_s"].sum()],
                      "cpu_s": [summary["cpu_s"].sum()], "max_rss_mb": [summary["max_rss_mb"].max()]},
                     index=["(all rules)"])
pd.set_option("display.width", 120)
print(f"\nper-rule summary of {len(jobs)} job benchmark files in {root} "
      "(wall_s and cpu_s are sums over jobs; max_rss_mb the largest job):")
print(pd.concat([summary, total]).round(2).to_string())
EOF
