#!/usr/bin/env bash
# Install what tests/slurm/cluster.py needs (Debian/Ubuntu, as root):
# SLURM controller/node/client, munge, slurmdbd and MariaDB.  Idempotent:
# exits 0 at once when everything is already there.  No service is started
# or enabled (the test harness runs its own daemons).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"   # daemons live in /usr/sbin

PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
BINARIES=(slurmctld slurmd slurmdbd sbatch srun sacct sacctmgr squeue sinfo scontrol scancel munged munge mariadbd mariadb-install-db)

missing_bins() {
    local b out=()
    for b in "${BINARIES[@]}"; do
        command -v "$b" >/dev/null 2>&1 || out+=("$b")
    done
    echo "${out[*]:-}"
}

missing="$(missing_bins)"
if [[ -z "$missing" ]]; then
    echo "slurm install: already installed ($(slurmctld -V 2>/dev/null || echo slurm), $(mariadbd --version 2>/dev/null | awk '{print $3}'), nothing to do"
    exit 0
fi

echo "slurm install: missing: $missing"
if [[ "$(id -u)" -ne 0 ]]; then
    echo "slurm install: needs root (apt-get install ${PACKAGES[*]})" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "slurm install: apt-get not found; install ${PACKAGES[*]} by hand" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Keep the packages' maintainer scripts from starting services (no systemd
# here anyway; the harness starts its own daemons).  Only add the policy if
# the machine has none, and remove it again afterwards.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    added_policy=1
fi
cleanup() { if [[ "$added_policy" == 1 ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

start=$(date +%s)
echo "slurm install: apt-get update"
apt-get update -qq
echo "slurm install: apt-get install ${PACKAGES[*]}"
apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${PACKAGES[@]}" >/dev/null

missing="$(missing_bins)"
if [[ -n "$missing" ]]; then
    echo "slurm install: still missing after install: $missing" >&2
    exit 1
fi
echo "slurm install: installed ${PACKAGES[*]} in $(( $(date +%s) - start ))s ($(slurmctld -V))"
