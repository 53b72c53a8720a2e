#!/usr/bin/env bash
# Start a single-node Slurm cluster on this machine (slurmctld + slurmd on localhost, munge auth)
# so that the SLURM executor can be tested end to end: `make test-slurm`, CI.
#
#   sudo tools/slurm/start-local-cluster.sh     # install if missing, clean start, sanity srun
#   sudo tools/slurm/stop-local-cluster.sh
#
# Idempotent: every run stops the daemons it started before (by pid file), wipes the controller
# and node state, renders tools/slurm/slurm.conf.in again and starts afresh, so two runs in a row
# give the same clean cluster (job ids start at 1, the previous logs are kept as *.log.1).
# Recipe and pitfalls: shared/reference/slurm-local-cluster.md (Debian 12, Slurm 22.05).
#
# Environment overrides: SLURM_LOCAL_CPUS, SLURM_LOCAL_MEMORY_MB (what the node advertises; at
# most what slurmd finds, or the node is drained as invalid),
# SLURM_LOCAL_PARTITION (default: debug), SLURM_LOCAL_FORCE=1 (overwrite a slurm.conf that this
# script did not write; by default it refuses, to never clobber a real cluster's configuration).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/slurm/common.sh
source "$HERE/common.sh"

PARTITION=${SLURM_LOCAL_PARTITION:-debug}
WAIT_SECONDS=60

need_root

# ---- 1. packages ------------------------------------------------------------------------------
# The daemons live in /usr/sbin, which a non-login root shell may not have on PATH.
export PATH=$PATH:/usr/sbin
missing=()
for cmd in slurmctld slurmd sinfo srun sbatch squeue scontrol munged munge unmunge mungekey; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing slurmctld slurmd slurm-client munge (missing: ${missing[*]})"
  command -v apt-get >/dev/null || die "apt-get not found: install Slurm 22.05+ and munge by hand"
  # An install without a fresh package list can pick stale versions or find nothing.
  timeout 300 apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null || die "apt-get install failed"
fi

# ---- 2. configuration -------------------------------------------------------------------------
if [ -e "$SLURM_CONF_FILE" ] && ! conf_is_ours && [ "${SLURM_LOCAL_FORCE:-0}" != 1 ]; then
  die "$SLURM_CONF_FILE exists and was not written by this script; set SLURM_LOCAL_FORCE=1 to replace it"
fi

node=$(hostname -s)
cpus=${SLURM_LOCAL_CPUS:-$(nproc)}
if [ -z "${SLURM_LOCAL_MEMORY_MB:-}" ]; then
  # slurmd drains a node that advertises more memory than it finds, so advertise what the kernel
  # reports (or a smaller container limit) less 1 GB for the OS and the daemons themselves.
  mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
  for limit in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do
    if [ -r "$limit" ] && [[ "$(cat "$limit")" =~ ^[0-9]+$ ]]; then
      lim_mb=$(( $(cat "$limit") / 1024 / 1024 ))
      if [ "$lim_mb" -lt "$mem_mb" ]; then mem_mb=$lim_mb; fi
    fi
  done
  mem_mb=$(( mem_mb - 1024 ))
else
  mem_mb=$SLURM_LOCAL_MEMORY_MB
fi
[ "$mem_mb" -gt 0 ] || die "cannot determine the memory to advertise (got $mem_mb MB)"

# ---- 3. clean stop of anything we started before, wipe state ----------------------------------
stop_slurm_daemons
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge "$STATE_DIR"
# Saved state would bring back old jobs, node states and job ids: start from nothing.
find /var/spool/slurmctld /var/spool/slurmd -mindepth 1 -delete
for f in "$SLURMCTLD_LOG" "$SLURMD_LOG"; do
  # Keep one previous log for debugging; the fresh log then holds only this cluster's jobs.
  if [ -e "$f" ]; then mv -f "$f" "$f.1"; fi
done
chown slurm:slurm /var/spool/slurmctld /var/log/slurm

sed -e "s/@CLUSTER@/local/g" -e "s/@NODE@/$node/g" -e "s/@CPUS@/$cpus/g" \
  -e "s/@MEMORY_MB@/$mem_mb/g" -e "s/@PARTITION@/$PARTITION/g" \
  "$SLURM_CONF_TEMPLATE" >"$SLURM_CONF_FILE.tmp"
if grep -n '@[A-Z_]*@' "$SLURM_CONF_FILE.tmp"; then die "unfilled placeholder in the rendered slurm.conf"; fi
mv -f "$SLURM_CONF_FILE.tmp" "$SLURM_CONF_FILE"
log "node $node: CPUs=$cpus RealMemory=${mem_mb}MB partition=$PARTITION ($SLURM_CONF_FILE)"

# ---- 4. munge -----------------------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  mkdir -p /etc/munge
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge /etc/munge/munge.key /run/munge
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
if timeout 10 munge -n 2>/dev/null | timeout 10 unmunge >/dev/null 2>&1; then
  log "munge already running"
else
  log "starting munged"
  runuser -u munge -- munged || die "munged failed to start"
  touch "$MUNGE_STARTED_MARK"
  timeout 10 bash -c 'until munge -n 2>/dev/null | unmunge >/dev/null 2>&1; do sleep 0.2; done' \
    || die "munge does not answer (credential round trip failed)"
fi

# ---- 5. slurmctld, slurmd -----------------------------------------------------------------------
log "starting slurmctld"
slurmctld || die "slurmctld failed to start"
timeout "$WAIT_SECONDS" bash -c 'until scontrol ping 2>/dev/null | grep -q "is UP"; do sleep 0.5; done' \
  || die "slurmctld did not answer 'scontrol ping' within ${WAIT_SECONDS}s"
log "starting slurmd"
slurmd || die "slurmd failed to start"

log "waiting for node $node to become idle"
state=""
for _ in $(seq 1 $(( WAIT_SECONDS * 2 ))); do
  state=$(timeout 5 sinfo -h -n "$node" -o %T 2>/dev/null | head -n 1 || true)
  [ "$state" = idle ] && break
  # A drained or invalid node never becomes idle by itself (e.g. more memory advertised than found).
  case "$state" in drain* | inval*) break ;; esac
  sleep 0.5
done
if [ "$state" != idle ]; then
  timeout 5 scontrol show node "$node" >&2 || true
  die "node $node is '${state:-unknown}', not idle (reason: $(timeout 5 sinfo -h -R -o %E || true))"
fi

# ---- 6. sanity job ------------------------------------------------------------------------------
out=$(timeout 60 srun --partition "$PARTITION" --nodes 1 --ntasks 1 --time 1 --mem 100 hostname 2>&1) \
  || die "sanity srun failed: $out"
[ "$out" = "$node" ] || die "sanity srun printed '$out', expected '$node'"
timeout 5 sinfo >&2
log "cluster up: srun ran on $out; stop with tools/slurm/stop-local-cluster.sh"
